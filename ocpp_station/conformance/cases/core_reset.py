"""06 Resetting (happy flow): TC_013_CS, TC_014_CS, TC_015_CS, TC_016_CS."""

from __future__ import annotations

from collections.abc import Callable

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import remote_start_plugged
from ocpp_station.conformance.steps import Expected, Run, one_of

MODULE = "06 Resetting (happy flow)"


def other_than(connector_id: int) -> Callable[[object], bool]:
    """A match value: any connectorId but this one."""

    def match(value: object) -> bool:
        return value != connector_id

    match.__name__ = f"not {connector_id}"
    return match


async def _reset_without_transaction(run: Run, kind: str) -> None:
    quiet = run.timing("quiet_watch", 1)
    mark = run.mark()
    await run.call(
        "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, status="Accepted"
    )
    await run.expect("StatusNotification", connectorId=1, status="Unavailable")
    # Only the connector that changed is reported ([S] 5.2).
    await run.expect_none("StatusNotification", within=quiet, after=mark, connectorId=other_than(1))

    mark = run.mark()
    await run.call("Reset", {"type": kind}, status="Accepted")
    boot = await run.expect("BootNotification", timeout=run.settings.boot_timeout, after=mark)
    # [S] 5.14: persistent states such as Unavailable survive the reset; a connector-level
    # Inoperative leaves connector 0 (and the other connectors) Available.
    await run.expect_any_order(
        *(
            Expected(
                "StatusNotification",
                connectorId=c,
                status="Unavailable" if c == 1 else "Available",
            )
            for c in range(len(run.connector_ids) + 1)
        ),
        after=boot.seq,
        timeout=run.settings.boot_timeout,
    )
    await run.check_equal(
        "the statuses of connector 1 since the reboot",
        run.statuses(1, after=boot.seq),
        ["Unavailable"],
    )

    mark = run.mark()
    await run.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"}, status="Accepted")
    await run.expect("StatusNotification", connectorId=1, status="Available")
    await run.expect_none("StatusNotification", within=quiet, after=mark, connectorId=other_than(1))
    last = {c: (run.statuses(c) or [None])[-1] for c in range(len(run.connector_ids) + 1)}
    await run.check(
        "connector 0 and every connector are Available again",
        all(status == "Available" for status in last.values()),
        last,
    )


@case("TC_013_CS", "Hard Reset Without transaction", module=MODULE, profile="Core")
async def tc_013(run: Run) -> None:
    """Connector 1 Inoperative -> Unavailable (only connector 1 reported); Reset Hard ->
    BootNotification -> connector 0 Available, connector 1 still Unavailable ([S] 5.14:
    persisted); Operative -> Available, again only connector 1 reported. Nothing shrunk (no
    other status is watched for 1 s after each ChangeAvailability)."""
    await _reset_without_transaction(run, "Hard")


@case("TC_014_CS", "Soft Reset Without Transaction", module=MODULE, profile="Core")
async def tc_014(run: Run) -> None:
    """As TC_013 with a Soft reset. Nothing shrunk."""
    await _reset_without_transaction(run, "Soft")


async def _reset_with_transaction(run: Run, kind: str) -> None:
    tag = run.tags.valid
    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.call("Reset", {"type": kind}, status="Accepted")
    # [S] 5.14: the transaction is stopped before the reset, the reason names the reset.
    stop, finishing = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
        timeout=run.settings.boot_timeout,
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), f"{kind}Reset")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    meter_stop, meter_start = stop.get("meterStop"), start.get("meterStart")
    await run.check(
        "meterStop is an integer no smaller than meterStart",
        isinstance(meter_stop, int) and isinstance(meter_start, int) and meter_stop >= meter_start,
        {"meterStart": meter_start, "meterStop": meter_stop},
    )
    boot = await run.expect("BootNotification", timeout=run.settings.boot_timeout, after=mark)
    before_boot = "StopTransaction and Finishing come before the reboot's BootNotification"
    if kind == "Hard":
        # [S] 5.14 does not require a graceful stop for a Hard reset (the StopTransaction may
        # follow the next BootNotification); OCTT's TC_015 does, and so does this check.
        before_boot += (
            " (the test tool's stricter reading: [S] 5.14 lets a Hard reset send it after "
            "the reboot)"
        )
    await run.check(
        before_boot,
        stop.seq < boot.seq and finishing.seq < boot.seq,
        {"StopTransaction": stop.seq, "Finishing": finishing.seq, "BootNotification": boot.seq},
    )
    stops = [m.get("transactionId") for m in run.messages("StopTransaction", after=mark)]
    await run.check_equal("the transactions stopped by the reset", stops, [transaction_id])
    # The sequence of [S] 5.14 (Figure 35): Reset.conf first, then the StopTransaction.
    order = [a for a in run.arrivals() if a in ("Reset.conf", "StopTransaction")]
    await run.check_equal(
        "what came first: the answer to Reset or the StopTransaction",
        order,
        ["Reset.conf", "StopTransaction"],
    )

    # After the reboot: the statuses again, the cable still in the EV, nothing resumed.
    await run.expect("StatusNotification", connectorId=0, status="Available", after=boot.seq)
    await run.expect(
        "StatusNotification",
        connectorId=1,
        status=one_of("Preparing", "Finishing", "Available"),
        after=boot.seq,
    )
    await run.expect_none("StartTransaction", within=run.timing("no_start_watch", 1), after=mark)


@case("TC_015_CS", "Hard Reset With Transaction", module=MODULE, profile="Core")
async def tc_015(run: Run) -> None:
    """Remote start -> Charging -> Reset Hard -> Reset.conf, then StopTransaction(HardReset,
    the start idTag) and Finishing (either order) before the BootNotification (OCTT expects the
    graceful stop for a Hard reset too) -> connector 0 Available, connector 1 Preparing,
    Finishing or Available; no transaction resumed. Nothing shrunk (no StartTransaction is
    watched for 1 s)."""
    await _reset_with_transaction(run, "Hard")


@case("TC_016_CS", "Soft Reset With Transaction", module=MODULE, profile="Core")
async def tc_016(run: Run) -> None:
    """As TC_015 with a Soft reset: StopTransaction(SoftReset) ([S] 5.14: stop gracefully).
    Nothing shrunk."""
    await _reset_with_transaction(run, "Soft")
