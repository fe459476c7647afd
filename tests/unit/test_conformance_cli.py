"""`ocpp-station conformance` arguments: defaults, bad arguments (exit 2), --list."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import NoReturn

import pytest

from ocpp_station.conformance import cli
from ocpp_station.conformance.case import load_library
from ocpp_station.conformance.drivers import Console, ControlApiDriver, OperatorDriver
from ocpp_station.conformance.steps import ConfigKey
from ocpp_station.conformance.target import ExternalStation, OwnStation, infer_cable


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SystemExit(2)


def parse(*argv: str) -> argparse.Namespace:
    parser = Parser(prog="ocpp-station conformance")
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_run_our_own_station() -> None:
    args = parse()
    target, listen = cli._target(args, Console())
    assert isinstance(target, OwnStation)
    assert listen == ("127.0.0.1", 0) and target.identity == "CP-1"
    assert target.station_args == [] and not target.socket


def test_own_station_arguments() -> None:
    args = parse("--station-args=--socket --connectors 3", "--id", "CP-9", "--listen", "[::1]:0")
    target, listen = cli._target(args, Console())
    assert isinstance(target, OwnStation)
    assert target.station_args == ["--socket", "--connectors", "3"] and target.socket
    assert target.identity == "CP-9" and listen == ("::1", 0)


def test_an_external_station_with_or_without_a_control_adapter() -> None:
    args = parse(
        "--station",
        "external",
        "--control",
        "http://10.0.0.5:8180",
        "--feature",
        "socket",
        "--feature",
        "lock_failure",
    )
    target, listen = cli._target(args, Console())
    assert isinstance(target, ExternalStation) and isinstance(target.driver, ControlApiDriver)
    assert listen == ("127.0.0.1", 9000) and target.identity is None
    assert target.declared_features == frozenset({"socket", "lock_failure"})
    target, _ = cli._target(parse("--station", "external", "--id", "CP-7"), Console())
    assert isinstance(target, ExternalStation) and isinstance(target.driver, OperatorDriver)
    assert target.identity == "CP-7" and target.declared_features is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--station", "nobody"],
        ["--listen", "9000"],
        ["--listen", "host:99999"],
        ["--profile", "Gold"],
        ["--timing", "boot_interval"],
        ["--timing", "boot_interval=-1"],
        ["--timeout", "0"],
        ["--feature", "teleport"],
    ],
)
def test_malformed_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--control", "http://x:1"], "--control is for an external station"),
        (["--feature", "socket"], "--feature is for an external station"),
        (["--station", "external", "--station-args=--socket"], "are for our own station"),
        (["--station", "external", "--control", "ws://x"], "--control: the control API URL"),
        (
            ["--station", "external", "--control", "http://x:1", "--feature", "power_cycle"],
            "--feature power_cycle: the control API cannot cut the station's power",
        ),
        (["--station-args=--csms ws://elsewhere"], "the tool sets --csms itself"),
        (["--station-args=--socket 'open"], "--station-args: No closing quotation"),
        (["--id", "has space"], "--id must be 1 to 48 characters"),
        (["--cases", "TC_999*"], "no case matches --cases and --profile"),
        (["--report", "/no/such/folder/report"], "--report: no such folder"),
    ],
)
async def test_inconsistent_arguments_return_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli.main(parse(*argv)) == 2
    assert message in capsys.readouterr().err


async def test_list_prints_the_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli.main(parse("--list")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        "TC_003_CS Regular Charging Session - Plugin First [02 Start Charging Session; Core]"
        in (lines)
    )
    assert any(line.startswith("TC_005_1_CS ") and "(needs socket)" in line for line in lines)


def test_the_report_path_is_a_stem(tmp_path: Path) -> None:
    assert cli._report_stem(tmp_path / "r.md") == tmp_path / "r"
    assert cli._report_stem(tmp_path / "r") == tmp_path / "r"
    assert cli._report_stem(tmp_path / "r.v2") == tmp_path / "r.v2"


async def test_an_address_in_use_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert await cli.main(parse("--listen", f"127.0.0.1:{port}", "--cases", "TC_003_CS")) == 2
    assert f"--listen: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_an_external_stations_hardware_is_inferred_unless_declared() -> None:
    fixed = {"UnlockConnectorOnEVSideDisconnect": ConfigKey("false", True)}
    socket_ = {"UnlockConnectorOnEVSideDisconnect": ConfigKey("true", False)}
    assert infer_cable(fixed) == "fixed_cable"
    assert infer_cable(socket_) == "socket"
    assert infer_cable({"UnlockConnectorOnEVSideDisconnect": ConfigKey("true", True)}) is None
    assert infer_cable({}) is None
    api = ExternalStation(ControlApiDriver("http://127.0.0.1:1"))
    assert api.features(socket_) == {"socket", "lock_failure", "fault_injection"}
    assert api.notes == [
        "hardware features inferred from the configuration and the driver: fault_injection, "
        "lock_failure, socket (declare them with --feature when they differ)"
    ]
    assert api.undetermined == frozenset()
    operator = ExternalStation(OperatorDriver(Console(), 5))
    assert operator.features(fixed) == {"fixed_cable"}
    # What only the person at the station can tell is undetermined, not absent.
    assert operator.undetermined == {"power_cycle", "fault_injection", "lock_failure"}
    # A declared feature adds to the inferred ones; a declared cable kind replaces the guess.
    declared = ExternalStation(
        OperatorDriver(Console(), 5), features=frozenset({"socket", "power_cycle"})
    )
    assert declared.features(fixed) == {"socket", "power_cycle"}
    assert declared.undetermined == {"fault_injection", "lock_failure"}
    assert declared.notes == [
        "hardware features inferred from the configuration and the driver: none; declared: "
        "power_cycle, socket; not known: fault_injection, lock_failure (declare them with "
        "--feature when they differ)"
    ]
    added = ExternalStation(ControlApiDriver("http://127.0.0.1:1"), features=frozenset({"socket"}))
    assert added.features({}) == {"socket", "lock_failure", "fault_injection"}
    unknown = ExternalStation(ControlApiDriver("http://127.0.0.1:1"))
    assert unknown.features({}) == {"fault_injection"}
    assert unknown.undetermined == {"socket", "fixed_cable", "lock_failure"}


def test_a_case_needing_an_undetermined_feature_says_to_declare_it() -> None:
    library = load_library()
    unlock = library["TC_005_1_CS"]  # needs a socket
    reason = unlock.not_applicable({"Core"}, {"fault_injection"}, {"socket", "fixed_cable"})
    assert reason is not None and "cannot tell" in reason and "--feature socket" in reason
    absent = unlock.not_applicable({"Core"}, {"fixed_cable"}, set())
    assert absent == (
        "needs hardware the station lacks: socket (socket outlets with a lock that "
        "UnlockConnector can release)"
    )
