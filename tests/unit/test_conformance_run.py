"""The Run and the runner against a scripted station: steps, verdicts, the failing step with
the frames around it, N/A, restoring a station that outlives the case, measurements."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from ocpp_station.conformance.case import NotApplicable, Verdict
from ocpp_station.conformance.steps import RESPONSE, TRIGGERED, Expected, Run, one_of
from tests.unit.conformance_fakes import (
    FACTORY,
    FakeStation,
    FakeTarget,
    fast_settings,
    library_with,
    run_cases,
    run_one,
)

TAG = "VALID-TAG-1"


def start_on_card(target: FakeTarget) -> None:
    """Presenting a card makes the fake station authorize, start and report Charging."""

    async def card(id_tag: str, connector_id: int | None) -> None:
        station = target.station
        assert station is not None

        async def flow() -> None:
            await station.send("Authorize", {"idTag": id_tag})
            await station.start_transaction(1, id_tag)
            await station.status(1, "Charging")

        station.spawn(flow())

    target.driver.hooks["present_card"] = card


async def test_a_passing_case_records_each_step() -> None:
    async def script(run: Run) -> None:
        await run.plug(1)
        await run.expect("StatusNotification", connectorId=1, status="Preparing")
        await run.present_card(run.tags.valid)
        await run.expect("Authorize", idTag=run.tags.valid)
        start = await run.expect("StartTransaction", connectorId=1)
        await run.expect("StatusNotification", connectorId=1, status=one_of("Charging", "X"))
        assert await run.transaction_id(start) >= 1
        await run.check_equal(
            "statuses of connector 1", run.statuses(1), ["Available", "Preparing", "Charging"]
        )

    target = FakeTarget()
    start_on_card(target)
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.PASS, result
    assert [s.description for s in result.steps] == [
        "expect BootNotification",
        "expect StatusNotification {connectorId: 0}",
        "expect StatusNotification {connectorId: 1}",
        "expect StatusNotification {connectorId: 2}",
        "driver: plug in connector 1",
        "expect StatusNotification {connectorId: 1, status: Preparing}",
        "driver: present card VALID-TAG-1",
        "expect Authorize {idTag: VALID-TAG-1}",
        "expect StartTransaction {connectorId: 1}",
        "expect StatusNotification {connectorId: 1, status: Charging or X}",
        "check: statuses of connector 1 = [Available, Preparing, Charging]",
        "check: no stamped CALL repeated, no Start/StopTransaction unexpected",
    ]
    assert all(s.outcome == "ok" for s in result.steps)
    assert target.driver.done == [("plug", 1), ("present_card", TAG, None)]


async def test_a_failing_step_is_named_with_the_frames_around_it() -> None:
    async def script(run: Run) -> None:
        await run.plug(1)
        station = target.station
        assert station is not None

        async def later() -> None:
            # Sent after the expectation gave up: the report shows it as what came next.
            await asyncio.sleep(1.0)
            await station.send("Heartbeat", {})

        station.spawn(later())
        await run.expect("StatusNotification", connectorId=1, status="Charging", timeout=0.5)
        await run.unplug(1)  # never reached

    target = FakeTarget()
    settings = fast_settings(frames_before=4, frames_after=2, failure_grace=1.0)
    result = await run_one(target, library_with(script), settings)
    assert result.verdict is Verdict.FAIL
    assert (
        result.failed_step == "step 6: expect StatusNotification {connectorId: 1, status: Charging}"
    )
    assert "no StatusNotification {connectorId: 1, status: Charging} within 0.5 s" in result.reason
    assert "status: Preparing" in result.reason  # what came instead
    assert [s.outcome for s in result.steps][-1] == "failed"
    assert len(result.frames) == 6
    before, after = result.frames[:4], result.frames[4:]
    assert "FAKE-1 -> StatusNotification" in before[-2] and "Preparing" in before[-2]
    assert "FAKE-1 <- StatusNotification.conf" in before[-1]
    assert "FAKE-1 -> Heartbeat {}" in after[0]
    assert "FAKE-1 <- Heartbeat.conf" in after[1]
    assert ("unplug", 1) not in target.driver.done


async def test_a_case_for_an_undeclared_profile_is_not_applicable() -> None:
    ran: list[bool] = []

    async def script(run: Run) -> None:
        ran.append(True)

    result = await run_one(FakeTarget(), library_with(script, profile="SmartCharging"))
    assert result.verdict is Verdict.NA
    assert result.reason == "profile SmartCharging is not declared in SupportedFeatureProfiles"
    assert ran == []


async def test_a_case_needing_hardware_the_station_lacks_is_not_applicable() -> None:
    async def script(run: Run) -> None:
        raise AssertionError("must not run")

    result = await run_one(
        FakeTarget(features=frozenset({"fixed_cable"})),
        library_with(script, needs=frozenset({"socket", "power_cycle"})),
    )
    assert result.verdict is Verdict.NA
    assert "power_cycle" in result.reason and "socket" in result.reason
    assert "fixed_cable" not in result.reason


async def test_a_script_may_find_itself_not_applicable() -> None:
    async def script(run: Run) -> None:
        run.not_applicable("the key is read-only")

    result = await run_one(FakeTarget(), library_with(script))
    assert (result.verdict, result.reason) == (Verdict.NA, "the key is read-only")


async def test_a_broken_tool_or_driver_is_an_error_not_a_failure() -> None:
    async def crashes(run: Run) -> None:
        raise KeyError("oops")

    async def plugs(run: Run) -> None:
        await run.plug(2)

    target = FakeTarget()
    result = await run_one(target, library_with(crashes))
    assert result.verdict is Verdict.ERROR
    assert result.reason == "KeyError: 'oops'"
    assert result.failed_step == "after step 4: expect StatusNotification {connectorId: 2}"

    target = FakeTarget()
    target.driver.broken.add("plug")
    result = await run_one(target, library_with(plugs))
    assert result.verdict is Verdict.ERROR
    assert result.failed_step == "step 5: driver: plug in connector 2"
    assert result.reason == "plug is broken"


async def test_a_station_that_dies_gives_an_error() -> None:
    async def script(run: Run) -> None:
        target.dead = "exited with code -9"
        await run.expect("Heartbeat", timeout=2)

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.ERROR
    assert "the station process died: exited with code -9" in result.reason


async def test_call_checks_the_status_and_call_expect_error_the_code() -> None:
    async def script(run: Run) -> None:
        code = await run.call_expect_error("ClearCache", {})
        await run.check_equal("the error code", code, "NotSupported")
        await run.call("UnlockConnector", {"connectorId": 1}, status=("Unlocked", "UnlockFailed"))

    result = await run_one(FakeTarget(), library_with(script))
    assert result.verdict is Verdict.FAIL
    assert result.failed_step == (
        "step 7: send UnlockConnector {connectorId: 1}, expect status Unlocked or UnlockFailed"
    )
    assert result.reason == (
        "UnlockConnector answered {status: NotSupported}, expected status Unlocked or UnlockFailed"
    )


async def test_call_or_error_takes_either_an_answer_or_a_callerror() -> None:
    async def script(run: Run) -> None:
        got.append(await run.call_or_error("ClearCache", {}))
        got.append(await run.call_or_error("UnlockConnector", {"connectorId": 1}))
        await run.call_or_error("Reset", {"type": "Hard"})  # no answer: still a failure

    got: list[tuple[object, object]] = []
    target = FakeTarget(delays={"Reset": 0.5})
    result = await run_one(target, library_with(script), fast_settings(call_timeout=0.2))
    assert got == [(None, "NotSupported"), ({"status": "NotSupported"}, None)]
    assert result.verdict is Verdict.FAIL
    assert result.failed_step.endswith("send Reset {type: Hard}, expect an answer or a CALLERROR")
    assert result.reason == "no answer to Reset within 0.2 s"


async def test_arrivals_show_answers_and_calls_in_arrival_order() -> None:
    async def script(run: Run) -> None:
        station = target.station
        assert station is not None

        async def stop(request: dict[str, object]) -> None:
            await station.status(1, "Finishing")  # sent once Reset.conf has left

        station.after["Reset"] = stop
        await run.call("Reset", {"type": "Soft"}, status="Accepted")
        await run.expect("StatusNotification", status="Finishing")
        await run.call_expect_error("ClearCache", {})
        seen.extend(run.arrivals())

    seen: list[str] = []
    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.PASS, result
    # The boot of the case's station, then what the script caused.
    booted = ["BootNotification", "StatusNotification", "StatusNotification", "StatusNotification"]
    assert seen == [*booted, "Reset.conf", "StatusNotification", "ClearCache CALLERROR"]


async def test_expect_any_order_and_expect_none() -> None:
    async def script(run: Run) -> None:
        station = target.station
        assert station is not None
        mark = run.mark()
        await station.status(1, "Finishing")
        await station.send("Heartbeat", {})
        heartbeat, finishing = await run.expect_any_order(
            Expected("Heartbeat"), Expected("StatusNotification", status="Finishing")
        )
        assert finishing.seq < heartbeat.seq
        assert run.messages(after=mark) == [finishing, heartbeat]
        await run.expect_none("StatusNotification", within=0.2)
        await run.expect_none("StatusNotification", within=0.2, after=mark, status="Finishing")

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.FAIL
    assert (
        result.failed_step == "step 7: expect no StatusNotification {status: Finishing} for 0.2 s"
    )
    assert result.reason.startswith("unexpected StatusNotification #")


async def test_expectations_read_on_across_a_power_cycle() -> None:
    async def script(run: Run) -> None:
        await run.power_cycle(graceful=False)
        boot = await run.expect("BootNotification")
        assert boot.connection == 3  # discovery, the case, after the power cycle
        await run.expect("StatusNotification", connectorId=2)

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.PASS, result
    assert ("power_cycle", False) in target.driver.done
    assert len(target.stations) == 3  # discovery, the case, after the power cycle


async def test_a_case_that_starts_with_the_station_off_powers_it_on() -> None:
    async def script(run: Run) -> None:
        await run.boot_answer("Pending", interval=7)
        await run.power_on()
        boot = await run.expect("BootNotification", timeout=2)
        assert boot["chargePointVendor"] == "Fake"
        assert run.csms.boot_status == "Pending"

    target = FakeTarget()
    results = await run_cases(target, [library_with(script, booted=False)])
    assert results.cases[0].verdict is Verdict.PASS, results.cases[0]
    assert [s.description for s in results.cases[0].steps][:2] == [
        "central system: answer BootNotification with Pending, interval 7 s",
        "station: power on",
    ]


async def test_a_station_that_outlives_the_case_is_restored() -> None:
    async def script(run: Run) -> None:
        await run.configure("MeterValueSampleInterval", "35")
        await run.configure("MeterValueSampleInterval", "40")
        await run.boot_answer("Accepted", interval=3)
        await run.plug(1)
        station = target.station
        assert station is not None
        await station.start_transaction(1, TAG)
        await run.expect("StartTransaction", connectorId=1)  # taken, so not an unexpected one

    target = FakeTarget(outlives_cases=True)
    results = await run_cases(target, [library_with(script)])
    assert results.cases[0].verdict is Verdict.PASS, results.cases[0]
    station = target.stations[0]
    changes = [p for action, p in station.requests if action == "ChangeConfiguration"]
    assert changes == [
        {"key": "MeterValueSampleInterval", "value": "35"},
        {"key": "MeterValueSampleInterval", "value": "40"},
        {"key": "MeterValueSampleInterval", "value": "20"},  # the value before the case
        {"key": "HeartbeatInterval", "value": "20"},  # the boot answer gave it 3
    ]
    stops = [p for action, p in station.requests if action == "RemoteStopTransaction"]
    assert stops == [{"transactionId": 1}]
    assert target.driver.done == [("plug", 1), ("unplug", 1)]
    assert station.configuration["MeterValueSampleInterval"] == ("20", False)


async def test_a_connector_the_case_made_inoperative_is_made_operative_again() -> None:
    async def script(run: Run) -> None:
        await run.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
        await run.call("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
        await run.call("ChangeAvailability", {"connectorId": 2, "type": "Operative"})
        await run.check("the case fails before it makes connector 1 Operative", False)

    target = FakeTarget(outlives_cases=True)
    results = await run_cases(target, [library_with(script)])
    assert results.cases[0].verdict is Verdict.FAIL
    changes = [p for action, p in target.stations[0].requests if action == "ChangeAvailability"]
    assert changes[3:] == [{"connectorId": 1, "type": "Operative"}]
    assert results.cases[0].notes == []


async def test_response_times_and_triggered_calls_are_measured() -> None:
    async def script(run: Run) -> None:
        station = target.station
        assert station is not None

        async def start(request: dict[str, object]) -> None:
            await station.start_transaction(1, str(request["idTag"]))

        async def plugged(connector_id: int) -> None:
            station.spawn(station.start_transaction(connector_id, TAG))

        station.after["RemoteStartTransaction"] = start
        await run.call("RemoteStartTransaction", {"idTag": TAG}, status="Accepted")
        await run.expect("StartTransaction")
        # After a physical step, what the station sends is that step's doing: not measured.
        del station.after["RemoteStartTransaction"]
        target.driver.hooks["plug"] = plugged
        await run.call("RemoteStartTransaction", {"idTag": TAG, "connectorId": 2})
        await run.plug(2)
        await run.expect("StartTransaction", connectorId=2)
        triggered = [t for t in run.timings if t.kind == TRIGGERED]
        assert [(t.action, t.detail) for t in triggered] == [
            ("RemoteStartTransaction", "StartTransaction")
        ]
        responses = [t.action for t in run.timings if t.kind == RESPONSE]
        assert responses == ["RemoteStartTransaction", "RemoteStartTransaction"]

    delay = 0.3
    target = FakeTarget(delays={"RemoteStartTransaction": delay})
    results = await run_cases(target, [library_with(script)])
    assert results.cases[0].verdict is Verdict.PASS, results.cases[0]
    triggered, response, remote_start = results.measurements
    assert response.name == "OCPP response timeout" and response.limit == 10
    # The answer was held back `delay`: the measurement holds it (half of it, to be safe).
    assert response.measured is not None and response.measured > delay / 2
    assert response.where == "TC_999_CS: RemoteStartTransaction"
    assert remote_start.measured == response.measured
    assert triggered.name == "OCPP triggered function timeout" and triggered.limit == 90
    assert triggered.where == "TC_999_CS: RemoteStartTransaction -> StartTransaction"
    assert triggered.measured is not None and triggered.measured > delay / 2
    assert str(response.verdict) == "Pass"


async def test_answer_overrides_the_central_system_for_the_case_only() -> None:
    async def script(run: Run) -> None:
        await run.answer(
            "Authorize",
            lambda payload: {"idTagInfo": {"status": "Blocked"}},
            "idTagInfo Blocked",
        )
        station = target.station
        assert station is not None
        answer = await station.send("Authorize", {"idTag": TAG})
        assert answer == {"idTagInfo": {"status": "Blocked"}}
        await run.power_cycle(graceful=True)
        answer = await target.station.send("Authorize", {"idTag": TAG})
        assert answer == {"idTagInfo": {"status": "Blocked"}}

    async def after(run: Run) -> None:
        station = target.station
        assert station is not None
        answer = await station.send("Authorize", {"idTag": TAG})
        if answer != {"idTagInfo": {"status": "Accepted"}}:
            raise NotApplicable(f"still overridden: {answer}")

    target = FakeTarget(outlives_cases=True)
    results = await run_cases(
        target,
        [library_with(script), library_with(after, case_id="TC_998_CS")],
    )
    assert [c.verdict for c in results.cases] == [Verdict.PASS, Verdict.PASS], results.cases


async def test_shrunk_timings_can_be_overridden() -> None:
    seen: list[float] = []

    async def script(run: Run) -> None:
        seen.extend([run.timing("boot_interval", 2), run.timing("watch", 2), run.timing("x", 9)])

    settings = fast_settings(timings={"TC_999_CS.boot_interval": 0.5, "watch": 4, "TC_1.x": 1})
    result = await run_one(FakeTarget(), library_with(script), settings)
    assert result.verdict is Verdict.PASS
    assert seen == [0.5, 4, 9]


async def reconnect(target: FakeTarget) -> None:
    """A new fake station tries again and again, as a station does while offline, until the
    central system lets it in; it becomes the target's station."""
    async with asyncio.timeout(5):
        while True:
            station = FakeStation(target.base_url, target.identity)
            try:
                await station.connect()
            except InvalidStatus:
                await asyncio.sleep(0.05)
                continue
            target.station = station
            return


