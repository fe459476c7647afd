"""05 Remote Actions (TC_010_CS, TC_011_1_CS, TC_011_2_CS, TC_012_CS) and 12 Remote Actions
non-happy (TC_026_CS, TC_027_CS, TC_028_CS)."""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import (
    authorized_if_asked,
    ensure_config,
    is_timestamp,
    not_started_before_the_plug,
    remote_start_plugged,
    status_time,
)
from ocpp_station.conformance.steps import Expected, Run

HAPPY = "05 Remote Actions (happy flow)"
NON_HAPPY = "12 Remote Actions (non-happy)"

UNKNOWN_TRANSACTION = 487249487
"""The transactionId OCTT's TC_028 asks to stop: one the station does not know."""


async def _nothing_since(run: Run, action: str, mark: int) -> None:
    await run.check(
        f"no {action} since the request",
        not run.messages(action, after=mark),
        run.messages(action, after=mark),
    )


async def _still_charging(run: Run, transaction_id: int, mark: int) -> None:
    """The transaction goes on: connector 1 reported nothing since `mark`, its last status is
    Charging, and the central system still has the transaction open."""
    await run.check_equal(
        "the statuses of connector 1 since the request", run.statuses(1, after=mark), []
    )
    await run.wait_status(1, "Charging")
    open_transactions = run.csms.record(run.identity).open_transactions
    await run.check(
        f"transaction {transaction_id} is still open",
        transaction_id in open_transactions,
        sorted(open_transactions),
    )


# ---------------------------------------------------------------------------- 05 Remote


@case(
    "TC_010_CS",
    "Remote Start Charging Session - Cable Plugged in First",
    module=HAPPY,
    profile="Core",
)
async def tc_010(run: Run) -> None:
    """Plug in -> Preparing -> RemoteStartTransaction Accepted -> Authorize when
    AuthorizeRemoteTxRequests is true ([S] 5.11) -> StartTransaction with the remote idTag ->
    Charging; the central system's transaction carries that idTag. Nothing shrunk."""
    tag = run.tags.valid
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    transaction = run.csms.record(run.identity).open_transactions.get(transaction_id)
    await run.check_equal(
        f"the idTag of transaction {transaction_id}",
        transaction.id_tag if transaction is not None else None,
        tag,
    )


@case(
    "TC_011_1_CS",
    "Remote Start Charging Session - Remote Start First",
    module=HAPPY,
    profile="Core",
)
async def tc_011_1(run: Run) -> None:
    """AuthorizeRemoteTxRequests true: RemoteStartTransaction Accepted -> (Authorize) ->
    Preparing -> no StartTransaction while the cable is out -> plug in -> StartTransaction with
    the remote idTag -> Charging. Authorize may be skipped for a card the station knows
    ([S] 5.11, 3.5.3). Shrunk: the cable-out watch is 2 s."""
    tag = run.tags.valid
    await ensure_config(run, "AuthorizeRemoteTxRequests", "true")
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    preparing = await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await not_started_before_the_plug(run, mark, run.timing("cable_out_watch", 2))
    await authorized_if_asked(run, tag, mark)
    plugged = run.mark()
    await run.plug(1)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag, after=plugged)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.check_equal(
        "the statuses of connector 1 since Preparing",
        run.statuses(1, after=preparing.seq),
        ["Charging"],
    )
    await run.transaction_id(start)


@case("TC_011_2_CS", "Remote Start Charging Session - Time Out", module=HAPPY, profile="Core")
async def tc_011_2(run: Run) -> None:
    """AuthorizeRemoteTxRequests true: RemoteStartTransaction Accepted -> (Authorize) ->
    Preparing; no cable -> Available after ConnectionTimeOut (tolerance -1/+10 s, counted from
    Preparing) and no transaction. Authorize may be skipped for a card the station knows
    ([S] 5.11, 3.5.3). Shrunk: ConnectionTimeOut 3 s (OCTT: 45 s)."""
    timeout = int(run.timing("connection_timeout", 3))
    tag = run.tags.valid
    await ensure_config(run, "AuthorizeRemoteTxRequests", "true")
    await run.configure("ConnectionTimeOut", str(timeout))
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    preparing = await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await authorized_if_asked(run, tag, mark)
    available = await run.expect(
        "StatusNotification", connectorId=1, status="Available", timeout=timeout + 10
    )
    waited = status_time(available) - status_time(preparing)
    await run.check(
        f"Available comes ConnectionTimeOut ({timeout} s) -1/+10 s after Preparing",
        timeout - 1 <= waited <= timeout + 10,
        f"{waited:.2f} s",
    )
    await run.check_equal(
        "the statuses of connector 1 since the request",
        run.statuses(1, after=mark),
        ["Preparing", "Available"],
    )
    await run.check(
        "no StartTransaction was sent",
        not run.messages("StartTransaction", after=mark),
        run.messages("StartTransaction", after=mark),
    )


