"""14 Power Failure (TC_032_1, TC_032_2, TC_034) and 15 Offline Behaviour (TC_036 to TC_039),
plus the retry rules of transaction messages (TransactionMessageAttempts and
TransactionMessageRetryInterval, digest §3.2).

A power cut is SIGKILL and a restart on the same state folder; a power failure with hold-up
energy is SIGTERM (interface.md). The central system "goes away" by closing the station's
connection and refusing its reconnects (HTTP 503) until the test lets it back.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp_station.csms.server import NO_ANSWER, CentralSystem, StationSession
from ocpp_station.csms.session import Received
from ocpp_station.csms.tags import TagInfo
from ocpp_station.rpc.errors import InternalError
from ocpp_station.timefmt import parse
from tests.integration.conftest import StationProcess, boot

IDENTITY = "CP-1"
REGISTER = "Energy.Active.Import.Register"
# The timestamps the station writes and the instants this test reads from its own clock come
# from the same host clock; the station's is set from BootNotification.conf currentTime, which
# is sent with millisecond precision and a loopback hop late.
CLOCK_SLACK = timedelta(milliseconds=200)


# ---------------------------------------------------------------------------- helpers


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def wait_for(station: StationProcess, check: Any, what: str, timeout: float = 10) -> dict:
    """Poll GET /api/status until check(status) holds."""
    status: dict = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                status = await station.status()
                if check(status):
                    return status
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout} s; last {status}") from None


async def transaction_id(station: StationProcess, connector_id: int = 1) -> int:
    status = await wait_for(
        station,
        lambda s: s["connectors"][connector_id]["transactionId"] is not None,
        f"connector {connector_id} knows its transactionId",
    )
    return int(status["connectors"][connector_id]["transactionId"])


async def start_charging(
    station: StationProcess, session: StationSession, id_tag: str, connector_id: int = 1
) -> tuple[Received, int]:
    """TC_003: plug, present the card, Authorize, StartTransaction, Charging."""
    await station.plug(connector_id)
    await session.expect("StatusNotification", {"connectorId": connector_id, "status": "Preparing"})
    await station.rfid(id_tag, connector_id)
    await session.expect("Authorize", {"idTag": id_tag})
    start = await session.expect("StartTransaction", {"connectorId": connector_id, "idTag": id_tag})
    await session.expect("StatusNotification", {"connectorId": connector_id, "status": "Charging"})
    return start, await transaction_id(station, connector_id)


async def go_offline(csms: CentralSystem, station: StationProcess, session: StationSession) -> None:
    """The central system goes away: the connection closes and reconnects are refused."""
    csms.accepting = False
    await session.close()
    await wait_for(station, lambda s: not s["connected"], "station notices it is offline")


async def come_back(csms: CentralSystem, previous: StationSession) -> StationSession:
    csms.accepting = True
    session = await csms.wait_for_station(IDENTITY, timeout=20)
    assert session is not previous
    return session


async def closed(session: StationSession) -> None:
    async with asyncio.timeout(10):
        await session.closed.wait()


def meter_values(messages: Iterable[Received], tx_id: int | None = None) -> list[dict[str, Any]]:
    """The meterValue elements of the transaction MeterValues received, in arrival order."""
    found: list[dict[str, Any]] = []
    for m in messages:
        if m.action != "MeterValues" or "transactionId" not in m.payload:
            continue
        if tx_id is None or m.payload["transactionId"] == tx_id:
            found.extend(m.payload["meterValue"])
    return found


def register_wh(meter_value: dict[str, Any]) -> int:
    for sampled in meter_value["sampledValue"]:
        if sampled.get("measurand", REGISTER) == REGISTER:
            return round(float(sampled["value"]))
    raise AssertionError(f"no {REGISTER} in {meter_value}")


def transaction_messages(messages: Iterable[Received]) -> list[Received]:
    """StartTransaction, StopTransaction and MeterValues tied to a transaction (digest §3.1)."""
    return [
        m
        for m in messages
        if m.action in ("StartTransaction", "StopTransaction")
        or (m.action == "MeterValues" and "transactionId" in m.payload)
    ]


def log_position(log: str, pattern: str, start: int = 0) -> int:
    """Where the first line matching `pattern` (case-insensitive) begins, at or after start."""
    found = re.compile(pattern, re.IGNORECASE | re.MULTILINE).search(log, start)
    assert found is not None, f"no log line matching {pattern!r} in:\n{log[start:][-3000:]}"
    return found.start()


def given_id(csms: CentralSystem, id_tag: str) -> int:
    """The transactionId the central system answered the (one) StartTransaction of id_tag with."""
    record = csms.record(IDENTITY)
    found = [
        t.transaction_id
        for t in (*record.open_transactions.values(), *record.finished_transactions)
        if t.id_tag == id_tag
    ]
    assert len(found) == 1, found
    return found[0]


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- 14 Power Failure


async def test_tc032_1_power_failure_stop_before_going_down(
    csms: CentralSystem, make_station
) -> None:
    """TC_032_1_CS Power failure - stop transaction(s) before going down.

    SIGTERM is the power failure of a station with hold-up energy: the running transaction ends
    with StopTransaction reason PowerLoss (the start idTag) and the connector reports Finishing
    before the shutdown, and the process exits 0. Restarted on the same state: BootNotification,
    then the statuses (cable still in the EV: connector 1 Finishing), and the StopTransaction
    is not sent twice. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    start, tx_id = await start_charging(station, session, "TAG321")

    assert await station.stop() == 0
    stop = await session.expect(
        "StopTransaction", {"transactionId": tx_id, "reason": "PowerLoss"}, after=start.seq
    )
    assert stop.payload["idTag"] == "TAG321"
    assert stop.payload["meterStop"] >= start.payload["meterStart"]
    assert parse(stop.payload["timestamp"]) >= parse(start.payload["timestamp"])
    await session.expect(
        "StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=start.seq
    )
    await closed(session)

    station = await make_station()
    session = await boot(csms, station)
    statuses = {
        m.payload["connectorId"]: m.payload["status"]
        for m in session.messages
        if m.action == "StatusNotification"
    }
    assert statuses == {0: "Available", 1: "Finishing", 2: "Available"}
    await session.expect_none("StopTransaction", within=1.5, after=0)
    status = await station.status()
    assert status["queuedMessages"] == 0
    assert status["connectors"][1]["transactionId"] is None