async def test_go_offline_refuses_the_station_until_come_online() -> None:
    codes: list[int | None] = []

    async def script(run: Run) -> None:
        for abrupt in (False, True):
            station = target.station
            assert station is not None and station.ws is not None
            ws = station.ws
            await run.go_offline(abrupt=abrupt)
            async with asyncio.timeout(5):
                await ws.wait_closed()
            codes.append(ws.close_code)
            assert run.link.session is None
            with pytest.raises(InvalidStatus):
                await FakeStation(target.base_url, target.identity).connect()
            retrying = asyncio.create_task(reconnect(target))
            await run.come_online()
            await retrying
            assert run.link.session is not None

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.PASS, result
    assert [s.description for s in result.steps][4:] == [
        "central system: close the connection and refuse reconnections",
        "central system: accept connections again, wait for the station",
        "central system: drop the connection and refuse reconnections",
        "central system: accept connections again, wait for the station",
        "check: no stamped CALL repeated, no Start/StopTransaction unexpected",
    ]
    # A closing handshake, then a connection that just ended (no close frame: 1006).
    assert codes == [1000, 1006]


async def test_a_start_transaction_sent_twice_fails_the_case() -> None:
    """A retransmitted StartTransaction the script did not expect: the central system would
    open two transactions, so the case fails even though every expectation was met."""

    async def script(run: Run) -> None:
        station = target.station
        assert station is not None
        await station.start_transaction(1, TAG)
        await station.start_transaction(1, TAG)  # the same CALL again
        await run.expect("StartTransaction", connectorId=1)

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.FAIL
    assert "repeats" in result.reason, result


