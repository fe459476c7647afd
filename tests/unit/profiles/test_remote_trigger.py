"""Remote Trigger (§5.17, [E] 3.35, 3.46): what each TriggerMessage answers and what it sends,
with the virtual clock and a fake central system."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_station.profiles.remote_trigger import PROFILE as REMOTE_TRIGGER
from ocpp_station.profiles.remote_trigger.service import TriggerService, TriggerSource
from ocpp_station.station.core import PROFILE as CORE
from tests.unit.harness import Harness


async def booted(**config: str) -> Harness:
    h = Harness(config=config or None)
    await h.boot()
    h.csms.clear()
    return h


async def trigger(h: Harness, message: str, connector_id: int | None = None) -> str:
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    answer = await h.request("TriggerMessage", payload)
    return str(answer["status"])


async def test_status_for_one_connector_all_of_them_or_the_station() -> None:
    h = await booted()
    await h.plug(2)
    h.csms.clear()
    assert await trigger(h, "StatusNotification", 2) == "Accepted"
    assert [(p["connectorId"], p["status"]) for p in h.csms.of("StatusNotification")] == [
        (2, "Preparing")
    ]
    h.csms.clear()
    assert await trigger(h, "StatusNotification", 0) == "Accepted"
    assert [p["connectorId"] for p in h.csms.of("StatusNotification")] == [0]
    h.csms.clear()
    assert await trigger(h, "StatusNotification") == "Accepted"
    assert [(p["connectorId"], p["status"]) for p in h.csms.of("StatusNotification")] == [
        (0, "Available"),
        (1, "Available"),
        (2, "Preparing"),
    ]
    h.csms.clear()
    for absent in (3, 4352, -1):
        assert await trigger(h, "StatusNotification", absent) == "Rejected"
    assert h.csms.sent == []
    await h.close()


async def test_a_triggered_status_is_not_held_back_by_minimum_status_duration() -> None:
    h = await booted(MinimumStatusDuration="30")
    await h.plug(1)  # Preparing waits its 30 s
    assert h.csms.statuses(1) == []
    assert await trigger(h, "StatusNotification", 1) == "Accepted"
    assert h.csms.statuses(1) == ["Preparing"]
    await h.close()


async def test_meter_values_now_with_context_trigger_and_every_configured_measurand() -> None:
    h = await booted(
        MeterValuesSampledData="Energy.Active.Import.Register,Power.Active.Import,Voltage"
    )
    assert await trigger(h, "MeterValues", 1) == "Accepted"
    [message] = h.csms.of("MeterValues")
    assert message["connectorId"] == 1 and "transactionId" not in message
    [meter_value] = message["meterValue"]
    assert meter_value["timestamp"] == "2026-01-01T12:00:00.000Z"
    assert [(v["measurand"], v["context"]) for v in meter_value["sampledValue"]] == [
        ("Energy.Active.Import.Register", "Trigger"),
        ("Power.Active.Import", "Trigger"),
        ("Voltage", "Trigger"),
    ]
    await h.close()


async def test_meter_values_during_a_transaction_carry_its_id_and_are_not_queued() -> None:
    h = await booted(MeterValueSampleInterval="0")  # sampling off: a trigger still reads
    await h.plug(1)
    await h.card("TAG")
    transaction_id = h.connector(1).transaction.transaction_id
    h.csms.clear()
    assert await trigger(h, "MeterValues") == "Accepted"
    assert [(p["connectorId"], p.get("transactionId")) for p in h.csms.of("MeterValues")] == [
        (1, transaction_id),
        (2, None),
    ]
    assert h.station.sender.queued == 0
    await h.close()


async def test_meter_values_for_connector_0_or_an_absent_one_are_rejected() -> None:
    h = await booted()
    for connector_id in (0, 3, 4352):
        assert await trigger(h, "MeterValues", connector_id) == "Rejected"
    assert h.csms.of("MeterValues") == []
    await h.close()


async def test_a_triggered_meter_value_with_nothing_readable_reports_the_register() -> None:
    h = await booted(MeterValuesSampledData="SoC")  # no EV plugged: no SoC to read
    assert await trigger(h, "MeterValues", 1) == "Accepted"
    [message] = h.csms.of("MeterValues")
    values = message["meterValue"][0]["sampledValue"]
    assert [(v["measurand"], v["context"]) for v in values] == [
        ("Energy.Active.Import.Register", "Trigger")
    ]
    await h.close()


async def test_heartbeat_ignores_the_connector_and_its_answer_sets_the_clock() -> None:
    h = await booted()
    h.csms.responders["Heartbeat"] = lambda p: {"currentTime": "2027-03-04T05:06:07Z"}
    assert await trigger(h, "Heartbeat", 4352) == "Accepted"
    # The answer moved the clock by a year: a SettingSystemTime security event.
    assert h.csms.actions() == ["Heartbeat", "SecurityEventNotification"]
    assert h.csms.of("SecurityEventNotification")[0]["type"] == "SettingSystemTime"
    assert h.clock.now().isoformat().startswith("2027-03-04T05:06:07")
    await h.close()


async def test_boot_is_refused_once_accepted() -> None:
    h = await booted()
    assert await trigger(h, "BootNotification") == "Rejected"  # [E] 3.35
    await h.run_for(5)
    assert h.csms.of("BootNotification") == []
    await h.close()


async def test_while_pending_the_trigger_is_answered_and_its_message_goes() -> None:
    """§4.2: while Pending the station sends nothing unless a TriggerMessage asks for it."""
    h = Harness()
    h.csms.answer_boot("Pending", 300)
    await h.boot()
    await h.plug(1)
    await h.run_for(10)
    assert h.csms.actions() == ["BootNotification"]
    assert await trigger(h, "StatusNotification", 1) == "Accepted"
    assert await trigger(h, "Heartbeat") == "Accepted"
    assert await trigger(h, "MeterValues", 2) == "Accepted"
    assert h.csms.actions() == [
        "BootNotification",
        "StatusNotification",
        "Heartbeat",
        "MeterValues",
    ]
    assert h.csms.of("StatusNotification")[0]["status"] == "Preparing"
    # A triggered boot does not wait out the 300 s the Pending answer asked for.
    h.csms.responders.pop("BootNotification")
    assert await trigger(h, "BootNotification") == "Accepted"
    await h.settle()
    assert h.csms.actions().count("BootNotification") == 2 and h.registration == "Accepted"
    await h.close()


async def test_a_message_without_a_source_is_not_implemented_until_one_is_added() -> None:
    # A station without Firmware Management: nothing sends its notifications.
    h = Harness(installed=(CORE, REMOTE_TRIGGER))
    await h.boot()
    assert await trigger(h, "FirmwareStatusNotification") == "NotImplemented"
    assert await trigger(h, "DiagnosticsStatusNotification", 1) == "NotImplemented"
    sent: list[int | None] = []
    h.service(TriggerService).add_source(
        "FirmwareStatusNotification", TriggerSource(lambda c: c is None, sent.append)
    )
    assert await trigger(h, "FirmwareStatusNotification", 1) == "Rejected"
    assert await trigger(h, "FirmwareStatusNotification") == "Accepted"
    assert sent == [None]
    await h.close()


@pytest.mark.parametrize("message", ["StatusNotification", "MeterValues", "Heartbeat"])
async def test_the_answer_goes_before_the_message(message: str) -> None:
    h = await booted()
    handler, after = h.station.handlers()["TriggerMessage"]
    response = handler({"requestedMessage": message, "connectorId": 1})
    await h.settle()
    assert h.csms.sent == []  # nothing before the after-hook (the answer is written first)
    assert after is not None and isinstance(response, dict)
    after({"requestedMessage": message, "connectorId": 1}, response)
    await h.settle()
    assert message in h.csms.actions()
    await h.close()


async def test_supported_feature_profiles_names_remote_trigger() -> None:
    h = await booted()
    assert "RemoteTrigger" in h.station.config.get_list("SupportedFeatureProfiles")
    await h.close()
