"""Many stations in one asyncio process: the same StationRuntime as `ocpp-station run`, each
with its own WebSocket, store and simulated hardware, started at a bounded rate.

A station of the fleet costs what its objects cost: the runtime (about 25 KB of Python
objects), its WebSocket connection (about 20-25 KB without compression) and its store. Memory
only is the default; with a state folder every station keeps its state in one shared SQLite
file (see ocpp_station.storage.fleet).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ocpp_station.clock import LoopClock
from ocpp_station.file_limit import make_room
from ocpp_station.fleet.autopilot import Autopilot, Counters, round_robin_counter
from ocpp_station.fleet.scenario import Scenario
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.process_figures import process_figures
from ocpp_station.runtime import MessageLog, StationOptions, StationRuntime
from ocpp_station.station.boot import BootService
from ocpp_station.station.station import Station
from ocpp_station.station_logs import as_station
from ocpp_station.storage.interface import StateStore
from ocpp_station.storage.memory import MemoryStore

log = logging.getLogger("ocpp_station.fleet")

# Frames each station keeps for GET /api/stations/{id}/messages: enough to see the last
# session, small enough for ten thousand stations (about 250 bytes a frame).
FLEET_MESSAGE_LOG = 30
RATE_WINDOW = 10.0  # seconds over which messages/s is averaged
# A controlled shutdown of memory-only stations must deliver everything before the process
# ends, or the queued messages die with it: ten thousand stations stopping their sessions at
# once need more than the single station's 5 s, and a station whose connection just dropped
# needs its reconnection. The wait ends as soon as the queues are empty.
MEMORY_SHUTDOWN_GRACE = 120.0


# A fleet's identities and control port differ from `run`'s defaults (CP-1 on 8180): a fleet
# and a single station started side by side with their defaults do not take each other's
# identity on the central system, nor each other's port.
DEFAULT_PREFIX = "FLEET-"
DEFAULT_CONTROL_PORT = 8181
# How a fleet's stations are spread over several central systems (FleetOptions.csms_for).
SPREADS = ("round-robin", "identity")


@dataclass(slots=True)
class FleetOptions:
    csms_url: str
    count: int
    id_prefix: str = DEFAULT_PREFIX
    first: int = 1
    connectors: int = 2
    scenario: Scenario = field(default_factory=Scenario)
    state_dir: Path | None = None
    ramp_up: float = 200.0  # stations started per second
    message_log: int = FLEET_MESSAGE_LOG
    autopilot: bool = True
    station: StationOptions = field(default_factory=StationOptions)
    """The template of every station's options (vendor, model, fixed cable, ...)."""
    # More central systems beside csms_url, and how stations are spread over them:
    # "round-robin" (by station number) or "identity" (a hash of it: a station always meets the
    # same one, however the fleet is split across machines or shards).
    more_csms: tuple[str, ...] = ()
    spread: str = "round-robin"
    # Local addresses the stations' connections leave from, in turn by station number (one
    # address has about 64,000 ports towards one central system); none: the system's choice.
    source_addresses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.spread not in SPREADS:
            raise ValueError(f"spread is one of {', '.join(SPREADS)}, not {self.spread!r}")

    def identity(self, index: int) -> str:
        return f"{self.id_prefix}{index}"

    def csms_for(self, index: int) -> str:
        """The central system station `index` connects to."""
        urls = (self.csms_url, *self.more_csms)
        if len(urls) == 1:
            return urls[0]
        if self.spread == "identity":
            digest = hashlib.sha256(self.identity(index).encode()).digest()
            return urls[int.from_bytes(digest[:8], "big") % len(urls)]
        # By the station's number, not its place in this process: a fleet split across
        # machines or shards (--first) spreads as the whole fleet would.
        return urls[(index - 1) % len(urls)]

    def source_for(self, index: int) -> str | None:
        if not self.source_addresses:
            return None
        return self.source_addresses[(index - 1) % len(self.source_addresses)]


class SourceAddressError(ValueError):
    """A source address this machine does not have."""


def check_source_addresses(addresses: tuple[str, ...]) -> None:
    """Each address must be one of this machine's: one that is not would fail every connection
    of its stations with EADDRNOTAVAIL, one by one (on a cluster, each node has its own)."""
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, 0))
            except OSError as exc:
                raise SourceAddressError(
                    f"--source-address {address} is not an address of {socket.gethostname()}: "
                    f"{exc.strerror or exc}"
                ) from None


class FleetStats:
    """Counters every station of the fleet adds to."""

    def __init__(self) -> None:
        self.frames_in = 0
        self.frames_out = 0
        self.errors_in = 0  # CALLERRORs received
        self.errors_out = 0  # CALLERRORs sent
        self.autopilot = Counters()
        self.started_at = time.monotonic()
        self._samples: deque[tuple[float, int, int]] = deque()

    def sample(self) -> None:
        now = time.monotonic()
        self._samples.append((now, self.frames_in, self.frames_out))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()

    def rates(self) -> tuple[float, float]:
        """Frames per second in and out over the last RATE_WINDOW seconds."""
        if len(self._samples) < 2:
            return 0.0, 0.0
        t0, in0, out0 = self._samples[0]
        t1, in1, out1 = self._samples[-1]
        span = t1 - t0
        return ((in1 - in0) / span, (out1 - out0) / span) if span > 0 else (0.0, 0.0)


