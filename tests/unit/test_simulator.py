"""The simulated hardware: interfaces, charging over virtual time, actions, faults, persistence."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from ocpp.v16.enums import ChargePointErrorCode, Measurand

from ocpp_station.clock import LoopClock, VirtualClock
from ocpp_station.hardware import (
    ConnectorHardware,
    EvProfile,
    Hardware,
    HardwareListener,
    InvalidAction,
    MeterReading,
    Simulator,
    UnknownConnector,
)

EV = EvProfile(50.0, 20.0, 100_000.0, name="test car")


class Recorder:
    """A HardwareListener that logs every call with the monotonic time it came at."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.events: list[tuple[float, str, tuple[Any, ...]]] = []

    def _log(self, name: str, *args: Any) -> None:
        self.events.append((self.clock.monotonic(), name, args))

    def names(self) -> list[tuple[str, tuple[Any, ...]]]:
        return [(name, args) for _, name, args in self.events]

    def cable_plugged(self, connector_id: int) -> None:
        self._log("cable_plugged", connector_id)

    def cable_unplugged(self, connector_id: int) -> None:
        self._log("cable_unplugged", connector_id)

    def ev_suspended(self, connector_id: int) -> None:
        self._log("ev_suspended", connector_id)

    def ev_resumed(self, connector_id: int) -> None:
        self._log("ev_resumed", connector_id)

    def fault_raised(self, connector_id: int, error_code: str, info: str | None) -> None:
        self._log("fault_raised", connector_id, error_code, info)

    def fault_cleared(self, connector_id: int) -> None:
        self._log("fault_cleared", connector_id)

    def card_presented(self, id_tag: str, connector_id: int | None) -> None:
        self._log("card_presented", id_tag, connector_id)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sim(clock: VirtualClock) -> Simulator:
    return Simulator(clock, seed=42, ev=EV)


@pytest.fixture
def rec(clock: VirtualClock, sim: Simulator) -> Recorder:
    recorder = Recorder(clock)
    sim.set_listener(recorder)
    return recorder


def test_implements_the_interfaces(sim: Simulator, rec: Recorder) -> None:
    assert isinstance(sim, Hardware)
    assert isinstance(rec, HardwareListener)
    assert [c.connector_id for c in sim.connectors] == [1, 2]
    for c in sim.connectors:
        assert isinstance(c, ConnectorHardware)
        assert c.fixed_cable and not c.has_lock
    assert sim.measurands <= {m.value for m in Measurand}
    assert "Energy.Active.Import.Register" in sim.measurands
    assert "SoC" in sim.measurands
    assert sim.station_fault() is None


def test_idle_connector_reads_register_and_ambient(sim: Simulator) -> None:
    r = sim.connectors[0].read_meter()
    assert isinstance(r, MeterReading)
    assert 100_000 <= r.energy_wh <= 100_000_000
    assert r.energy_wh == int(r.energy_wh)
    assert (r.power_w, r.current_a, r.voltage_v, r.soc_percent) == (0.0, 0.0, 0.0, None)
    assert (r.power_offered_w, r.current_offered_a) == (0.0, 0.0)
    assert r.temperature_c == 25.0


def test_whole_charge_energy_is_the_integral_of_power(clock: VirtualClock, sim: Simulator) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    start = c.read_meter()
    assert start.soc_percent == 20.0
    total = c.seconds_to_full()
    assert total is not None
    readings = [start]
    integral_wh = 0.0
    while c.seconds_to_full() is not None:
        clock.advance(1.0)
        r = c.read_meter()
        prev = readings[-1]
        integral_wh += (prev.power_w + r.power_w) / 2 * 1.0 / 3600
        readings.append(r)
        assert len(readings) < total + 10
    delivered = readings[-1].energy_wh - start.energy_wh
    assert delivered == pytest.approx(0.8 * EV.capacity_wh, rel=1e-9)
    assert integral_wh == pytest.approx(delivered, rel=1e-5)
    for prev, r in itertools.pairwise(readings):
        assert r.energy_wh >= prev.energy_wh
        assert r.voltage_v >= prev.voltage_v
        assert r.soc_percent is not None and prev.soc_percent is not None
        assert r.soc_percent >= prev.soc_percent
    # Constant 50 kW (the EVSE maximum) while the EV accepts more, then the taper.
    mid = next(r for r in readings if r.soc_percent and r.soc_percent > 50)
    assert mid.power_w == 50_000.0
    assert mid.power_offered_w == 50_000.0
    assert mid.current_a == pytest.approx(mid.power_w / mid.voltage_v)
    assert mid.current_offered_a == pytest.approx(mid.power_offered_w / mid.voltage_v)
    assert mid.soc_percent is not None
    assert mid.voltage_v == pytest.approx(350.0 + 50.0 * mid.soc_percent / 100, rel=1e-9)
    assert mid.temperature_c > 25.0
    taper = [r for r in readings if r.soc_percent and 91 < r.soc_percent < 99.9]
    assert taper and all(b.power_w < a.power_w for a, b in itertools.pairwise(taper))
    assert taper[-1].temperature_c < mid.temperature_c
    end = readings[-1]
    assert (end.soc_percent, end.power_w, end.current_a) == (100.0, 0.0, 0.0)
    assert end.temperature_c == 25.0
    assert end.voltage_v == 400.0


