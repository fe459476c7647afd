"""OCTT 1.6 charge-point cases, modules 16/17 Configuration Keys and Fault (non-happy) and
24 Data Transfer, run against the real station process and a real central system.
"""

from __future__ import annotations

import asyncio

from ocpp_station.csms.server import CentralSystem, StationSession
from ocpp_station.rpc.errors import CallErrorReceived
from tests.integration.conftest import StationProcess, boot

TAG = "OCTT-TAG-1"


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


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


# ---------------------------------------------------------------------------- 16 Config keys


async def test_tc040_1_configuration_key_not_supported(csms: CentralSystem, make_station) -> None:
    """TC_040_1_CS Configuration Keys - NotSupported.

    ChangeConfiguration of a key the station does not have ("Testing") -> NotSupported
    ([S] 5.3); GetConfiguration lists it as unknown. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    answer = await session.call("ChangeConfiguration", {"key": "Testing", "value": "true"})
    assert answer == {"status": "NotSupported"}
    answer = await session.call("GetConfiguration", {"key": ["Testing"]})
    assert answer.get("unknownKey") == ["Testing"], answer
    assert answer.get("configurationKey", []) == [], answer


async def test_tc040_2_configuration_key_invalid_value(csms: CentralSystem, make_station) -> None:
    """TC_040_2_CS Configuration Keys - Invalid value.

    ChangeConfiguration MeterValueSampleInterval = -1 -> Rejected ([S] 5.3: out-of-range
    values; a CALLERROR PropertyConstraintViolation is tolerated as in OCTT), and the value
    stays what it was. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    before = (await read_config(session, "MeterValueSampleInterval"))["value"]
    try:
        answer = await session.call(
            "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "-1"}
        )
    except CallErrorReceived as error:
        assert error.code == "PropertyConstraintViolation", error
    else:
        assert answer == {"status": "Rejected"}
    assert (await read_config(session, "MeterValueSampleInterval"))["value"] == before


# ---------------------------------------------------------------------------- 17 Fault


async def test_tc041_fault_behavior(csms: CentralSystem, make_station) -> None:
    """TC_041_CS Fault Behavior.

    A hardware fault on an idle connector -> StatusNotification Faulted with its errorCode;
    the fault clears -> back to Available with NoError ([S] 4.9, I1). Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    mark = session.cursor()
    await station.post("/api/connectors/1/fault", {"errorCode": "GroundFailure"})
    faulted = await session.expect("StatusNotification", status(1, "Faulted"), after=mark)
    assert faulted.payload["errorCode"] == "GroundFailure", faulted.payload
    assert (await station.connector(1))["status"] == "Faulted"
    status_code, _ = await station.request("DELETE", "/api/connectors/1/fault")
    assert status_code == 200
    back = await session.expect("StatusNotification", status(1, "Available"))
    assert back.payload["errorCode"] == "NoError", back.payload
    # Connector 2 and the charge point are not concerned by connector 1's fault.
    others = [
        m.payload
        for m in session.messages
        if m.seq > mark and m.action == "StatusNotification" and m.payload["connectorId"] != 1
    ]
    assert others == [], others


async def test_tc041_fault_behavior_during_transaction(csms: CentralSystem, make_station) -> None:
    """TC_041_CS Fault Behavior, while charging.

    A fault during a transaction -> Faulted with its errorCode; the fault clears -> back to
    Charging ([S] 4.9, I3), the same transaction, no StopTransaction. Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    await session.expect("StatusNotification", status(1, "Preparing"))
    await station.rfid(TAG)
    await session.expect("StartTransaction", {"connectorId": 1, "idTag": TAG})
    await session.expect("StatusNotification", status(1, "Charging"))
    tx_id = await transaction_id(station, 1)
    mark = session.cursor()
    await station.post(
        "/api/connectors/1/fault", {"errorCode": "OverCurrentFailure", "info": "test fault"}
    )
    faulted = await session.expect("StatusNotification", status(1, "Faulted"), after=mark)
    assert faulted.payload["errorCode"] == "OverCurrentFailure", faulted.payload
    status_code, _ = await station.request("DELETE", "/api/connectors/1/fault")
    assert status_code == 200
    back = await session.expect("StatusNotification", status(1, "Charging"))
    assert back.payload["errorCode"] == "NoError", back.payload
    assert [m for m in session.messages if m.seq > mark and m.action == "StopTransaction"] == []
    assert (await station.connector(1))["transactionId"] == tx_id


# ---------------------------------------------------------------------------- 24 Data Transfer


async def test_tc062_data_transfer_to_charge_point(csms: CentralSystem, make_station) -> None:
    """TC_062_CS Data Transfer to a Charge Point.

    DataTransfer from the central system with a vendorId the station does not know ->
    Rejected, UnknownVendorId or UnknownMessageId ([S] 4.3, 5.6), within OCTT's 5 s.
    Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    answer = await session.call(
        "DataTransfer",
        {"vendorId": "org.octt.unknown", "messageId": "TestMessage", "data": "payload"},
        timeout=5,
    )
    assert answer["status"] in ("Rejected", "UnknownVendorId", "UnknownMessageId"), answer
    assert (await station.status())["connected"] is True
