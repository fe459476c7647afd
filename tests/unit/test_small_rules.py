"""Small rules of the station's building blocks, each stated once: the BootNotification fields,
the DataTransfer request, OCPP-J errors, a new charge point, a connector's warnings, signals,
a reset that can be repeated, a station made inoperative that stays so."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station import profiles
from ocpp_station.rpc.errors import CallErrorReceived, NotSupported, RpcTimeout
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.charge_point import ChargePoint
from ocpp_station.station.connector import Connector
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.station.events import Signal
from ocpp_station.station.transactions import Sessions
from ocpp_station.storage import StationStore
from tests.unit.harness import Harness

ENERGY = "Energy.Active.Import.Register"


def test_the_boot_notification_carries_every_field_known_and_no_empty_one() -> None:
    full = BootInfo("V", "M", "S1", "1.2", "BOX", "MeterCo", "MS9")
    assert full.payload() == {
        "chargePointVendor": "V",
        "chargePointModel": "M",
        "chargePointSerialNumber": "S1",
        "chargeBoxSerialNumber": "BOX",
        "firmwareVersion": "1.2",
        "meterType": "MeterCo",
        "meterSerialNumber": "MS9",
    }
    assert BootInfo("V", "M", serial="").payload() == {
        "chargePointVendor": "V",
        "chargePointModel": "M",
    }


async def test_a_data_transfer_request_holds_only_the_fields_given() -> None:
    h = Harness()
    await h.boot()
    h.csms.clear()
    service = h.service(DataTransferService)
    assert await service.send("Vendor") == {"status": "UnknownVendorId"}
    await service.send("Vendor", "Msg", "payload")
    await service.send("Vendor", data="")
    assert h.csms.of("DataTransfer") == [
        {"vendorId": "Vendor"},
        {"vendorId": "Vendor", "messageId": "Msg", "data": "payload"},
        {"vendorId": "Vendor", "data": ""},
    ]
    await h.close()


def test_ocpp_errors_say_their_code_and_description() -> None:
    bare = NotSupported()
    assert (str(bare), bare.description, bare.details) == ("NotSupported", "", {})
    told = NotSupported("no such thing", {"why": 1})
    assert (str(told), told.description, told.details) == (
        "NotSupported: no such thing",
        "no such thing",
        {"why": 1},
    )
    received = CallErrorReceived("Reset", "InternalError", "boom", None)
    assert str(received) == "Reset answered with InternalError: boom" and received.details == {}
    assert str(RpcTimeout("Heartbeat", 2.5)) == "no answer to Heartbeat within 2.5 s"


def test_a_new_charge_point_is_operative_available_and_without_fault() -> None:
    cp = ChargePoint([1, 2])
    assert (cp.operative, cp.fault, cp.status, cp.error) == (
        True,
        None,
        "Available",
        ("NoError", None),
    )
    assert [c.connector_id for c in cp] == [1, 2] and len(cp) == 2


def test_a_warning_is_not_a_fault() -> None:
    c = Connector(1)
    c.sense_fault(("EVCommunicationError", "no PWM"))  # §4.9: charging may go on
    assert (c.fault, c.warning) == (None, ("EVCommunicationError", "no PWM"))
    c.sense_fault(("GroundFailure", None))
    assert (c.fault, c.warning) == (("GroundFailure", None), None)
    c.sense_fault(None)
    assert (c.fault, c.warning) == (None, None)


def test_a_signal_passes_keywords_too() -> None:
    got: list[tuple[int, str]] = []

    def listener(n: int, *, word: str) -> None:
        got.append((n, word))

    signal: Signal[...] = Signal()
    signal.connect(listener)
    signal.emit(1, word="one")
    assert got == [(1, "one")]


async def test_a_second_reset_after_the_first_is_accepted_too() -> None:
    h = Harness()
    await h.boot()
    assert (await h.request("Reset", {"type": "Soft"}))["status"] == "Accepted"
    await h.run_for(12)  # drained (at most 10 s) and rebooted
    assert h.reboots == ["Soft"]
    assert (await h.request("Reset", {"type": "Hard"}))["status"] == "Accepted"
    await h.run_for(12)
    assert h.reboots == ["Soft", "Hard"]
    await h.close()


@pytest.mark.parametrize("connector_id", [0, 1])
async def test_an_inoperative_station_or_connector_stays_so_after_a_restart(
    connector_id: int, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    h = Harness(store=StationStore(path))
    await h.boot()
    await h.request("ChangeAvailability", {"connectorId": connector_id, "type": "Inoperative"})
    await h.close()
    h.store.close()
    again = Harness(store=StationStore(path))
    await again.boot()
    assert again.status(connector_id) == "Unavailable"
    why = again.service(Sessions).why_not_start(again.connector(1))
    assert why == (
        "the station is unavailable" if connector_id == 0 else "connector 1 is unavailable"
    )
    await again.close()
    again.store.close()


def test_a_station_has_fixed_cables_unless_told_otherwise() -> None:
    # The reference charger is a DC charger with fixed cables: nothing to unlock ([E] 3.84).
    config = profiles.configuration(connectors=2, measurands=frozenset({ENERGY}))
    entries = {name: (value, readonly) for name, value, readonly in config.entries()}
    assert entries["UnlockConnectorOnEVSideDisconnect"] == ("false", True)
