"""The report from a Results object: Markdown rows, JSON round trip, HTML, the functionalities
verdicts and the performance maxima."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ocpp_station.conformance.case import Verdict
from ocpp_station.conformance.report import (
    CaseResult,
    ConfigRow,
    Measurement,
    Results,
    StepResult,
    render_html,
    render_markdown,
)
from ocpp_station.conformance.runner import measurements
from ocpp_station.conformance.steps import RESPONSE, TRIGGERED, Timing


def sample() -> Results:
    return Results(
        tool="ocpp-station conformance 0.1.0",
        started=datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC),
        finished=datetime(2026, 5, 1, 10, 1, 30, tzinfo=UTC),
        target="own station started by the tool: ocpp-station run",
        driver="HTTP control API",
        communication="OCPP-J 1.6 over WebSocket, central system at ws://127.0.0.1:9000",
        identity="CP-1",
        boot={"chargePointVendor": "Acme", "chargePointModel": "DC-2", "firmwareVersion": "1.0.0"},
        connectors=2,
        profiles=["Core", "SmartCharging"],
        features=["fixed_cable", "power_cycle"],
        configuration=[
            ConfigRow("HeartbeatInterval", "20", False),
            ConfigRow("SupportedFeatureProfiles", "Core,SmartCharging", True),
            ConfigRow("Odd|Key", None, True),
        ],
        cases=[
            CaseResult("TC_003_CS", "Plugin First", "02 Start", "Core", Verdict.PASS, 2.125),
            CaseResult(
                "TC_005_1_CS",
                "EV Side Disconnected",
                "03 Stop",
                "Core",
                Verdict.NA,
                reason="needs hardware the station lacks: socket",
            ),
            CaseResult(
                "TC_068_CS",
                "Stop with the start idTag",
                "03 Stop",
                "Core",
                Verdict.FAIL,
                1.5,
                reason="no StopTransaction within 10 s; received since #7: nothing",
                failed_step="step 9: expect StopTransaction {transactionId: 3}",
                frames=[
                    '10:00:01.000 CP-1 -> Authorize {"idTag":"A"}',
                    '10:00:01.002 CP-1 <- Authorize.conf {"idTagInfo":{"status":"Accepted"}}',
                ],
                steps=[
                    StepResult(9, "expect StopTransaction {transactionId: 3}", 0.5, 10, "failed")
                ],
                notes=["after the case, could not unplug connector 1: gone"],
            ),
            CaseResult("TC_056_CS", "Smart <thing>", "23 Smart", "SmartCharging", Verdict.PASS, 1),
        ],
        measurements=[
            Measurement("OCPP triggered function timeout", 90, 0.0125, "TC_003_CS: X -> Y"),
            Measurement("OCPP response timeout", 10, 12.5, "TC_068_CS: Reset"),
            Measurement("RemoteStartTransaction response time", 10, None),
        ],
        notes=["a note"],
    )


def test_markdown_has_the_certificate_sections_and_rows() -> None:
    text = render_markdown(sample())
    assert text.startswith("# OCPP 1.6 conformance report: Acme DC-2\n")
    lines = text.splitlines()
    assert "| Core | Fail | 1 Pass, 1 Fail, 1 N/A |" in lines
    assert "| Smart Charging | Pass | 1 Pass |" in lines
    assert "| Firmware Management | N/A | not declared by the station |" in lines
    assert (
        "| OCPP triggered function timeout | 90.0 s | 0.013 s | Pass | TC_003_CS: X -> Y |" in lines
    )
    assert "| OCPP response timeout | 10.0 s | 12.5 s | Fail | TC_068_CS: Reset |" in lines
    assert "| RemoteStartTransaction response time | 10.0 s | - | Not measured |   |" in lines
    assert "| Vendor | Acme |" in lines and "| Firmware version | 1.0.0 |" in lines
    assert "| Serial number | - |" in lines
    assert "| Connectors | 2 |" in lines
    assert "| fixed_cable: fixed cables (nothing to unlock) | yes |" in lines
    assert "| socket: socket outlets with a lock that UnlockConnector can release | no |" in lines
    assert "| HeartbeatInterval | 20 | no |" in lines
    assert "| Odd\\|Key |   | yes |" in lines
    assert "| TC_003_CS | Plugin First | 02 Start | Pass | 2.125 s |   |" in lines
    assert (
        "| TC_005_1_CS | EV Side Disconnected | 03 Stop | N/A | - | "
        "needs hardware the station lacks: socket |" in lines
    )
    assert (
        "| TC_068_CS | Stop with the start idTag | 03 Stop | Fail | 1.500 s | step 9: expect "
        "StopTransaction {transactionId: 3}: no StopTransaction within 10 s; received since #7: "
        "nothing |" in lines
    )
    failure = text[text.index("### TC_068_CS Stop with the start idTag: Fail") :]
    assert "Failing step: step 9: expect StopTransaction {transactionId: 3}" in failure
    assert '10:00:01.000 CP-1 -> Authorize {"idTag":"A"}' in failure
    assert "- a note" in lines
    assert "- TC_068_CS: after the case, could not unplug connector 1: gone" in lines


def test_json_round_trips() -> None:
    results = sample()
    data = json.loads(json.dumps(results.to_json()))
    assert data["cases"][2]["verdict"] == "Fail"
    assert data["measurements"][1]["verdict"] == "Fail"
    assert data["functionalities"][0] == {
        "profile": "Core",
        "verdict": "Fail",
        "detail": "1 Pass, 1 Fail, 1 N/A",
    }
    again = Results.from_json(data)
    assert again == results
    assert render_markdown(again) == render_markdown(results)


def test_from_json_refuses_what_is_not_a_results_document() -> None:
    import pytest

    with pytest.raises(ValueError, match="not a conformance results document"):
        Results.from_json({"tool": "x"})


def test_html_escapes_and_marks_verdicts() -> None:
    page = render_html(sample())
    assert page.startswith("<!DOCTYPE html>")
    assert "Smart &lt;thing&gt;" in page and "Smart <thing>" not in page
    assert '<td class="Fail">Fail</td>' in page and '<td class="NA">N/A</td>' in page
    assert '<td class="Notmeasured">Not measured</td>' in page
    assert "Failing step: step 9: expect StopTransaction {transactionId: 3}" in page


def test_functionalities() -> None:
    results = sample()
    results.cases = [c for c in results.cases if c.verdict is not Verdict.FAIL]
    rows = {f.profile: (str(f.verdict), f.detail) for f in results.functionalities()}
    assert rows["Core"] == ("Pass", "1 Pass, 1 N/A")
    assert rows["SmartCharging"] == ("Pass", "1 Pass")
    assert rows["Reservation"] == ("N/A", "not declared by the station")
    assert "Security" not in rows
    assert not results.failed
    results.profiles.append("Reservation")
    results.cases = [results.cases[1]]  # only the N/A one
    rows = {f.profile: (str(f.verdict), f.detail) for f in results.functionalities()}
    assert rows["Core"] == ("N/A", "1 N/A")
    assert rows["Reservation"] == ("Not tested", "no case of this profile ran")
    results.cases[0].verdict = Verdict.ERROR
    assert results.failed


def test_a_partial_run_says_so_and_passes_no_profile() -> None:
    """`--cases` that leave cases of a profile out: no Pass for it, and the report says the run
    is partial (a Fail still fails the profile)."""
    results = sample()
    results.cases = [c for c in results.cases if c.verdict is not Verdict.FAIL]
    results.omitted = {"Core": ["TC_001_CS", "TC_002_CS"]}
    rows = {f.profile: (str(f.verdict), f.detail) for f in results.functionalities()}
    assert rows["Core"] == ("Partial", "2 of 4 cases ran: 1 Pass, 1 N/A")
    assert rows["SmartCharging"] == ("Pass", "1 Pass")  # nothing of it left out
    note = "A partial run: 3 cases ran, 2 of the library were left out"
    assert note in render_markdown(results) and note in render_html(results)
    again = Results.from_json(json.loads(json.dumps(results.to_json())))
    assert again.omitted == results.omitted
    results.cases[0].verdict = Verdict.FAIL
    verdicts = {f.profile: str(f.verdict) for f in results.functionalities()}
    assert verdicts["Core"] == "Fail"
    whole = sample()
    assert "partial" not in render_markdown(whole).lower()


def test_the_cli_names_what_a_selection_leaves_out() -> None:
    from ocpp_station.conformance.case import load_library
    from ocpp_station.conformance.cli import omitted

    library = load_library()
    core = library.select((), ["Core"])
    assert omitted(library, list(library)) == {}
    left = omitted(library, core)
    assert "Core" not in left and set(left) == {c.profile for c in library} - {"Core"}
    one = [library["TC_001_CS"]]
    assert "TC_001_CS" not in omitted(library, one)["Core"]
    assert len(omitted(library, one)["Core"]) == len(core) - 1


def test_performance_maxima_and_where_they_were_taken() -> None:
    timings = [
        Timing(RESPONSE, "GetConfiguration", 0.004, "discovery"),
        Timing(RESPONSE, "RemoteStartTransaction", 0.020, "TC_010_CS"),
        Timing(RESPONSE, "RemoteStartTransaction", 0.011, "TC_011_1_CS"),
        Timing(RESPONSE, "Reset", 0.031, "TC_013_CS"),
        Timing(TRIGGERED, "RemoteStopTransaction", 0.25, "TC_012_CS", "StopTransaction"),
        Timing(TRIGGERED, "RemoteStartTransaction", 0.12, "TC_010_CS", "Authorize"),
    ]
    triggered, response, remote_start = measurements(timings)
    assert (triggered.measured, triggered.where) == (
        0.25,
        "TC_012_CS: RemoteStopTransaction -> StopTransaction",
    )
    assert (response.measured, response.where) == (0.031, "TC_013_CS: Reset")
    assert (remote_start.measured, remote_start.where) == (
        0.020,
        "TC_010_CS: RemoteStartTransaction",
    )
    assert [m.limit for m in (triggered, response, remote_start)] == [90, 10, 10]
    missing = measurements([Timing(RESPONSE, "RemoteStartTransaction", 11.0, "TC_x", "no answer")])
    assert [str(m.verdict) for m in missing] == ["Not measured", "Fail", "Fail"]
    assert missing[1].where == "TC_x: RemoteStartTransaction (no answer)"
