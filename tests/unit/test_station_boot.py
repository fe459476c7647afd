"""BootNotification, Heartbeat and the registration gate (§4.2, §4.6; TC_001, TC_002)."""

from __future__ import annotations

from ocpp_station.rpc.errors import CallErrorReceived, RpcTimeout
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
    assert h.csms.actions() == ["BootNotification", "BootNotification"] + ["StatusNotification"] * 3
    await h.close()
