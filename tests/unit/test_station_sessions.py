"""Sessions: cards, cables, start and stop (§4.1, §4.8, §4.10, §3.5; TC_003-005, 068, 069)."""

from __future__ import annotations

from ocpp_station.station.authorization import AuthService
from tests.unit.harness import Harness


async def booted(**kwargs: object) -> Harness:
    h = Harness(**kwargs)  # type: ignore[arg-type]
    await h.boot()
    h.csms.clear()
    return h


def steps(h: Harness) -> list[str]:
    """The station's messages as 'Action' or 'StatusNotification:<connector>:<status>'."""
    out = []
    for action, payload in h.csms.sent:
        if action == "StatusNotification":
            out.append(f"S{payload['connectorId']}:{payload['status']}")
        elif action == "SecurityEventNotification":
            out.append(f"E:{payload['type']}")
        else:
            out.append(action)
    return out


async def test_tc003_plug_in_first() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    assert steps(h) == ["S1:Preparing", "Authorize", "StartTransaction", "S1:Charging"]
    start = h.csms.of("StartTransaction")[0]
    assert start["idTag"] == "TAG1" and start["connectorId"] == 1
    assert isinstance(start["meterStart"], int)
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_tc004_identification_first_then_timeout() -> None:
    h = await booted(config={"ConnectionTimeOut": "30"})
    await h.card("TAG1")
    assert steps(h) == ["Authorize", "S1:Preparing"]
    await h.run_for(29)
    assert h.status(1) == "Preparing"
    await h.run_for(2)
    assert h.status(1) == "Available"  # B1 after ConnectionTimeOut
    assert h.csms.of("StartTransaction") == []
    await h.close()


async def test_tc004_identification_first_then_plug_starts() -> None:
    h = await booted()
    await h.card("TAG1")
    await h.plug(1)
    assert steps(h) == ["Authorize", "S1:Preparing", "StartTransaction", "S1:Charging"]
    await h.close()


async def test_card_follows_the_plug_to_the_other_connector() -> None:
    h = await booted()
    await h.card("TAG1")
    await h.plug(2)
    assert h.status(1) == "Available"
    assert h.status(2) == "Charging"
    assert h.csms.of("StartTransaction")[0]["connectorId"] == 2
    await h.close()


async def test_plug_without_card_times_out_to_finishing_b6() -> None:
    h = await booted(config={"ConnectionTimeOut": "10"})
    await h.plug(1)
    await h.run_for(11)
    assert h.status(1) == "Finishing"  # [E] 3.20 B6
    # A card now must not start on the unattended cable: it goes to the free connector.
    await h.card("TAG1")
    assert h.status(1) == "Finishing"
    assert h.status(2) == "Preparing"
    await h.unplug(1)
    assert h.status(1) == "Available"
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_second_presentation_cancels_waiting_authorization() -> None:
    h = await booted()
    await h.card("TAG1")
    await h.card("tag1")  # idTags compare case-insensitively
    assert h.status(1) == "Available"
    assert h.csms.actions().count("Authorize") == 1
    await h.close()


async def test_invalid_card_starts_nothing_tc023() -> None:
    h = await booted()
    h.csms.responders["Authorize"] = lambda p: {"idTagInfo": {"status": "Invalid"}}
    await h.plug(1)
    await h.card("BAD")
    await h.run_for(20)
    assert h.csms.of("StartTransaction") == []
    assert h.status(1) == "Preparing"
    await h.close()


async def test_tc068_same_tag_stops_without_authorize() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.card("TAG1")
    assert steps(h) == ["StopTransaction", "S1:Finishing"]
    stop = h.csms.of("StopTransaction")[0]
    assert stop["reason"] == "Local" and stop["idTag"] == "TAG1"
    assert stop["transactionId"] == 100
    await h.unplug(1)
    assert h.status(1) == "Available"
    await h.close()


async def test_tc069_same_parent_stops_with_the_second_tag() -> None:
    h = await booted()
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}
    }
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.card("TAG2")
    assert steps(h) == ["Authorize", "StopTransaction", "S1:Finishing"]
    assert h.csms.of("StopTransaction")[0]["idTag"] == "TAG2"
    await h.close()


async def test_other_group_card_does_not_stop() -> None:
    h = await booted()
    parents = iter(["A", "B"])
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": next(parents)}
    }
    await h.plug(1)
    await h.card("TAG1", 1)
    h.csms.clear()
    await h.card("TAG2", 1)
    assert h.csms.of("StopTransaction") == []
    assert h.status(1) == "Charging"
    await h.close()


async def test_tc005_1_ev_side_disconnect_stops_then_finishing_then_available() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.unplug(1)
    assert steps(h) == ["StopTransaction", "S1:Finishing", "S1:Available"]
    stop = h.csms.of("StopTransaction")[0]
    assert stop["reason"] == "EVDisconnected" and stop["idTag"] == "TAG1"
    assert h.csms.of("StatusNotification")[0].get("info") == "EV side disconnected"
    await h.close()


async def test_tc005_3_ev_side_disconnect_kept_when_configured() -> None:
    h = await booted(config={"StopTransactionOnEVSideDisconnect": "false"})
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.unplug(1)
    assert steps(h) == ["S1:SuspendedEV"]
    tx_id = h.connector(1).transaction.transaction_id
    await h.request("RemoteStopTransaction", {"transactionId": tx_id})
    assert steps(h)[1:] == ["StopTransaction", "S1:Finishing", "S1:Available"]
    assert h.csms.of("StopTransaction")[0]["reason"] == "Remote"
    await h.close()