def test_full_battery_fires_ev_suspended_once_at_predicted_time(
    clock: VirtualClock, sim: Simulator, rec: Recorder
) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    started = clock.monotonic()
    predicted = c.seconds_to_full()
    assert predicted is not None
    # 20 -> 90.5 % at 50 kW (where the EV's curve meets 50 kW), then the exponential taper.
    assert 2500 < predicted < 4500
    clock.advance(predicted - 0.5)
    assert c.ev_wants_power()
    assert c.read_meter().power_w > 0
    assert [n for _, n, _ in rec.events].count("ev_suspended") == 0
    clock.advance(1.0)
    suspended = [t for t, n, _ in rec.events if n == "ev_suspended"]
    assert suspended == [started + predicted]
    assert not c.ev_wants_power()
    assert c.read_meter().power_w == 0.0
    assert c.seconds_to_full() is None
    assert clock.next_due() is None
    clock.advance(10_000.0)
    assert [n for _, n, _ in rec.events].count("ev_suspended") == 1
    # Full: the EV is suspended and cannot be resumed or suspended again.
    with pytest.raises(InvalidAction, match="full"):
        sim.resume_ev(1)
    with pytest.raises(InvalidAction, match="already suspended"):
        sim.suspend_ev(1)


def test_full_time_is_replanned_after_a_pause(clock: VirtualClock, sim: Simulator) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    predicted = c.seconds_to_full()
    assert predicted is not None
    clock.advance(600.0)
    c.set_energy_offered(False)  # suspended by the EVSE for 5 minutes
    assert c.seconds_to_full() is None
    clock.advance(300.0)
    c.set_energy_offered(True)
    remaining = c.seconds_to_full()
    assert remaining == pytest.approx(predicted - 600.0, abs=1e-6)


def test_ev_suspend_and_resume_stop_and_restart_the_draw(
    clock: VirtualClock, sim: Simulator, rec: Recorder
) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    clock.advance(60.0)
    sim.suspend_ev(1)
    paused = c.read_meter()
    assert paused.power_w == 0.0
    assert paused.power_offered_w == 50_000.0  # the EVSE still offers
    assert not c.ev_wants_power()
    assert c.seconds_to_full() is None
    clock.advance(600.0)
    assert c.read_meter().energy_wh == paused.energy_wh
    assert c.read_meter().soc_percent == paused.soc_percent
    sim.resume_ev(1)
    assert c.ev_wants_power()
    clock.advance(60.0)
    resumed = c.read_meter()
    assert resumed.power_w == 50_000.0
    assert resumed.energy_wh == pytest.approx(paused.energy_wh + 50_000.0 * 60 / 3600)
    assert rec.names() == [
        ("cable_plugged", (1,)),
        ("ev_suspended", (1,)),
        ("ev_resumed", (1,)),
    ]


def test_ev_pause_is_reported_even_without_an_offer(sim: Simulator, rec: Recorder) -> None:
    sim.plug(2)
    sim.suspend_ev(2)
    sim.resume_ev(2)
    assert rec.names()[1:] == [("ev_suspended", (2,)), ("ev_resumed", (2,))]


