"""OCTT 1.6 charge-point cases, modules 10/11 Basic Actions (non-happy) and 12 Remote Actions
(non-happy), run against the real station process and a real central system.

TC_024 (lock failure at session start) needs a lock at the station: the `--socket` variant.
"""

from __future__ import annotations

import asyncio

import pytest

from ocpp_station.csms.records import Transaction
from ocpp_station.csms.server import CentralSystem, StationSession
from ocpp_station.csms.tags import TagInfo
from ocpp_station.rpc.errors import CallErrorReceived
from tests.integration.conftest import StationProcess, boot

TAG = "OCTT-TAG-1"
INVALID_TAG = "OCTT-INVALID"
# OCTT's unknown transaction id in TC_028.
UNKNOWN_TRANSACTION = 487249487


# ---------------------------------------------------------------------------- helpers


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def remote_charging(
    csms: CentralSystem, station: StationProcess, session: StationSession, connector_id: int = 1
) -> Transaction:
    """Cable plugged (Preparing), RemoteStartTransaction Accepted, StartTransaction with the
    same idTag, Charging. Returns the central system's transaction."""
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
    record = csms.record(station.identity)
    async with asyncio.timeout(10):
        while True:
            for tx in record.open_transactions.values():
                if tx.connector_id == connector_id:
                    return tx
            await asyncio.sleep(0.05)


def invalid_tag(csms: CentralSystem) -> None:
    """The central system knows INVALID_TAG as Invalid (and accepts any other tag)."""
    csms.tags[INVALID_TAG] = TagInfo("Invalid")


# ---------------------------------------------------------------------------- 10/11 Basic


async def test_tc023_4_local_start_authorize_invalid(csms: CentralSystem, make_station) -> None:
    """TC_023_4_CS Start Charging Session - Authorize invalid (local).

    As OCTT: LocalPreAuthorize true (an unknown card still needs the central system, [S]
    3.5.1). Cable in (Preparing), the card is presented, Authorize.conf Invalid -> no
    StartTransaction (watched 5 s, shrunk from 20) and, with ConnectionTimeOut 3 (shrunk from
    the factory 1000), the connector goes back to Available or Finishing.
    """
    invalid_tag(csms)
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "LocalPreAuthorize", "true")
    await configure(session, "ConnectionTimeOut", "3")
    mark = session.cursor()
    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"), after=mark)
    await station.rfid(INVALID_TAG, 1)
    await session.expect("Authorize", {"idTag": INVALID_TAG}, after=mark)
    await session.expect_none("StartTransaction", within=5.0, after=mark)
    ended = await session.expect(
        "StatusNotification",
        lambda p: p["connectorId"] == 1 and p["status"] in ("Available", "Finishing"),
        after=mark,
    )
    charged = [
        m
        for m in session.messages
        if m.seq > mark
        and m.action == "StatusNotification"
        and m.payload["status"] in ("Charging", "SuspendedEV", "SuspendedEVSE")
    ]
    assert not charged, charged
    assert (await station.connector(1))["status"] == ended.payload["status"]
    assert (await station.connector(1))["transactionId"] is None


async def test_tc023_5_remote_start_authorize_invalid(csms: CentralSystem, make_station) -> None:
    """TC_023_5_CS Start Charging Session - Authorize invalid (remote).

    AuthorizeRemoteTxRequests true (factory): RemoteStartTransaction for an invalid card is
    Accepted, the card is authorized like a local one ([S] 5.11) and Authorize.conf Invalid
    -> no transaction: no StartTransaction (watched 5 s, shrunk from 20), the connector ends
    Available.
    """
    invalid_tag(csms)
    station = await make_station()
    session = await boot(csms, station)
    entry = await session.call("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    assert entry["configurationKey"][0]["value"].lower() == "true"
    mark = session.cursor()
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": INVALID_TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("Authorize", {"idTag": INVALID_TAG}, after=mark)
    await session.expect_none("StartTransaction", within=5.0, after=mark)
    connector = await station.connector(1)
    assert (connector["status"], connector["transactionId"]) == ("Available", None)
    statuses = [
        m.payload["status"]
        for m in session.messages
        if m.seq > mark and m.action == "StatusNotification" and m.payload["connectorId"] == 1
    ]
    # At most a Preparing that was given up again; never a charging state.
    assert set(statuses) <= {"Preparing", "Available"}, statuses
    if statuses:
        assert statuses[-1] == "Available", statuses


async def test_tc024_lock_failure(csms: CentralSystem, make_station) -> None:
    """TC_024_CS Start Charging Session - Lock Failure.

    Socket variant with its lock jammed: RemoteStartTransaction Accepted -> Authorize ->
    Preparing; the cable goes in and will not lock -> StatusNotification Faulted with errorCode
    ConnectorLockFailure, and no StartTransaction (watched 3 s, shrunk from 10).
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    await station.post("/api/connectors/1/lock-failure")
    mark = session.cursor()
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("Authorize", {"idTag": TAG}, after=mark)
    await session.expect("StatusNotification", status(1, "Preparing"), after=mark)
    await station.plug(1)
    await session.expect(
        "StatusNotification",
        {"connectorId": 1, "status": "Faulted", "errorCode": "ConnectorLockFailure"},
        after=mark,
    )
    await session.expect_none("StartTransaction", within=3.0, after=mark)
    assert (await station.connector(1))["transactionId"] is None


# ---------------------------------------------------------------------------- 12 Remote


async def test_tc026_remote_start_rejected(csms: CentralSystem, make_station) -> None:
    """TC_026_CS Remote Start Charging Session - Rejected.

    A transaction runs on connector 1; a second RemoteStartTransaction for that connector is
    Rejected ([S] 5.11) and starts nothing (watched 2 s). Nothing else shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER-1"})
    assert answer == {"status": "Rejected"}
    await session.expect_none("StartTransaction", within=2.0, after=mark)
    await session.expect_none("Authorize", within=0.1, after=mark)
    assert (await station.connector(1))["transactionId"] == tx.transaction_id


async def test_tc027_remote_start_connector_zero(csms: CentralSystem, make_station) -> None:
    """TC_027_CS Remote start transaction - connector id shall not be 0.

    RemoteStartTransaction with connectorId 0 -> CALLERROR PropertyConstraintViolation (the
    field's value is not allowed, OCPP-J 4.2.3); nothing starts (watched 2 s).
    """
    station = await make_station()
    session = await boot(csms, station)
    mark = session.cursor()
    with pytest.raises(CallErrorReceived) as raised:
        await session.call("RemoteStartTransaction", {"connectorId": 0, "idTag": TAG})
    assert raised.value.code == "PropertyConstraintViolation"
    await session.expect_none("Authorize", within=2.0, after=mark)
    await session.expect_none("StartTransaction", within=0.1, after=mark)
    await session.expect_none("StatusNotification", within=0.1, after=mark)


async def test_tc028_remote_stop_rejected(csms: CentralSystem, make_station) -> None:
    """TC_028_CS Remote Stop Transaction - Rejected.

    While a transaction runs, RemoteStopTransaction for the unknown id 487249487 -> Rejected
    ([S] 5.12) and no StopTransaction (watched 2 s); the transaction goes on.
    """
    station = await make_station()
    session = await boot(csms, station)
    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    answer = await session.call("RemoteStopTransaction", {"transactionId": UNKNOWN_TRANSACTION})
    assert answer == {"status": "Rejected"}
    await session.expect_none("StopTransaction", within=2.0, after=mark)
    connector = await station.connector(1)
    assert (connector["status"], connector["transactionId"]) == ("Charging", tx.transaction_id)
