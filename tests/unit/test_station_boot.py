"""BootNotification, Heartbeat and the registration gate (§4.2, §4.6; TC_001, TC_002)."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp_station.rpc.errors import CallErrorReceived, RpcTimeout
from ocpp_station.station.boot import BootService
from tests.unit.harness import Harness


async def test_boot_accepted_reports_every_connector_then_heartbeats() -> None:
    h = Harness()
    await h.boot()
    assert h.csms.actions()[0] == "BootNotification"
    boot = h.csms.of("BootNotification")[0]
    assert boot["chargePointVendor"] == "Vendor"
    assert boot["firmwareVersion"] == "1.0.0"
    # [E] 3.22: connector 0 and every connector, right after Accepted.
    statuses = [(p["connectorId"], p["status"]) for p in h.csms.of("StatusNotification")]
    assert statuses == [(0, "Available"), (1, "Available"), (2, "Available")]
    assert h.registration == "Accepted"
    h.csms.clear()
    await h.run_for(61)
    assert h.csms.actions() == ["Heartbeat"] * 3
    await h.close()


async def test_heartbeat_interval_comes_from_boot_answer_and_is_persisted() -> None:
    h = Harness()
    h.csms.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": "2026-03-04T05:06:07Z",
        "interval": 7,
    }
    await h.boot()
    assert h.config.get("HeartbeatInterval") == "7"
    assert h.store.load_config()["HeartbeatInterval"] == "7"
    # The clock follows currentTime (§4.2 RECOMMENDED).
    assert h.clock.now().isoformat().startswith("2026-03-04T05:06:07")
    h.csms.clear()
    await h.run_for(21)
    assert h.csms.actions() == ["Heartbeat"] * 3
    await h.close()


async def test_heartbeat_interval_change_takes_effect_at_once() -> None:
    h = Harness()
    await h.boot()
    assert await h.request("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "5"}) == {
        "status": "Accepted"
    }
    h.csms.clear()
    await h.run_for(10)
    assert h.csms.actions() == ["Heartbeat", "Heartbeat"]
    await h.close()


async def test_pending_sends_nothing_answers_config_and_reboots_after_interval() -> None:
    h = Harness()
    answers = iter(["Pending", "Accepted"])
    h.csms.responders["BootNotification"] = lambda p: {
        "status": next(answers),
        "currentTime": "2026-01-01T00:00:00Z",
        "interval": 30,
    }
    await h.boot()
    assert h.registration == "Pending"
    # While Pending: configuration requests are answered, remote start/stop rejected.
    response = await h.request("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert response["configurationKey"][0]["value"] == "20"
    assert (
        await h.request("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
    )["status"] == "Accepted"
    assert (await h.request("RemoteStartTransaction", {"idTag": "A", "connectorId": 1}))[
        "status"
    ] == "Rejected"
    assert (await h.request("RemoteStopTransaction", {"transactionId": 1}))["status"] == "Rejected"
    await h.plug(1)  # a status change is not sent while Pending
    await h.run_for(29)
    assert h.csms.actions() == ["BootNotification"]
    await h.run_for(2)
    assert h.csms.actions()[:2] == ["BootNotification", "BootNotification"]
    assert h.registration == "Accepted"
    assert [p["status"] for p in h.csms.of("StatusNotification")] == [
        "Available",
        "Preparing",
        "Available",
    ]
    await h.close()


async def test_rejected_waits_for_interval_before_the_next_boot() -> None:
    h = Harness()
    answers = iter(["Rejected", "Accepted"])
    h.csms.responders["BootNotification"] = lambda p: {
        "status": next(answers),
        "currentTime": "2026-01-01T00:00:00Z",
        "interval": 100,
    }
    await h.boot()
    assert h.registration == "Rejected"
    await h.run_for(99)
    assert h.csms.actions() == ["BootNotification"]
    await h.run_for(2)
    assert h.registration == "Accepted"
    await h.close()


async def test_boot_without_answer_is_retried() -> None:
    h = Harness()
    calls = []

    def respond(payload: dict) -> dict | Exception:
        calls.append(1)
        if len(calls) == 1:
            return RpcTimeout("BootNotification", 30)
        if len(calls) == 2:
            return CallErrorReceived("BootNotification", "InternalError", "busy", {})
        return {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 20}

    h.csms.responders["BootNotification"] = respond
    await h.boot()
    await h.run_for(61)
    assert len(calls) == 3
    assert h.registration == "Accepted"
    await h.close()


async def test_reconnect_without_reboot_sends_no_boot_but_changed_statuses() -> None:
    h = Harness()
    await h.boot()
    h.disconnect()
    await h.plug(2)
    h.csms.clear()
    h.connect()
    await h.settle()
    # OCPP-J §5.4: no new BootNotification; only what changed while offline.
    assert h.csms.actions() == ["StatusNotification"]
    assert h.csms.of("StatusNotification")[0]["connectorId"] == 2
    assert h.csms.of("StatusNotification")[0]["status"] == "Preparing"
    await h.close()


async def test_reconnect_does_not_shorten_the_rejected_wait() -> None:
    h = Harness()
    answers = iter(["Rejected", "Accepted"])
    h.csms.responders["BootNotification"] = lambda p: {
        "status": next(answers),
        "currentTime": "2026-01-01T00:00:00Z",
        "interval": 100,
    }
    await h.boot()
    await h.run_for(10)
    h.disconnect()
    h.connect()
    await h.run_for(80)
    assert h.csms.actions() == ["BootNotification"]
    await h.run_for(11)
    assert (
        h.csms.actions()
        == ["BootNotification", "BootNotification"]
        + ["StatusNotification"] * 3
        + ["SecurityEventNotification"] * 3
    )
    # Queued until accepted: the start, and the clock set by each currentTime (the harness
    # starts at noon; the second answer sets it back by the 100 s that passed).
    events = [p["type"] for p in h.csms.of("SecurityEventNotification")]
    assert events == ["StartupOfTheDevice", "SettingSystemTime", "SettingSystemTime"]
    await h.close()


async def test_a_rejected_station_answers_nothing_a_pending_one_refuses_remote_control() -> None:
    h = Harness()
    assert h.registration == "None" and h.station.snapshot(False)["registration"] == "None"
    h.csms.answer_boot("Rejected", 100)
    await h.boot()
    assert h.station.snapshot(True)["registration"] == "Rejected"
    for action in ("GetConfiguration", "RemoteStartTransaction", "TriggerMessage", None):
        assert h.station.admit(action) is False  # §4.2: SHALL NOT respond
    await h.close()
    p = Harness()
    p.csms.answer_boot("Pending", 100)
    await p.boot()
    assert p.station.admit("GetConfiguration") is True
    assert p.station.admit("RemoteStartTransaction") == {"status": "Rejected"}
    assert p.station.admit("RemoteStopTransaction") == {"status": "Rejected"}
    await p.close()


async def test_an_unanswered_boot_waits_30_s_and_a_pending_one_without_interval_60_s() -> None:
    h = Harness()
    calls: list[float] = []

    def respond(payload: dict[str, Any]) -> dict[str, Any] | Exception:
        calls.append(h.clock.monotonic())
        if len(calls) == 1:
            return RpcTimeout("BootNotification", 30)
        if len(calls) == 2:
            return {"status": "Pending", "currentTime": "2026-01-01T00:00:00Z", "interval": 0}
        if len(calls) == 3:
            return {"status": "Pending", "currentTime": "2026-01-01T00:00:00Z", "interval": 1}
        return {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 20}

    h.csms.responders["BootNotification"] = respond
    await h.boot()
    await h.run_for(29)
    assert len(calls) == 1  # NO_ANSWER_RETRY: not before 30 s
    await h.run_for(1)
    assert len(calls) == 2
    await h.run_for(59)
    assert len(calls) == 2  # interval 0: DEFAULT_RETRY, 60 s
    await h.run_for(1)
    assert len(calls) == 3
    await h.run_for(0.5)
    assert len(calls) == 3  # interval 1: one second
    await h.run_for(0.5)
    assert len(calls) == 4 and h.registration == "Accepted"
    await h.close()


async def test_a_reset_makes_the_station_unregistered_until_it_boots_again() -> None:
    h = Harness()
    answers = iter(["Accepted", "Pending", "Accepted"])
    h.csms.responders["BootNotification"] = lambda p: {
        "status": next(answers),
        "currentTime": "2026-01-01T00:00:00Z",
        "interval": 10,
    }
    await h.boot()
    await h.request("Reset", {"type": "Soft"})
    await h.run_for(1)
    assert h.reboots == ["Soft"] and h.registration == "Pending"
    assert not h.station.sender.accepted
    # A TriggerMessage BootNotification cuts the Pending wait short ([E] 3.35).
    h.csms.clear()
    assert h.service(BootService).trigger_boot() is True
    await h.settle()
    assert h.csms.actions()[0] == "BootNotification" and h.registration == "Accepted"
    assert h.service(BootService).trigger_boot() is False  # accepted: refused
    await h.close()


async def test_between_a_reset_and_the_next_answer_the_station_is_unregistered() -> None:
    h = Harness()
    await h.boot()
    held: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    h.csms.responders["BootNotification"] = lambda p: held
    await h.request("Reset", {"type": "Hard"})
    await h.run_for(1)
    assert h.registration == "None" and h.station.snapshot(True)["registration"] == "None"
    # A triggered boot while one is in flight: that one counts, no second request (§5.17).
    assert h.service(BootService).trigger_boot() is True
    await h.settle()
    assert h.csms.actions().count("BootNotification") == 2
    held.set_result({"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 1})
    await h.settle()
    assert h.registration == "Accepted"
    h.csms.clear()
    await h.run_for(3)
    assert h.csms.actions() == ["Heartbeat"] * 3  # HeartbeatInterval 1: every second
    await h.close()


async def test_the_heartbeat_answer_sets_the_clock_triggered_or_not() -> None:
    h = Harness()
    await h.boot()
    times = iter(["2030-05-06T07:08:09Z", "2031-01-02T03:04:05Z"])
    h.csms.responders["Heartbeat"] = lambda p: {"currentTime": next(times)}
    await h.run_for(20)  # the periodic Heartbeat (interval 20)
    assert h.clock.now().year == 2030
    h.service(BootService).trigger_heartbeat()
    await h.settle()
    assert h.clock.now().year == 2031
    assert h.csms.of("Heartbeat") == [{}, {}]
    await h.close()
