"""OCTT 1.6 charge-point cases, modules 04 Cache and 05 Remote Actions (happy flow), run
against the real station process and a real central system.
"""

from __future__ import annotations

import asyncio

from ocpp_station import timefmt
from ocpp_station.csms.server import CentralSystem, StationSession
from ocpp_station.csms.session import Received
from tests.integration.conftest import StationProcess, boot

TAG = "OCTT-TAG-1"


# ---------------------------------------------------------------------------- helpers


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


def calls_after(session: StationSession, after: int, action: str) -> list[Received]:
    """The CALLs of `action` received with seq > after (up to now)."""
    return [m for m in session.messages if m.seq > after and m.action == action]


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def transaction_id(station: StationProcess, connector_id: int) -> int:
    """The central system's transactionId as the station knows it (once the .conf arrived)."""
    async with asyncio.timeout(10):
        while True:
            known = (await station.connector(connector_id))["transactionId"]
            if known is not None:
                return int(known)
            await asyncio.sleep(0.05)


async def enable_cache(session: StationSession) -> None:
    """The Authorization Cache on, and used before asking the central system ([S] 3.5.2)."""
    await configure(session, "AuthorizationCacheEnabled", "true")
    await configure(session, "LocalPreAuthorize", "true")


async def cached_session(
    station: StationProcess, session: StationSession, id_tag: str, connector_id: int = 1
) -> None:
    """A whole local session (Authorize, start, stop with the same card, unplug): afterwards
    the card is in the Authorization Cache from the central system's answers ([S] 3.5.2)."""
    await station.plug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Preparing"))
    await station.rfid(id_tag)
    await session.expect("Authorize", {"idTag": id_tag})
    await session.expect("StartTransaction", {"connectorId": connector_id, "idTag": id_tag})
    await session.expect("StatusNotification", status(connector_id, "Charging"))
    tx_id = await transaction_id(station, connector_id)
    await station.rfid(id_tag)
    await session.expect("StopTransaction", {"transactionId": tx_id})
    await session.expect("StatusNotification", status(connector_id, "Finishing"))
    await station.unplug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Available"))


# ---------------------------------------------------------------------------- 04 Cache


async def test_tc007_1_local_start_cached_id(csms: CentralSystem, make_station) -> None:
    """TC_007_1_CS Regular Start Charging Session - Cached Id.

    AuthorizationCacheEnabled and LocalPreAuthorize true; a card cached from an earlier
    session starts a transaction at once: StartTransaction with no Authorize.req ([S] 3.5.3).
    Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await enable_cache(session)
    await cached_session(station, session, TAG)

    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    mark = session.cursor()
    await station.rfid(TAG)
    await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert calls_after(session, mark, "Authorize") == []


async def test_tc007_2_remote_start_cached_id(csms: CentralSystem, make_station) -> None:
    """TC_007_2_CS Remote Start Charging Session - Cached Id.

    AuthorizeRemoteTxRequests, AuthorizationCacheEnabled and LocalPreAuthorize true; a
    RemoteStartTransaction for a cached card is authorized from the cache ([S] 5.11): no
    Authorize.req before StartTransaction. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizeRemoteTxRequests", "true")
    await enable_cache(session)
    await cached_session(station, session, TAG)

    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    mark = session.cursor()
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert calls_after(session, mark, "Authorize") == []


async def test_tc061_1_clear_cache_local(csms: CentralSystem, make_station) -> None:
    """TC_061_1_CS Clear Authorization Data in Authorization Cache - Local start.

    A card is cached by a session; ClearCache -> Accepted; the next presentation of that card
    goes to the central system: Authorize.req, then StartTransaction. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await enable_cache(session)
    await cached_session(station, session, TAG)
    assert await session.call("ClearCache", {}) == {"status": "Accepted"}

    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    await station.rfid(TAG)
    authorize = await session.expect("Authorize", {"idTag": TAG})
    start = await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert authorize.seq < start.seq


async def test_tc061_2_clear_cache_remote(csms: CentralSystem, make_station) -> None:
    """TC_061_2_CS Clear Authorization Data in Authorization Cache - Remote start.

    As TC_061_1 with a RemoteStartTransaction (AuthorizeRemoteTxRequests true): after
    ClearCache the remote idTag is authorized with an Authorize.req. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizeRemoteTxRequests", "true")
    await enable_cache(session)
    await cached_session(station, session, TAG)
    assert await session.call("ClearCache", {}) == {"status": "Accepted"}

    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    authorize = await session.expect("Authorize", {"idTag": TAG})
    start = await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert authorize.seq < start.seq


