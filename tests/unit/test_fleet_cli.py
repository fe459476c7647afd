"""`ocpp-station fleet` refuses bad arguments with exit 2 and a one-line reason, before any
station starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.cli import main

BASE = ["fleet", "--csms", "ws://127.0.0.1:1", "--control", "127.0.0.1:0", "--loop", "asyncio"]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*BASE, *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ocpp-station: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--count", "0"], "the count must be 1 to 100000"),
        (["--count", "x"], "expected a number"),
        (["--count", "2", "--ramp-up", "0"], "expected a positive number"),
        (["--count", "2", "--id-prefix", "C P"], "--id-prefix must be non-empty without spaces"),
        (["--count", "2", "--id-prefix", "X" * 48], "must fit 48 characters"),
        (["--count", "2", "--first", "-1"], "--first must not be negative"),
        (["--count", "2", "--transport", "carrier-pigeon"], "invalid choice"),
        (["--count", "2", "--spread", "random"], "invalid choice"),
        (["--count", "2", "--source-address", "localhost"], "expected an IP address"),
        # TEST-NET-3: an address of no machine here.
        (["--count", "2", "--source-address", "203.0.113.7"], "203.0.113.7 is not an address of"),
        (["--count", "2", "--csms", "http://x"], "--csms"),
        (["--count", "2", "--ray", "--shards", "3"], "--shards 3 is more than the 2 stations"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert reason in _refused(args, capsys)


def test_a_bad_scenario_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("[sessions]\nstop = 'button'\n")
    err = _refused(["--count", "2", "--scenario", str(scenario)], capsys)
    assert "--scenario" in err and "sessions.stop must be one of" in err


def test_a_state_dir_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert "--state-dir" in _refused(["--count", "2", "--state-dir", str(blocker)], capsys)
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "fleet.db").write_text("not a database, but long enough to be read as a header")
    assert "--state-dir" in _refused(["--count", "2", "--state-dir", str(folder)], capsys)


def test_the_defaults_do_not_collide_with_run() -> None:
    """A fleet and a single station started with their defaults side by side: other identities
    (a fleet's CP-1 and run's CP-1 would take each other's place on the central system) and
    another control port."""
    from ocpp_station.cli import build_parser

    parser = build_parser()
    fleet = parser.parse_args(["fleet", "--count", "3", "--csms", "ws://127.0.0.1:9000"])
    run = parser.parse_args(["run"])
    identities = {f"{fleet.id_prefix}{n}" for n in range(fleet.first, fleet.first + fleet.count)}
    assert run.id not in identities and identities == {"FLEET-1", "FLEET-2", "FLEET-3"}
    assert fleet.control != run.control and fleet.control == ("127.0.0.1", 8181)


def test_several_central_systems_and_source_addresses() -> None:
    from ocpp_station.cli import build_parser
    from ocpp_station.fleet.cli import options_from

    args = build_parser().parse_args(
        ["fleet", "--count", "6", "--first", "11", "--csms", "ws://a:9000", "--csms", "ws://b:9000",
         "--csms", "ws://c:9000", "--source-address", "10.0.0.1", "--source-address", "::1"]
    )  # fmt: skip
    options = options_from(args)
    assert (options.csms_url, options.more_csms, options.spread) == (
        "ws://a:9000",
        ("ws://b:9000", "ws://c:9000"),
        "round-robin",
    )
    # In turn by station number (FLEET-1: a, FLEET-2: b, ...), whatever the first here is, so
    # a fleet split across machines spreads as the whole fleet would.
    assert [options.csms_for(n) for n in range(11, 17)] == [
        "ws://b:9000", "ws://c:9000", "ws://a:9000", "ws://b:9000", "ws://c:9000", "ws://a:9000"
    ]  # fmt: skip
    assert [options.source_for(n) for n in range(11, 15)] == ["10.0.0.1", "::1", "10.0.0.1", "::1"]


def test_spread_by_identity_is_the_same_on_every_machine() -> None:
    from dataclasses import replace

    from ocpp_station.fleet.fleet import FleetOptions

    urls = ("ws://b", "ws://c", "ws://d")
    whole = FleetOptions(csms_url="ws://a", more_csms=urls, count=4000, spread="identity")
    # The second half of the same fleet on another machine (--first 2001): the same choice.
    half = replace(whole, count=2000, first=2001)
    assert [half.csms_for(n) for n in range(2001, 4001)] == [
        whole.csms_for(n) for n in range(2001, 4001)
    ]
    shares = [sum(whole.csms_for(n) == u for n in range(1, 4001)) for u in ("ws://a", *urls)]
    assert all(900 < share < 1100 for share in shares), shares  # about a quarter each
    assert FleetOptions(csms_url="ws://a", count=3).csms_for(2) == "ws://a"
    assert FleetOptions(csms_url="ws://a", count=3).source_for(2) is None
    with pytest.raises(ValueError, match="spread is one of round-robin, identity"):
        FleetOptions(csms_url="ws://a", count=3, spread="random")


def test_the_state_folder_is_made_absolute() -> None:
    """A shard on another node of a cluster does not run in this folder: the path it gets
    means the same there."""
    from ocpp_station.cli import build_parser
    from ocpp_station.fleet.cli import options_from

    args = build_parser().parse_args(["fleet", "--count", "2", "--csms", "ws://a:9000",
                                      "--state-dir", "fleet-state"])  # fmt: skip
    assert options_from(args).state_dir == Path.cwd() / "fleet-state"
