"""The drivers and cars of a fleet's stations: sessions and trouble, as the scenario says.

The autopilot stands outside the station, where the people are: it plugs cables in, presents
cards and pulls cables out through the simulated hardware, exactly as the control API does, and
never touches the station's behaviour. Each connector runs a small cycle on timers of a Clock
(no task per connector: a fleet has tens of thousands of them; unit tests use a VirtualClock):

    idle --gap--> plugged --card_delay--> card presented --duration--> stopping
         <--unplug_delay-- (card again or cable pulled) <-------------'

A remote session plugs in and waits for the central system's RemoteStartTransaction instead of
presenting a card. Faults and connection drops follow Poisson processes at the scenario's rates.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

from ocpp_station.clock import Clock, Timer
from ocpp_station.fleet.scenario import Draws, Scenario, draw
from ocpp_station.hardware.interfaces import CardOutcome
from ocpp_station.hardware.simulator import InvalidAction, Simulator
from ocpp_station.hardware.simulator_ev import EvProfile
from ocpp_station.station.station import Station

log = logging.getLogger("ocpp_station.fleet.autopilot")

# How often a driver waiting for a remote start looks whether charging began.
REMOTE_POLL = 5.0


class Powered(Protocol):
    """The autopilot's view of a fleet station: its hardware and behaviour while powered."""

    index: int

    @property
    def powered(self) -> bool: ...
    @property
    def simulator(self) -> Simulator: ...
    @property
    def station(self) -> Station: ...
    def drop_connection(self) -> None: ...


class Counters:
    """What the autopilots did, fleet-wide."""

    def __init__(self) -> None:
        self.sessions_begun = 0  # a driver arrived and plugged in
        self.cards_presented = 0
        self.remote_waits = 0
        self.remote_timeouts = 0
        self.faults = 0
        self.drops = 0
        self.refused = 0  # the hardware refused an action (e.g. the connector was busy)
        self.rejected = 0  # a card the central system did not accept (its idTagInfo status)
        # A session begun (a cable plugged in) that never got a transaction: its card was
        # rejected or refused, no RemoteStart came, a fault or the power came first.
        self.failed = 0


class Autopilot:
    """All the drivers of one station."""

    def __init__(
        self,
        target: Powered,
        connectors: int,
        scenario: Scenario,
        counters: Counters,
        round_robin: Callable[[], int],
        clock: Clock,
    ) -> None:
        self.target = target
        self.scenario = scenario
        self.counters = counters
        self._round_robin = round_robin
        self._clock = clock
        self._rng = scenario.rng("station", target.index)
        self._drivers = [
            _Driver(self, cid, scenario.rng("connector", target.index, cid))
            for cid in range(1, connectors + 1)
        ]
        self._drop_timer: Timer | None = None
        self.running = False

    def start(self) -> None:
        """Begin (or resume after a power cut) every connector's cycle and the faults."""
        self.running = True
        for driver in self._drivers:
            driver.resume()
        faults = self.scenario.faults
        if faults.connection_drops_per_hour > 0:
            if self._drop_timer is not None:
                self._drop_timer.cancel()  # resumed after a power cut: one chain of drops
            self._next(faults.connection_drops_per_hour, self._drop)

    def stop(self) -> None:
        self.running = False
        for driver in self._drivers:
            driver.cancel()
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None

    def later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self._clock.call_later(delay, callback)

    def card(self, connector_id: int, rng: Draws) -> str:
        cards = self.scenario.cards
        tags = cards.tags
        if cards.mode == "round-robin":
            return tags[self._round_robin() % len(tags)]
        if cards.mode == "per-connector":
            k = len(self._drivers)
            return tags[((self.target.index - 1) * k + connector_id - 1) % len(tags)]
        return rng.choice(tags)

    def _next(self, per_hour: float, action: Callable[[], None]) -> None:
        self._drop_timer = self.later(self._rng.expovariate(per_hour / 3600.0), action)

    def _drop(self) -> None:
        if not self.running:
            return
        if self.target.powered:
            self.counters.drops += 1
            self.target.drop_connection()
        self._next(self.scenario.faults.connection_drops_per_hour, self._drop)