# ---------------------------------------------------------------------------- 05 Remote


async def test_tc010_remote_start_cable_plugged_first(csms: CentralSystem, make_station) -> None:
    """TC_010_CS Remote Start Charging Session - Cable Plugged in First.

    Plug in -> Preparing -> RemoteStartTransaction Accepted -> Authorize (AuthorizeRemoteTx
    Requests true) -> StartTransaction with the remote idTag -> Charging. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizeRemoteTxRequests", "true")
    await station.plug(1)
    preparing = await session.expect("StatusNotification", status(1, "Preparing"))
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    authorize = await session.expect("Authorize", {"idTag": TAG})
    start = await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert preparing.seq < authorize.seq < start.seq
    tx_id = await transaction_id(station, 1)
    assert csms.record(station.identity).open_transactions[tx_id].id_tag == TAG


async def test_tc011_1_remote_start_first(csms: CentralSystem, make_station) -> None:
    """TC_011_1_CS Remote Start Charging Session - Remote Start First.

    AuthorizeRemoteTxRequests true: RemoteStartTransaction Accepted -> Authorize -> Preparing
    -> plug in -> StartTransaction -> Charging. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizeRemoteTxRequests", "true")
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    authorize = await session.expect("Authorize", {"idTag": TAG})
    preparing = await session.expect("StatusNotification", status(1, "Preparing"))
    await station.plug(1)
    start = await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    assert authorize.seq < preparing.seq < start.seq


async def test_tc011_2_remote_start_time_out(csms: CentralSystem, make_station) -> None:
    """TC_011_2_CS Remote Start Charging Session - Time Out.

    RemoteStartTransaction Accepted -> Authorize -> Preparing; no cable -> Available after
    ConnectionTimeOut (OCTT: 45 s, Available within 45-55 s) and no transaction. Shrunk:
    ConnectionTimeOut 3 s, Available expected within 3-1 .. 3+10 s.
    """
    timeout = 3
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AuthorizeRemoteTxRequests", "true")
    await configure(session, "ConnectionTimeOut", str(timeout))
    mark = session.cursor()
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("Authorize", {"idTag": TAG})
    preparing = await session.expect("StatusNotification", status(1, "Preparing"))
    available = await session.expect(
        "StatusNotification", status(1, "Available"), timeout=timeout + 10
    )
    waited = timefmt.parse(available.payload["timestamp"]) - timefmt.parse(
        preparing.payload["timestamp"]
    )
    assert waited.total_seconds() >= timeout - 1, waited
    assert calls_after(session, mark, "StartTransaction") == []
    assert (await station.connector(1))["status"] == "Available"


async def test_tc012_remote_stop(csms: CentralSystem, make_station) -> None:
    """TC_012_CS Remote Stop Charging Session.

    During a transaction RemoteStopTransaction -> Accepted -> StopTransaction(Remote, the
    start idTag) and Finishing in either order; the cable is unplugged -> Available.
    Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    tx_id = await transaction_id(station, 1)

    mark = session.cursor()
    answer = await session.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert answer == {"status": "Accepted"}
    stop = await session.expect("StopTransaction", {"transactionId": tx_id}, after=mark)
    assert stop.payload.get("reason") == "Remote", stop.payload
    assert stop.payload.get("idTag") == TAG, stop.payload
    assert isinstance(stop.payload["meterStop"], int)
    timefmt.parse(stop.payload["timestamp"])
    await session.expect("StatusNotification", status(1, "Finishing"), after=mark)
    assert (await station.connector(1))["transactionId"] is None
    unplug_mark = session.cursor()
    await station.unplug(1)
    await session.expect("StatusNotification", status(1, "Available"), after=unplug_mark)
    finished = csms.record(station.identity).transaction(tx_id)
    assert finished is not None and finished.stop_reason == "Remote"
