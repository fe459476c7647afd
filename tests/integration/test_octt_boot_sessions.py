"""OCTT 1.6 charge-point cases, modules 01 Cold Boot (TC_002), 02 Start Charging Session and
03 Stop Charging Session, run against the real station process and a real central system.

TC_001_CS is in test_cold_boot.py.
"""

from __future__ import annotations

import asyncio

from ocpp_station import timefmt
from ocpp_station.csms.server import CentralSystem, StationSession
from ocpp_station.csms.session import Received
from ocpp_station.csms.tags import TagInfo
from tests.integration.conftest import START_TIMEOUT, StationProcess, boot

TAG = "OCTT-TAG-1"


# ---------------------------------------------------------------------------- helpers


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


def actions_between(session: StationSession, after: int, until: int, action: str) -> list[Received]:
    """The CALLs of `action` with after < seq < until."""
    return [m for m in session.messages if after < m.seq < until and m.action == action]


def statuses_of(session: StationSession, connector_id: int, after: int) -> list[str]:
    """The statuses reported for a connector in StatusNotifications with seq > after."""
    return [
        m.payload["status"]
        for m in session.messages
        if m.seq > after
        and m.action == "StatusNotification"
        and m.payload["connectorId"] == connector_id
    ]


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def read_config(session: StationSession, key: str) -> dict[str, object]:
    answer = await session.call("GetConfiguration", {"key": [key]})
    entries = [e for e in answer["configurationKey"] if e["key"] == key]
    assert len(entries) == 1, answer
    return entries[0]


async def transaction_id(station: StationProcess, connector_id: int) -> int:
    """The central system's transactionId as the station knows it (once the .conf arrived)."""
    async with asyncio.timeout(10):
        while True:
            known = (await station.connector(connector_id))["transactionId"]
            if known is not None:
                return int(known)
            await asyncio.sleep(0.05)


async def remote_start_plugged(
    station: StationProcess, session: StationSession, id_tag: str, connector_id: int = 1
) -> Received:
    """Plug in, RemoteStartTransaction Accepted, Authorize (AuthorizeRemoteTxRequests is true
    by factory default), StartTransaction, Charging. Returns the StartTransaction."""
    await station.plug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Preparing"))
    answer = await session.call(
        "RemoteStartTransaction", {"connectorId": connector_id, "idTag": id_tag}
    )
    assert answer == {"status": "Accepted"}
    await session.expect("Authorize", {"idTag": id_tag})
    start = await session.expect("StartTransaction", {"connectorId": connector_id, "idTag": id_tag})
    await session.expect("StatusNotification", status(connector_id, "Charging"))
    return start


async def local_start_plugged(
    station: StationProcess, session: StationSession, id_tag: str, connector_id: int = 1
) -> Received:
    """Plug in, present the card, Authorize, StartTransaction, Charging."""
    await station.plug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Preparing"))
    await station.rfid(id_tag)
    await session.expect("Authorize", {"idTag": id_tag})
    start = await session.expect("StartTransaction", {"connectorId": connector_id, "idTag": id_tag})
    await session.expect("StatusNotification", status(connector_id, "Charging"))
    return start


# ---------------------------------------------------------------------------- 01 Cold Boot