@case("TC_012_CS", "Remote Stop Charging Session", module=HAPPY, profile="Core")
async def tc_012(run: Run) -> None:
    """During a remotely started transaction RemoteStopTransaction -> Accepted ->
    StopTransaction(Remote, the start idTag, meterStop, timestamp) and Finishing in either order
    ([S] 5.12); the cable is unplugged -> Available. Nothing shrunk."""
    tag = run.tags.valid
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "Remote")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    await run.check(
        "meterStop is an integer", isinstance(stop.get("meterStop"), int), stop.get("meterStop")
    )
    await run.check(
        "the StopTransaction timestamp is a date-time",
        is_timestamp(stop.get("timestamp")),
        stop.get("timestamp"),
    )
    unplugged = run.mark()
    await run.unplug(1)
    await run.expect("StatusNotification", connectorId=1, status="Available", after=unplugged)
    await run.check_equal(
        "the statuses of connector 1 since the RemoteStop",
        run.statuses(1, after=mark),
        ["Finishing", "Available"],
    )
    finished = run.csms.record(run.identity).transaction(transaction_id)
    await run.check_equal(
        f"the central system's stop reason of transaction {transaction_id}",
        finished.stop_reason if finished is not None else None,
        "Remote",
    )


# ---------------------------------------------------------------------------- 12 Remote


@case("TC_026_CS", "Remote Start Charging Session - Rejected", module=NON_HAPPY, profile="Core")
async def tc_026(run: Run) -> None:
    """A transaction runs on connector 1; a RemoteStartTransaction for that connector with
    another card is Rejected ([S] 5.11) and starts nothing: no Authorize, no StartTransaction
    (watched 2 s); the transaction goes on. Nothing else shrunk."""
    start = await remote_start_plugged(run, run.tags.valid)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.call(
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": run.tags.valid_2},
        status="Rejected",
    )
    await run.expect_none("StartTransaction", within=run.timing("no_start_watch", 2), after=mark)
    await _nothing_since(run, "Authorize", mark)
    await _still_charging(run, transaction_id, mark)


@case(
    "TC_027_CS",
    "Remote start transaction - connector id shall not be 0",
    module=NON_HAPPY,
    profile="Core",
)
async def tc_027(run: Run) -> None:
    """RemoteStartTransaction with connectorId 0, which [S] 6.33 forbids (connectorId SHALL be
    > 0): a CALLERROR PropertyConstraintViolation (a field holds a value it may not, OCPP-J
    4.2.3) or Rejected; nothing starts: no Authorize, StartTransaction or StatusNotification
    (watched 2 s)."""
    mark = run.mark()
    answer, code = await run.call_or_error(
        "RemoteStartTransaction", {"connectorId": 0, "idTag": run.tags.valid}
    )
    if code is not None:
        await run.check_equal("the CALLERROR code", code, "PropertyConstraintViolation")
    else:
        await run.check_equal(
            "the RemoteStartTransaction status", (answer or {}).get("status"), "Rejected"
        )
    await run.expect_none("Authorize", within=run.timing("no_start_watch", 2), after=mark)
    await _nothing_since(run, "StartTransaction", mark)
    await _nothing_since(run, "StatusNotification", mark)


@case("TC_028_CS", "Remote Stop Transaction - Rejected", module=NON_HAPPY, profile="Core")
async def tc_028(run: Run) -> None:
    """While a transaction runs, RemoteStopTransaction for the unknown transactionId 487249487
    -> Rejected ([S] 5.12) and no StopTransaction (watched 2 s); the transaction goes on."""
    start = await remote_start_plugged(run, run.tags.valid)
    transaction_id = await run.transaction_id(start)
    await run.check(
        f"the running transaction is not {UNKNOWN_TRANSACTION}",
        transaction_id != UNKNOWN_TRANSACTION,
        transaction_id,
    )
    mark = run.mark()
    await run.call(
        "RemoteStopTransaction", {"transactionId": UNKNOWN_TRANSACTION}, status="Rejected"
    )
    await run.expect_none("StopTransaction", within=run.timing("no_stop_watch", 2), after=mark)
    await _still_charging(run, transaction_id, mark)