async def test_a_start_transaction_the_script_did_not_take_fails_the_case() -> None:
    async def script(run: Run) -> None:
        station = target.station
        assert station is not None
        await station.start_transaction(1, TAG)
        await station.send(
            "StartTransaction",
            {"connectorId": 2, "idTag": TAG, "meterStart": 0, "timestamp": "2026-01-01T12:00:01Z"},
        )
        await run.expect("StartTransaction", connectorId=1)

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.FAIL
    assert "not expected by the case" in result.reason, result


async def test_stamped_status_twice_fails_but_an_unstamped_repeat_does_not() -> None:
    stamped = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}

    async def twice(run: Run, payload: dict[str, object]) -> None:
        station = target.station
        assert station is not None
        for _ in range(2):
            await station.send("StatusNotification", payload)
            await run.expect("StatusNotification", connectorId=1, status="Preparing")

    target = FakeTarget()
    plain = await run_one(target, library_with(lambda run: twice(run, stamped)))
    assert plain.verdict is Verdict.PASS, plain  # no timestamp: a repeat is not a retransmission
    target = FakeTarget()
    with_time = dict(stamped, timestamp="2026-01-01T12:00:00Z")
    repeated = await run_one(target, library_with(lambda run: twice(run, with_time)))
    assert repeated.verdict is Verdict.FAIL
    assert "repeats" in repeated.reason, repeated