async def test_tc032_2_power_failure_stop_after_going_down(
    csms: CentralSystem, make_station
) -> None:
    """TC_032_2_CS Power failure - stop transaction(s) after going down.

    SIGKILL while charging, restart on the same state: BootNotification Accepted, connector 0
    Available and connector 1 Finishing (the cable is still in the EV), then StopTransaction
    reason PowerLoss with the start idTag, the last meter value the station took and that
    value's timestamp. The transaction is never resumed. Shrunk: MeterValueSampleInterval 1 s
    (so that a last meter value exists), ClockAlignedDataInterval 0.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MeterValueSampleInterval", "1")
    await configure(session, "ClockAlignedDataInterval", "0")
    start, tx_id = await start_charging(station, session, "TAG322")
    await session.expect("MeterValues", {"transactionId": tx_id}, timeout=5)
    await session.expect("MeterValues", {"transactionId": tx_id}, timeout=5)

    await station.kill()
    await closed(session)
    before = list(session.messages)

    station = await make_station()
    session = await boot(csms, station)
    boot_seq = session.messages[0].seq
    assert session.messages[0].action == "BootNotification"
    statuses = [
        (m.payload["connectorId"], m.payload["status"])
        for m in session.messages
        if m.action == "StatusNotification"
    ]
    assert statuses[:3] == [(0, "Available"), (1, "Finishing"), (2, "Available")]
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=boot_seq)
    # OCTT also accepts Local; PowerLoss is the reason the specification names (§7.36).
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["idTag"] == "TAG322"
    assert stop.payload["meterStop"] >= start.payload["meterStart"]

    # The last meter value the station took: delivered before the kill, or queued and
    # delivered after the restart, ahead of the StopTransaction (FIFO, digest §3.1).
    after_restart = [m for m in session.messages if m.seq < stop.seq]
    samples = {v["timestamp"]: v for v in meter_values([*before, *after_restart], tx_id)}
    last = samples[max(samples, key=parse)]
    assert stop.payload["meterStop"] == register_wh(last), (stop.payload, last)
    taken = parse(last["timestamp"])
    stopped = parse(stop.payload["timestamp"])
    # The same reading: well inside the 1 s between two samples.
    assert abs(stopped - taken) <= timedelta(milliseconds=50), (stop.payload, last)

    # Never resumed: no new transaction, no Charging, no samples after the stop.
    await session.expect_none("StartTransaction", within=1.5, after=0)
    assert not [m for m in session.messages if m.payload.get("status") == "Charging"]
    assert meter_values((m for m in session.messages if m.seq > stop.seq), tx_id) == []
    status = await station.status()
    assert status["connectors"][1]["status"] == "Finishing"
    assert status["connectors"][1]["transactionId"] is None
    assert status["queuedMessages"] == 0


async def test_tc034_power_failure_with_unavailable_status(
    csms: CentralSystem, make_station
) -> None:
    """TC_034_CS Power Failure with Unavailable Status.

    ChangeAvailability connector 0 Inoperative: every connector reports Unavailable. A power
    cut (SIGKILL) and restart: after BootNotification connector 0 and the connectors are still
    Unavailable; ChangeAvailability Operative for connector 0 and connector 1 makes them
    Available. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    answer = await session.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    mark = session.cursor()
    for connector_id in (0, 1, 2):
        await session.expect(
            "StatusNotification", {"connectorId": connector_id, "status": "Unavailable"}, after=mark
        )

    await station.kill()
    await closed(session)
    station = await make_station()
    session = await boot(csms, station)
    statuses = {
        m.payload["connectorId"]: m.payload["status"]
        for m in session.messages
        if m.action == "StatusNotification"
    }
    assert statuses == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}

    mark = session.cursor()
    answer = await session.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    answer = await session.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    for connector_id in (0, 1, 2):
        await session.expect(
            "StatusNotification", {"connectorId": connector_id, "status": "Available"}, after=mark
        )
    status = await station.status()
    assert [c["status"] for c in status["connectors"]] == ["Available"] * 3