def test_offer_off_stops_power_without_an_ev_event(
    clock: VirtualClock, sim: Simulator, rec: Recorder
) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    assert c.is_energy_offered()
    clock.advance(30.0)
    c.set_energy_offered(False)
    r = c.read_meter()
    assert (r.power_w, r.current_a, r.power_offered_w, r.current_offered_a) == (0, 0, 0, 0)
    assert r.voltage_v > 0  # the EV is still there
    assert c.ev_wants_power()  # it would draw if offered
    clock.advance(100.0)
    assert c.read_meter().energy_wh == r.energy_wh
    assert clock.next_due() is None
    assert rec.names() == [("cable_plugged", (1,))]
    c.set_energy_offered(True)
    clock.advance(1.0)
    assert c.read_meter().power_w == 50_000.0


def test_offer_before_plug_starts_the_draw_on_plug(clock: VirtualClock, sim: Simulator) -> None:
    c = sim.connectors[0]
    c.set_energy_offered(True)
    clock.advance(10.0)
    assert c.read_meter().power_w == 0.0
    assert c.read_meter().power_offered_w == 50_000.0
    sim.plug(1)
    clock.advance(10.0)
    assert c.read_meter().power_w == 50_000.0


def test_power_limit_caps_the_draw(clock: VirtualClock, sim: Simulator) -> None:
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    c.set_power_limit(11_000.0)
    clock.advance(60.0)
    r = c.read_meter()
    assert (r.power_w, r.power_offered_w) == (11_000.0, 11_000.0)
    c.set_power_limit(0.0)
    assert c.read_meter().power_w == 0.0
    assert c.seconds_to_full() is None
    c.set_power_limit(None)
    assert c.read_meter().power_w == 50_000.0
    with pytest.raises(ValueError):
        c.set_power_limit(-1.0)


def test_unplug_forgets_the_ev_and_keeps_the_register(clock: VirtualClock, rec: Recorder) -> None:
    sim = Simulator(clock, seed=3)
    sim.set_listener(rec)
    c = sim.connectors[0]
    sim.plug(1)
    first = c.ev
    assert first is not None
    c.set_energy_offered(True)
    clock.advance(120.0)
    before = c.read_meter().energy_wh
    sim.unplug(1)
    r = c.read_meter()
    assert r.energy_wh == before
    assert (r.soc_percent, r.voltage_v, r.power_w) == (None, 0.0, 0.0)
    assert c.ev is None and not c.ev_wants_power() and not c.is_plugged()
    assert clock.next_due() is None
    seen = {(first.name, first.initial_soc_percent)}
    for _ in range(5):
        sim.plug(1)
        ev = c.ev
        assert ev is not None
        assert c.read_meter().soc_percent == pytest.approx(ev.initial_soc_percent)
        seen.add((ev.name, ev.initial_soc_percent))
        sim.unplug(1)
    assert len(seen) > 1  # new EVs, not the same one over and over
    assert rec.names()[:2] == [("cable_plugged", (1,)), ("cable_unplugged", (1,))]


def test_ev_arriving_full_does_not_want_power(clock: VirtualClock) -> None:
    sim = Simulator(clock, ev=EvProfile(40.0, 100.0, 50_000.0))
    c = sim.connectors[0]
    sim.plug(1)
    c.set_energy_offered(True)
    assert not c.ev_wants_power()
    assert c.read_meter().power_w == 0.0
    assert clock.next_due() is None


def test_faults_are_reported_and_replaced(sim: Simulator, rec: Recorder) -> None:
    c = sim.connectors[1]
    sim.raise_fault(2, "GroundFailure", "RCD tripped")
    assert c.active_fault() == ("GroundFailure", "RCD tripped")
    sim.raise_fault(2, ChargePointErrorCode.high_temperature, None)
    assert c.active_fault() == ("HighTemperature", None)
    assert sim.connectors[0].active_fault() is None
    sim.clear_fault(2)
    assert c.active_fault() is None
    with pytest.raises(InvalidAction, match="no active fault"):
        sim.clear_fault(2)
    assert rec.names() == [
        ("fault_raised", (2, "GroundFailure", "RCD tripped")),
        ("fault_raised", (2, "HighTemperature", None)),
        ("fault_cleared", (2,)),
    ]
    assert type(rec.events[1][2][1]) is str  # a plain string, not the enum


def test_station_fault_is_connector_zero(sim: Simulator, rec: Recorder) -> None:
    sim.raise_fault(0, "InternalError", "controller watchdog")
    assert sim.station_fault() == ("InternalError", "controller watchdog")
    assert all(c.active_fault() is None for c in sim.connectors)
    sim.clear_fault(0)
    assert sim.station_fault() is None
    with pytest.raises(InvalidAction):
        sim.clear_fault(0)
    assert rec.names() == [
        ("fault_raised", (0, "InternalError", "controller watchdog")),
        ("fault_cleared", (0,)),
    ]


