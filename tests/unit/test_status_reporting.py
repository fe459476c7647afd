"""StatusNotification as sent (§4.9, §6.47): every field of each report (connector 0 too), the
report after an outage, MinimumStatusDuration at its smallest, a new reason for the same
status, and the record of a transition §4.9 forbids."""

from __future__ import annotations

from datetime import UTC, datetime

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.station.connector import Transaction
from tests.unit.harness import Harness


def sent(h: Harness, connector_id: int) -> list[tuple[str, str, str | None]]:
    return [
        (p["status"], p["errorCode"], p.get("info"))
        for p in h.csms.of("StatusNotification")
        if p["connectorId"] == connector_id
    ]


async def booted(**config: str) -> Harness:
    h = Harness(config=config or None)
    await h.boot()
    h.csms.clear()
    return h


async def test_connector_zero_reports_its_fault_code_and_info_and_a_new_code() -> None:
    h = await booted()
    h.hw.raise_fault(0, "OtherError", "cabinet open")
    await h.settle()
    h.hw.raise_fault(0, "HighTemperature")  # still Faulted, another code: reported
    await h.settle()
    h.hw.clear_fault(0)
    await h.settle()
    assert sent(h, 0) == [
        ("Faulted", "OtherError", "cabinet open"),
        ("Faulted", "HighTemperature", None),
        ("Available", "NoError", None),
    ]
    await h.close()


async def test_every_report_carries_the_fault_and_its_info() -> None:
    clock = VirtualClock()
    sim = Simulator(clock, 2, fixed_cable=True, has_lock=False, seed=7)
    sim.raise_fault(2, "GroundFailure", "leak")
    h = Harness(hardware=sim, clock=clock)
    await h.boot()  # the boot's report of every connector ([E] 3.22)
    assert sent(h, 2) == [("Faulted", "GroundFailure", "leak")]
    h.csms.clear()
    h.station.status.report_now(2, triggered=True)  # a TriggerMessage's
    h.station.status.report_now(0, triggered=True)
    await h.settle()
    assert sent(h, 2) == [("Faulted", "GroundFailure", "leak")]
    assert sent(h, 0) == [("Available", "NoError", None)]
    await h.close()


async def test_after_an_outage_what_changed_is_reported_first_connector_0_included() -> None:
    h = await booted()
    h.disconnect()
    h.hw.raise_fault(0, "OtherError", "cabinet open")
    h.hw.raise_fault(1, "GroundFailure", "leak")
    await h.settle()
    h.csms.clear()
    h.connect()
    await h.settle()
    assert sent(h, 0) == [("Faulted", "OtherError", "cabinet open")]
    assert sent(h, 1) == [("Faulted", "GroundFailure", "leak")]
    assert sent(h, 2) == []  # unchanged: not reported again (digest §2.3)
    await h.close()


async def test_a_status_held_back_goes_with_all_its_fields() -> None:
    h = await booted(MinimumStatusDuration="1")
    h.hw.raise_fault(1, "GroundFailure", "leak")
    await h.settle()
    assert sent(h, 1) == []  # held back: even 1 s is a wait
    await h.run_for(1)
    assert sent(h, 1) == [("Faulted", "GroundFailure", "leak")]
    await h.close()


async def test_a_warning_found_at_power_up_is_reported_with_the_status() -> None:
    clock = VirtualClock()
    sim = Simulator(clock, 2, fixed_cable=True, has_lock=False, seed=7)
    sim.plug(1)
    sim.raise_fault(1, "EVCommunicationError", "no PWM")
    h = Harness(hardware=sim, clock=clock)
    await h.boot()
    assert sent(h, 1) == [("Preparing", "EVCommunicationError", "no PWM")]
    await h.close()


async def test_a_new_reason_for_the_same_status_is_reported() -> None:
    h = await booted(StopTransactionOnEVSideDisconnect="false")
    await h.plug(1)
    await h.card("TAG", 1)
    h.hw.suspend_ev(1)
    await h.settle()
    h.csms.clear()
    await h.unplug(1)  # SuspendedEV still, now because the EV is gone
    assert sent(h, 1) == [("SuspendedEV", "NoError", "EV side disconnected")]
    await h.close()


async def test_a_transition_the_table_forbids_is_recorded() -> None:
    h = await booted()
    c = h.connector(1)
    c.finishing = True
    h.station.status.update(c)
    c.finishing = False
    c.ev_drawing = True
    c.transaction = Transaction(1, 1, "TAG", None, 0, datetime(2026, 1, 1, tzinfo=UTC))
    h.station.status.update(c)  # Finishing -> Charging: F3 is not in §4.9 (nor A6 before)
    assert h.station.status.illegal_transitions == [
        (1, "Available", "Finishing"),
        (1, "Finishing", "Charging"),
    ]
    h.station.status.illegal_transitions.clear()
    c.transaction = None
    await h.close()
