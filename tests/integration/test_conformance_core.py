"""The case library's Core cases against our own station: one pytest item per case id.

Each item runs the conformance tool's runner on one case, against our station in the variant
whose hardware the case needs (the reference charger with fixed cables, or the socket variant);
the case must Pass. The same tool against a station it did not start, driven through its
control API, must give the same verdicts; and a case that fails names its step and the frames.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.conformance.case import Case, Library, Verdict, load_library
from ocpp_station.conformance.report import CaseResult, Results
from ocpp_station.conformance.runner import Runner
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.target import OwnStation
from tests.integration.external import SpawnedElsewhere

CORE = load_library().select(profiles=["Core"])
VARIANTS: tuple[tuple[str, ...], ...] = ((), ("--socket",))
"""Our station's hardware variants: the reference charger, then the socket outlets."""


def variant_for(case: Case) -> tuple[str, ...] | None:
    """The station arguments of the first variant with the hardware the case needs."""
    for args in VARIANTS:
        if case.needs <= OwnStation(args).features({}):
            return args
    return None


def explain(result: CaseResult, workdir: Path) -> str:
    logs = sorted(str(p) for p in workdir.glob("*/station.log"))
    return "\n".join(
        [
            f"{result.id}: {result.verdict.value} at {result.failed_step}",
            result.reason,
            "frames:",
            *result.frames,
            *result.notes,
            f"station logs: {', '.join(logs)}",
        ]
    )


async def run_own(cases: list[Case], args: tuple[str, ...], workdir: Path) -> Results:
    progress: list[str] = []
    runner = Runner(OwnStation(args, workdir=workdir), Settings(), say=progress.append)
    return await runner.run(cases)


async def passes_on_its_variant(case: Case, tmp_path: Path) -> Results | None:
    """Run `case` on the first variant of our station with its hardware: it must Pass (the
    results), or be N/A where no variant has that hardware (None)."""
    args = variant_for(case)
    results = await run_own([case], args or (), tmp_path)
    [result] = results.cases
    if args is None:
        assert result.verdict is Verdict.NA, explain(result, tmp_path)
        return None
    assert result.verdict is Verdict.PASS, explain(result, tmp_path)
    return results


@pytest.mark.parametrize("case", CORE, ids=[c.id for c in CORE])
async def test_core_case_passes_against_our_station(case: Case, tmp_path: Path) -> None:
    results = await passes_on_its_variant(case, tmp_path)
    if results is None:
        return
    assert results.identity == "CP-1" and results.boot is not None
    response = results.measurements[1]
    assert response.name == "OCPP response timeout" and response.measured is not None


# Cases that need no particular hardware but check more where there is some: run them on the
# socket variant as well (TC_031 then also unlocks connector 1).
BOTH_VARIANTS = [c for c in CORE if c.id == "TC_031_CS"]


@pytest.mark.parametrize("case", BOTH_VARIANTS, ids=[c.id for c in BOTH_VARIANTS])
async def test_core_case_passes_on_the_socket_variant_too(case: Case, tmp_path: Path) -> None:
    [result] = (await run_own([case], ("--socket",), tmp_path)).cases
    assert result.verdict is Verdict.PASS, explain(result, tmp_path)


async def test_a_station_the_tool_did_not_start_gets_the_same_verdicts(tmp_path: Path) -> None:
    # Our reference charger's verdicts: the tests above run each case on it (or find it N/A)
    # and require Pass, so they need not be run a second time here.
    features = OwnStation(()).features({})
    own = {c.id: Verdict.PASS if c.needs <= features else Verdict.NA for c in CORE}
    target = SpawnedElsewhere(tmp_path / "external")
    external = await Runner(target, Settings(), say=lambda line: None).run(CORE)
    # The tool cannot cut the power of a station it did not start: those cases are N/A there.
    powered = {c.id for c in CORE if "power_cycle" in c.needs}
    verdicts = {case_id: v for case_id, v in own.items() if case_id not in powered}
    assert {c.id: c.verdict for c in external.cases if c.id not in powered} == verdicts, [
        explain(c, tmp_path / "external") for c in external.cases if c.verdict is not Verdict.PASS
    ]
    assert powered and {c.verdict for c in external.cases if c.id in powered} == {Verdict.NA}
    assert verdicts["TC_005_1_CS"] is Verdict.NA  # the reference charger has fixed cables
    assert external.identity == "EXT-7" and external.features == ["fault_injection", "fixed_cable"]
    assert external.notes == [
        "hardware features inferred from the configuration and the driver: fault_injection, "
        "fixed_cable (declare them with --feature when they differ)"
    ]
    assert [c.notes for c in external.cases] == [[] for _ in external.cases]  # restored each time
    assert [f.verdict for f in external.functionalities() if f.profile == "Core"] == [Verdict.PASS]


async def test_a_case_run_first_against_a_station_just_booted_waits_for_its_statuses(
    tmp_path: Path,
) -> None:
    """TC_013 checks every status the station reports: run first, right after the external
    station's boot, it must not see the boot's own statuses arrive during the case."""
    case = load_library()["TC_013_CS"]
    target = SpawnedElsewhere(tmp_path / "external")
    results = await Runner(target, Settings(), say=lambda line: None).run([case])
    [result] = results.cases
    assert result.verdict is Verdict.PASS, explain(result, tmp_path / "external")


async def test_a_failing_case_names_its_step_and_shows_the_frames(tmp_path: Path) -> None:
    library = Library()

    @library.case(
        "TC_003_CS", "Plugin First, expecting the wrong status", module="02", profile="Core"
    )
    async def wrong(run: Run) -> None:
        await run.plug(2)
        await run.expect("StatusNotification", connectorId=2, status="Charging", timeout=1.5)

    results = await run_own(list(library), (), tmp_path)
    [result] = results.cases
    assert result.verdict is Verdict.FAIL
    assert result.failed_step == (
        "step 7: expect StatusNotification {connectorId: 2, status: Charging}"
    )
    assert "status: Preparing" in result.reason
    assert any("CP-1 -> StatusNotification" in f and "Preparing" in f for f in result.frames)
    assert results.failed