async def test_tc002_cold_boot_pending(csms: CentralSystem, make_station) -> None:
    """TC_002_CS Cold Boot Charge Point - Pending.

    BootNotification answered Pending: the station answers GetConfiguration and
    ChangeConfiguration (MeterValueSampleInterval) and sends no request of its own ([S] 4.2),
    boots again no earlier than `interval`, and once Accepted reports every connector and
    sends Heartbeats. A card presented while Pending provokes no Authorize. Shrunk: the
    boot `interval` (also the HeartbeatInterval once accepted) is 2 s.
    """
    interval = 2
    csms.boot_status = "Pending"
    csms.heartbeat_interval = interval
    station = await make_station()
    session = await csms.wait_for_station(station.identity, timeout=START_TIMEOUT)
    first = await session.expect("BootNotification", timeout=START_TIMEOUT)

    # [S] 4.2: while Pending the central system may read and change the configuration.
    answer = await session.call("GetConfiguration", {})
    keys = {entry["key"]: entry for entry in answer["configurationKey"]}
    assert "MeterValueSampleInterval" in keys and "HeartbeatInterval" in keys, answer
    new_interval = str(int(keys["MeterValueSampleInterval"]["value"]) + 10)
    await configure(session, "MeterValueSampleInterval", new_interval)
    assert (await read_config(session, "MeterValueSampleInterval"))["value"] == new_interval
    assert (await station.status())["registration"] == "Pending"
    # A card shown now must not make the station send an Authorize.req ([S] 4.2).
    await station.rfid(TAG)

    # The next BootNotification, no earlier than the interval after the first.
    second = await session.expect("BootNotification", timeout=interval + 10)
    assert (second.time - first.time).total_seconds() >= interval - 0.5, (first, second)
    csms.boot_status = "Accepted"
    await session.expect("StatusNotification", {"connectorId": 0}, timeout=interval + 10)
    accepted = [m for m in session.messages if m.action == "BootNotification"][-1]
    # [S] 4.2: before Accepted the station sent nothing but BootNotifications.
    before = [m.action for m in session.messages if m.seq <= accepted.seq]
    assert set(before) == {"BootNotification"} and len(before) >= 2, before
    assert csms.record(station.identity).registration == "Accepted"

    # [E] 3.22: after Accepted, a status for connector 0 and each connector, then Heartbeats.
    for connector_id in (1, 2):
        await session.expect("StatusNotification", {"connectorId": connector_id})
    reported = [
        (m.payload["connectorId"], m.payload["status"])
        for m in session.messages
        if m.seq > accepted.seq and m.action == "StatusNotification"
    ]
    assert reported[:3] == [(0, "Available"), (1, "Available"), (2, "Available")], reported
    await session.expect("Heartbeat", timeout=interval + 10)
    assert (await read_config(session, "HeartbeatInterval"))["value"] == str(interval)
    assert (await read_config(session, "MeterValueSampleInterval"))["value"] == new_interval
    assert (await station.status())["registration"] == "Accepted"


# ---------------------------------------------------------------------------- 02 Start


async def test_tc003_plugin_first(csms: CentralSystem, make_station) -> None:
    """TC_003_CS Regular Charging Session - Plugin First.

    Plug in -> Preparing -> card -> Authorize -> StartTransaction with the same idTag ->
    Charging. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    preparing = await session.expect("StatusNotification", status(1, "Preparing"))
    await station.rfid(TAG)
    authorize = await session.expect("Authorize", {"idTag": TAG})
    start = await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    charging = await session.expect("StatusNotification", status(1, "Charging"))
    assert preparing.seq < authorize.seq < start.seq
    assert isinstance(start.payload["meterStart"], int) and start.payload["meterStart"] >= 0
    timefmt.parse(start.payload["timestamp"])
    assert charging.payload["errorCode"] == "NoError"
    assert statuses_of(session, 1, preparing.seq) == ["Charging"]
    tx_id = await transaction_id(station, 1)
    transaction = csms.record(station.identity).open_transactions[tx_id]
    assert transaction.id_tag == TAG and transaction.connector_id == 1


async def test_tc004_1_identification_first(csms: CentralSystem, make_station) -> None:
    """TC_004_1_CS Regular Charging Session - Identification First.

    Card -> Authorize -> Preparing -> plug in -> StartTransaction -> Charging. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await station.rfid(TAG)
    await session.expect("Authorize", {"idTag": TAG})
    preparing = await session.expect("StatusNotification", {"status": "Preparing"})
    connector_id = preparing.payload["connectorId"]
    assert connector_id in (1, 2)
    await station.plug(connector_id)
    start = await session.expect("StartTransaction", {"connectorId": connector_id, "idTag": TAG})
    await session.expect("StatusNotification", status(connector_id, "Charging"))
    assert start.seq > preparing.seq
    assert statuses_of(session, connector_id, preparing.seq) == ["Charging"]
    tx_id = await transaction_id(station, connector_id)
    assert csms.record(station.identity).open_transactions[tx_id].id_tag == TAG


