"""15 Offline Behaviour: TC_036_CS, TC_037_1_CS, TC_037_2_CS, TC_037_3_CS, TC_038_CS, TC_039_CS.

The central system "goes away": it closes the station's connection and refuses reconnections
until the case lets it back. What the station does meanwhile cannot be seen on the wire; the
cases give it a few seconds (shrunk) and judge by what it delivers after reconnecting: the
queued transaction messages with the times they carry, and the statuses that changed while
offline (digest 2.3: the current status of each connector that changed).

Times the station writes are compared with the tool's clock, which set the station's at the
boot (BootNotification.conf currentTime, millisecond precision): CLOCK_SLACK allows for that.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import (
    ensure_config,
    local_start_plugged,
    timestamp_of,
    transaction_samples,
)
from ocpp_station.conformance.steps import Expected, Run
from ocpp_station.conformance.transcript import Message

MODULE = "15 Offline Behaviour"
CLOCK_SLACK = timedelta(milliseconds=500)


def _now() -> datetime:
    return datetime.now(UTC)


def _transaction_messages(messages: list[Message]) -> list[Message]:
    """StartTransaction, StopTransaction and the MeterValues tied to a transaction: the
    messages a station queues while offline (digest 3.1)."""
    return [
        m
        for m in messages
        if m.action in ("StartTransaction", "StopTransaction")
        or (m.action == "MeterValues" and "transactionId" in m)
    ]


async def _check_within(
    run: Run, what: str, message: Message, earliest: datetime, latest: datetime
) -> None:
    when = timestamp_of(message)
    await run.check(
        f"the {what} timestamp lies while the central system was away",
        when is not None and earliest - CLOCK_SLACK < when < latest + CLOCK_SLACK,
        f"{message.get('timestamp')}, away from {earliest:%H:%M:%S.%f} to {latest:%H:%M:%S.%f}",
    )


async def _offline_start(run: Run, id_tag: str) -> tuple[datetime, datetime]:
    """The central system goes away; the driver plugs connector 1 in and presents `id_tag`; the
    station starts a transaction on its own authority; the central system comes back. Returns
    when the central system went away and when it let the station back."""
    await run.go_offline()
    away = _now()
    await run.plug(1)
    await run.present_card(id_tag, 1)
    await run.wait(
        run.timing("offline_wait", 2), "the station starts the transaction while offline"
    )
    back = _now()
    await run.come_online()
    return away, back


async def _clear_cache(run: Run) -> None:
    """Precondition: no idTag in the Authorization Cache, so the card is unknown to the station
    (an earlier case may have cached it)."""
    await run.call("ClearCache", {}, status=("Accepted", "Rejected"))


@case("TC_036_CS", "Connection Loss During Transaction", module=MODULE, profile="Core")
async def tc_036(run: Run) -> None:
    """Charging, sampling -> the connection drops and the central system stays away -> after
    reconnecting, the samples taken meanwhile are delivered in chronological order with their
    original timestamps and context Sample.Periodic, none lost -> normal sampling resumes ->
    RemoteStopTransaction -> StopTransaction(Remote, the start idTag) -> Finishing. Shrunk:
    MeterValueSampleInterval 15 -> 1 s (ClockAlignedDataInterval 0), about 65 s offline -> 5 s.
    """
    interval = int(run.timing("sample_interval", 1))
    offline = run.timing("offline", 5)
    await run.configure("MeterValueSampleInterval", str(interval))
    await run.configure("ClockAlignedDataInterval", "0")
    tag = run.tags.valid
    start = await local_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    await run.expect("MeterValues", transactionId=transaction_id, timeout=interval + 5)

    await run.go_offline(abrupt=True)
    away = _now()
    await run.wait(offline, "the central system stays away while the station samples")
    back = _now()
    await run.come_online()
    reconnected = _now()

    def taken_after_reconnecting(values: list[dict[str, Any]]) -> bool:
        when = timestamp_of(values[-1]) if values else None
        return when is not None and when > reconnected + CLOCK_SLACK

    fresh = await run.expect(
        "MeterValues",
        transactionId=transaction_id,
        meterValue=taken_after_reconnecting,
        timeout=offline + interval + 10,
    )
    samples = transaction_samples(run.messages(until=fresh.seq), transaction_id)
    stamps = [timestamp_of(v) for v in samples]
    await run.check("every meter value has a date-time timestamp", None not in stamps, len(samples))
    times = [t for t in stamps if t is not None]
    offline_taken = [t for t in times if away + CLOCK_SLACK < t < back - CLOCK_SLACK]
    await run.check(
        "at least two meter values taken while offline were delivered",
        len(offline_taken) >= 2,
        len(offline_taken),
    )
    # Every sample of the transaction, before and after the outage, in chronological order and
    # none lost: consecutive timestamps less than two intervals apart.
    await run.check(
        "the meter values arrived in chronological order, each once",
        times == sorted(times) and len(set(times)) == len(times),
        [f"{t:%H:%M:%S.%f}" for t in times],
    )
    gaps = [round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(times)]
    await run.check(
        f"no meter value missing: consecutive samples less than {2 * interval} s apart",
        all(gap < 2 * interval for gap in gaps),
        gaps,
    )
    contexts = sorted(
        {s.get("context", "Sample.Periodic") for v in samples for s in v.get("sampledValue", [])}
    )
    await run.check_equal("the contexts of the meter values", contexts, ["Sample.Periodic"])

    mark = run.mark()
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
        after=mark,
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "Remote")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    await _meter_stop_not_below_start(run, stop, start)


async def _meter_stop_not_below_start(run: Run, stop: Message, start: Message) -> None:
    meter_start, meter_stop = start.get("meterStart"), stop.get("meterStop")
    await run.check(
        f"meterStop is an integer no lower than meterStart ({meter_start})",
        isinstance(meter_stop, int) and isinstance(meter_start, int) and meter_stop >= meter_start,
        meter_stop,
    )


@case("TC_037_1_CS", "Offline Start Transaction - Valid IdTag", module=MODULE, profile="Core")
async def tc_037_1(run: Run) -> None:
    """LocalAuthorizeOffline with the Authorization Cache: a card the central system accepted
    earlier (Authorize.conf, kept in the cache) starts a transaction while offline. After
    reconnecting: StartTransaction with the offline start time, answered Accepted; connector 1
    reported Charging; the transaction goes on, and the same card stops it (StopTransaction
    Local, with the id the central system gave). Shrunk: the station has 2 s offline to start,
    no StopTransaction is watched for 2 s."""
    if "AuthorizationCacheEnabled" not in run.facts.configuration:
        run.not_applicable("no Authorization Cache (no AuthorizationCacheEnabled key, [S] 3.5.1)")
    await ensure_config(run, "AuthorizationCacheEnabled", "true")
    await ensure_config(run, "LocalAuthorizeOffline", "true")
    tag = run.tags.valid
    # The card becomes known: presented without a cable, Authorize.conf Accepted (cached) and
    # Preparing; presented again, that usage ends (B1, digest 2.3).
    await run.present_card(tag, 1)
    await run.expect("Authorize", idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(tag, 1)
    await run.expect("StatusNotification", connectorId=1, status="Available")

    mark = run.mark()
    away, back = await _offline_start(run, tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag, after=mark)
    await _check_within(run, "StartTransaction", start, away, back)
    transaction_id = await run.transaction_id(start)
    await run.expect("StatusNotification", connectorId=1, status="Charging", after=mark)

    # Accepted: the transaction goes on.
    await run.expect_none("StopTransaction", within=run.timing("no_stop_watch", 2), after=start.seq)
    await run.check_equal(
        "the statuses of connector 1 since the central system went away",
        run.statuses(1, after=mark),
        ["Charging"],
    )
    await run.present_card(tag, 1)
    stop = await run.expect("StopTransaction", transactionId=transaction_id)
    await run.check_equal("the StopTransaction reason", stop.get("reason", "Local"), "Local")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)


async def _offline_start_unknown(run: Run, stop_on_invalid: str) -> tuple[Message, int]:
    """AllowOfflineTxForUnknownId: a card the central system holds Invalid, unknown to the
    station, starts a transaction while offline; after reconnecting, StartTransaction.conf
    says Invalid. Returns the StartTransaction and its transactionId."""
    await ensure_config(run, "AllowOfflineTxForUnknownId", "true")
    await ensure_config(run, "StopTransactionOnInvalidId", stop_on_invalid)
    await _clear_cache(run)
    tag = run.tags.invalid
    mark = run.mark()
    away, back = await _offline_start(run, tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag, after=mark)
    await _check_within(run, "StartTransaction", start, away, back)
    return start, await run.transaction_id(start)


@case(
    "TC_037_2_CS",
    "Offline Start Transaction - Invalid IdTag - StopTransactionOnInvalidId=false",
    module=MODULE,
    profile="Core",
)
async def tc_037_2(run: Run) -> None:
    """AllowOfflineTxForUnknownId: an unknown card starts a transaction while offline. After
    reconnecting, StartTransaction.conf says Invalid and StopTransactionOnInvalidId is false:
    the station stops offering energy (SuspendedEVSE, [S] 7.7) and keeps the transaction (no
    StopTransaction; a RemoteStopTransaction of it is Accepted and stops it, reason Remote).
    Shrunk: the station has 2 s offline to start, no StopTransaction is watched for 2 s."""
    start, transaction_id = await _offline_start_unknown(run, "false")
    await run.expect("StatusNotification", connectorId=1, status="SuspendedEVSE", after=start.seq)
    await run.expect_none("StopTransaction", within=run.timing("no_stop_watch", 2), after=start.seq)
    await run.check_equal(
        "the last status of connector 1", run.statuses(1, after=start.seq)[-1:], ["SuspendedEVSE"]
    )

    mark = run.mark()
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    stop = await run.expect("StopTransaction", transactionId=transaction_id, after=mark)
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "Remote")


@case(
    "TC_037_3_CS",
    "Offline Start Transaction - Invalid IdTag - StopTransactionOnInvalidId=true",
    module=MODULE,
    profile="Core",
)
async def tc_037_3(run: Run) -> None:
    """AllowOfflineTxForUnknownId: an unknown card starts a transaction while offline. After
    reconnecting, StartTransaction.conf says Invalid and StopTransactionOnInvalidId is true:
    the station stops the transaction, StopTransaction(DeAuthorized, the card, the id the
    central system gave) and Finishing (the cable is still in the EV). Shrunk: the station has
    2 s offline to start."""
    start, transaction_id = await _offline_start_unknown(run, "true")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
        after=start.seq,
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "DeAuthorized")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), start.get("idTag"))


@case("TC_038_CS", "Offline Stop Transaction", module=MODULE, profile="Core")
async def tc_038(run: Run) -> None:
    """A transaction started online; the central system goes away; the start card stops it.
    After reconnecting: the queued StopTransaction (reason Local, the same idTag, the
    transaction's id, the offline stop time) and Finishing, with no Authorize for the card that
    started it ([S] 3.10). Shrunk: the station has 2 s offline to stop, no Authorize is
    watched for 1 s."""
    tag = run.tags.valid
    start = await local_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)

    mark = run.mark()
    await run.go_offline()
    away = _now()
    await run.present_card(tag)
    await run.wait(run.timing("offline_wait", 2), "the station stops the transaction offline")
    back = _now()
    await run.come_online()
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
        after=mark,
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason", "Local"), "Local")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    await _meter_stop_not_below_start(run, stop, start)
    await _check_within(run, "StopTransaction", stop, away, back)
    await run.expect_none("Authorize", within=run.timing("no_authorize_watch", 1), after=mark)


@case("TC_039_CS", "Offline Transaction", module=MODULE, profile="Core")
async def tc_039(run: Run) -> None:
    """AllowOfflineTxForUnknownId: a transaction starts, samples and stops (the same card,
    reason Local) while the central system is away. After reconnecting they are delivered in
    order: StartTransaction, the MeterValues, StopTransaction, all with the times they were
    taken offline, and every follow-up carries the transactionId the central system gave the
    delivered StartTransaction (digest 3.3); connector 1 is reported Finishing. Shrunk:
    MeterValueSampleInterval 1 s (ClockAlignedDataInterval 0), 3 s of charging offline, 1 s
    for the station to stop, no further meter value watched for 1 s."""
    interval = int(run.timing("sample_interval", 1))
    await ensure_config(run, "AllowOfflineTxForUnknownId", "true")
    await run.configure("MeterValueSampleInterval", str(interval))
    await run.configure("ClockAlignedDataInterval", "0")
    await _clear_cache(run)
    tag = run.tags.valid

    mark = run.mark()
    await run.go_offline()
    away = _now()
    await run.plug(1)
    await run.present_card(tag, 1)
    await run.wait(run.timing("offline_charging", 3), "the station charges and samples offline")
    await run.present_card(tag, 1)
    await run.wait(run.timing("offline_stop_wait", 1), "the station stops the transaction")
    back = _now()
    await run.come_online()

    stop = await run.expect("StopTransaction", after=mark)
    await run.expect("StatusNotification", connectorId=1, status="Finishing", after=mark)
    await run.expect_none("MeterValues", within=run.timing("no_sample_watch", 1), after=stop.seq)
    delivered = _transaction_messages(run.messages(after=mark))
    actions = [m.action for m in delivered]
    await run.check(
        "delivered: StartTransaction, two or more MeterValues, StopTransaction",
        len(actions) >= 4
        and actions[0] == "StartTransaction"
        and actions[-1] == "StopTransaction"
        and set(actions[1:-1]) == {"MeterValues"},
        actions,
    )
    start = delivered[0]
    run.account(start)
    await run.check_equal(
        "the StartTransaction connector and idTag",
        (start.get("connectorId"), start.get("idTag")),
        (1, tag),
    )
    transaction_id = await run.transaction_id(start)
    await run.check_equal(
        "the transactionId of each follow-up (the one given for the delivered start)",
        [m.get("transactionId") for m in delivered[1:]],
        [transaction_id] * (len(delivered) - 1),
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason", "Local"), "Local")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)
    await _meter_stop_not_below_start(run, stop, start)

    stamps = [timestamp_of(start)]
    stamps += [timestamp_of(v) for v in transaction_samples(delivered)]
    stamps.append(timestamp_of(stop))
    times = [t for t in stamps if t is not None]
    await run.check(
        "every timestamp is a date-time, in chronological order",
        len(times) == len(stamps) and times == sorted(times),
        [m.get("timestamp") for m in delivered],
    )
    await _check_within(run, "StartTransaction", start, away, back)
    await _check_within(run, "StopTransaction", stop, away, back)
