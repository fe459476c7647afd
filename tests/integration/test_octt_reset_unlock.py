"""OCTT 1.6 charge-point cases, modules 06 Resetting, 07 Unlocking and 13 Unlocking (non-happy),
run against the real station process and a real central system.

Unlocking applies to connectors with a lock at the station: the `--socket` variant (TC_017_1,
TC_018_1, TC_030); the reference charger's fixed cables answer NotSupported (TC_017_2, TC_018_2).
"""

from __future__ import annotations

import asyncio

from ocpp_station.csms.records import Transaction
from ocpp_station.csms.server import CentralSystem, StationSession
from tests.integration.conftest import StationProcess, boot

TAG = "OCTT-TAG-1"
# The transaction and the reboot both finish within this (the station answers in milliseconds).
REBOOT_TIMEOUT = 20.0


# ---------------------------------------------------------------------------- helpers


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


async def remote_charging(
    csms: CentralSystem, station: StationProcess, session: StationSession, connector_id: int = 1
) -> Transaction:
    """OCTT's usual start: cable plugged (Preparing), RemoteStartTransaction Accepted,
    StartTransaction with the same idTag, Charging. Returns the central system's transaction."""
    mark = session.cursor()
    await station.plug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Preparing"), after=mark)
    mark = session.cursor()
    answer = await session.call(
        "RemoteStartTransaction", {"connectorId": connector_id, "idTag": TAG}
    )
    assert answer == {"status": "Accepted"}
    start = await session.expect("StartTransaction", {"connectorId": connector_id}, after=mark)
    assert start.payload["idTag"] == TAG
    await session.expect("StatusNotification", status(connector_id, "Charging"), after=mark)
    return await open_transaction(csms, station.identity, connector_id)


async def open_transaction(csms: CentralSystem, identity: str, connector_id: int) -> Transaction:
    record = csms.record(identity)
    async with asyncio.timeout(10):
        while True:
            for tx in record.open_transactions.values():
                if tx.connector_id == connector_id:
                    return tx
            await asyncio.sleep(0.05)


async def rebooted(csms: CentralSystem, session: StationSession, mark: int) -> StationSession:
    """The session carrying the station's BootNotification after a reset: the same connection
    (a BootNotification after seq `mark`) or the new connection that replaced it."""
    async with asyncio.timeout(REBOOT_TIMEOUT):
        while True:
            if any(m.seq > mark and m.action == "BootNotification" for m in session.messages):
                return session
            current = csms.stations.get(session.identity)
            if current is not None and current is not session and not current.closed.is_set():
                return current
            await asyncio.sleep(0.05)


async def boot_after_reset(
    csms: CentralSystem, session: StationSession, mark: int
) -> tuple[StationSession, int]:
    """(session, seq of its BootNotification) once the station booted again after a reset."""
    new = await rebooted(csms, session, mark)
    after = mark if new is session else 0
    boot_message = await new.expect("BootNotification", after=after, timeout=REBOOT_TIMEOUT)
    return new, boot_message.seq


async def wait_stopped(csms: CentralSystem, tx: Transaction) -> Transaction:
    """The transaction once its StopTransaction arrived, on whichever connection."""
    record = csms.record(tx.identity)
    async with asyncio.timeout(REBOOT_TIMEOUT):
        while True:
            found = record.transaction(tx.transaction_id)
            if found is not None and found.ended:
                return found
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- 06 Resetting


async def reset_without_transaction(
    csms: CentralSystem, station: StationProcess, session: StationSession, kind: str
) -> None:
    """TC_013/TC_014: connector 1 Inoperative, Reset, and the Unavailable survives the reboot
    ([S] 5.2: a persisted availability; [S] 5.14 Reset)."""
    mark = session.cursor()
    answer = await session.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    await session.expect("StatusNotification", status(1, "Unavailable"), after=mark)
    # Only the connector that changed is reported.
    await session.expect_none(
        "StatusNotification", lambda p: p["connectorId"] != 1, within=1.0, after=mark
    )

    mark = session.cursor()
    answer = await session.call("Reset", {"type": kind})
    assert answer == {"status": "Accepted"}
    new, boot_seq = await boot_after_reset(csms, session, mark)
    # After the boot: connector 0 Available (a connector-level Inoperative does not touch it),
    # connector 1 still Unavailable, connector 2 Available.
    await new.expect("StatusNotification", status(0, "Available"), after=boot_seq)
    await new.expect("StatusNotification", status(1, "Unavailable"), after=boot_seq)
    await new.expect("StatusNotification", status(2, "Available"), after=boot_seq)
    assert (await station.connector(1))["status"] == "Unavailable"

    mark = new.cursor()
    answer = await new.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    await new.expect("StatusNotification", status(1, "Available"), after=mark)
    await new.expect_none(
        "StatusNotification", lambda p: p["connectorId"] != 1, within=1.0, after=mark
    )
    snapshot = await station.status()
    assert snapshot["registration"] == "Accepted"
    assert [c["status"] for c in snapshot["connectors"]] == ["Available"] * 3


