"""02 Start Charging Session (TC_003_CS, TC_004_1_CS, TC_004_2_CS) and 03 Stop Charging Session
(TC_005_1_CS, TC_005_2_CS, TC_005_3_CS, TC_068_CS, TC_069_CS)."""

from __future__ import annotations

from typing import Any

from ocpp_station import timefmt
from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import (
    local_start_plugged,
    not_started_before_the_plug,
    remote_start_plugged,
)
from ocpp_station.conformance.steps import Expected, Run, one_of
from ocpp_station.conformance.transcript import Message

START = "02 Start Charging Session"
STOP = "03 Stop Charging Session"


def _is_timestamp(value: Any) -> bool:
    try:
        timefmt.parse(str(value))
    except ValueError:
        return False
    return True


def _time_of(message: Message) -> float:
    """When the station says a StatusNotification happened (its optional timestamp), else when
    it arrived; as seconds since the epoch."""
    if _is_timestamp(message.get("timestamp")):
        return timefmt.parse(str(message["timestamp"])).timestamp()
    return message.time.timestamp()


async def _check_stop(run: Run, stop: Message, reason: str, id_tag: str) -> None:
    # [S] 6.51: reason absent means Local.
    await run.check_equal("the StopTransaction reason", stop.get("reason", "Local"), reason)
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), id_tag)
    await run.check(
        "meterStop is an integer", isinstance(stop.get("meterStop"), int), stop.get("meterStop")
    )


# ---------------------------------------------------------------------------- 02 Start


@case("TC_003_CS", "Regular Charging Session - Plugin First", module=START, profile="Core")
async def tc_003(run: Run) -> None:
    """Plug in -> Preparing -> card -> Authorize -> StartTransaction with the same idTag ->
    Charging. Nothing shrunk."""
    tag = run.tags.valid
    await run.plug(1)
    preparing = await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(tag)
    await run.expect("Authorize", idTag=tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    charging = await run.expect("StatusNotification", connectorId=1, status="Charging")
    meter_start = start.get("meterStart")
    await run.check(
        "meterStart is a non-negative integer",
        isinstance(meter_start, int) and meter_start >= 0,
        meter_start,
    )
    await run.check(
        "the StartTransaction timestamp is a date-time",
        _is_timestamp(start.get("timestamp")),
        start.get("timestamp"),
    )
    await run.check_equal("the errorCode with Charging", charging.get("errorCode"), "NoError")
    await run.check_equal(
        "the statuses of connector 1 since Preparing",
        run.statuses(1, after=preparing.seq),
        ["Charging"],
    )
    await run.transaction_id(start)


@case(
    "TC_004_1_CS", "Regular Charging Session - Identification First", module=START, profile="Core"
)
async def tc_004_1(run: Run) -> None:
    """Card -> Authorize -> Preparing -> no StartTransaction while the cable is out -> plug in
    -> StartTransaction -> Charging. Shrunk: the cable-out watch is 2 s."""
    tag = run.tags.valid
    mark = run.mark()
    await run.present_card(tag)
    await run.expect("Authorize", idTag=tag)
    preparing = await run.expect("StatusNotification", status="Preparing")
    connector_id = preparing.get("connectorId")
    await run.check(
        "Preparing is reported for one of the connectors",
        connector_id in run.connector_ids,
        connector_id,
    )
    assert isinstance(connector_id, int)
    await not_started_before_the_plug(run, mark, run.timing("cable_out_watch", 2))
    plugged = run.mark()
    await run.plug(connector_id)
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=tag, after=plugged)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    await run.check_equal(
        f"the statuses of connector {connector_id} since Preparing",
        run.statuses(connector_id, after=preparing.seq),
        ["Charging"],
    )
    await run.transaction_id(start)


