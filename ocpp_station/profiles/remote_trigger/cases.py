"""22 Remote Trigger: TC_054_CS, TC_055_CS (digest §5.5, §7).

Each trigger is judged on what the specification demands of it (§5.17, [E] 3.46): the answer,
the answer before the message, the message itself with the present state (a status for exactly
the connectors asked for, meter values with context Trigger and every configured measurand).
"""

from __future__ import annotations

from typing import Any

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.core_meter import samples, value_problems
from ocpp_station.conformance.cases.spec_keys import csl
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.transcript import Message
from ocpp_station.rpc.actions import FIRMWARE_MANAGEMENT, REMOTE_TRIGGER

MODULE = "22 Remote Trigger"
ABSENT_CONNECTOR = 4352
"""The connectorId OCTT's TC_055 asks for: one no station has."""


async def trigger(run: Run, message: str, connector_id: int | None = None) -> tuple[str, int]:
    """Send TriggerMessage; returns the answer's status and the mark before the request."""
    mark = run.mark()
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    answer = await run.call("TriggerMessage", payload)
    return str(answer.get("status")), mark


async def answered_first(run: Run, message: str, before: list[str]) -> None:
    """§5.17: the TriggerMessage.conf SHALL go before the requested message. `before`: the
    arrivals before the request."""
    since = run.arrivals()[len(before) :]
    first_message = since.index(message) if message in since else len(since)
    conf = since.index("TriggerMessage.conf") if "TriggerMessage.conf" in since else len(since)
    await run.check(
        f"TriggerMessage.conf came before the {message}", conf < first_message, since[:6]
    )


async def accepted_then(
    run: Run, message: str, connector_id: int | None = None, **match: Any
) -> Message:
    """TriggerMessage Accepted, then the message (answer first); returns the message."""
    before = run.arrivals()
    status, mark = await trigger(run, message, connector_id)
    await run.check_equal(f"the answer to TriggerMessage {message}", status, "Accepted")
    found = await run.expect(message, after=mark, timeout=run.timing("trigger_wait", 5), **match)
    await answered_first(run, message, before)
    return found


async def _meter_values(run: Run, message: Message, measurands: list[str]) -> None:
    problems = [
        problem
        for _, values in samples(message)
        for problem in value_problems(values, "Trigger", measurands)
    ]
    await run.check(
        "the triggered values: context Trigger, every MeterValuesSampledData measurand",
        not problems,
        problems,
    )


async def _firmware_message(run: Run, message: str) -> None:
    """DiagnosticsStatusNotification / FirmwareStatusNotification belong to Firmware
    Management: a station declaring it sends Idle when nothing runs (digest §5.5); one that
    does not may answer NotImplemented (§5.17), or send Idle all the same."""
    before = run.arrivals()
    status, mark = await trigger(run, message)
    if FIRMWARE_MANAGEMENT in run.facts.profiles:
        await run.check_equal(f"the answer to TriggerMessage {message}", status, "Accepted")
    else:
        await run.check(
            f"the answer to TriggerMessage {message} (no Firmware Management declared)",
            status in ("Accepted", "NotImplemented"),
            status,
        )
        if status == "NotImplemented":
            return
    await run.expect(message, after=mark, status="Idle", timeout=run.timing("trigger_wait", 5))
    await answered_first(run, message, before)


@case("TC_054_CS", "Trigger Message", module=MODULE, profile=REMOTE_TRIGGER)
async def tc_054(run: Run) -> None:
    """Each message triggered in turn, each Accepted and sent after the answer, within 5 s:
    MeterValues for connector 1 (context Trigger, the MeterValuesSampledData measurands, no
    transaction running so no transactionId), Heartbeat, StatusNotification for connector 1
    only (Available), DiagnosticsStatusNotification and FirmwareStatusNotification (Idle);
    then without connectorId: StatusNotification for connector 0 and every connector, and
    MeterValues for every connector ([S] 5.17: absent means all)."""
    read = await run.get_configuration(["MeterValuesSampledData"])
    measurands = (
        csl(read["MeterValuesSampledData"].value) if "MeterValuesSampledData" in read else []
    )

    meter = await accepted_then(run, "MeterValues", 1, connectorId=1)
    await _meter_values(run, meter, measurands)
    await run.check("no transactionId without a transaction", "transactionId" not in meter, meter)

    await accepted_then(run, "Heartbeat")

    mark = run.mark()
    status = await accepted_then(run, "StatusNotification", 1, connectorId=1)
    await run.check_equal("the status of connector 1", status.get("status"), "Available")
    await run.expect_none(
        "StatusNotification",
        after=mark,
        within=run.timing("other_status_watch", 1),
        connectorId=lambda c: c != 1,
    )

    await _firmware_message(run, "DiagnosticsStatusNotification")
    await _firmware_message(run, "FirmwareStatusNotification")

    before = run.arrivals()
    answer, mark = await trigger(run, "StatusNotification")
    await run.check_equal(
        "the answer to TriggerMessage StatusNotification (all)", answer, "Accepted"
    )
    for connector_id in range(len(run.connector_ids) + 1):
        await run.expect("StatusNotification", after=mark, connectorId=connector_id)
    await answered_first(run, "StatusNotification", before)

    answer, mark = await trigger(run, "MeterValues")
    await run.check_equal("the answer to TriggerMessage MeterValues (all)", answer, "Accepted")
    for connector_id in run.connector_ids:
        values = await run.expect("MeterValues", after=mark, connectorId=connector_id)
        await _meter_values(run, values, measurands)


@case("TC_055_CS", "Trigger Message - Rejected", module=MODULE, profile=REMOTE_TRIGGER)
async def tc_055(run: Run) -> None:
    """MeterValues for a connector the station does not have (4352) is Rejected, and no
    MeterValues follows (watched 2 s)."""
    status, mark = await trigger(run, "MeterValues", ABSENT_CONNECTOR)
    await run.check_equal(
        "the answer to TriggerMessage MeterValues, connector 4352", status, "Rejected"
    )
    await run.expect_none("MeterValues", after=mark, within=run.timing("no_meter_watch", 2))
