"""The EV's power follows a change over the ramp time, up and down, and the energy is the
integral of that power: no jump in the register, no energy from nowhere."""

from __future__ import annotations

import itertools

import pytest

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware import EvProfile, Simulator
from ocpp_station.hardware.simulator_ev import ChargeSegment, RampDown

EV = EvProfile(50.0, 20.0, 100_000.0, name="test car")
RAMP = 4.0


def charging(ramp: float = RAMP) -> tuple[VirtualClock, Simulator]:
    clock = VirtualClock()
    sim = Simulator(clock, seed=1, ev=EV, ramp_seconds=ramp)
    sim.plug(1)
    sim.connectors[0].set_energy_offered(True)
    return clock, sim


def integral(clock: VirtualClock, sim: Simulator, seconds: float, step: float = 0.05) -> float:
    """Wh by the trapezoid rule over `seconds`, and the register's rise must match it."""
    c = sim.connectors[0]
    before = c.read_meter()
    total, last = 0.0, before
    for _ in range(round(seconds / step)):
        clock.advance(step)
        now = c.read_meter()
        total += (last.power_w + now.power_w) / 2 * step / 3600
        assert now.energy_wh >= last.energy_wh
        last = now
    assert last.energy_wh - before.energy_wh == pytest.approx(total, rel=1e-6, abs=1e-9)
    return total


def test_the_power_ramps_up_then_holds() -> None:
    clock, sim = charging()
    c = sim.connectors[0]
    start = c.read_meter()
    assert start.power_w == 0.0
    clock.advance(RAMP / 4)
    assert c.read_meter().power_w == pytest.approx(12_500.0)
    clock.advance(RAMP / 4)
    assert c.read_meter().power_w == pytest.approx(25_000.0)
    clock.advance(RAMP / 2)
    at_ramp_end = c.read_meter()
    assert at_ramp_end.power_w == pytest.approx(50_000.0)
    # Over the ramp: half the energy of the same time at full power.
    assert at_ramp_end.energy_wh - start.energy_wh == pytest.approx(50_000.0 * RAMP / 2 / 3600)
    clock.advance(10)
    assert c.read_meter().power_w == 50_000.0


def test_energy_is_the_integral_of_the_power_through_every_change() -> None:
    clock, sim = charging()
    c = sim.connectors[0]
    integral(clock, sim, 6)  # up, then constant
    sim.suspend_ev(1)  # the EV pauses: down over the ramp
    assert c.read_meter().power_w == pytest.approx(50_000.0)
    clock.advance(RAMP / 2)
    assert c.read_meter().power_w == pytest.approx(25_000.0)
    clock.advance(RAMP / 2)
    assert c.read_meter().power_w == 0.0
    paused = c.read_meter().energy_wh
    clock.advance(30)
    assert c.read_meter().energy_wh == paused  # after the ramp nothing flows
    sim.resume_ev(1)
    integral(clock, sim, 6)
    c.set_power_limit(20_000.0)  # a lower limit: down to it over the ramp, not to 0
    clock.advance(RAMP / 2)
    assert c.read_meter().power_w == pytest.approx(35_000.0)
    integral(clock, sim, 6)
    assert c.read_meter().power_w == pytest.approx(20_000.0)
    c.set_energy_offered(False)  # the session stops mid-ramp of nothing: down from 20 kW
    integral(clock, sim, RAMP + 1)
    assert c.read_meter().power_w == 0.0


def test_a_change_mid_ramp_starts_from_the_power_reached() -> None:
    clock, sim = charging()
    c = sim.connectors[0]
    clock.advance(RAMP / 2)  # 25 kW on the way up
    sim.suspend_ev(1)
    assert c.read_meter().power_w == pytest.approx(25_000.0)
    clock.advance(RAMP / 4)
    assert c.read_meter().power_w == pytest.approx(25_000.0 * 0.75)
    sim.resume_ev(1)  # from 18.75 kW back up to 50 kW
    clock.advance(RAMP / 2)
    assert c.read_meter().power_w == pytest.approx(18_750.0 + (50_000.0 - 18_750.0) / 2)


def test_unplugging_stops_the_flow_at_once() -> None:
    clock, sim = charging()
    c = sim.connectors[0]
    clock.advance(10)
    sim.unplug(1)
    register = c.read_meter().energy_wh
    assert c.read_meter().power_w == 0.0
    clock.advance(RAMP)
    assert c.read_meter().energy_wh == register


def test_without_a_ramp_the_power_steps() -> None:
    _, sim = charging(ramp=0.0)
    assert sim.connectors[0].read_meter().power_w == 50_000.0
    sim.suspend_ev(1)
    assert sim.connectors[0].read_meter().power_w == 0.0


def test_the_ramp_moves_the_end_of_the_charge_by_its_lag() -> None:
    flat = ChargeSegment(EV, 0.0, 0.0, 0.2, 50_000.0)
    ramped = ChargeSegment(EV, 0.0, 0.0, 0.2, 50_000.0, ramp_s=RAMP)
    assert ramped.full_at - flat.full_at == pytest.approx(RAMP / 2)
    assert ramped.full_energy() == flat.full_energy()
    # Near the knee there is no room for a ramp: the taper starts at once.
    late = ChargeSegment(EV, 0.0, 0.0, 0.995, 50_000.0, ramp_s=RAMP)
    assert late.at(0.0)[2] == pytest.approx(late.p_knee)
    with pytest.raises(ValueError, match="0 or more"):
        ChargeSegment(EV, 0.0, 0.0, 0.2, 50_000.0, ramp_s=-1.0)
    with pytest.raises(ValueError, match="lasts some time"):
        RampDown(0.0, 0.0, 0.5, 1000.0, 0.0, 1000.0)


def test_a_ramp_down_never_overfills_the_battery() -> None:
    tail = RampDown(0.0, 100.0, 0.999_99, 50_000.0, RAMP, EV.capacity_wh)
    energy, soc, power = tail.at(RAMP)
    assert soc == pytest.approx(1.0) and energy == pytest.approx(100.0 + 0.000_01 * EV.capacity_wh)
    assert power == 0.0
    readings = [tail.at(t / 10) for t in range(0, 50)]
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(readings))


def test_a_ramp_is_a_few_seconds_at_most() -> None:
    with pytest.raises(ValueError, match="ramp_seconds"):
        Simulator(VirtualClock(), ramp_seconds=61.0)
