"""What a line-by-line audit against OCPP 1.6 ed.2, its errata and OCPP-J found: one test per
finding, each stating the rule it protects. Every one of these failed before its fix."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.rpc import Router, RpcEndpoint, encode_result
from ocpp_station.rpc.errors import (
    CallErrorReceived,
    ConnectionLost,
    PropertyConstraintViolation,
    RpcTimeout,
)
from ocpp_station.runtime import PROCESS_PREFIX, StationOptions, StationRuntime
from ocpp_station.station.transactions import Sessions
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.storage.store import StationStore
from tests.unit.harness import Harness
from tests.unit.test_station_sessions import booted, steps

Payload = dict[str, Any]


def statuses_of(h: Harness, connector_id: int) -> list[tuple[str, str]]:
    return [
        (p["status"], p["errorCode"])
        for p in h.csms.of("StatusNotification")
        if p["connectorId"] == connector_id
    ]


# 1. [E] 3.19, §4.9: a status counts as reported only once the central system answered it.
@pytest.mark.parametrize(
    "failure",
    [
        CallErrorReceived("StatusNotification", "InternalError", "busy", {}),
        RpcTimeout("StatusNotification", 30),
        ConnectionLost("link dropped"),
    ],
    ids=["callerror", "timeout", "link-drop"],
)
async def test_1_a_status_without_a_result_is_reported_again_after_reconnect(
    failure: Exception,
) -> None:
    h = await booted()
    h.csms.responders["StatusNotification"] = lambda p: failure
    await h.plug(1)
    del h.csms.responders["StatusNotification"]
    h.disconnect()
    h.connect()
    await h.settle()
    assert h.csms.statuses(1) == ["Preparing", "Preparing"]
    h.disconnect()
    h.connect()
    await h.settle()
    assert h.csms.statuses(1) == ["Preparing", "Preparing"]  # answered now: not again
    await h.close()


# 2. §4.9: Preparing has no way to Unavailable (no B8); the usage ends and the connector
# always comes back when it is made operative again.
async def test_2_inoperative_on_a_connector_waiting_with_a_card() -> None:
    h = await booted()
    await h.card("TAG1")
    assert h.status(1) == "Preparing"
    answer = await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    assert h.csms.statuses(1) == ["Preparing", "Available", "Unavailable"]  # B1, A8
    await h.plug(1)
    await h.run_for(5)
    assert h.status(1) == "Unavailable" and h.csms.of("StartTransaction") == []
    await h.request("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert h.status(1) == "Preparing"  # H2, with the cable in and no card
    remote = await h.request("RemoteStartTransaction", {"idTag": "TAG2", "connectorId": 1})
    assert remote == {"status": "Accepted"}
    assert h.status(1) == "Charging"
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_2_inoperative_on_a_plugged_connector_without_a_card() -> None:
    h = await booted()
    await h.plug(1)
    answer = await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    # B6: the usage is over and the cable must go (as after ConnectionTimeOut, [E] 3.20).
    assert h.csms.statuses(1) == ["Preparing", "Finishing"]
    await h.card("TAG1")
    assert h.csms.of("StartTransaction") == []
    await h.unplug(1)
    assert h.csms.statuses(1)[-1] == "Unavailable"  # F8
    assert h.station.status.illegal_transitions == []
    await h.close()


# 3. §5.2: ChangeAvailability for connector 0 applies to the charge point and all connectors.
async def test_3_connector_zero_applies_to_every_connector() -> None:
    h = await booted()
    await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    h.csms.clear()
    answer = await h.request("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    assert steps(h) == ["S1:Available"]  # connector 0 was never inoperative
    assert h.store.load_availability() == {0: True, 1: True, 2: True}
    h.csms.clear()
    await h.plug(2)
    await h.card("TAG1", 2)
    answer = await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer == {"status": "Scheduled"}  # connector 2 charges until its session ends
    assert h.status(1) == "Unavailable" and h.status(2) == "Charging"
    await h.close()


# 4. §4.9, §7.6: EVCommunicationError is a warning, never Faulted, energy still offered.
async def test_4_ev_communication_error_is_a_warning() -> None:
    h = await booted()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    h.hw.raise_fault(1, "EVCommunicationError", "PLC lost")
    await h.settle()
    assert statuses_of(h, 1) == [("SuspendedEV", "EVCommunicationError")]
    assert h.hw.connector(1).is_energy_offered()
    h.hw.clear_fault(1)
    await h.settle()
    assert statuses_of(h, 1)[-1] == ("Charging", "NoError")
    # Never on connector 0, and never with Available.
    with pytest.raises(ValueError, match="connector 0"):
        h.hw.raise_fault(0, "EVCommunicationError")
    h.hw.raise_fault(2, "EVCommunicationError")
    await h.settle()
    assert statuses_of(h, 2) == []  # Available: nothing to warn about on an idle connector
    assert h.station.status.illegal_transitions == []
    await h.close()


# 5. §9.1.14: MaxEnergyOnInvalidId holds whatever MeterValueSampleInterval says.
async def test_5_max_energy_on_invalid_id_without_sampling() -> None:
    h = await booted(config={"MaxEnergyOnInvalidId": "1000", "MeterValueSampleInterval": "0"})
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Blocked"},
    }
    await h.plug(1)
    await h.card("TAG1")
    start = h.hw.connector(1).read_meter().energy_wh
    await h.run_for(600)
    delivered = h.hw.connector(1).read_meter().energy_wh - start
    assert h.status(1) == "SuspendedEVSE"
    assert 1000 <= delivered < 1000 + 50_000 / 3600 * 2  # within two seconds of charging
    await h.close()


# 6. §9.1.7: ConnectionTimeOut runs from every entry into Preparing.
async def test_6_connection_timeout_after_h2() -> None:
    h = await booted(config={"ConnectionTimeOut": "30"})
    await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    await h.plug(1)
    await h.request("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert h.status(1) == "Preparing"
    await h.run_for(31)
    assert h.status(1) == "Finishing"  # B6, [E] 3.20
    await h.close()


async def test_6_connection_timeout_after_power_up_with_a_cable_in() -> None:
    h = Harness(config={"ConnectionTimeOut": "30"})
    h.hw.plug(1)
    await h.settle()
    h2 = Harness(store=h.store, hardware=h.hw, clock=h.clock)  # a restart, cable still in
    await h2.boot()
    assert h2.status(1) == "Preparing"
    await h2.run_for(31)
    assert h2.status(1) == "Finishing"
    await h.close()
    await h2.close()


# 7. [E] 3.15, §3.7: clock-aligned readings do not wait for the BootNotification.
async def test_7_aligned_readings_of_a_station_that_started_offline() -> None:
    h = Harness(
        config={
            "ClockAlignedDataInterval": "900",
            "MeterValueSampleInterval": "0",
            "AllowOfflineTxForUnknownId": "true",
        }
    )  # started during an outage: never connected, never accepted
    await h.plug(1)
    await h.card("TAG1")
    assert h.status(1) == "Charging"
    await h.run_for(1801)
    values = [m.payload for m in h.station.sender.queue if m.action == "MeterValues"]
    contexts = {v["context"] for p in values for mv in p["meterValue"] for v in mv["sampledValue"]}
    assert len(values) == 2 and contexts == {"Sample.Clock"}
    await h.close()


# 8. [JE] 3.3: a response time-out is not a failure to process; the message is kept.
async def test_8_a_timed_out_start_transaction_is_sent_again() -> None:
    h = await booted()  # TransactionMessageAttempts=1, the reference charger's value
    accepted: Payload = {"transactionId": 9, "idTagInfo": {"status": "Accepted"}}
    answers: list[Payload | Exception] = [RpcTimeout("StartTransaction", 30), accepted]
    h.csms.responders["StartTransaction"] = lambda p: answers.pop(0)
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(5)
    assert len(h.csms.of("StartTransaction")) == 2
    assert h.connector(1).transaction.transaction_id == 9
    assert h.station.sender.given_up == []
    await h.close()


# 10. §9.1.2: a clock correction neither skips nor repeats an aligned boundary.
async def test_10_small_clock_corrections_keep_every_boundary_once() -> None:
    h = await booted(config={"ClockAlignedDataInterval": "60"})

    def correct(seconds: float) -> None:  # a Heartbeat.conf's currentTime, a little off
        h.clock.set_time(h.clock.now() + timedelta(seconds=seconds))
        h.station.events.clock_set.emit()

    def boundaries() -> list[str]:
        return [p["meterValue"][-1]["timestamp"] for p in h.csms.of("MeterValues")
                if p["connectorId"] == 0]  # fmt: skip

    start = h.clock.now()
    first = 60 - (start.second + start.microsecond / 1e6)
    await h.run_for(first + 0.2, step=0.1)  # just past a boundary
    assert len(boundaries()) == 1
    correct(-0.5)  # back across it: it must not come again
    await h.run_for(5, step=0.1)
    assert len(boundaries()) == 1
    await h.run_for(54.5, step=0.1)  # 0.2 s before the next one
    correct(+0.5)  # forward across it: it must not be skipped
    await h.run_for(5, step=0.1)
    marks = boundaries()
    assert len(marks) == 2 and len(set(marks)) == 2
    assert timefmt.parse(marks[1]) - timefmt.parse(marks[0]) == timedelta(seconds=60)
    await h.close()


# 11. §3.7: Authorize does not wait behind the offline backlog.
async def test_11_authorize_overtakes_the_backlog() -> None:
    h = await booted(config={"AllowOfflineTxForUnknownId": "true", "MeterValueSampleInterval": "0"})
    h.disconnect()
    await h.plug(1)
    await h.card("TAG1")
    await h.unplug(1)
    assert h.station.sender.queued == 2  # StartTransaction, StopTransaction
    h.csms.clear()
    release = asyncio.get_running_loop().create_future()
    h.csms.responders["StartTransaction"] = lambda p: release
    h.connect()
    await h.settle()
    await h.card("TAG2", 2)  # a driver waits at the charger while the backlog drains
    release.set_result({"transactionId": 4, "idTagInfo": {"status": "Accepted"}})
    await h.settle()
    sent = [a for a in h.csms.actions() if a != "StatusNotification"]
    assert sent == ["StartTransaction", "Authorize", "StopTransaction"]
    await h.close()


# 12. §3.10, TC_069: the parentIdTag of StartTransaction.conf joins the transaction's group.
async def test_12_parent_from_start_transaction_conf_joins_the_group() -> None:
    h = await booted(config={"AuthorizeRemoteTxRequests": "false"})
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 3,
        "idTagInfo": {"status": "Accepted", "parentIdTag": "GROUP"},
    }
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "GROUP"}
    }
    await h.plug(1)
    await h.request("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert h.status(1) == "Charging"
    await h.card("TAG2")  # another card of the group
    stops = h.csms.of("StopTransaction")
    assert [(s["idTag"], s["reason"]) for s in stops] == [("TAG2", "Local")]
    await h.close()


# 13. §3.5: offline, a cached card is unknown unless LocalAuthorizeOffline; a CALLERROR to
# Authorize is an answer, not an outage.
async def test_13_cached_card_offline_counts_as_unknown() -> None:
    h = await booted(
        config={
            "AuthorizationCacheEnabled": "true",
            "LocalAuthorizeOffline": "false",
            "AllowOfflineTxForUnknownId": "true",
        }
    )
    await h.card("TAG1")  # cached Accepted
    await h.card("TAG1")  # withdraw it
    h.disconnect()
    await h.plug(1)
    await h.card("TAG1")
    assert h.status(1) == "Charging"
    await h.close()


async def test_13_a_callerror_to_authorize_refuses_the_card() -> None:
    h = await booted(config={"AllowOfflineTxForUnknownId": "true"})
    h.csms.responders["Authorize"] = lambda p: CallErrorReceived(
        "Authorize", "InternalError", "", {}
    )
    await h.plug(1)
    await h.card("TAG1")
    assert h.csms.of("StartTransaction") == []
    assert h.status(1) == "Preparing"
    await h.close()


# 14. §4.9: an EV-side disconnect with StopTransactionOnEVSideDisconnect=false is reported.
async def test_14_ev_side_disconnect_from_suspended_ev_is_reported() -> None:
    h = await booted(config={"StopTransactionOnEVSideDisconnect": "false"})
    await h.plug(1)
    await h.card("TAG1")
    h.hw.suspend_ev(1)
    await h.settle()
    h.csms.clear()
    await h.unplug(1)
    sent = h.csms.of("StatusNotification")
    assert [(p["status"], p.get("info")) for p in sent] == [("SuspendedEV", "EV side disconnected")]
    await h.close()


# 15. §5.14: once a Reset is accepted, no new session starts.
async def test_15_no_new_session_during_a_reset() -> None:
    h = await booted()
    release = asyncio.get_running_loop().create_future()
    h.csms.responders["StopTransaction"] = lambda p: release  # the reset's drain waits
    await h.plug(1)
    await h.card("TAG1")
    await h.request("Reset", {"type": "Soft"})
    answer = await h.request("RemoteStartTransaction", {"idTag": "TAG2", "connectorId": 2})
    assert answer == {"status": "Rejected"}
    await h.plug(2)
    reason = h.service(Sessions).why_not_start(h.connector(2))
    assert reason == "a reset is under way"
    release.set_result({})
    await h.settle()
    await h.close()


# 16. §5.8: the keys asked for are answered, however many; a key asked twice counts once.
async def test_16_get_configuration_beyond_the_max_keys() -> None:
    h = await booted()
    keys = [*[k for k, _, _ in h.config.entries()][:30], "HeartbeatInterval"]
    answer = await h.request("GetConfiguration", {"key": keys})
    assert len(answer["configurationKey"]) == len(set(keys))
    await h.close()


# Nits
async def test_boot_accepted_with_interval_zero_is_applied() -> None:
    h = Harness()
    h.csms.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": timefmt.iso(h.clock.now()),
        "interval": 0,
    }
    await h.boot()
    assert h.config.get("HeartbeatInterval") == "0"
    h.csms.clear()
    await h.run_for(100)
    assert "Heartbeat" not in h.csms.actions()
    await h.close()


async def test_delayed_status_carries_the_time_it_began() -> None:
    h = await booted(config={"MinimumStatusDuration": "10"})
    began = h.clock.now()
    await h.plug(1)
    await h.run_for(11)
    [sent] = h.csms.of("StatusNotification")
    assert timefmt.parse(sent["timestamp"]) == began.replace(
        microsecond=began.microsecond // 1000 * 1000
    )
    await h.close()


async def test_main_meter_is_at_the_inlet_and_intervals_carry_their_start() -> None:
    h = await booted(
        config={
            "ClockAlignedDataInterval": "60",
            "MeterValuesAlignedData": "Energy.Active.Import.Register,Energy.Active.Import.Interval",
        }
    )
    await h.run_for(130)
    main = [p for p in h.csms.of("MeterValues") if p["connectorId"] == 0]
    second = main[1]["meterValue"]
    by_measurand = {
        v["measurand"]: (mv["timestamp"], v.get("location"))
        for mv in second
        for v in mv["sampledValue"]
    }
    register_at, register_where = by_measurand["Energy.Active.Import.Register"]
    interval_at, _ = by_measurand["Energy.Active.Import.Interval"]
    assert register_where == "Inlet"
    assert timefmt.parse(register_at) - timefmt.parse(interval_at) == timedelta(seconds=60)
    await h.close()


# 9. Strict on what we send, lenient on what we receive: a central system's extra property or
# an integer written as 5.0 does not cost the station its answer.
@pytest.mark.parametrize(
    ("answer", "read"),
    [
        (
            {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300.0},
            {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300},
        ),
        (
            {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300, "x": 1},
            {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300, "x": 1},
        ),
    ],
    ids=["integral-float", "extra-property"],
)
async def test_9_answers_are_read_leniently(answer: Payload, read: Payload) -> None:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    lenient = RpcEndpoint(send, Router(), next_id=lambda: "m1", lenient_answers=True)
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    call = asyncio.ensure_future(lenient.call("BootNotification", boot))
    await asyncio.sleep(0)
    await lenient.feed(encode_result("m1", answer))
    result = await call
    assert result == read and type(result["interval"]) is int


async def test_9_what_the_station_uses_is_still_checked() -> None:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    lenient = RpcEndpoint(send, Router(), next_id=lambda: "m1", lenient_answers=True)
    call = asyncio.ensure_future(lenient.call("Authorize", {"idTag": "T"}))
    await asyncio.sleep(0)
    await lenient.feed(encode_result("m1", {"idTagInfo": {"status": "Maybe"}, "x": 1}))
    with pytest.raises(PropertyConstraintViolation):
        await call


# 17. [JE] 3.1: message ids stay unique per identity across restarts of a memory-only station.
OPTIONS = StationOptions(csms_url="ws://127.0.0.1:9/o")


async def test_17_memory_only_ids_carry_the_process_prefix() -> None:
    in_memory = StationRuntime(OPTIONS, store=StationStore(None))
    assert in_memory._next_message_id().startswith(f"{PROCESS_PREFIX}-")
    memory = StationRuntime(OPTIONS, store=MemoryStore())
    first = memory._next_message_id()
    assert first == f"{PROCESS_PREFIX}-1" and len(PROCESS_PREFIX) == 8
    assert memory._next_message_id() == f"{PROCESS_PREFIX}-2"
    await in_memory.station.close()
    await memory.station.close()


async def test_17_a_durable_store_counts_on_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    with StationStore(path) as store:
        first = StationRuntime(OPTIONS, store=store)
        assert first._next_message_id() == "1"
        await first.station.close()
    with StationStore(path) as store:
        again = StationRuntime(OPTIONS, store=store)
        assert int(again._next_message_id()) > 1
        await again.station.close()