@case(
    "TC_004_2_CS",
    "Regular Charging Session - Identification First - ConnectionTimeOut",
    module=START,
    profile="Core",
)
async def tc_004_2(run: Run) -> None:
    """Card -> Authorize -> Preparing; no cable -> Available after ConnectionTimeOut (tolerance
    -1/+10 s) and no transaction. Shrunk: ConnectionTimeOut 3 s."""
    timeout = int(run.timing("connection_timeout", 3))
    tag = run.tags.valid
    await run.configure("ConnectionTimeOut", str(timeout))
    mark = run.mark()
    await run.present_card(tag)
    await run.expect("Authorize", idTag=tag)
    preparing = await run.expect("StatusNotification", status="Preparing")
    connector_id = preparing.get("connectorId")
    available = await run.expect(
        "StatusNotification", connectorId=connector_id, status="Available", timeout=timeout + 10
    )
    waited = _time_of(available) - _time_of(preparing)
    await run.check(
        f"Available comes no earlier than ConnectionTimeOut ({timeout} s) - 1 s after Preparing",
        waited >= timeout - 1,
        f"{waited:.2f} s",
    )
    await run.check(
        "no StartTransaction was sent",
        not run.messages("StartTransaction", after=mark),
        run.messages("StartTransaction", after=mark),
    )


# ---------------------------------------------------------------------------- 03 Stop


async def _unplug_and_stop(run: Run, id_tag: str, transaction_id: int) -> None:
    """The cable leaves the EV -> StopTransaction(EVDisconnected, the start idTag) and
    Finishing (either order) -> Available."""
    mark = run.mark()
    await run.unplug(1)
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await _check_stop(run, stop, "EVDisconnected", id_tag)
    await run.expect("StatusNotification", connectorId=1, status="Available", after=mark)
    await run.check_equal(
        "the statuses of connector 1 since the unplug",
        run.statuses(1, after=mark),
        ["Finishing", "Available"],
    )


async def _stop_on_ev_side_disconnect(run: Run) -> None:
    """StopTransactionOnEVSideDisconnect true where the station has the key: [E] 3.80 made it
    optional (R or RW), and a station without it stops on an EV-side disconnect anyway."""
    key = run.facts.configuration.get("StopTransactionOnEVSideDisconnect")
    if key is None:
        run.notes.append("no StopTransactionOnEVSideDisconnect ([E] 3.80): run as if true")
        return
    if (key.value or "").lower() == "true":
        return
    if key.readonly:
        run.not_applicable(f"StopTransactionOnEVSideDisconnect is read-only {key.value}")
    await run.configure("StopTransactionOnEVSideDisconnect", "true")


@case(
    "TC_005_1_CS",
    "EV Side Disconnected - StopTransactionOnEVSideDisconnect=true, "
    "UnlockConnectorOnEVSideDisconnect=true",
    module=STOP,
    profile="Core",
    needs={"socket"},
)
async def tc_005_1(run: Run) -> None:
    """Remote start -> Charging -> the cable leaves the EV -> StopTransaction(EVDisconnected,
    the start idTag) -> Finishing -> Available. Needs a socket: a fixed cable cannot be
    unlocked. Nothing shrunk."""
    tag = run.tags.valid
    await _stop_on_ev_side_disconnect(run)
    await run.configure("UnlockConnectorOnEVSideDisconnect", "true")
    start = await remote_start_plugged(run, tag)
    await _unplug_and_stop(run, tag, await run.transaction_id(start))


@case(
    "TC_005_2_CS",
    "EV Side Disconnected - StopTransactionOnEVSideDisconnect=true, "
    "UnlockConnectorOnEVSideDisconnect=false",
    module=STOP,
    profile="Core",
)
async def tc_005_2(run: Run) -> None:
    """Remote start -> Charging -> the cable leaves the EV -> StopTransaction(EVDisconnected,
    the start idTag) -> Finishing -> Available; then UnlockConnector -> NotSupported with a
    fixed cable (UnlockConnectorOnEVSideDisconnect read-only false, [E] 3.84), Unlocked or
    NotSupported with a socket. Nothing shrunk."""
    tag = run.tags.valid
    fixed = "fixed_cable" in run.facts.features
    keys = await run.get_configuration(["UnlockConnectorOnEVSideDisconnect"])
    await run.check(
        "GetConfiguration lists UnlockConnectorOnEVSideDisconnect",
        "UnlockConnectorOnEVSideDisconnect" in keys,
        sorted(keys),
    )
    await _stop_on_ev_side_disconnect(run)
    entry = keys["UnlockConnectorOnEVSideDisconnect"]
    if (entry.value or "").lower() != "false":
        if entry.readonly:
            run.not_applicable(f"UnlockConnectorOnEVSideDisconnect is read-only {entry.value}")
        await run.configure("UnlockConnectorOnEVSideDisconnect", "false")
    if fixed:
        unlock = keys["UnlockConnectorOnEVSideDisconnect"]
        await run.check(
            "a fixed cable: UnlockConnectorOnEVSideDisconnect is read-only false",
            unlock.readonly and (unlock.value or "").lower() == "false",
            unlock,
        )
    start = await remote_start_plugged(run, tag)
    await _unplug_and_stop(run, tag, await run.transaction_id(start))
    await run.call(
        "UnlockConnector",
        {"connectorId": 1},
        status="NotSupported" if fixed else ("Unlocked", "NotSupported"),
    )


