"""07 Unlocking (happy flow): TC_017_1_CS, TC_017_2_CS, TC_018_1_CS, TC_018_2_CS; and
13 Unlocking (non-happy): TC_030_CS, TC_031_CS.

Unlocking applies to connectors with a lock the station can release (sockets); a fixed cable
answers NotSupported ([S] 5.18, [E] 3.84) and keeps charging.
"""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import remote_start_plugged
from ocpp_station.conformance.steps import Expected, Run

HAPPY = "07 Unlocking (happy flow)"
NON_HAPPY = "13 Unlocking (non-happy)"


# ---------------------------------------------------------------------------- 07 Unlocking


@case(
    "TC_017_1_CS",
    "Unlock connector - no charging session running (Not fixed cable)",
    module=HAPPY,
    profile="Core",
    needs={"socket"},
)
async def tc_017_1(run: Run) -> None:
    """Cable in -> Preparing -> UnlockConnector -> Unlocked ([S] 5.18); no transaction
    message follows. Nothing shrunk (none is watched for 1 s)."""
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    await run.call("UnlockConnector", {"connectorId": 1}, status="Unlocked")
    await run.expect_none("StartTransaction", within=run.timing("no_tx_watch", 1), after=mark)
    await run.expect_none("StopTransaction", within=0.1, after=mark)


@case(
    "TC_017_2_CS",
    "Unlock connector - no charging session running (Fixed cable)",
    module=HAPPY,
    profile="Core",
    needs={"fixed_cable"},
)
async def tc_017_2(run: Run) -> None:
    """Cable in -> Preparing -> UnlockConnector -> NotSupported: a fixed cable has no lock to
    release ([S] 5.18, [E] 3.84). Nothing shrunk."""
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.call("UnlockConnector", {"connectorId": 1}, status="NotSupported")


@case(
    "TC_018_1_CS",
    "Unlock Connector - With Charging Session (Not fixed cable)",
    module=HAPPY,
    profile="Core",
    needs={"socket"},
)
async def tc_018_1(run: Run) -> None:
    """Remote start -> Charging -> UnlockConnector -> Unlocked; the transaction is finished
    first ([S] 5.18): StopTransaction(UnlockCommand, the start idTag) and Finishing (either
    order) -> cable out -> Available. Nothing shrunk."""
    tag = run.tags.valid
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    await run.call("UnlockConnector", {"connectorId": 1}, status="Unlocked")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "UnlockCommand")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    await run.check(
        "meterStop is an integer", isinstance(stop.get("meterStop"), int), stop.get("meterStop")
    )
    await run.unplug(1)
    await run.expect("StatusNotification", connectorId=1, status="Available")


@case(
    "TC_018_2_CS",
    "Unlock Connector - With Charging Session (Fixed cable)",
    module=HAPPY,
    profile="Core",
    needs={"fixed_cable"},
)
async def tc_018_2(run: Run) -> None:
    """Remote start -> Charging -> UnlockConnector -> NotSupported, and the transaction goes on:
    no StopTransaction, no status change, still Charging ([E] 3.84). Shrunk: the watch for a
    StopTransaction lasts 2 s."""
    tag = run.tags.valid
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.call("UnlockConnector", {"connectorId": 1}, status="NotSupported")
    await run.expect_none("StopTransaction", within=run.timing("no_stop_watch", 2), after=mark)
    await run.expect_none("StatusNotification", within=0.1, after=mark, connectorId=1)
    await run.check_equal("the last status of connector 1", run.statuses(1)[-1], "Charging")
    open_transactions = run.csms.record(run.identity).open_transactions
    await run.check(
        f"transaction {transaction_id} is still open",
        transaction_id in open_transactions,
        sorted(open_transactions),
    )


# ---------------------------------------------------------------------------- 13 Unlocking


@case(
    "TC_030_CS",
    "Unlock Connector - Unlock Failure",
    module=NON_HAPPY,
    profile="Core",
    needs={"socket", "lock_failure"},
)
async def tc_030(run: Run) -> None:
    """The lock of connector 1 is jammed -> UnlockConnector -> UnlockFailed ([E] 3.87: the
    unlock was tried and the connector is still locked). Once the lock works again the same
    request is Unlocked. Nothing shrunk."""
    await run.set_lock_failure(1)
    await run.call("UnlockConnector", {"connectorId": 1}, status="UnlockFailed")
    await run.set_lock_failure(1, False)
    await run.call("UnlockConnector", {"connectorId": 1}, status="Unlocked")


@case("TC_031_CS", "Unlock Connector - Unknown Connector", module=NON_HAPPY, profile="Core")
async def tc_031(run: Run) -> None:
    """UnlockConnector for connectorId 9765 -> NotSupported ([E] 3.87: "ConnectorId is
    unknown"). With sockets, connector 1 is then Unlocked: the NotSupported was about the
    unknown id, not the cable. Nothing shrunk."""
    await run.call("UnlockConnector", {"connectorId": 9765}, status="NotSupported")
    if "socket" in run.facts.features:
        await run.call("UnlockConnector", {"connectorId": 1}, status="Unlocked")
