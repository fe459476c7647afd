"""Remote control, availability, reset, unlock, configuration and data transfer (§5)."""

from __future__ import annotations

import pytest

from ocpp_station import profiles
from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.config_keys import FEATURE_PROFILES
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.storage.store import StationStore
from tests.unit.harness import Harness
from tests.unit.test_station_sessions import booted, steps


async def test_tc010_remote_start_with_cable_plugged() -> None:
    h = await booted()
    await h.plug(1)
    h.csms.clear()
    assert (await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})) == {
        "status": "Accepted"
    }
    assert steps(h) == ["Authorize", "StartTransaction", "S1:Charging"]
    await h.close()


async def test_tc011_remote_start_first_then_timeout() -> None:
    h = await booted(config={"ConnectionTimeOut": "45"})
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    assert steps(h) == ["Authorize", "S1:Preparing"]
    await h.run_for(44)
    assert h.status(1) == "Preparing"
    await h.run_for(2)
    assert h.status(1) == "Available"
    await h.close()


async def test_remote_start_without_authorize_when_not_required() -> None:
    h = await booted(config={"AuthorizeRemoteTxRequests": "false"})
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    await h.plug(1)
    assert steps(h) == ["S1:Preparing", "StartTransaction", "S1:Charging"]
    await h.close()


async def test_remote_start_without_connector_goes_to_the_next_plug() -> None:
    h = await booted()
    await h.request("RemoteStartTransaction", {"idTag": "R1"})
    await h.plug(2)
    assert h.csms.of("StartTransaction")[0]["connectorId"] == 2
    await h.close()


async def test_tc023_5_remote_start_invalid_tag_starts_nothing() -> None:
    h = await booted()
    h.csms.responders["Authorize"] = lambda p: {"idTagInfo": {"status": "Invalid"}}
    await h.request("RemoteStartTransaction", {"idTag": "BAD", "connectorId": 1})
    await h.plug(1)
    assert h.csms.of("StartTransaction") == []
    await h.close()


async def test_tc026_tc027_tc028_remote_rejections() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    assert (await h.request("RemoteStartTransaction", {"idTag": "R", "connectorId": 1}))[
        "status"
    ] == "Rejected"
    with pytest.raises(PropertyConstraintViolation):
        await h.request("RemoteStartTransaction", {"idTag": "R", "connectorId": 0})
    assert (await h.request("RemoteStartTransaction", {"idTag": "R", "connectorId": 7}))[
        "status"
    ] == "Rejected"
    h.csms.clear()
    assert (await h.request("RemoteStopTransaction", {"transactionId": 487249487})) == {
        "status": "Rejected"
    }
    assert h.csms.sent == []
    await h.close()


async def test_tc012_remote_stop() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.request("RemoteStopTransaction", {"transactionId": 100})
    assert steps(h) == ["StopTransaction", "S1:Finishing"]
    stop = h.csms.of("StopTransaction")[0]
    assert stop["reason"] == "Remote" and stop["idTag"] == "TAG1"
    await h.close()


async def test_change_availability_connector_and_station() -> None:
    h = await booted()
    assert (await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})) == {
        "status": "Accepted"
    }
    assert steps(h) == ["S1:Unavailable"]
    assert h.status(0) == "Available"  # a connector-level change leaves connector 0 alone
    assert (await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})) == {
        "status": "Accepted"
    }  # already in that state
    assert (await h.request("ChangeAvailability", {"connectorId": 3, "type": "Inoperative"})) == {
        "status": "Rejected"
    }
    h.csms.clear()
    await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert steps(h) == ["S0:Unavailable", "S2:Unavailable"]
    await h.plug(2)
    await h.card("TAG1")
    assert h.csms.of("StartTransaction") == []  # unavailable connectors do not start
    h.csms.clear()
    await h.request("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    # §5.2: connector 0 applies to every connector: 1 comes back too; 2 goes H2.
    assert steps(h) == ["S0:Available", "S1:Available", "S2:Preparing"]
    await h.close()


async def test_change_availability_during_session_is_scheduled() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    assert (await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})) == {
        "status": "Scheduled"
    }
    assert h.status(1) == "Charging"
    await h.card("TAG1")
    await h.unplug(1)
    assert steps(h) == ["StopTransaction", "S1:Finishing", "S1:Unavailable"]  # C6 then F8
    await h.close()


async def test_availability_survives_a_reset_tc013(tmp_path: object) -> None:
    store = StationStore(None)
    h = Harness(store=store)
    await h.boot()
    await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    h.csms.clear()
    await h.request("Reset", {"type": "Hard"})
    await h.settle()
    assert h.reboots == ["Hard"]
    assert steps(h) == [
        "BootNotification",
        "S0:Available",
        "S1:Unavailable",
        "S2:Available",
        "E:ResetOrReboot",  # whitepaper §8: queued, so after the statuses of the boot
    ]
    await h.close()


async def test_tc015_tc016_reset_with_transaction_stops_first() -> None:
    for kind, reason in (("Hard", "HardReset"), ("Soft", "SoftReset")):
        h = await booted()
        await h.plug(1)
        await h.card("TAG1")
        h.csms.clear()
        assert (await h.request("Reset", {"type": kind})) == {"status": "Accepted"}
        await h.settle()
        assert steps(h)[:3] == ["StopTransaction", "S1:Finishing", "BootNotification"]
        stop = h.csms.of("StopTransaction")[0]
        assert stop["reason"] == reason and stop["idTag"] == "TAG1"
        # After the reboot the cable is still in the EV: the user has to act (Finishing).
        assert steps(h)[3:] == ["S0:Available", "S1:Finishing", "S2:Available", "E:ResetOrReboot"]
        await h.close()