async def test_tc004_2_identification_first_connection_timeout(
    csms: CentralSystem, make_station
) -> None:
    """TC_004_2_CS Regular Charging Session - Identification First - ConnectionTimeOut.

    Card -> Authorize -> Preparing; no cable -> Available after ConnectionTimeOut (tolerance
    -1/+10 s) and no transaction. Shrunk: ConnectionTimeOut 3 s.
    """
    timeout = 3
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "ConnectionTimeOut", str(timeout))
    mark = session.cursor()
    await station.rfid(TAG)
    await session.expect("Authorize", {"idTag": TAG})
    preparing = await session.expect("StatusNotification", {"status": "Preparing"})
    connector_id = preparing.payload["connectorId"]
    available = await session.expect(
        "StatusNotification", status(connector_id, "Available"), timeout=timeout + 10
    )
    waited = timefmt.parse(available.payload["timestamp"]) - timefmt.parse(
        preparing.payload["timestamp"]
    )
    assert waited.total_seconds() >= timeout - 1, waited
    assert actions_between(session, mark, session.cursor() + 1, "StartTransaction") == []
    assert (await station.connector(connector_id))["status"] == "Available"


# ---------------------------------------------------------------------------- 03 Stop


async def test_tc005_1_ev_side_disconnect_stop_and_unlock(
    csms: CentralSystem, make_station
) -> None:
    """TC_005_1_CS EV Side Disconnected - StopTransactionOnEVSideDisconnect=true,
    UnlockConnectorOnEVSideDisconnect=true.

    On the socket variant (the fixed-cable charger cannot unlock): remote start -> Charging ->
    the cable leaves the EV -> StopTransaction(EVDisconnected, the start idTag) -> Finishing ->
    Available. Nothing shrunk.
    """
    station = await make_station("--socket")
    session = await boot(csms, station)
    await configure(session, "StopTransactionOnEVSideDisconnect", "true")
    await configure(session, "UnlockConnectorOnEVSideDisconnect", "true")
    await remote_start_plugged(station, session, TAG)
    tx_id = await transaction_id(station, 1)
    charging_mark = session.cursor()
    await station.unplug(1)
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=charging_mark)
    assert stop.payload.get("reason") == "EVDisconnected", stop.payload
    assert stop.payload.get("idTag") == TAG, stop.payload
    assert isinstance(stop.payload["meterStop"], int)
    await session.expect("StatusNotification", status(1, "Available"), after=charging_mark)
    assert statuses_of(session, 1, charging_mark) == ["Finishing", "Available"]
    assert (await station.connector(1))["transactionId"] is None


