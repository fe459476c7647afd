"""`ocpp-station run --max-power --ev-capacity --ev-soc --ev-max-power --ev-ramp`: the charger's
power and the EV that plugs in, and their bad values as one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.app import StartupError, StationApp
from ocpp_station.argtypes import ev_from_args
from ocpp_station.cli import build_parser
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware import EvProfile, Simulator
from ocpp_station.runtime import StationOptions, make_hardware


def options_of(tmp_path: Path, *args: str) -> StationOptions:
    parsed = build_parser().parse_args(["run", "--state-dir", str(tmp_path), *args])
    return StationApp.from_args(parsed, tmp_path).options


def test_by_default_the_reference_charger_and_the_simulators_cars(tmp_path: Path) -> None:
    options = options_of(tmp_path)
    assert (options.max_power_w, options.ev, options.ramp_seconds) == (None, None, 3.0)
    hw = make_hardware(options, VirtualClock())
    assert isinstance(hw, Simulator)
    assert (hw.max_power_w, hw.ev, hw.ramp_seconds) == (50_000.0, None, 3.0)


def test_the_chosen_ev_and_power(tmp_path: Path) -> None:
    options = options_of(
        tmp_path, "--max-power", "150", "--ev-capacity", "82", "--ev-soc", "12.5",
        "--ev-max-power", "135", "--ev-ramp", "0",
    )  # fmt: skip
    ev = options.ev
    assert ev is not None
    assert (ev.capacity_kwh, ev.initial_soc_percent, ev.max_power_w) == (82.0, 12.5, 135_000.0)
    hw = make_hardware(options, VirtualClock())
    assert isinstance(hw, Simulator)
    assert (hw.max_power_w, hw.ramp_seconds) == (150_000.0, 0.0)
    hw.plug(1)
    hw.connectors[0].set_energy_offered(True)
    reading = hw.connectors[0].read_meter()
    # The EV takes 135 kW of the 150 offered, from its 12.5 %.
    assert (reading.power_w, reading.soc_percent) == (135_000.0, 12.5)


def test_one_figure_given_the_others_are_the_compact_cars() -> None:
    parsed = build_parser().parse_args(["run", "--ev-soc", "80"])
    assert ev_from_args(parsed) == EvProfile(58.0, 80.0, 120_000.0, name="chosen with --ev-*")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--ev-soc", "101"], "percentage from 0 to 100"),
        (["--ev-soc", "nan"], "percentage from 0 to 100"),
        (["--ev-capacity", "0"], "positive number"),
        (["--ev-max-power", "-5"], "positive number"),
        (["--max-power", "x"], "positive number"),
        (["--ev-ramp", "61"], "seconds from 0 to 60"),
    ],
)
def test_bad_values_are_one_line(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", *args])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err.splitlines()[-1]


def test_max_power_is_for_the_dc_charger(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="--max-power is the DC charger's"):
        options_of(tmp_path, "--ac", "--max-power", "22")