async def test_ev_full_battery_is_suspended_ev_and_resume_charges() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.hw.suspend_ev(1)
    await h.settle()
    assert h.status(1) == "SuspendedEV"
    h.hw.resume_ev(1)
    await h.settle()
    assert h.status(1) == "Charging"
    await h.close()


async def test_invalid_start_answer_suspends_energy_by_default() -> None:
    h = await booted()
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Blocked"},
    }
    await h.plug(1)
    await h.card("TAG1")
    assert h.status(1) == "SuspendedEVSE"  # C5, StopTransactionOnInvalidId=false
    assert h.csms.of("StopTransaction") == []
    assert h.hw.connectors[0].read_meter().power_w == 0
    await h.close()


async def test_invalid_start_answer_deauthorizes_when_configured() -> None:
    h = await booted(config={"StopTransactionOnInvalidId": "true"})
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Invalid"},
    }
    await h.plug(1)
    await h.card("TAG1")
    stop = h.csms.of("StopTransaction")[0]
    assert stop["reason"] == "DeAuthorized" and stop["transactionId"] == 5
    assert h.status(1) == "Finishing"
    await h.close()


async def test_stop_transaction_data_has_begin_and_end() -> None:
    h = await booted(config={"MeterValueSampleInterval": "10", "ClockAlignedDataInterval": "0"})
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(35)
    await h.card("TAG1")
    stop = h.csms.of("StopTransaction")[0]
    contexts = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
    assert contexts == ["Transaction.Begin"] + ["Sample.Periodic"] * 3 + ["Transaction.End"]
    assert stop["meterStop"] > h.csms.of("StartTransaction")[0]["meterStart"]
    await h.close()


async def test_stop_transaction_max_meter_values_keeps_first_and_last() -> None:
    from ocpp_station.station.metering import thin

    values = [{"n": i} for i in range(10)]
    kept = thin(values, 4)
    assert len(kept) == 4 and kept[0]["n"] == 0 and kept[-1]["n"] == 9
    assert thin(values, 100) == values


async def test_authorization_cache_and_local_pre_authorize_tc007() -> None:
    h = await booted(config={"AuthorizationCacheEnabled": "true", "LocalPreAuthorize": "true"})
    await h.plug(1)
    await h.card("TAG1")
    await h.card("TAG1")
    await h.unplug(1)
    h.csms.clear()
    await h.plug(1)
    await h.card("TAG1")
    # Cached from the earlier session: starts without an Authorize.
    assert steps(h) == ["S1:Preparing", "StartTransaction", "S1:Charging"]
    await h.card("TAG1")
    await h.unplug(1)
    assert (await h.request("ClearCache", {})) == {"status": "Accepted"}
    h.csms.clear()
    await h.plug(1)
    await h.card("TAG1")
    assert "Authorize" in h.csms.actions()  # TC_061: cleared cache asks again
    await h.close()


async def test_cache_expiry_makes_the_entry_expired() -> None:
    h = await booted(config={"AuthorizationCacheEnabled": "true", "LocalPreAuthorize": "true"})
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "expiryDate": "2026-01-01T12:00:30Z"}
    }
    await h.card("TAG1")
    await h.card("TAG1")
    assert h.service(AuthService).local_info("TAG1")["status"] == "Accepted"
    await h.run_for(31)
    assert h.service(AuthService).local_info("TAG1")["status"] == "Expired"
    await h.close()


async def test_offline_rules() -> None:
    h = await booted()
    h.disconnect()
    await h.card("TAG1")
    assert h.status(1) == "Available"  # the reference unit never charges offline
    await h.close()
    h = await booted(config={"AllowOfflineTxForUnknownId": "true"})
    h.disconnect()
    await h.plug(1)
    await h.card("TAG1")
    assert h.status(1) == "Charging"
    assert h.station.sender.queued == 1  # the StartTransaction waits for the connection
    h.connect()
    await h.settle()
    assert h.station.sender.queued == 0
    await h.close()


async def test_cache_evicts_invalid_entries_first() -> None:
    from ocpp_station.station import authorization

    h = await booted(config={"AuthorizationCacheEnabled": "true"})
    old = authorization.CACHE_SIZE
    authorization.CACHE_SIZE = 3
    try:
        auth = h.service(AuthService)
        auth.remember("A", {"status": "Accepted"})
        auth.remember("B", {"status": "Blocked"})
        auth.remember("C", {"status": "Accepted"})
        auth.remember("D", {"status": "Accepted"})
        assert [e["id_tag"] for e in h.store.cache_all()] == ["a", "c", "d"]
        auth.remember("E", {"status": "Accepted"})
        assert [e["id_tag"] for e in h.store.cache_all()] == ["c", "d", "e"]
    finally:
        authorization.CACHE_SIZE = old
    await h.close()


async def test_new_card_on_a_finishing_connector_starts_a_new_session_f2() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    await h.card("TAG1")
    assert h.status(1) == "Finishing"
    await h.card("TAG2", 1)
    assert h.status(1) == "Charging"
    assert [p["idTag"] for p in h.csms.of("StartTransaction")] == ["TAG1", "TAG2"]
    assert h.station.status.illegal_transitions == []
    await h.close()