async def test_a_stop_sent_again_on_a_new_connection_is_not_a_duplicate() -> None:
    """The answer to the first copy may have been lost with the connection: sending it again
    after reconnecting is what [S] 4.7 asks for, not a defect."""
    stop = {"transactionId": 1, "meterStop": 10, "timestamp": "2026-01-01T12:00:05Z"}

    async def script(run: Run) -> None:
        station = target.station
        assert station is not None
        await station.send("StopTransaction", stop)
        await run.expect("StopTransaction", transactionId=1)
        await run.go_offline(abrupt=True)
        retrying = asyncio.create_task(reconnect(target))
        await run.come_online()
        await retrying
        assert target.station is not None and target.station is not station
        await target.station.send("StopTransaction", stop)

    target = FakeTarget()
    result = await run_one(target, library_with(script))
    assert result.verdict is Verdict.PASS, result


async def test_a_station_that_does_not_declare_core_is_still_tested_as_one() -> None:
    """Core is not optional: without SupportedFeatureProfiles (a required key) the cases run,
    and do not all turn N/A, which would make a broken station look like a finished run."""
    bare = {k: v for k, v in FACTORY.items() if k != "SupportedFeatureProfiles"}

    async def script(run: Run) -> None:
        assert "Core" in run.facts.profiles

    result = await run_one(FakeTarget(configuration=bare), library_with(script))
    assert result.verdict is Verdict.PASS, result