class _Driver:
    """The people at one connector, one session after another."""

    __slots__ = (
        "auto",
        "charged",
        "connector_id",
        "fault_timer",
        "in_session",
        "rng",
        "tag",
        "timer",
    )

    def __init__(self, auto: Autopilot, connector_id: int, rng: Draws) -> None:
        self.auto = auto
        self.connector_id = connector_id
        self.rng = rng
        self.timer: Timer | None = None
        self.fault_timer: Timer | None = None
        self.tag: str | None = None
        # The session under way (plugged in by this driver) and whether it got a transaction.
        self.in_session = False
        self.charged = False

    # -- scheduling ----------------------------------------------------------------------------
    def _after(self, delay: float, step: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.auto.later(delay, self._guarded(step))

    def _guarded(self, step: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            self.timer = None
            if not self.auto.running or not self.auto.target.powered:
                return  # nobody acts on a dark station; resume() picks up when power is back
            try:
                step()
            except InvalidAction as exc:
                # The connector was not in the state the driver expected (a fault, a remote
                # stop, an unavailable connector): walk away and come back after a gap.
                self.auto.counters.refused += 1
                log.debug("connector %d: %s", self.connector_id, exc)
                self._leave()

        return run

    def cancel(self) -> None:
        for timer in (self.timer, self.fault_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.fault_timer = None

    def resume(self) -> None:
        """Start the cycle: a plugged cable (after a power cut) is taken away first."""
        self.cancel()
        sessions = self.auto.scenario.sessions
        if self._hw_plugged():
            self._after(draw(self.rng, sessions.unplug_delay), self._unplug)
        else:
            self._after(draw(self.rng, sessions.gap), self._arrive)
        faults = self.auto.scenario.faults
        if faults.hardware_faults_per_hour > 0:
            self._schedule_fault()

    # -- the cycle -----------------------------------------------------------------------------
    def _hw_plugged(self) -> bool:
        return self.auto.target.simulator.connector(self.connector_id).is_plugged()

    def _arrive(self) -> None:
        sessions = self.auto.scenario.sessions
        if self.rng.random() >= sessions.start_probability:
            self._after(draw(self.rng, sessions.gap), self._arrive)
            return
        sim = self.auto.target.simulator
        ev = self.auto.scenario.ev
        if ev.configured:
            sim.ev = self._pick_ev()
        sim.plug(self.connector_id)
        sim.ev = None
        self.auto.counters.sessions_begun += 1
        self.in_session, self.charged = True, False
        if self.rng.random() < sessions.remote_share:
            self.auto.counters.remote_waits += 1
            self._wait_remote(sessions.remote_wait)
        else:
            self._after(draw(self.rng, sessions.card_delay), self._present_card)

    def _present_card(self) -> None:
        self.tag = self.auto.card(self.connector_id, self.rng)
        work = self.auto.target.simulator.present_card(self.tag, self.connector_id)
        if isinstance(work, asyncio.Future):
            work.add_done_callback(self._card_done)
        self.auto.counters.cards_presented += 1
        self._after(draw(self.rng, self.auto.scenario.sessions.duration), self._stop)

    def _wait_remote(self, left: float) -> None:
        tx = self.auto.target.station.cp.connector(self.connector_id).transaction
        if tx is not None:
            self.tag = tx.id_tag
            self.charged = True
            self._after(draw(self.rng, self.auto.scenario.sessions.duration), self._stop)
        elif left <= 0:
            self.auto.counters.remote_timeouts += 1
            self._unplug()
        else:
            step = min(REMOTE_POLL, left)
            self._after(step, lambda: self._wait_remote(left - step))

    def _stop(self) -> None:
        sessions = self.auto.scenario.sessions
        tx = self.auto.target.station.cp.connector(self.connector_id).transaction
        by_card = sessions.stop == "card" or (sessions.stop == "mixed" and self.rng.random() < 0.5)
        if tx is not None:
            self.charged = True
        if tx is not None and by_card:
            # The same card ends the session (1.6 §5.x: no Authorize for the start idTag).
            self.auto.target.simulator.present_card(tx.id_tag, self.connector_id)
            self.auto.counters.cards_presented += 1
            self._after(draw(self.rng, sessions.unplug_delay), self._unplug)
        else:
            self._unplug()  # EV side disconnect, or nothing started: the driver just leaves

    def _card_done(self, work: asyncio.Future[CardOutcome]) -> None:
        if work.cancelled() or work.exception() is not None:
            return  # the station lost its power while the card was checked
        outcome = work.result().get("outcome")
        if outcome == "rejected":
            self.auto.counters.rejected += 1
        elif outcome == "started":
            self.charged = True

    def _unplug(self) -> None:
        if self._hw_plugged():
            self.auto.target.simulator.unplug(self.connector_id)
        if self.in_session and not self.charged:
            self.auto.counters.failed += 1
        self.in_session = False
        self.tag = None
        self._after(draw(self.rng, self.auto.scenario.sessions.gap), self._arrive)

    def _leave(self) -> None:
        sessions = self.auto.scenario.sessions
        if self._hw_plugged():
            self._after(draw(self.rng, sessions.unplug_delay), self._unplug)
        else:
            self._after(draw(self.rng, sessions.gap), self._arrive)

    def _pick_ev(self) -> EvProfile:
        ev = self.auto.scenario.ev
        capacity = draw(self.rng, ev.capacity_kwh or (40.0, 100.0))
        soc = draw(self.rng, ev.soc_percent or (10.0, 60.0))
        power = draw(self.rng, ev.max_power_kw or (50.0, 150.0))
        return EvProfile(capacity, round(soc, 1), power * 1000.0)

    # -- hardware faults -----------------------------------------------------------------------
    def _schedule_fault(self) -> None:
        rate = self.auto.scenario.faults.hardware_faults_per_hour / 3600.0
        self.fault_timer = self.auto.later(self.rng.expovariate(rate), self._fault)

    def _fault(self) -> None:
        self.fault_timer = None
        if not self.auto.running:
            return
        faults = self.auto.scenario.faults
        if self.auto.target.powered:
            code = self.rng.choice(faults.error_codes)
            try:
                self.auto.target.simulator.raise_fault(self.connector_id, code, "injected")
            except InvalidAction:
                self.auto.counters.refused += 1
            else:
                self.auto.counters.faults += 1
                self.fault_timer = self.auto.later(
                    draw(self.rng, faults.fault_duration), self._clear_fault
                )
                return
        self._schedule_fault()

    def _clear_fault(self) -> None:
        self.fault_timer = None
        if self.auto.running and self.auto.target.powered:
            try:
                self.auto.target.simulator.clear_fault(self.connector_id)
            except InvalidAction:
                self.auto.counters.refused += 1
        if self.auto.running:
            self._schedule_fault()


def round_robin_counter() -> Callable[[], int]:
    """A fleet-wide card counter for `cards.mode = "round-robin"`."""
    counter = itertools.count()
    return lambda: next(counter)