async def test_tc005_2_ev_side_disconnect_fixed_cable(csms: CentralSystem, make_station) -> None:
    """TC_005_2_CS EV Side Disconnected - StopTransactionOnEVSideDisconnect=true,
    UnlockConnectorOnEVSideDisconnect=false.

    The reference charger (fixed cable: UnlockConnectorOnEVSideDisconnect false, read-only,
    [E] 3.84): remote start -> Charging -> the cable leaves the EV ->
    StopTransaction(EVDisconnected, the start idTag) -> Finishing -> Available; then
    UnlockConnector -> NotSupported (a fixed cable has no lock). Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    assert (await read_config(session, "StopTransactionOnEVSideDisconnect"))["value"] == "true"
    unlock_key = await read_config(session, "UnlockConnectorOnEVSideDisconnect")
    assert unlock_key["value"] == "false" and unlock_key["readonly"] is True, unlock_key
    await remote_start_plugged(station, session, TAG)
    tx_id = await transaction_id(station, 1)
    charging_mark = session.cursor()
    await station.unplug(1)
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=charging_mark)
    assert stop.payload.get("reason") == "EVDisconnected", stop.payload
    assert stop.payload.get("idTag") == TAG, stop.payload
    await session.expect("StatusNotification", status(1, "Available"), after=charging_mark)
    assert statuses_of(session, 1, charging_mark) == ["Finishing", "Available"]
    answer = await session.call("UnlockConnector", {"connectorId": 1})
    assert answer == {"status": "NotSupported"}


async def test_tc005_3_ev_side_disconnect_keep_transaction(
    csms: CentralSystem, make_station
) -> None:
    """TC_005_3_CS EV Side Disconnected - StopTransactionOnEVSideDisconnect=false.

    Remote start -> Charging -> the cable leaves the EV -> SuspendedEV or SuspendedEVSE, the
    transaction goes on ([S] 4.10) -> RemoteStopTransaction -> StopTransaction(Remote, the
    start idTag) -> Finishing -> Available. Shrunk: no StopTransaction is watched for 2 s.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "StopTransactionOnEVSideDisconnect", "false")
    await remote_start_plugged(station, session, TAG)
    tx_id = await transaction_id(station, 1)
    charging_mark = session.cursor()
    await station.unplug(1)
    suspended = await session.expect(
        "StatusNotification",
        lambda p: p["connectorId"] == 1 and p["status"] in ("SuspendedEV", "SuspendedEVSE"),
    )
    await session.expect_none("StopTransaction", within=2, after=charging_mark)
    assert (await station.connector(1))["transactionId"] == tx_id
    assert statuses_of(session, 1, charging_mark) == [suspended.payload["status"]]

    stop_mark = session.cursor()
    answer = await session.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert answer == {"status": "Accepted"}
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=stop_mark)
    assert stop.payload.get("reason") == "Remote", stop.payload
    assert stop.payload.get("idTag") == TAG, stop.payload
    await session.expect("StatusNotification", status(1, "Available"), after=stop_mark)
    assert statuses_of(session, 1, stop_mark) == ["Finishing", "Available"]


async def test_tc068_stop_with_start_id_tag(csms: CentralSystem, make_station) -> None:
    """TC_068_CS Stop transaction - IdTag matches StartTransaction IdTag.

    The card that started the transaction stops it without an Authorize.req;
    StopTransaction carries that idTag -> Finishing. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await local_start_plugged(station, session, TAG)
    tx_id = await transaction_id(station, 1)
    mark = session.cursor()
    await station.rfid(TAG)
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=mark)
    assert stop.payload.get("idTag") == TAG, stop.payload
    assert stop.payload.get("reason", "Local") == "Local", stop.payload
    await session.expect("StatusNotification", status(1, "Finishing"), after=mark)
    # [S] 3.10 / TC_068: the start idTag is known; no Authorize before or after the stop.
    assert actions_between(session, mark, session.cursor() + 1, "Authorize") == []


async def test_tc069_stop_with_same_parent_id_tag(csms: CentralSystem, make_station) -> None:
    """TC_069_CS Stop transaction - ParentIdTag matches StartTransaction ParentIdTag.

    The central system gives both cards the same parentIdTag ([S] 3.10): the second card is
    authorized and stops the transaction the first one started; StopTransaction carries the
    second card -> Finishing. Nothing shrunk.
    """
    first_tag, second_tag = "OCTT-TAG-A", "OCTT-TAG-B"
    csms.tags[first_tag] = TagInfo(parent_id_tag="OCTT-GROUP")
    csms.tags[second_tag] = TagInfo(parent_id_tag="OCTT-GROUP")
    station = await make_station()
    session = await boot(csms, station)
    await local_start_plugged(station, session, first_tag)
    tx_id = await transaction_id(station, 1)
    mark = session.cursor()
    await station.rfid(second_tag)
    authorize = await session.expect("Authorize", {"idTag": second_tag}, after=mark)
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=mark)
    assert authorize.seq < stop.seq
    assert stop.payload.get("idTag") == second_tag, stop.payload
    await session.expect("StatusNotification", status(1, "Finishing"), after=mark)
    assert (await station.connector(1))["transactionId"] is None