async def test_the_next_case_waits_for_a_stop_that_comes_late() -> None:
    """A station that reports Available at once but sends its StopTransaction a moment after
    accepting RemoteStopTransaction: the tool waits for the stop before the next case, which
    then neither receives it nor sends a second RemoteStop."""

    async def leaves_a_transaction(run: Run) -> None:
        station = target.station
        assert station is not None
        await station.start_transaction(1, TAG)
        await run.expect("StartTransaction", connectorId=1)

    async def nothing(run: Run) -> None:
        await run.expect_none("StopTransaction", within=0.3)

    target = FakeTarget(outlives_cases=True)

    async def stop_late(request: dict[str, Any]) -> None:
        station = target.station
        assert station is not None
        await station.status(1, "Available")
        await asyncio.sleep(0.5)
        await station.send(
            "StopTransaction",
            {
                "transactionId": request["transactionId"],
                "meterStop": 5,
                "timestamp": "2026-01-01T12:00:01Z",
            },
        )

    first = library_with(leaves_a_transaction)
    second = library_with(nothing, case_id="TC_998_CS")
    original = target._new_station

    async def new_station() -> None:
        await original()
        assert target.station is not None
        target.station.after["RemoteStopTransaction"] = stop_late

    target._new_station = new_station  # type: ignore[method-assign]
    results = await run_cases(target, [first, second])
    assert [c.verdict for c in results.cases] == [Verdict.PASS, Verdict.PASS], results.cases
    station = target.stations[0]
    stops = [p for action, p in station.requests if action == "RemoteStopTransaction"]
    assert len(stops) == 1