@pytest.mark.parametrize("code", ["NoError", "Bogus", "groundfailure", "", None, 3])
def test_fault_codes_must_be_ocpp_error_codes(sim: Simulator, code: Any) -> None:
    with pytest.raises(ValueError, match="ChargePointErrorCode"):
        sim.raise_fault(1, code, None)
    assert sim.connectors[0].active_fault() is None


def test_fault_info_must_fit_cistring50(sim: Simulator, rec: Recorder) -> None:
    with pytest.raises(ValueError):
        sim.raise_fault(1, "OtherError", "x" * 51)
    with pytest.raises(ValueError):
        sim.raise_fault(1, "OtherError", "caf\u00e9")
    sim.raise_fault(1, "OtherError", "x" * 50)
    assert len(rec.events) == 1


@pytest.mark.parametrize("bad", [0, 3, -1, True, False, "1", 1.0, 0.0, None])
def test_unknown_connectors(sim: Simulator, rec: Recorder, bad: Any) -> None:
    for action in (sim.plug, sim.unplug, sim.suspend_ev, sim.resume_ev):
        with pytest.raises(UnknownConnector):
            action(bad)
    with pytest.raises(UnknownConnector):
        sim.set_lock_failure(bad, True)
    if bad is not None:
        with pytest.raises(UnknownConnector):
            sim.present_card("TAG1", bad)
    if not (type(bad) is int and bad == 0):  # 0 is the station, valid for faults
        with pytest.raises(UnknownConnector):
            sim.raise_fault(bad, "OtherError", None)
        with pytest.raises(UnknownConnector):
            sim.clear_fault(bad)
    assert rec.events == []


def test_actions_that_make_no_sense_now(sim: Simulator, rec: Recorder) -> None:
    with pytest.raises(InvalidAction, match="not plugged"):
        sim.unplug(1)
    with pytest.raises(InvalidAction, match="No EV"):
        sim.suspend_ev(1)
    with pytest.raises(InvalidAction, match="No EV"):
        sim.resume_ev(1)
    sim.plug(1)
    with pytest.raises(InvalidAction, match="already plugged"):
        sim.plug(1)
    with pytest.raises(InvalidAction, match="not suspended"):
        sim.resume_ev(1)
    sim.suspend_ev(1)
    with pytest.raises(InvalidAction, match="already suspended"):
        sim.suspend_ev(1)
    with pytest.raises(InvalidAction, match="no active fault"):
        sim.clear_fault(1)
    with pytest.raises(InvalidAction, match="no lock"):
        sim.set_lock_failure(1, True)
    assert rec.names() == [("cable_plugged", (1,)), ("ev_suspended", (1,))]


def test_cards_go_to_the_listener(sim: Simulator, rec: Recorder) -> None:
    sim.present_card("ABCDEF01", None)
    sim.present_card("TAG2", 2)
    assert rec.names() == [
        ("card_presented", ("ABCDEF01", None)),
        ("card_presented", ("TAG2", 2)),
    ]
    for bad in ("", "x" * 21, "tag\n", None, 12):
        with pytest.raises(ValueError):
            sim.present_card(bad, 1)  # type: ignore[arg-type]
    assert len(rec.events) == 2


def test_actions_work_without_a_listener(clock: VirtualClock) -> None:
    sim = Simulator(clock, ev=EvProfile(1.0, 90.0, 50_000.0))
    start = sim.connectors[0].read_meter().energy_wh
    sim.plug(1)
    assert sim.connectors[0].is_plugged()
    sim.connectors[0].set_energy_offered(True)
    sim.raise_fault(0, "OtherError", None)
    assert sim.station_fault() == ("OtherError", None)
    sim.clear_fault(0)
    assert sim.station_fault() is None
    sim.present_card("T", None)
    clock.advance(3600.0)
    # The 1 kWh battery at 90 % charged to full, nobody listening.
    assert sim.connectors[0].read_meter().energy_wh == pytest.approx(start + 100.0, abs=1.0)
    assert not sim.connectors[0].ev_wants_power()
    sim.unplug(1)
    assert not sim.connectors[0].is_plugged()