# ---------------------------------------------------------------------------- 15 Offline


async def test_tc036_connection_loss_during_transaction(csms: CentralSystem, make_station) -> None:
    """TC_036_CS Connection Loss During Transaction.

    The connection drops during a transaction and the central system stays away for a while;
    the samples taken meanwhile are queued (GET /api/status queuedMessages goes up), delivered
    after reconnecting in chronological order with their original timestamps and context
    Sample.Periodic, the queue empties (queuedMessages 0), normal sampling resumes, and a
    RemoteStopTransaction ends the transaction with StopTransaction reason Remote. The station
    log says when it went offline, when it was back and how many messages it delivered.
    Shrunk: MeterValueSampleInterval 15 -> 1 s, about 65 s offline -> about 3 s;
    ClockAlignedDataInterval 0.
    """
    interval = 1
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MeterValueSampleInterval", str(interval))
    await configure(session, "ClockAlignedDataInterval", "0")
    start, tx_id = await start_charging(station, session, "TAG36")
    await session.expect("MeterValues", {"transactionId": tx_id}, timeout=5)
    log_start = len(station.log_text())

    csms.accepting = False
    await session.close(abrupt=True)  # the cable is cut
    await wait_for(station, lambda s: not s["connected"], "station notices it is offline")
    went_offline = now()
    await wait_for(
        station, lambda s: s["queuedMessages"] >= 3, "samples queue up while offline", timeout=10
    )
    session2 = await come_back(csms, session)
    await session2.expect("MeterValues", after=0)
    back = session2.messages[0].time
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "queue delivered", timeout=15)

    # Normal sampling resumes: a sample taken after the reconnection arrives.
    fresh = await session2.expect(
        "MeterValues",
        lambda p: (
            p.get("transactionId") == tx_id
            and parse(p["meterValue"][-1]["timestamp"]) > back + CLOCK_SLACK
        ),
        after=0,
        timeout=5,
    )
    online = meter_values(session2.messages, tx_id)
    offline_taken = [
        v for v in online if went_offline + CLOCK_SLACK < parse(v["timestamp"]) < back - CLOCK_SLACK
    ]
    assert len(offline_taken) >= 2, online
    # Every sample of the transaction, before and after the outage, in chronological order,
    # none lost: consecutive timestamps one interval apart (no gap of two intervals).
    every = meter_values(session.messages, tx_id) + online
    stamps = [parse(v["timestamp"]) for v in every]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), stamps
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert all(gap < 2 * interval for gap in gaps), gaps
    for value in every:
        for sampled in value["sampledValue"]:
            assert sampled.get("context", "Sample.Periodic") == "Sample.Periodic", value

    mark = session2.cursor()
    answer = await session2.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert answer == {"status": "Accepted"}
    stop = await session2.expect(
        "StopTransaction", {"transactionId": tx_id, "reason": "Remote"}, after=mark
    )
    assert stop.payload["idTag"] == "TAG36"
    assert stop.payload["meterStop"] >= start.payload["meterStart"]
    assert stop.seq > fresh.seq
    await session2.expect(
        "StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=mark
    )

    log = station.log_text()
    offline_at = log_position(log, r"^.*\boffline\b.*$", log_start)
    online_at = log_position(log, r"^.*\b(online|back|reconnected)\b.*$", offline_at + 1)
    delivered_at = log_position(
        log, r"^.*\b\d+ transaction messages? (sent|delivered)\b.*$", online_at
    )
    line = log[delivered_at:].splitlines()[0]
    count = int(re.search(r"(\d+) transaction messages?", line).group(1))  # type: ignore[union-attr]
    received = len(transaction_messages(m for m in session2.messages if m.seq <= fresh.seq))
    assert len(offline_taken) <= count <= received, (line, len(offline_taken), received)


