"""14 Power Failure: TC_032_1_CS, TC_032_2_CS, TC_034_CS.

Each case cuts the station's power and restores it (needs "power_cycle"): our own station is
stopped with SIGTERM (a power failure with hold-up energy: the graceful power cycle) or SIGKILL
(a power cut) and started again on the same state folder.
"""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import (
    local_start_plugged,
    register_wh,
    timestamp_of,
    transaction_samples,
)
from ocpp_station.conformance.steps import Expected, Run
from ocpp_station.conformance.transcript import Message

MODULE = "14 Power Failure"


async def _booted_again(run: Run, after: int, connector_1: str) -> Message:
    """After the power came back: BootNotification first on the new connection ([S] 4.2), then
    a status for connector 0 and each connector ([E] 3.22): connector 1 `connector_1`, the
    others Available. Returns the BootNotification."""
    boot = await run.expect("BootNotification", after=after, timeout=run.settings.boot_timeout)
    first = next(m for m in run.messages(after=after) if m.connection == boot.connection)
    await run.check_equal("the first CALL after the power came back", first.action, boot.action)
    for connector_id in range(len(run.connector_ids) + 1):
        await run.expect("StatusNotification", connectorId=connector_id, after=boot.seq)
    expected = [(0, "Available")] + [
        (c, connector_1 if c == 1 else "Available") for c in run.connector_ids
    ]
    reported = [
        (m.get("connectorId"), m.get("status"))
        for m in run.messages("StatusNotification", after=boot.seq)
    ]
    await run.check_equal(
        "the statuses reported after the boot", reported[: len(expected)], expected
    )
    return boot


async def _check_power_loss_stop(run: Run, stop: Message, start: Message) -> None:
    # [S] 7.36: PowerLoss is "complete loss of power". OCTT also takes Local, which the
    # specification keeps for a stop on the user's request.
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "PowerLoss")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), start.get("idTag"))
    meter_start, meter_stop = start.get("meterStart"), stop.get("meterStop")
    await run.check(
        f"meterStop is an integer no lower than meterStart ({meter_start})",
        isinstance(meter_stop, int) and isinstance(meter_start, int) and meter_stop >= meter_start,
        meter_stop,
    )


async def _never_resumed(run: Run, start: Message, after: int) -> None:
    """A transaction ended by a power failure is never resumed; charging again would need a
    new transaction (digest 3.4)."""
    await run.expect_none(
        "StartTransaction", within=run.timing("no_resume_watch", 2), after=start.seq
    )
    charging = [s for s in run.statuses(1, after=after) if s == "Charging"]
    await run.check("no Charging since the power failure", not charging, charging)


@case(
    "TC_032_1_CS",
    "Power failure - stop transaction(s) before going down",
    module=MODULE,
    profile="Core",
    needs={"power_cycle"},
)
async def tc_032_1(run: Run) -> None:
    """Charging -> the power fails on a station with hold-up energy (the graceful power cycle)
    -> StopTransaction(PowerLoss, the start idTag) and Finishing, sent before the shutdown or
    queued for after the boot -> BootNotification -> connector 0 Available, connector 1
    Finishing (the cable is still in the EV), the others Available -> the StopTransaction is
    sent once and the transaction is never resumed. Shrunk: the watch for a second
    StopTransaction or a new StartTransaction is 2 s."""
    start = await local_start_plugged(run, run.tags.valid)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.power_cycle(graceful=True)
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
        after=mark,
        timeout=run.settings.boot_timeout,
    )
    await _check_power_loss_stop(run, stop, start)
    started, stopped = timestamp_of(start), timestamp_of(stop)
    await run.check(
        "the StopTransaction timestamp is a date-time no earlier than the start",
        started is not None and stopped is not None and stopped >= started,
        (start.get("timestamp"), stop.get("timestamp")),
    )
    await _booted_again(run, mark, "Finishing")
    watch = run.timing("no_resume_watch", 2)
    await run.expect_none("StopTransaction", within=watch, after=stop.seq)
    await _never_resumed(run, start, mark)


