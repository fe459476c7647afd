"""The case registry: declaring cases, selecting them, and when one does not apply."""

from __future__ import annotations

import pytest

from ocpp_station.conformance.case import Library, Requirement, load_library
from ocpp_station.conformance.steps import Run


async def nothing(run: Run) -> None:
    """Plug in. Nothing else."""


def test_a_case_is_registered_with_its_declaration() -> None:
    library = Library()
    library.case(
        "TC_005_1_CS", "EV Side Disconnected", module="03 Stop", profile="Core", needs={"socket"}
    )(nothing)
    case = library["TC_005_1_CS"]
    assert (case.id, case.name, case.module, case.profile) == (
        "TC_005_1_CS",
        "EV Side Disconnected",
        "03 Stop",
        "Core",
    )
    assert case.needs == frozenset({"socket"}) and case.booted is True
    assert case.script is nothing and case.description == "Plug in. Nothing else."
    assert case.requirements == (Requirement("profile", "Core"), Requirement("hardware", "socket"))
    assert "TC_005_1_CS" in library and len(library) == 1


@pytest.mark.parametrize(
    ("case_id", "profile", "needs", "message"),
    [
        ("TC_3_CS", "Core", (), "case id must look like"),
        ("TC_003", "Core", (), "case id must look like"),
        ("TC_003_CS", "Gold", (), "unknown profile 'Gold'"),
        ("TC_003_CS", "Core", ("socket", "teleport"), "unknown hardware need(s) teleport"),
    ],
)
def test_a_bad_declaration_is_refused(
    case_id: str, profile: str, needs: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Library().case(case_id, "Name", module="01 M", profile=profile, needs=needs)


def test_an_id_is_registered_once() -> None:
    library = Library()
    library.case("TC_003_CS", "A", module="02 Start", profile="Core")(nothing)
    with pytest.raises(ValueError, match="TC_003_CS is registered twice"):
        library.case("TC_003_CS", "B", module="02 Start", profile="Core")(nothing)


def test_not_applicable_names_what_is_missing() -> None:
    library = Library()
    library.case(
        "TC_024_CS", "Lock Failure", module="11", profile="SmartCharging", needs={"lock_failure"}
    )(nothing)
    case = library["TC_024_CS"]
    assert case.not_applicable({"Core", "SmartCharging"}, {"lock_failure", "socket"}) is None
    assert case.not_applicable({"Core"}, {"lock_failure"}) == (
        "profile SmartCharging is not declared in SupportedFeatureProfiles"
    )
    assert case.not_applicable({"SmartCharging"}, {"fixed_cable"}) == (
        "needs hardware the station lacks: lock_failure (a connector lock can be made to fail)"
    )
    both = case.not_applicable(set(), set())
    assert both is not None and "SmartCharging" in both and "lock_failure" in both


def test_select_by_glob_and_profile_in_octt_order() -> None:
    library = Library()
    for case_id, module, profile in (
        ("TC_068_CS", "03 Stop", "Core"),
        ("TC_004_2_CS", "02 Start", "Core"),
        ("TC_004_1_CS", "02 Start", "Core"),
        ("TC_010_CS", "05 Remote", "Core"),
        ("TC_005_1_CS", "03 Stop", "Core"),
        ("TC_056_CS", "23 Smart", "SmartCharging"),
    ):
        library.case(case_id, "x", module=module, profile=profile)(nothing)
    ids = [c.id for c in library]
    assert ids == [
        "TC_004_1_CS",
        "TC_004_2_CS",
        "TC_005_1_CS",
        "TC_068_CS",
        "TC_010_CS",
        "TC_056_CS",
    ]
    assert [c.id for c in library.select(["tc_004*"])] == ["TC_004_1_CS", "TC_004_2_CS"]
    assert [c.id for c in library.select(["TC_0?0_CS", "TC_068_CS"])] == ["TC_068_CS", "TC_010_CS"]
    assert [c.id for c in library.select(profiles=["SmartCharging"])] == ["TC_056_CS"]
    assert library.select(["TC_056_CS"], ["Core"]) == []


def test_the_library_holds_the_first_slice_of_cases() -> None:
    library = load_library()
    cases = {c.id: c for c in library}
    expected = {
        "TC_001_CS": "01 Cold Boot",
        "TC_002_CS": "01 Cold Boot",
        "TC_003_CS": "02 Start Charging Session",
        "TC_004_1_CS": "02 Start Charging Session",
        "TC_004_2_CS": "02 Start Charging Session",
        "TC_005_1_CS": "03 Stop Charging Session",
        "TC_005_2_CS": "03 Stop Charging Session",
        "TC_005_3_CS": "03 Stop Charging Session",
        "TC_068_CS": "03 Stop Charging Session",
        "TC_069_CS": "03 Stop Charging Session",
    }
    assert {i: cases[i].module for i in expected} == expected
    assert all(c.profile == "Core" for i, c in cases.items() if i in expected)
    assert not cases["TC_001_CS"].booted and not cases["TC_002_CS"].booted
    assert cases["TC_005_1_CS"].needs == frozenset({"socket"})
    assert load_library() is library  # importing again registers nothing twice
