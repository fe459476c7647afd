"""The cases of every optional profile our station is built with, against our own station: one
pytest item per case id, each must Pass (or be N/A where no variant has the hardware)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station import profiles
from ocpp_station.conformance.case import Case, Verdict, load_library
from ocpp_station.conformance.runner import Runner
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.target import OwnStation
from ocpp_station.rpc.actions import CORE
from tests.integration.test_conformance_core import explain, passes_on_its_variant, run_own

OPTIONAL = [p for p in profiles.names() if p != CORE]
CASES = load_library().select(profiles=OPTIONAL)


def test_every_installed_profile_has_cases() -> None:
    assert OPTIONAL and {c.profile for c in CASES} == set(OPTIONAL)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_profile_case_passes_against_our_station(case: Case, tmp_path: Path) -> None:
    results = await passes_on_its_variant(case, tmp_path)
    if results is None:
        return
    [row] = [f for f in results.functionalities() if f.profile == case.profile]
    assert row.verdict is Verdict.PASS


SMART_CHARGING = [c for c in CASES if c.profile == "SmartCharging"]


async def test_the_smart_charging_cases_pass_on_the_ac_variant(tmp_path: Path) -> None:
    """The AC charger limits amps per phase: the module 23 cases (limits in A, the measured
    Current.Import per phase) pass on three phases (one phase: the unit tests)."""
    results = await run_own(SMART_CHARGING, ("--ac", "3x32"), tmp_path)
    verdicts = {c.id: c.verdict for c in results.cases}
    assert verdicts == dict.fromkeys(verdicts, Verdict.PASS), [
        explain(c, tmp_path) for c in results.cases if c.verdict is not Verdict.PASS
    ]
    assert len(verdicts) == 10


async def test_the_firmware_cases_pass_over_ftp_too(tmp_path: Path) -> None:
    """The tool serves the image and takes the upload over FTP (pyftpdlib): the module 19 and
    20 cases pass as over HTTP."""
    cases = [c for c in CASES if c.profile == "FirmwareManagement"]
    runner = Runner(OwnStation((), workdir=tmp_path), Settings(file_protocol="ftp"), say=print)
    results = await runner.run(cases)
    verdicts = {c.id: c.verdict for c in results.cases}
    assert verdicts == dict.fromkeys(verdicts, Verdict.PASS), [
        explain(c, tmp_path) for c in results.cases if c.verdict is not Verdict.PASS
    ]
    assert len(verdicts) == 5
