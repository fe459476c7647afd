"""What the station reads from its hardware at power-up, and what a fault or a warning does to
the energy offered and to the status (§4.9)."""

from __future__ import annotations

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from tests.unit.harness import Harness


def hardware(clock: VirtualClock) -> Simulator:
    return Simulator(clock, 2, fixed_cable=True, has_lock=False, seed=7)


async def test_power_up_reads_cables_ev_faults_and_the_station_fault() -> None:
    clock = VirtualClock()
    sim = hardware(clock)
    sim.plug(1)
    sim.suspend_ev(1)  # plugged, but the EV draws nothing
    sim.raise_fault(2, "GroundFailure", "leak")
    sim.raise_fault(0, "OtherError")
    h = Harness(hardware=sim, clock=clock)
    c1, c2 = h.connector(1), h.connector(2)
    assert (c1.plugged, c1.ev_drawing, c1.fault) == (True, False, None)
    assert (c2.plugged, c2.ev_drawing, c2.fault) == (False, False, ("GroundFailure", "leak"))
    assert h.station.cp.fault == ("OtherError", None)
    await h.boot()
    assert [h.status(i) for i in (0, 1, 2)] == ["Faulted", "Preparing", "Faulted"]
    await h.close()


async def charging() -> tuple[Harness, Simulator]:
    """A station charging on connector 1, and its simulated hardware."""
    clock = VirtualClock()
    sim = hardware(clock)
    h = Harness(hardware=sim, clock=clock)
    await h.boot()
    await h.plug(1)
    await h.card("TAG", 1)
    return h, sim


async def test_a_fault_during_a_session_withdraws_energy_and_its_end_offers_it_again() -> None:
    h, sim = await charging()
    assert h.status(1) == "Charging" and sim.connector(1)._offered
    sim.raise_fault(1, "OverCurrentFailure")
    await h.settle()
    assert h.status(1) == "Faulted" and not sim.connector(1)._offered
    sim.clear_fault(1)
    await h.settle()
    assert h.status(1) == "Charging" and sim.connector(1)._offered
    assert h.connector(1).ev_drawing
    await h.close()


async def test_a_warning_leaves_charging_on_and_its_end_clears_the_error_code() -> None:
    h, sim = await charging()
    h.csms.clear()
    sim.raise_fault(1, "EVCommunicationError", "no PWM")
    await h.settle()
    assert sim.connector(1)._offered and h.connector(1).warning is not None
    sim.clear_fault(1)
    await h.settle()
    assert h.connector(1).warning is None and h.connector(1).fault is None
    last = h.csms.of("StatusNotification")[-1]
    assert (last["connectorId"], last["errorCode"]) == (1, "NoError")
    assert h.connector(1).error_code == "NoError"
    await h.close()