async def test_tc013_hard_reset_without_transaction(csms: CentralSystem, make_station) -> None:
    """TC_013_CS Hard Reset Without transaction.

    Connector 1 Inoperative -> Unavailable; Reset Hard -> BootNotification -> connector 0
    Available, connector 1 Unavailable; Operative -> Available. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await reset_without_transaction(csms, station, session, "Hard")


async def test_tc014_soft_reset_without_transaction(csms: CentralSystem, make_station) -> None:
    """TC_014_CS Soft Reset Without Transaction: as TC_013 with a Soft reset. Nothing shrunk."""
    station = await make_station()
    session = await boot(csms, station)
    await reset_without_transaction(csms, station, session, "Soft")


async def reset_with_transaction(
    csms: CentralSystem, station: StationProcess, session: StationSession, kind: str
) -> None:
    """TC_015/TC_016: Reset during charging. Reset.conf first, then StopTransaction (reason
    HardReset/SoftReset, the start idTag) and Finishing, then the BootNotification ([S] 5.14;
    OCTT expects the graceful stop for a Hard reset too). The transaction is not resumed."""
    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    answer = await session.call("Reset", {"type": kind})
    assert answer == {"status": "Accepted"}
    new, boot_seq = await boot_after_reset(csms, session, mark)

    stopped = await wait_stopped(csms, tx)
    assert stopped.stop_reason == f"{kind}Reset"
    assert stopped.stop_id_tag == TAG
    assert stopped.meter_stop is not None and stopped.meter_stop >= stopped.meter_start
    # Both before the reboot, on the connection the reset came in on (either order).
    before_boot = [
        m for m in session.messages if m.seq > mark and (new is not session or m.seq < boot_seq)
    ]
    stops = [m for m in before_boot if m.action == "StopTransaction"]
    assert [m.payload["transactionId"] for m in stops] == [tx.transaction_id], stops
    assert stops[0].payload.get("reason") == f"{kind}Reset"
    finishing = [
        m
        for m in before_boot
        if m.action == "StatusNotification"
        and (m.payload["connectorId"], m.payload["status"]) == (1, "Finishing")
    ]
    assert finishing, [m.payload for m in before_boot]
    # The station's own record of the wire: Reset.conf went out before the StopTransaction.
    _, frames = await station.request("GET", "/api/messages?after=0")
    reset_id = next(e["frame"][1] for e in frames if e["frame"][:3:2] == [2, "Reset"])
    conf = next(
        e["seq"] for e in frames if e["direction"] == "out" and e["frame"][:2] == [3, reset_id]
    )
    stop = next(e["seq"] for e in frames if e["frame"][:3:2] == [2, "StopTransaction"])
    assert conf < stop

    # After the boot: the statuses again, the cable still in the EV, no transaction resumed.
    await new.expect("StatusNotification", status(0, "Available"), after=boot_seq)
    after_boot = await new.expect("StatusNotification", {"connectorId": 1}, after=boot_seq)
    assert after_boot.payload["status"] in ("Preparing", "Finishing", "Available")
    await new.expect_none("StartTransaction", within=1.0, after=boot_seq)
    snapshot = await station.status()
    assert snapshot["registration"] == "Accepted"
    assert snapshot["connectors"][1]["transactionId"] is None
    assert snapshot["queuedMessages"] == 0


async def test_tc015_hard_reset_with_transaction(csms: CentralSystem, make_station) -> None:
    """TC_015_CS Hard Reset With Transaction. Nothing shrunk."""
    station = await make_station()
    session = await boot(csms, station)
    await reset_with_transaction(csms, station, session, "Hard")


async def test_tc016_soft_reset_with_transaction(csms: CentralSystem, make_station) -> None:
    """TC_016_CS Soft Reset With Transaction. Nothing shrunk."""
    station = await make_station()
    session = await boot(csms, station)
    await reset_with_transaction(csms, station, session, "Soft")


# ---------------------------------------------------------------------------- 07 Unlocking


async def test_tc017_1_unlock_no_session_socket(csms: CentralSystem, make_station) -> None:
    """TC_017_1_CS Unlock connector - no charging session running (not fixed cable).

    Socket variant: cable in (Preparing), UnlockConnector -> Unlocked ([S] 5.18); no
    transaction messages follow. Nothing shrunk.
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    mark = session.cursor()
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "Unlocked"}
    await session.expect_none("StartTransaction", within=1.0, after=mark)
    await session.expect_none("StopTransaction", within=0.1, after=mark)