@case(
    "TC_005_3_CS",
    "EV Side Disconnected - StopTransactionOnEVSideDisconnect=false",
    module=STOP,
    profile="Core",
)
async def tc_005_3(run: Run) -> None:
    """Remote start -> Charging -> the cable leaves the EV -> SuspendedEV or SuspendedEVSE, the
    transaction goes on ([S] 4.10) -> RemoteStopTransaction -> StopTransaction(Remote, the start
    idTag) -> Finishing -> Available. Shrunk: no StopTransaction is watched for 2 s."""
    key = run.facts.configuration.get("StopTransactionOnEVSideDisconnect")
    if key is None:
        # [E] 3.80: optional; a station without it (Eichrecht forbids it) always stops.
        run.not_applicable("the station has no StopTransactionOnEVSideDisconnect ([E] 3.80)")
    if key.readonly and (key.value or "").lower() != "false":
        run.not_applicable(f"StopTransactionOnEVSideDisconnect is read-only {key.value}")
    tag = run.tags.valid
    await run.configure("StopTransactionOnEVSideDisconnect", "false")
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.unplug(1)
    suspended = await run.expect(
        "StatusNotification", connectorId=1, status=one_of("SuspendedEV", "SuspendedEVSE")
    )
    await run.expect_none("StopTransaction", within=run.timing("no_stop_watch", 2), after=mark)
    await run.check_equal(
        "the statuses of connector 1 since the unplug",
        run.statuses(1, after=mark),
        [suspended["status"]],
    )

    # The station still has the transaction: a RemoteStop of it is Accepted ([S] 5.12).
    stop_mark = run.mark()
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await _check_stop(run, stop, "Remote", tag)
    await run.expect("StatusNotification", connectorId=1, status="Available", after=stop_mark)
    await run.check_equal(
        "the statuses of connector 1 since the RemoteStop",
        run.statuses(1, after=stop_mark),
        ["Finishing", "Available"],
    )


@case(
    "TC_068_CS",
    "Stop transaction - IdTag matches StartTransaction IdTag",
    module=STOP,
    profile="Core",
)
async def tc_068(run: Run) -> None:
    """The card that started the transaction stops it without an Authorize.req;
    StopTransaction carries that idTag -> Finishing. Nothing shrunk."""
    tag = run.tags.valid
    start = await local_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.present_card(tag)
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await _check_stop(run, stop, "Local", tag)
    # [S] 3.10: the start idTag is known; no Authorize before or after the stop.
    await run.check(
        "no Authorize since the card was presented",
        not run.messages("Authorize", after=mark),
        run.messages("Authorize", after=mark),
    )


@case(
    "TC_069_CS",
    "Stop transaction - ParentIdTag matches StartTransaction ParentIdTag",
    module=STOP,
    profile="Core",
)
async def tc_069(run: Run) -> None:
    """The central system gives both cards the same parentIdTag ([S] 3.10): the second card is
    authorized and stops the transaction the first one started; StopTransaction(Local) carries
    the second card -> Finishing. Nothing shrunk."""
    first, second = run.tags.group_a, run.tags.group_b
    start = await local_start_plugged(run, first)
    transaction_id = await run.transaction_id(start)
    await run.present_card(second)
    await run.expect("Authorize", idTag=second)
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await _check_stop(run, stop, "Local", second)
