"""Mutation testing of the conformance tool: our station, run as an external station behind a
proxy that gives it one defect at a time (tests/integration/tool_defects.py), must fail the
cases that cover the defect. Without a defect, through the same proxy, those cases pass.

The score is the share of defects caught: every defect here must be caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.conformance.case import Verdict, load_library
from ocpp_station.conformance.report import CaseResult
from ocpp_station.conformance.runner import Runner
from ocpp_station.conformance.settings import Settings
from tests.integration.external import SpawnedElsewhere
from tests.integration.tool_defects import DEFECTS, Defect

LIBRARY = load_library()
# A station with a defect may never come back to idle after a case; ours, without one, is idle
# within a second, and sends what a case expects within milliseconds on loopback. Waiting less
# for both keeps the failing runs short (a missing message fails after 5 s, not 10); answers to
# the tool's requests are waited for as long as in any run.
SETTINGS = Settings(settle_timeout=5.0, expect_timeout=5.0)


def explain(result: CaseResult) -> str:
    return f"{result.id}: {result.verdict.value} {result.failed_step}: {result.reason}"


async def run_with(defect: Defect, case_ids: list[str], folder: Path) -> dict[str, CaseResult]:
    target = SpawnedElsewhere(folder, tamper=defect)
    cases = [LIBRARY[case_id] for case_id in case_ids]
    results = await Runner(target, SETTINGS, say=lambda line: None).run(cases)
    return {c.id: c for c in results.cases}


@pytest.mark.parametrize("defect_type", DEFECTS, ids=[d.name for d in DEFECTS])
async def test_the_tool_fails_a_station_with_the_defect(
    defect_type: type[Defect], tmp_path: Path
) -> None:
    defect = defect_type()
    results = await run_with(defect, [*defect.cases, *defect.unaffected], tmp_path)
    assert defect.injected > 0, f"{defect.name}: never applied"
    verdicts = {case_id: r.verdict for case_id, r in results.items()}
    wanted = dict.fromkeys(defect.cases, Verdict.FAIL) | dict.fromkeys(
        defect.unaffected, Verdict.PASS
    )
    assert verdicts == wanted, [explain(r) for r in results.values()]


COVERED = sorted(
    {case_id for d in DEFECTS for case_id in d.cases}, key=lambda i: LIBRARY[i].sort_key()
)
PROFILES = sorted({LIBRARY[case_id].profile for case_id in COVERED})


@pytest.mark.parametrize("profile", PROFILES)
async def test_without_a_defect_the_same_cases_pass_through_the_proxy(
    profile: str, tmp_path: Path
) -> None:
    # One profile's cases at a time: they run side by side on the test workers.
    covered = [case_id for case_id in COVERED if LIBRARY[case_id].profile == profile]
    results = await run_with(Defect(), covered, tmp_path)
    assert {i: r.verdict for i, r in results.items()} == dict.fromkeys(covered, Verdict.PASS), [
        explain(r) for r in results.values() if r.verdict is not Verdict.PASS
    ]