class CountingLog(MessageLog):
    """A station's short message log that also counts the fleet's frames."""

    def __init__(self, stats: FleetStats, size: int) -> None:
        super().__init__(size)
        self._stats = stats

    def add(self, direction: str, frame: list[Any]) -> str:
        stats = self._stats
        if direction == "in":
            stats.frames_in += 1
            if frame and frame[0] == 4:
                stats.errors_in += 1
        else:
            stats.frames_out += 1
            if frame and frame[0] == 4:
                stats.errors_out += 1
        return super().add(direction, frame)


class FleetStation:
    """One station of the fleet across power cuts: its store and log outlive its runtime."""

    __slots__ = ("autopilot", "fleet", "index", "messages", "options", "runtime", "store", "task")

    def __init__(self, fleet: Fleet, index: int, store: StateStore) -> None:
        self.fleet = fleet
        self.index = index
        template = fleet.options.station
        self.options = replace(
            template,
            identity=fleet.options.identity(index),
            csms_url=fleet.options.csms_for(index),
            source_address=fleet.options.source_for(index),
            connectors=fleet.options.connectors,
            state_dir=None,
            seed=fleet.options.scenario.rng("hardware", index).getrandbits(63),
            serial=f"{template.serial or 'OS'}-{index}"[:25],
            config=[*template.config, *fleet.options.scenario.config],
        )
        self.store = store
        self.messages = CountingLog(fleet.stats, fleet.options.message_log)
        self.runtime: StationRuntime | None = None
        self.task: asyncio.Task[None] | None = None
        self.autopilot: Autopilot | None = None

    @property
    def identity(self) -> str:
        return self.options.identity

    # -- what the autopilot sees (autopilot.Powered) ---------------------------------------------
    @property
    def powered(self) -> bool:
        return self.runtime is not None

    @property
    def simulator(self) -> Simulator:
        assert self.runtime is not None and isinstance(self.runtime.hardware, Simulator)
        return self.runtime.hardware

    @property
    def station(self) -> Station:
        assert self.runtime is not None
        return self.runtime.station

    def drop_connection(self) -> None:
        if self.runtime is not None:
            self.runtime.client.drop()

    # -- power ----------------------------------------------------------------------------------
    def power_on(self) -> None:
        # Everything this station starts (its tasks, their timers) logs under its name.
        with as_station(self.identity):
            self._power_on()

    def _power_on(self) -> None:
        runtime = StationRuntime(self.options, store=self.store, messages=self.messages)
        if isinstance(self.store, MemoryStore):
            # Nothing outlives the process: wait for the queue, through a reconnection too.
            runtime.shutdown_grace = MEMORY_SHUTDOWN_GRACE
            runtime.shutdown_waits_offline = True
        # The options' config was applied once, at the first start; a restart keeps what is
        # stored (ChangeConfiguration made since) like a real station's restart.
        self.options.config = []
        self.runtime = runtime
        self.task = asyncio.get_running_loop().create_task(
            runtime.run(), name=f"station {self.identity}"
        )
        self.task.add_done_callback(self._ended)
        if self.fleet.options.autopilot:
            if self.autopilot is None:
                self.autopilot = Autopilot(
                    self,
                    self.fleet.options.connectors,
                    self.fleet.options.scenario,
                    self.fleet.stats.autopilot,
                    self.fleet.round_robin,
                    self.fleet.clock,
                )
            self.autopilot.start()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %s", self.identity, task.exception())

    async def power_loss(self) -> None:
        """The power goes at once (as SIGKILL for one process): nothing more is sent."""
        runtime, task = self.runtime, self.task
        self.runtime = self.task = None
        if runtime is None:
            return
        await runtime.power_loss()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def shut_down(self) -> None:
        """A controlled shutdown: sessions stop (PowerLoss), the queue flushes within the grace
        time, as SIGTERM does for one station."""
        if self.autopilot is not None:
            self.autopilot.stop()
        runtime, task = self.runtime, self.task
        self.runtime = self.task = None
        if runtime is None or task is None:
            return
        task.cancel()  # StationRuntime.run turns a cancellation into shutdown()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.stop()