async def test_tc017_2_unlock_no_session_fixed_cable(csms: CentralSystem, make_station) -> None:
    """TC_017_2_CS Unlock connector - no charging session running (fixed cable).

    Reference charger: a fixed cable cannot be unlocked -> NotSupported ([S] 5.18,
    [E] 3.84). Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "NotSupported"}


async def test_tc018_1_unlock_with_session_socket(csms: CentralSystem, make_station) -> None:
    """TC_018_1_CS Unlock Connector - With Charging Session (not fixed cable).

    Socket variant: charging; UnlockConnector -> Unlocked; the transaction is stopped first,
    StopTransaction(UnlockCommand, start idTag) -> Finishing; cable out -> Available
    ([S] 5.18). Nothing shrunk.
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "Unlocked"}
    stop = await session.expect("StopTransaction", {"transactionId": tx.transaction_id}, after=mark)
    assert stop.payload.get("reason") == "UnlockCommand"
    assert stop.payload.get("idTag") == TAG
    await session.expect("StatusNotification", status(1, "Finishing"), after=mark)
    mark = session.cursor()
    await station.unplug(1)
    await session.expect("StatusNotification", status(1, "Available"), after=mark)


async def test_tc018_2_unlock_with_session_fixed_cable(csms: CentralSystem, make_station) -> None:
    """TC_018_2_CS Unlock Connector - With Charging Session (fixed cable).

    Reference charger: charging; UnlockConnector -> NotSupported and the transaction goes on:
    no StopTransaction (watched 2 s), still Charging.
    """
    station = await make_station()
    session = await boot(csms, station)
    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "NotSupported"}
    await session.expect_none("StopTransaction", within=2.0, after=mark)
    await session.expect_none("StatusNotification", {"connectorId": 1}, within=0.1, after=mark)
    connector = await station.connector(1)
    assert connector["status"] == "Charging"
    assert connector["transactionId"] == tx.transaction_id
    assert not csms.record(station.identity).transaction(tx.transaction_id).ended


# ---------------------------------------------------------------------------- 13 Unlocking


async def test_tc030_unlock_failure(csms: CentralSystem, make_station) -> None:
    """TC_030_CS Unlock Failure.

    Socket variant with its lock jammed (control API lock-failure): UnlockConnector ->
    UnlockFailed ([S] 5.18: the unlock was tried and the connector is still locked). Once the
    lock works again the same request is Unlocked. Nothing shrunk.
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    await station.post("/api/connectors/1/lock-failure")
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "UnlockFailed"}
    status_code, _ = await station.request("DELETE", "/api/connectors/1/lock-failure")
    assert status_code == 200
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "Unlocked"}


async def test_tc031_unlock_unknown_connector(csms: CentralSystem, make_station) -> None:
    """TC_031_CS Unlock Connector - Unknown Connector.

    connectorId 9765 -> NotSupported ([E] 3.87, UnlockStatus: "ConnectorId is unknown").
    Run on the socket variant, whose real connectors would unlock, so the answer is about the
    unknown id and not the cable. Nothing shrunk.
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    answer = await session.call("UnlockConnector", {"connectorId": 9765})
    assert answer == {"status": "NotSupported"}
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "Unlocked"}