async def test_unlock_fixed_cable_not_supported_tc017_2_tc018_2() -> None:
    h = await booted()
    assert (await h.request("UnlockConnector", {"connectorId": 1})) == {"status": "NotSupported"}
    await h.plug(1)
    await h.card("TAG1")
    assert (await h.request("UnlockConnector", {"connectorId": 1})) == {"status": "NotSupported"}
    assert h.status(1) == "Charging"
    assert (await h.request("UnlockConnector", {"connectorId": 9765})) == {
        "status": "NotSupported"
    }  # TC_031
    await h.close()


async def test_unlock_socket_stops_and_unlocks_tc018_1() -> None:
    h = await booted(fixed_cable=False)
    assert (await h.request("UnlockConnector", {"connectorId": 1})) == {"status": "Unlocked"}
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    assert (await h.request("UnlockConnector", {"connectorId": 1})) == {"status": "Unlocked"}
    assert h.csms.of("StopTransaction")[0]["reason"] == "UnlockCommand"
    await h.close()


async def test_lock_failure_faults_and_starts_nothing_tc024() -> None:
    h = await booted(fixed_cable=False)
    h.hw.set_lock_failure(1, True)
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    await h.plug(1)
    assert h.csms.of("StartTransaction") == []
    faulted = [p for p in h.csms.of("StatusNotification") if p["status"] == "Faulted"]
    assert faulted[0]["errorCode"] == "ConnectorLockFailure"
    await h.close()


async def test_fault_and_recovery_tc041() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    h.hw.raise_fault(1, "GroundFailure", "ground fault")
    await h.settle()
    h.hw.clear_fault(1)
    await h.settle()
    sent = h.csms.of("StatusNotification")
    assert [(p["status"], p["errorCode"]) for p in sent] == [
        ("Faulted", "GroundFailure"),
        ("Charging", "NoError"),
    ]
    assert sent[0]["info"] == "ground fault"
    await h.close()


async def test_configuration_requests_tc019_tc021_tc040() -> None:
    h = await booted()
    everything = await h.request("GetConfiguration", {})
    keys = {k["key"]: k for k in everything["configurationKey"]}
    # §9.1.29 lists them in the specification's order, whatever the order of installation.
    wanted = set(profiles.names())
    assert keys["SupportedFeatureProfiles"]["value"] == ",".join(
        p for p in FEATURE_PROFILES if p in wanted
    )
    assert keys["SupportedFeatureProfiles"]["readonly"] is True
    assert "AuthorizationKey" not in keys or "value" not in keys["AuthorizationKey"]
    some = await h.request("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
    assert [k["key"] for k in some["configurationKey"]] == ["HeartbeatInterval"]
    assert some["unknownKey"] == ["Nope"]
    change = await h.request(
        "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}
    )
    assert change == {"status": "Accepted"}
    assert (await h.request("ChangeConfiguration", {"key": "Testing", "value": "1"})) == {
        "status": "NotSupported"
    }
    assert (
        await h.request("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "-1"})
    ) == {"status": "Rejected"}
    assert (
        await h.request("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"})
    ) == {"status": "Rejected"}
    await h.close()


async def test_data_transfer_vendor_registry_tc062() -> None:
    h = await booted()
    assert (await h.request("DataTransfer", {"vendorId": "TestVendorId"})) == {
        "status": "UnknownVendorId"
    }
    h.service(DataTransferService).register(
        "com.example",
        lambda mid, data: (
            ("Accepted", (data or "")[::-1]) if mid == "rev" else ("UnknownMessageId", None)
        ),
    )
    assert (
        await h.request(
            "DataTransfer", {"vendorId": "com.example", "messageId": "rev", "data": "abc"}
        )
    ) == {"status": "Accepted", "data": "cba"}
    assert (await h.request("DataTransfer", {"vendorId": "com.example", "messageId": "x"})) == {
        "status": "UnknownMessageId"
    }
    answer = await h.service(DataTransferService).send("com.example", "hello", "data")
    assert answer == {"status": "UnknownVendorId"}
    await h.close()


async def test_socket_variant_unlocks_on_ev_side_disconnect_when_configured() -> None:
    h = await booted(fixed_cable=False)
    keys = {k["key"]: k for k in (await h.request("GetConfiguration", {}))["configurationKey"]}
    assert keys["UnlockConnectorOnEVSideDisconnect"]["readonly"] is False
    await h.plug(1)
    await h.card("TAG1")
    assert h.hw.connectors[0].is_locked()
    await h.unplug(1)
    assert not h.hw.connectors[0].is_locked()
    await h.close()
    h = await booted(fixed_cable=False, config={"UnlockConnectorOnEVSideDisconnect": "false"})
    await h.plug(1)
    await h.card("TAG1")
    await h.unplug(1)
    assert h.hw.connectors[0].is_locked()  # §4.10: the cable stays locked
    await h.close()


async def test_fixed_cable_keeps_unlock_on_ev_side_disconnect_read_only() -> None:
    h = await booted()
    assert (
        await h.request(
            "ChangeConfiguration", {"key": "UnlockConnectorOnEVSideDisconnect", "value": "true"}
        )
    ) == {"status": "Rejected"}
    await h.close()


async def test_a_remote_start_for_a_connector_stays_on_it_when_another_is_plugged() -> None:
    # Unlike a card (one reader, the authorization follows the plug), the central system named
    # the connector: plugging the other one starts nothing there.
    h = await booted(config={"AuthorizeRemoteTxRequests": "false"})
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    await h.plug(2)
    assert h.csms.of("StartTransaction") == [] and h.connector(1).authorization is not None
    await h.plug(1)
    assert [p["connectorId"] for p in h.csms.of("StartTransaction")] == [1]
    await h.close()