@case(
    "TC_032_2_CS",
    "Power failure - stop transaction(s) after going down",
    module=MODULE,
    profile="Core",
    needs={"power_cycle"},
)
async def tc_032_2(run: Run) -> None:
    """Charging, sampling -> the power is cut -> on again: BootNotification Accepted ->
    connector 0 Available, connector 1 Finishing (the cable is still in the EV), the others
    Available -> StopTransaction(PowerLoss, the start idTag) with the last meter value the
    station took and that value's timestamp (digest 3.4) -> the transaction is never resumed.
    Shrunk: MeterValueSampleInterval 1 s, so that a last meter value exists
    (ClockAlignedDataInterval 0); the watch for a new StartTransaction 2 s."""
    interval = int(run.timing("sample_interval", 1))
    await run.configure("MeterValueSampleInterval", str(interval))
    await run.configure("ClockAlignedDataInterval", "0")
    start = await local_start_plugged(run, run.tags.valid)
    transaction_id = await run.transaction_id(start)
    for _ in range(2):
        await run.expect("MeterValues", transactionId=transaction_id, timeout=interval + 5)

    mark = run.mark()
    await run.power_cycle(graceful=False)
    boot = await _booted_again(run, mark, "Finishing")
    stop = await run.expect("StopTransaction", transactionId=transaction_id, after=boot.seq)
    await _check_power_loss_stop(run, stop, start)

    # The last meter value the station took: delivered before the power cut, or queued and
    # delivered after the boot, ahead of the StopTransaction (FIFO, digest 3.1). A value sent
    # again after the restart counts once.
    taken = {
        when: value
        for value in transaction_samples(run.messages(until=stop.seq), transaction_id)
        if (when := timestamp_of(value)) is not None
    }
    await run.check("meter values of the transaction arrived", bool(taken), len(taken))
    last_time = max(taken)
    last = taken[last_time]
    register = register_wh(last)
    await run.check_equal(
        f"meterStop = the energy register (Wh) of the last meter value ({last['timestamp']})",
        stop.get("meterStop"),
        None if register is None else round(register),
    )
    stopped = timestamp_of(stop)
    # The same reading: well inside the interval between two samples.
    await run.check(
        f"the StopTransaction timestamp is that of the last meter value ({last['timestamp']})",
        stopped is not None and abs((stopped - last_time).total_seconds()) <= 0.05,
        stop.get("timestamp"),
    )

    await _never_resumed(run, start, mark)
    later = transaction_samples(run.messages(after=stop.seq), transaction_id)
    await run.check("no meter value of the transaction after its stop", not later, later)
    await run.check_equal(
        "the last status of connector 1", run.statuses(1, after=mark)[-1:], ["Finishing"]
    )


@case(
    "TC_034_CS",
    "Power Failure with Unavailable Status",
    module=MODULE,
    profile="Core",
    needs={"power_cycle"},
)
async def tc_034(run: Run) -> None:
    """ChangeAvailability connector 0 Inoperative -> connector 0 and every connector
    Unavailable -> the power is cut and restored -> after the BootNotification they are all
    still Unavailable (availability persists, digest 2.3) -> ChangeAvailability Operative for
    connector 0 and connector 1 -> all Available. Nothing shrunk."""
    everything = range(len(run.connector_ids) + 1)
    mark = run.mark()
    await run.call(
        "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, status="Accepted"
    )
    for connector_id in everything:
        await run.expect(
            "StatusNotification", connectorId=connector_id, status="Unavailable", after=mark
        )

    mark = run.mark()
    await run.power_cycle(graceful=False)
    boot = await run.expect("BootNotification", after=mark, timeout=run.settings.boot_timeout)
    for connector_id in everything:
        await run.expect("StatusNotification", connectorId=connector_id, after=boot.seq)
    reported = [
        (m.get("connectorId"), m.get("status"))
        for m in run.messages("StatusNotification", after=boot.seq)
    ]
    await run.check_equal(
        "the statuses reported after the boot", reported, [(c, "Unavailable") for c in everything]
    )

    mark = run.mark()
    for connector_id in (0, 1):
        await run.call(
            "ChangeAvailability",
            {"connectorId": connector_id, "type": "Operative"},
            status="Accepted",
        )
    for connector_id in everything:
        await run.expect(
            "StatusNotification", connectorId=connector_id, status="Available", after=mark
        )
    last = {c: run.statuses(c, after=mark)[-1:] for c in everything}
    await run.check_equal(
        "the last status of each connector", last, {c: ["Available"] for c in everything}
    )