class Fleet:
    def __init__(
        self,
        options: FleetOptions,
        store_for: Callable[[str], StateStore] | None = None,
    ) -> None:
        """`store_for(identity)` gives each station its store (default: memory only)."""
        if options.count < 1:
            raise ValueError("a fleet has at least one station")
        if not options.ramp_up > 0:
            raise ValueError("the ramp-up rate must be positive")
        check_source_addresses(options.source_addresses)
        # A socket per station: a count this process cannot open is said now (FileLimitError),
        # not as connections failing one by one at the end of the ramp-up.
        make_room(
            options.count,
            f"{options.count:,} stations",
            "raise the hard limit, or spread the stations over more processes "
            "(fleet --ray --shards N)",
        )
        self.options = options
        self.stats = FleetStats()
        self.round_robin = round_robin_counter()
        self.clock = LoopClock()  # the drivers' time: it goes on when a station loses power
        self._store_for = store_for or (lambda identity: MemoryStore())
        self.stations: dict[str, FleetStation] = {}
        self._order: list[FleetStation] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = asyncio.Event()  # every station has been powered on once
        self.power_losses = 0

    def __iter__(self) -> Iterator[FleetStation]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def page(self, offset: int, limit: int) -> list[FleetStation]:
        return self._order[offset : offset + limit]

    async def run(self) -> None:
        """Start the stations at the ramp-up rate, play the scenario's power cuts, and run
        until cancelled; a cancellation shuts every station down as SIGTERM does."""
        try:
            self._spawn(self._sampler())
            for loss in self.options.scenario.faults.power_loss:
                self._spawn(self._power_loss_at(loss.at, loss.share, loss.off))
            await self._ramp_up()
            self.started.set()
            await asyncio.Event().wait()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._shut_down()

    async def _ramp_up(self) -> None:
        opts = self.options
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for n in range(opts.count):
            index = opts.first + n
            due = begin + n / opts.ramp_up
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            station = FleetStation(self, index, self._store_for(opts.identity(index)))
            self.stations[station.identity] = station
            self._order.append(station)
            station.power_on()
        log.info("all %d stations started in %.1f s", opts.count, loop.time() - begin)

    async def _sampler(self) -> None:
        while True:
            self.stats.sample()
            await asyncio.sleep(1.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cut_power(self, station: FleetStation, off: float) -> None:
        """One station's power goes now (as SIGKILL) and comes back after `off` seconds,
        unless the fleet shuts down first (the control API's power cut)."""
        await station.power_loss()
        self.power_losses += 1
        self._spawn(self._power_back([station], off))

    async def _power_back(self, stations: list[FleetStation], off: float) -> None:
        await asyncio.sleep(off)
        for s in stations:
            if not s.powered:
                s.power_on()

    async def _power_loss_at(self, at: float, share: float, off: float) -> None:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - self.stats.started_at)))
        await self.started.wait()
        rng = self.options.scenario.rng("power_loss", at)
        chosen = [s for s in self._order if s.powered]
        rng.shuffle(chosen)
        chosen = chosen[: round(len(chosen) * share)]
        log.warning("power loss: %d stations go dark for %.0f s", len(chosen), off)
        await asyncio.gather(*(s.power_loss() for s in chosen))
        self.power_losses += len(chosen)
        await self._power_back(chosen, off)
        log.warning("power back on %d stations", len(chosen))

    async def _shut_down(self) -> None:
        log.info("shutting down %d stations", len(self._order))
        queued = [s.runtime.station.sender for s in self._order if s.runtime is not None]
        await asyncio.gather(*(s.shut_down() for s in self._order), return_exceptions=True)
        left = sum(sender.queued for sender in queued)
        if left:
            kept = "kept in the state file" if self.options.state_dir else "lost with the process"
            log.warning("shut down with %d transaction messages queued: %s", left, kept)

    # -- views -----------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts by registration and connector status, sessions, queues, rates, errors."""
        registration: dict[str, int] = {}
        statuses: dict[str, int] = {}
        connected = sessions = queued = powered = 0
        for s in self._order:
            rt = s.runtime
            if rt is None:
                continue
            powered += 1
            st = rt.station
            key = st.service(BootService).registration
            registration[key] = registration.get(key, 0) + 1
            if rt.connected:
                connected += 1
            queued += st.sender.queued
            for c in st.cp:
                statuses[c.status] = statuses.get(c.status, 0) + 1
                if c.transaction is not None:
                    sessions += 1
        rate_in, rate_out = self.stats.rates()
        a = self.stats.autopilot
        return {
            "stations": len(self._order),
            "target": self.options.count,
            "powered": powered,
            "connected": connected,
            "registration": registration,
            "connectors": statuses,
            "sessions": sessions,
            "queuedMessages": queued,
            "messages": {"in": self.stats.frames_in, "out": self.stats.frames_out},
            "messagesPerSecond": {"in": round(rate_in, 1), "out": round(rate_out, 1)},
            "errors": {
                "callErrorsReceived": self.stats.errors_in,
                "callErrorsSent": self.stats.errors_out,
                "refusedDriverActions": a.refused,
            },
            "sessionsRejected": a.rejected,
            "sessionsFailed": a.failed,
            "autopilot": {
                "sessionsBegun": a.sessions_begun,
                "cardsPresented": a.cards_presented,
                "remoteWaits": a.remote_waits,
                "remoteTimeouts": a.remote_timeouts,
                "faultsInjected": a.faults,
                "connectionDrops": a.drops,
                "powerLosses": self.power_losses,
            },
            "process": process_figures(),
        }