def test_listener_may_act_on_the_hardware_from_a_callback(clock: VirtualClock) -> None:
    sim = Simulator(clock, ev=EvProfile(1.0, 90.0, 50_000.0))

    class Station(Recorder):
        def ev_suspended(self, connector_id: int) -> None:
            super().ev_suspended(connector_id)
            sim.connectors[connector_id - 1].set_energy_offered(False)

        def cable_plugged(self, connector_id: int) -> None:
            super().cable_plugged(connector_id)
            assert sim.connectors[connector_id - 1].is_plugged()  # state is updated first
            sim.connectors[connector_id - 1].set_energy_offered(True)

    station = Station(clock)
    sim.set_listener(station)
    sim.plug(1)
    assert sim.connectors[0].read_meter().power_w > 0
    clock.advance(3600.0)
    assert not sim.connectors[0].is_energy_offered()
    assert [n for _, n, _ in station.events] == ["cable_plugged", "ev_suspended"]


def test_fixed_cable_lock_semantics(sim: Simulator) -> None:
    c = sim.connectors[0]
    assert c.lock() is True  # nothing to lock
    assert c.unlock() is False  # a fixed cable cannot be released
    assert not c.is_locked()


def test_socket_lock_and_lock_failure(clock: VirtualClock) -> None:
    sim = Simulator(clock, fixed_cable=False, has_lock=True)
    c = sim.connectors[0]
    assert not c.fixed_cable and c.has_lock
    assert c.lock() is True and c.is_locked()
    assert c.unlock() is True and not c.is_locked()
    sim.set_lock_failure(1, True)
    assert c.lock() is False and not c.is_locked()
    sim.set_lock_failure(1, False)
    assert c.lock() is True
    sim.set_lock_failure(1, True)
    assert c.unlock() is False and c.is_locked()
    # The cable can always be pulled at the EV side, even while locked at the station.
    sim.plug(1)
    sim.unplug(1)
    assert c.is_locked()


def test_socket_without_lock(clock: VirtualClock) -> None:
    sim = Simulator(clock, fixed_cable=False)
    c = sim.connectors[0]
    assert c.lock() is True and c.unlock() is True
    with pytest.raises(InvalidAction):
        sim.set_lock_failure(1, True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"connectors": 0},
        {"connectors": True},
        {"has_lock": True},
        {"max_power_w": 0.0},
    ],
)
def test_constructor_rejects_nonsense(clock: VirtualClock, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Simulator(clock, **kwargs)


def test_snapshot_restore_round_trip(clock: VirtualClock) -> None:
    sim = Simulator(clock, 3, fixed_cable=False, has_lock=True, seed=11)
    sim.plug(1)
    sim.plug(2)
    sim.connectors[0].set_energy_offered(True)
    sim.connectors[0].lock()
    sim.suspend_ev(2)
    sim.raise_fault(3, "PowerMeterFailure", "no answer")
    sim.raise_fault(0, "OtherError", None)
    sim.set_lock_failure(3, True)
    clock.advance(900.0)
    before = [c.read_meter() for c in sim.connectors]
    data = json.loads(json.dumps(sim.snapshot()))

    other_clock = VirtualClock()
    other_clock.advance(12_345.0)  # a fresh process: its monotonic clock is unrelated
    again = Simulator(other_clock, 3, fixed_cable=False, has_lock=True, seed=11)
    recorder = Recorder(other_clock)
    again.set_listener(recorder)
    again.restore(data)
    assert recorder.events == []
    after = [c.read_meter() for c in again.connectors]
    for b, a in zip(before, after, strict=True):
        assert a.energy_wh == b.energy_wh
        assert a.soc_percent == b.soc_percent
        assert a.voltage_v == b.voltage_v
    c1, c2, c3 = again.connectors
    assert c1.is_plugged() and c2.is_plugged() and not c3.is_plugged()
    assert c1.ev == sim.connectors[0].ev
    assert c1.is_locked() and not c2.is_locked()
    assert not c1.is_energy_offered()  # the contactor opens on a restart
    assert after[0].power_w == 0.0
    assert c1.ev_wants_power() and not c2.ev_wants_power()
    assert c3.active_fault() == ("PowerMeterFailure", "no answer")
    assert again.station_fault() == ("OtherError", None)
    assert c3.lock() is False  # still jammed
    assert again.snapshot() == data
    # The world goes on: charging continues from where it was, the paused EV can resume.
    c1.set_energy_offered(True)
    other_clock.advance(60.0)
    assert c1.read_meter().energy_wh > before[0].energy_wh
    again.resume_ev(2)
    assert recorder.names() == [("ev_resumed", (2,))]
    # The next EV on connector 1 is the one the original would have seen.
    again.unplug(1)
    again.plug(1)
    sim.unplug(1)
    sim.plug(1)
    assert c1.ev == sim.connectors[0].ev


def test_restore_cancels_a_running_charge(clock: VirtualClock, sim: Simulator) -> None:
    data = sim.snapshot()
    sim.plug(1)
    sim.connectors[0].set_energy_offered(True)
    sim.restore(data)
    assert clock.next_due() is None
    assert not sim.connectors[0].is_plugged()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version=2),
        lambda d: d["connectors"].pop(),
        lambda d: d["connectors"][1].update(id=5),
        lambda d: d["connectors"][1].update(energy_wh=-1.0),
        lambda d: d["connectors"][1].update(energy_wh="1"),
        lambda d: d["connectors"][1].update(plugged=1),
        lambda d: d["connectors"][1].update(arrivals=True),
        lambda d: d["connectors"][1].update(ev=None),
        lambda d: d["connectors"][1].update(ev_state="asleep"),
        lambda d: d["connectors"][1].update(soc_percent=101.0),
        lambda d: d["connectors"][0].update(ev={"capacity_kwh": 1}),
        lambda d: d["connectors"][1].update(fault={"error_code": "NoError"}),
        lambda d: d.update(station_fault="GroundFailure"),
    ],
)
def test_restore_rejects_bad_snapshots_and_changes_nothing(
    clock: VirtualClock, sim: Simulator, mutate: Any
) -> None:
    sim.plug(2)
    good = sim.snapshot()
    data = json.loads(json.dumps(good))
    mutate(data)
    sim.unplug(2)
    sim.raise_fault(1, "OtherError", None)
    before = sim.snapshot()
    with pytest.raises(ValueError):
        sim.restore(data)
    assert sim.snapshot() == before


