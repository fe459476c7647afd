"""The scenario file: its documented example, its defaults, and a clear error for every
malformed field."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ocpp_station.fleet import scenario as module
from ocpp_station.fleet.scenario import (
    PowerLoss,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)


def _documented_example() -> str:
    doc = module.__doc__ or ""
    return doc.split("```toml", 1)[1].split("```", 1)[0]


def test_the_documented_example_parses_to_what_it_says() -> None:
    s = parse_scenario(tomllib.loads(_documented_example()))
    assert s.seed == 1
    assert s.config == (("MeterValueSampleInterval", "30"),)
    assert s.sessions.gap == (15.0, 30.0) and s.sessions.duration == (60.0, 80.0)
    assert s.sessions.stop == "card" and s.sessions.remote_share == 0.0
    assert s.cards.mode == "random" and s.cards.tags[0] == "TAG-1" and len(s.cards.tags) == 1000
    assert s.ev.capacity_kwh == (40.0, 100.0) and s.ev.configured
    assert s.faults.power_loss == (PowerLoss(at=300.0, share=0.1, off=30.0),)


def test_an_empty_file_is_the_reference_profile() -> None:
    assert parse_scenario({}) == Scenario()
    assert not Scenario().ev.configured


def test_values_and_config_types(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        "seed = 9\n[config]\nStopTransactionOnEVSideDisconnect = true\nHeartbeatInterval = 60\n"
        '[sessions]\ngap = 5\nstop = "mixed"\n[cards]\ntags = ["A", "B"]\nmode = "round-robin"\n'
    )
    s = load_scenario(path)
    assert s.config == (("StopTransactionOnEVSideDisconnect", "true"), ("HeartbeatInterval", "60"))
    assert s.sessions.gap == (5.0, 5.0) and s.sessions.stop == "mixed"
    assert s.cards.tags == ("A", "B") and s.cards.mode == "round-robin"


def test_generators_are_seeded_by_seed_and_names() -> None:
    a, b = Scenario(seed=1), Scenario(seed=2)
    assert a.rng("station", 3).random() == a.rng("station", 3).random()
    assert a.rng("station", 3).random() != a.rng("station", 4).random()
    assert a.rng("station", 3).random() != b.rng("station", 3).random()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sead = 1", "unknown field sead"),
        ("seed = 1.5", "seed must be an integer"),
        ("[sessions]\ngap = [30, 15]", "sessions.gap must be a number or [low, high]"),
        ("[sessions]\nduration = [0, 1]", "sessions.duration"),
        ("[sessions]\nstop = 'button'", "sessions.stop must be one of"),
        ("[sessions]\nremote_share = 2", "sessions.remote_share must be a number from 0 to 1"),
        ("[sessions]\nspeed = 1", "unknown field sessions.speed"),
        ("[cards]\nmode = 'shuffled'", "cards.mode must be one of"),
        ("[cards]\ntags = []", "cards.tags must be a non-empty list"),
        ("[cards]\ntags = ['ABCDEFGHIJKLMNOPQRSTU']", "is not an idTag"),
        ("[cards]\ntags = ['A']\ncount = 3", "either tags or prefix and count"),
        ("[cards]\nprefix = 'LONG-PREFIX-OF-TAGS-'", "must fit an idTag"),
        ("[ev]\nsoc_percent = [10, 120]", "at most 100"),
        ("[faults]\nerror_codes = ['NoError']", "is not a fault ErrorCode"),
        ("[faults]\nerror_codes = ['Overheat']", "is not a fault ErrorCode"),
        ("[[faults.power_loss]]\nshare = 0.5", "faults.power_loss[0].at is required"),
        ("[[faults.power_loss]]\nat = 1\nshare = 1.5", "must be a number from 0 to 1"),
        ("config = 3", "config must be a table"),
        ("[config]\nKey = [1]", "config.Key must be a string, number or boolean"),
    ],
)
def test_malformed_fields_are_named(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(tomllib.loads(text))


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = \n")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        load_scenario(bad)