async def _offline_start(
    csms: CentralSystem, station: StationProcess, session: StationSession, id_tag: str
) -> StationSession:
    """The central system goes away; the driver plugs in and presents `id_tag`; the station
    starts charging on its own authority; the central system comes back."""
    await go_offline(csms, station, session)
    await station.plug(1)
    await station.rfid(id_tag, 1)
    await station.wait_status(1, "Charging")
    status = await station.status()
    assert status["queuedMessages"] >= 1  # the StartTransaction waits
    assert not status["connected"]
    return await come_back(csms, session)


async def test_tc037_1_offline_start_valid_idtag(csms: CentralSystem, make_station) -> None:
    """TC_037_1_CS Offline Start Transaction - Valid IdTag.

    LocalAuthorizeOffline with the authorization cache: a tag the central system accepted
    earlier (Authorize.conf, kept in the cache) starts a transaction while offline. After
    reconnecting, the StartTransaction (with the offline start time) is answered Accepted and
    the transaction continues: it keeps charging, and its StopTransaction carries the id the
    central system gave. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizationCacheEnabled", "true")
    await configure(session, "LocalAuthorizeOffline", "true")
    # The tag becomes known: presented without a cable, Authorize.conf Accepted (cached),
    # Preparing; presented again, that usage ends (B1).
    await station.rfid("TAG371", 1)
    await session.expect("Authorize", {"idTag": "TAG371"})
    await session.expect("StatusNotification", {"connectorId": 1, "status": "Preparing"})
    await station.rfid("TAG371", 1)
    await session.expect("StatusNotification", {"connectorId": 1, "status": "Available"})

    before_start = now()
    session2 = await _offline_start(csms, station, session, "TAG371")
    start = await session2.expect(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG371"}, after=0
    )
    reconnected = session2.messages[0].time
    assert before_start - CLOCK_SLACK < parse(start.payload["timestamp"]) < reconnected
    tx_id = await transaction_id(station)
    assert csms.record(IDENTITY).transaction(tx_id).id_tag == "TAG371"  # type: ignore[union-attr]

    # Accepted: the transaction goes on.
    await session2.expect_none("StopTransaction", within=1.5, after=start.seq)
    assert not [
        m
        for m in session2.messages
        if m.action == "StatusNotification"
        and m.payload["connectorId"] == 1
        and m.payload["status"] != "Charging"
    ]
    assert (await station.connector(1))["status"] == "Charging"
    await station.rfid("TAG371", 1)
    stop = await session2.expect("StopTransaction", {"transactionId": tx_id}, after=start.seq)
    assert stop.payload["reason"] == "Local" and stop.payload["idTag"] == "TAG371"


async def test_tc037_2_offline_start_invalid_idtag_keep_transaction(
    csms: CentralSystem, make_station
) -> None:
    """TC_037_2_CS Offline Start Transaction - Invalid IdTag - StopTransactionOnInvalidId=false.

    AllowOfflineTxForUnknownId: an unknown tag starts a transaction while offline. After
    reconnecting, StartTransaction.conf says Invalid: the station stops offering energy
    (SuspendedEVSE) and keeps the transaction (no StopTransaction; a RemoteStopTransaction for
    it is Accepted and stops it). Nothing shrunk.
    """
    csms.tags["BADTAG372"] = TagInfo("Invalid")
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AllowOfflineTxForUnknownId", "true")
    await configure(session, "StopTransactionOnInvalidId", "false")

    session2 = await _offline_start(csms, station, session, "BADTAG372")
    start = await session2.expect(
        "StartTransaction", {"connectorId": 1, "idTag": "BADTAG372"}, after=0
    )
    await session2.expect(
        "StatusNotification", {"connectorId": 1, "status": "SuspendedEVSE"}, after=start.seq
    )
    tx_id = await transaction_id(station)
    await session2.expect_none("StopTransaction", within=2, after=start.seq)
    connector = await station.connector(1)
    assert connector["status"] == "SuspendedEVSE"
    assert connector["transactionId"] == tx_id
    assert connector["powerW"] == 0

    mark = session2.cursor()
    answer = await session2.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert answer == {"status": "Accepted"}
    stop = await session2.expect("StopTransaction", {"transactionId": tx_id}, after=mark)
    assert stop.payload["reason"] == "Remote"


async def test_tc037_3_offline_start_invalid_idtag_stop_transaction(
    csms: CentralSystem, make_station
) -> None:
    """TC_037_3_CS Offline Start Transaction - Invalid IdTag - StopTransactionOnInvalidId=true.

    AllowOfflineTxForUnknownId: an unknown tag starts a transaction while offline. After
    reconnecting, StartTransaction.conf says Invalid: the station stops the transaction with
    StopTransaction reason DeAuthorized and the connector goes to Finishing (cable still in
    the EV). Nothing shrunk.
    """
    csms.tags["BADTAG373"] = TagInfo("Invalid")
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AllowOfflineTxForUnknownId", "true")
    await configure(session, "StopTransactionOnInvalidId", "true")

    session2 = await _offline_start(csms, station, session, "BADTAG373")
    start = await session2.expect(
        "StartTransaction", {"connectorId": 1, "idTag": "BADTAG373"}, after=0
    )
    stop = await session2.expect("StopTransaction", {"reason": "DeAuthorized"}, after=start.seq)
    assert stop.payload["transactionId"] == given_id(csms, "BADTAG373")
    assert stop.payload["idTag"] == "BADTAG373"
    await session2.expect(
        "StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=start.seq
    )
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "StopTransaction delivered")
    assert (await station.connector(1))["transactionId"] is None


async def test_tc038_offline_stop_transaction(csms: CentralSystem, make_station) -> None:
    """TC_038_CS Offline Stop Transaction.

    A transaction started online is stopped locally (the start card presented again) while the
    central system is away. After reconnecting, the queued StopTransaction (reason Local, the
    same idTag, the transaction's id, the offline stop time) and a Finishing status are
    delivered. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    start, tx_id = await start_charging(station, session, "TAG38")

    await go_offline(csms, station, session)
    stopped_from = now()
    await station.rfid("TAG38", 1)
    await station.wait_status(1, "Finishing")
    assert (await station.status())["queuedMessages"] >= 1
    session2 = await come_back(csms, session)

    stop = await session2.expect("StopTransaction", {"transactionId": tx_id}, after=0)
    assert stop.payload["reason"] == "Local"
    assert stop.payload["idTag"] == "TAG38"
    assert stop.payload["meterStop"] >= start.payload["meterStart"]
    stopped = parse(stop.payload["timestamp"])
    assert stopped_from - CLOCK_SLACK < stopped < session2.messages[0].time
    await session2.expect("StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=0)
    await session2.expect_none("Authorize", within=0.5, after=0)  # the start tag stops it
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "StopTransaction delivered")


async def test_tc039_offline_transaction(csms: CentralSystem, make_station) -> None:
    """TC_039_CS Offline Transaction.

    With AllowOfflineTxForUnknownId, a transaction starts, takes samples and stops (reason
    Local) entirely while the central system is away; GET /api/status counts the queued
    messages. After reconnecting they are delivered in order: StartTransaction, the
    MeterValues, StopTransaction, and every follow-up carries the transactionId the central
    system returned for the delivered StartTransaction. The queue empties and the station log
    says how many it delivered. Shrunk: MeterValueSampleInterval 1 s, ClockAlignedDataInterval 0.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AllowOfflineTxForUnknownId", "true")
    await configure(session, "MeterValueSampleInterval", "1")
    await configure(session, "ClockAlignedDataInterval", "0")
    log_start = len(station.log_text())

    await go_offline(csms, station, session)
    await station.plug(1)
    await station.rfid("TAG39", 1)
    await station.wait_status(1, "Charging")
    # Start plus at least two samples queued.
    await wait_for(station, lambda s: s["queuedMessages"] >= 3, "samples queued", timeout=10)
    await station.rfid("TAG39", 1)
    await station.wait_status(1, "Finishing")
    queued = (await station.status())["queuedMessages"]
    session2 = await come_back(csms, session)
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "queue delivered", timeout=15)

    delivered = transaction_messages(session2.messages)
    assert len(delivered) == queued, [(m.action, m.payload) for m in delivered]
    actions = [m.action for m in delivered]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction", actions
    assert set(actions[1:-1]) == {"MeterValues"} and len(actions) >= 4, actions
    start, stop = delivered[0], delivered[-1]
    assert start.payload["idTag"] == "TAG39" and start.payload["connectorId"] == 1
    tx_id = given_id(csms, "TAG39")
    for message in delivered[1:]:
        assert message.payload["transactionId"] == tx_id, message.payload
    assert stop.payload["reason"] == "Local" and stop.payload["idTag"] == "TAG39"
    stamps = [parse(start.payload["timestamp"])]
    stamps += [parse(v["timestamp"]) for v in meter_values(delivered)]
    stamps.append(parse(stop.payload["timestamp"]))
    assert stamps == sorted(stamps), stamps
    assert stamps[-1] < session2.messages[0].time  # all taken while offline
    assert stop.payload["meterStop"] >= start.payload["meterStart"]

    log = station.log_text()
    offline_at = log_position(log, r"^.*\boffline\b.*$", log_start)
    online_at = log_position(log, r"^.*\b(online|back|reconnected)\b.*$", offline_at + 1)
    delivered_at = log_position(
        log, r"^.*\b\d+ transaction messages? (sent|delivered)\b.*$", online_at
    )
    line = log[delivered_at:].splitlines()[0]
    assert re.search(rf"\b{len(delivered)} transaction messages?", line), (line, len(delivered))


# ---------------------------------------------------------------------------- retries


async def test_transaction_message_callerror_retried_then_given_up(
    csms: CentralSystem, make_station
) -> None:
    """A transaction message answered with CALLERROR is tried TransactionMessageAttempts times
    in all, waiting TransactionMessageRetryInterval x n before retry n (1.6 §3.7.1, [JE] 3.3),
    then given up: logged, never sent again (not even after a restart), queuedMessages back to
    0; the follow-ups of a given-up StartTransaction carry transactionId -1 ([E] 3.18).
    Shrunk: TransactionMessageRetryInterval 200 -> 1 s; attempts 3; MeterValueSampleInterval 0.
    """
    interval = 1
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "TransactionMessageAttempts", "3")
    await configure(session, "TransactionMessageRetryInterval", str(interval))
    await configure(session, "MeterValueSampleInterval", "0")

    def refuse(payload: dict[str, Any]) -> dict[str, Any]:
        raise InternalError("transaction database unavailable")

    session.set_handler("StartTransaction", refuse)
    await station.plug(1)
    await station.rfid("TAGRETRY", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGRETRY"})
    second = await session.expect("StartTransaction", {"idTag": "TAGRETRY"}, timeout=10)
    third = await session.expect("StartTransaction", {"idTag": "TAGRETRY"}, timeout=10)
    assert first.payload == second.payload == third.payload
    # Lower bounds only: retry n waits at least interval x n after the failure of try n.
    slack = timedelta(milliseconds=50)
    assert second.time - first.time >= timedelta(seconds=1 * interval) - slack
    assert third.time - second.time >= timedelta(seconds=2 * interval) - slack
    # A fourth try would come 3 s after the third: none comes.
    await session.expect_none("StartTransaction", within=3 * interval + 1.5, after=third.seq)
    assert (await station.status())["queuedMessages"] == 0
    log_position(station.log_text(), r"^.*giv(e|ing)n? up.*StartTransaction.*$")

    session.set_handler("StartTransaction", None)
    await station.rfid("TAGRETRY", 1)  # the driver ends the session
    stop = await session.expect("StopTransaction", {"idTag": "TAGRETRY"})
    assert stop.payload["transactionId"] == -1
    await session.expect_none("StartTransaction", within=0.5, after=third.seq)

    # Given up for good: a power cut and a restart do not bring it back.
    await station.kill()
    await closed(session)
    station = await make_station()
    session = await boot(csms, station)
    await session.expect_none("StartTransaction", within=1.5, after=0)
    assert (await station.status())["queuedMessages"] == 0


async def test_transaction_message_unanswered_counts_as_attempt(
    csms: CentralSystem, make_station
) -> None:
    """A transaction message left unanswered past MessageTimeout ([E] 3.83: the request SHALL
    be considered timed out) failed that attempt (1.6 §3.7.1: a response "or failure to
    respond"; digest §3.2): it is sent again after TransactionMessageRetryInterval x 1 and,
    answered then, the transaction takes the id of that answer; no third try. MessageTimeout
    is changed with ChangeConfiguration, which answers Accepted: the new timeout applies at
    once (§7.22 ConfigurationStatus; RebootRequired would say otherwise).
    Shrunk: MessageTimeout 30 -> 2 s (ChangeConfiguration), TransactionMessageRetryInterval 1 s,
    TransactionMessageAttempts 2.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MessageTimeout", "2")
    await configure(session, "TransactionMessageAttempts", "2")
    await configure(session, "TransactionMessageRetryInterval", "1")
    await configure(session, "MeterValueSampleInterval", "0")

    tries: list[dict[str, Any]] = []

    def silent_first(payload: dict[str, Any]) -> Any:
        tries.append(payload)
        if len(tries) == 1:
            return NO_ANSWER
        return csms.answers.start_transaction(payload)

    session.set_handler("StartTransaction", silent_first)
    await station.plug(1)
    await station.rfid("TAGSILENT", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGSILENT"})
    second = await session.expect("StartTransaction", {"idTag": "TAGSILENT"}, timeout=10)
    assert second.payload == first.payload
    slack = timedelta(milliseconds=50)
    assert second.time - first.time >= timedelta(seconds=2 + 1) - slack
    tx_id = await transaction_id(station)
    assert csms.record(IDENTITY).transaction(tx_id) is not None
    await session.expect_none("StartTransaction", within=2.5, after=second.seq)
    assert (await station.status())["queuedMessages"] == 0
    assert not re.search(r"giv(e|ing)n? up", station.log_text(), re.IGNORECASE)


async def test_transaction_message_lost_connection_is_not_an_attempt(
    csms: CentralSystem, make_station
) -> None:
    """A connection lost while a transaction message waits for its answer is not a failed
    attempt (1.6 §3.7: queued while offline; digest §3.2): with the factory
    TransactionMessageAttempts 1, the StartTransaction is still queued while offline and goes
    again, unchanged, on the next connection, where its answer gives the transaction its id.
    Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    session.set_handler("StartTransaction", lambda payload: NO_ANSWER)
    await station.plug(1)
    await station.rfid("TAGLOST", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGLOST"})

    await go_offline(csms, station, session)  # while the answer is awaited
    assert (await station.status())["queuedMessages"] >= 1
    session2 = await come_back(csms, session)
    again = await session2.expect("StartTransaction", {"idTag": "TAGLOST"}, after=0)
    assert again.payload == first.payload
    tx_id = await transaction_id(station)
    assert csms.record(IDENTITY).transaction(tx_id).id_tag == "TAGLOST"  # type: ignore[union-attr]
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "StartTransaction delivered")
    assert not re.search(r"giv(e|ing)n? up", station.log_text(), re.IGNORECASE)