def scripted_run(seed: int | None) -> list[Any]:
    clock = VirtualClock()
    sim = Simulator(clock, seed=seed)
    out: list[Any] = []
    for cycle in range(4):
        for c in sim.connectors:
            sim.plug(c.connector_id)
            c.set_energy_offered(True)
        clock.advance(700.0 + cycle)
        out.extend((c.ev, c.read_meter()) for c in sim.connectors)
        for c in sim.connectors:
            sim.unplug(c.connector_id)
            c.set_energy_offered(False)
    return out


def test_determinism_with_a_seed() -> None:
    assert scripted_run(5) == scripted_run(5)
    assert scripted_run(5) != scripted_run(6)
    assert scripted_run(None) != scripted_run(None)


def test_many_connectors_are_cheap(clock: VirtualClock) -> None:
    # A fleet holds ~30,000 connectors: no per-connector tick, one timer per charging battery.
    sim = Simulator(clock, 30_000, seed=1)
    start = [c.read_meter().energy_wh for c in sim.connectors]
    for c in sim.connectors:
        sim.plug(c.connector_id)
        c.set_energy_offered(True)
    assert clock.advance(60.0) == 0
    readings = [c.read_meter() for c in sim.connectors]
    assert all(r.energy_wh > s for r, s in zip(readings, start, strict=True))
    assert all(r.power_w > 0 for r in readings)
    assert len(json.dumps(sim.snapshot())) > 0


async def test_full_battery_on_the_asyncio_loop() -> None:
    # A tiny battery fills in well under a second on the real loop clock.
    clock = LoopClock()
    sim = Simulator(clock, ev=EvProfile(0.002, 90.0, 50_000.0))
    done = asyncio.Event()

    class Station(Recorder):
        def ev_suspended(self, connector_id: int) -> None:
            super().ev_suspended(connector_id)
            done.set()

    sim.set_listener(Station(clock))
    c = sim.connectors[0]
    before = c.read_meter().energy_wh
    sim.plug(1)
    c.set_energy_offered(True)
    await asyncio.wait_for(done.wait(), timeout=10)
    r = c.read_meter()
    assert (r.soc_percent, r.power_w) == (100.0, 0.0)
    assert r.energy_wh == pytest.approx(before + 0.2)