async def test_a_key_without_a_known_value_is_noted_not_silently_left_changed() -> None:
    config: dict[str, tuple[Any, bool]] = {**FACTORY, "MeterValueSampleInterval": (None, False)}

    async def script(run: Run) -> None:
        await run.configure("MeterValueSampleInterval", "2")

    target = FakeTarget(outlives_cases=True, configuration=config)
    results = await run_cases(target, [library_with(script)])
    assert results.cases[0].verdict is Verdict.PASS, results.cases[0]
    assert results.cases[0].notes == [
        "after the case, MeterValueSampleInterval stays 2: its value before the case is not "
        "known (GetConfiguration did not report one)"
    ]


async def test_a_transaction_the_station_disowns_does_not_hold_up_the_run() -> None:
    """RemoteStopTransaction Rejected for a transaction the central system holds open: the
    station has no such transaction; the tool notes it and stops waiting for its stop."""

    async def leaves_a_transaction(run: Run) -> None:
        station = target.station
        assert station is not None
        station.answers["RemoteStopTransaction"] = {"status": "Rejected"}
        await station.start_transaction(1, TAG)
        await run.expect("StartTransaction", connectorId=1)

    target = FakeTarget(outlives_cases=True)
    settings = fast_settings()
    results = await run_cases(target, [library_with(leaves_a_transaction)], settings)
    [result] = results.cases
    assert result.verdict is Verdict.PASS, result
    assert result.notes == [
        "the station answered Rejected to stopping transaction 1: taken as a transaction it "
        "does not have"
    ]
