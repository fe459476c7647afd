"""The cases of every optional profile our station is built with, against our own station: one
pytest item per case id, each must Pass (or be N/A where no variant has the hardware)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station import profiles
from ocpp_station.conformance.case import Case, Verdict, load_library
from ocpp_station.rpc.actions import CORE
from tests.integration.test_conformance_core import passes_on_its_variant

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
