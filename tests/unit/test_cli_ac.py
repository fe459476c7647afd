"""`ocpp-station run --ac [PHASESxAMPS[@VOLTS]]`: the AC variant of the simulated charger, and
its bad values as argparse's one-line errors."""

from __future__ import annotations

import pytest

from ocpp_station.argtypes import ac_supply
from ocpp_station.cli import build_parser
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware import AcSupply
from ocpp_station.runtime import StationOptions, make_hardware


def supply_of(*args: str) -> AcSupply | None:
    parsed = build_parser().parse_args(["run", *args])
    ac: AcSupply | None = parsed.ac
    return ac


def test_without_ac_the_dc_charger_is_simulated() -> None:
    assert supply_of() is None
    hw = make_hardware(StationOptions(), VirtualClock())
    assert hw.connectors[0].rating.phases == 0


def test_ac_alone_is_three_phases_of_32_a_at_230_v() -> None:
    supply = supply_of("--ac")
    assert supply == AcSupply(3, 32.0, 230.0) and supply.max_power_w == 22_080.0
    hw = make_hardware(StationOptions(ac=supply), VirtualClock())
    rating = hw.connectors[1].rating
    assert (rating.phases, rating.voltage_v, rating.max_power_w) == (3, 230.0, 22_080.0)


def test_a_single_phase_and_another_voltage() -> None:
    assert supply_of("--ac", "1x16@120") == AcSupply(1, 16.0, 120.0)
    assert ac_supply("3X16") == AcSupply(3, 16.0, 230.0)


@pytest.mark.parametrize("text", ["2x32", "3", "x32", "3x0", "3x32@", "3x32@-1", "threex32"])
def test_bad_supplies_are_refused_in_one_line(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "--ac", text])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "PHASESxAMPS[@VOLTS]" in err and text in err
