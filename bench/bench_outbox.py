"""What durability costs: the outbox of transaction messages on disk versus in memory.

(a) Throughput, messages per second:
    - stored: StationStore.outbox_add alone, one commit per message;
    - store round trip: StationStore.outbox_add + outbox_delivered, one commit each;
    - Sender cycle: Sender.enqueue -> the worker sends it to an instant fake central system ->
      the answer removes the row (the full path a transaction message takes);
    each with the file-backed store (WAL, synchronous=FULL: every commit is on disk before it
    returns) and, as the same-run baseline, the in-memory store.
(b) Latency added to a session: from a card presented at a plugged connector (the Sessions
    flow: Authorize, then the transaction and its StartTransaction made durable) to the
    StartTransaction leaving for the central system. The station core on a VirtualClock with a
    fake outbound that answers at once: no sockets, so what is measured is the station's own
    work, durable writes included. Median and p99 over many sessions.

Run: .venv/bin/python bench/bench_outbox.py [directory for the database files]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocpp_station import profiles, timefmt
from ocpp_station.clock import LoopClock, VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.station.boot import BootInfo
from ocpp_station.station.sender import Sender
from ocpp_station.station.station import Station
from ocpp_station.storage.store import StationStore

ROUND_TRIP_SECONDS = 1.5  # per measurement and store kind
ROUND_TRIP_MAX = 20_000
SENDER_SECONDS = 1.5
SENDER_MAX = 20_000
SESSIONS = 1000  # per store kind, after WARMUP
WARMUP = 20

METER_VALUES = {
    "connectorId": 1,
    "transactionId": 1234,
    "meterValue": [
        {
            "timestamp": "2026-01-01T12:00:00.000Z",
            "sampledValue": [
                {
                    "value": "123456",
                    "context": "Sample.Periodic",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "location": "Outlet",
                }
            ],
        }
    ],
}

StoreFactory = Callable[[], StationStore]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------- (a) throughput


CREATED = "2026-01-01T12:00:00.000Z"


def store_adds(store: StationStore) -> float:
    """outbox_add alone (stored, not yet acknowledged) per second, for ROUND_TRIP_SECONDS."""
    for _ in range(50):  # warm-up: statement cache, file growth
        store.outbox_delivered(store.outbox_add("MeterValues", METER_VALUES, 1, CREATED))
    stored: list[int] = []
    start = time.perf_counter()
    deadline = start + ROUND_TRIP_SECONDS
    while len(stored) < ROUND_TRIP_MAX and time.perf_counter() < deadline:
        stored.append(store.outbox_add("MeterValues", METER_VALUES, 1, CREATED))
    elapsed = time.perf_counter() - start
    if len(store.outbox_pending()) != len(stored):
        raise RuntimeError("the outbox lost messages")
    with store.atomic():
        for seq in stored:
            store.outbox_delivered(seq)
    return len(stored) / elapsed


def store_round_trips(store: StationStore) -> float:
    """outbox_add + outbox_delivered per second, for ROUND_TRIP_SECONDS."""
    created = CREATED
    for _ in range(50):  # warm-up: statement cache, file growth
        store.outbox_delivered(store.outbox_add("MeterValues", METER_VALUES, 1, created))
    n = 0
    start = time.perf_counter()
    deadline = start + ROUND_TRIP_SECONDS
    while n < ROUND_TRIP_MAX and time.perf_counter() < deadline:
        store.outbox_delivered(store.outbox_add("MeterValues", METER_VALUES, 1, created))
        n += 1
    elapsed = time.perf_counter() - start
    if store.outbox_pending():
        raise RuntimeError("the outbox should be empty after every acknowledgement")
    return n / elapsed


class InstantCsms:
    """An outbound RPC that answers every CALL at once, without a suspension point."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {}


async def sender_cycles(store: StationStore) -> float:
    """Sender.enqueue -> delivered -> row removed, one message at a time, per second."""
    sender = Sender(LoopClock(), attempts=lambda: 1, retry_interval=lambda: 1, journal=store)
    csms = InstantCsms()
    sender.start()
    sender.connected(csms)
    sender.set_accepted(True)

    async def one() -> None:
        target = sender.delivered + 1
        sender.enqueue("MeterValues", dict(METER_VALUES), None)
        async with asyncio.timeout(10):
            # Yielding until the worker is through is the cheapest wait there is; an Event set
            # from inside the Sender would need a hook the Sender does not have.
            while sender.delivered < target:  # noqa: ASYNC110
                await asyncio.sleep(0)

    try:
        for _ in range(50):
            await one()
        n = 0
        start = time.perf_counter()
        deadline = start + SENDER_SECONDS
        while n < SENDER_MAX and time.perf_counter() < deadline:
            await one()
            n += 1
        elapsed = time.perf_counter() - start
    finally:
        await sender.stop()
    if sender.given_up or store.outbox_pending():
        raise RuntimeError("a message was given up or left in the outbox")
    return n / elapsed


# ---------------------------------------------------------------------------- (b) latency


class SessionCsms:
    """Answers like an accepting central system; marks the moment a chosen CALL leaves."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.next_id = 1
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, action: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[action] = future
        return future

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        future = self.waiting.pop(action, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        if action == "BootNotification":
            now = timefmt.iso(self.clock.now())
            return {"status": "Accepted", "currentTime": now, "interval": 60}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            self.next_id += 1
            return {"transactionId": self.next_id, "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "Heartbeat":
            return {"currentTime": timefmt.iso(self.clock.now())}
        return {}


async def _settle(station: Station, condition: Callable[[], bool], what: str) -> None:
    """Let the station's tasks run (the virtual clock stands still) until condition holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise RuntimeError(f"the station did not get there: {what}")


async def session_latencies(store: StationStore, sessions: int) -> list[float]:
    """Seconds from the card presented to StartTransaction leaving, one value per session."""
    clock = VirtualClock()
    hardware = Simulator(clock, 2, fixed_cable=True, has_lock=False, seed=1)
    config = profiles.configuration(
        connectors=2,
        measurands=hardware.measurands,
        store=store,
        fixed_cable=True,
    )
    station = Station(
        identity="CP-BENCH",
        clock=clock,
        hardware=hardware,
        config=config,
        store=store,
        info=BootInfo("ocpp-station", "bench"),
    )
    csms = SessionCsms(clock)
    station.connected(csms)
    try:
        await _settle(station, lambda: station.sender.accepted, "BootNotification accepted")
        latencies: list[float] = []
        connector = station.cp.connector(1)
        for i in range(WARMUP + sessions):
            tag = f"BENCH{i % 1000}"
            hardware.plug(1)
            start_sent = csms.expect("StartTransaction")
            started = time.perf_counter()
            hardware.present_card(tag, 1)
            async with asyncio.timeout(10):
                left = await start_sent
            if i >= WARMUP:
                latencies.append(left - started)
            await _settle(station, lambda: station.sender.queued == 0, "StartTransaction answered")
            hardware.present_card(tag, 1)  # the same card stops the session (Local)
            await _settle(station, lambda: connector.transaction is None, "session stopped")
            await _settle(station, lambda: station.sender.queued == 0, "StopTransaction answered")
            hardware.unplug(1)
            await _settle(station, lambda: connector.status == "Available", "connector Available")
        if station.sender.given_up:
            raise RuntimeError("the station gave up a transaction message")
        return latencies
    finally:
        station.disconnected()
        await station.close()


# ---------------------------------------------------------------------------- main


async def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if base is not None and not base.is_dir():
        raise SystemExit(f"bench_outbox: {base} is not a directory")
    with tempfile.TemporaryDirectory(dir=base, prefix="bench-outbox-") as folder:
        counter = iter(range(1, 1000))

        def file_store() -> StationStore:
            return StationStore(Path(folder) / f"station-{next(counter)}.db")

        def memory_store() -> StationStore:
            return StationStore(None)

        stores: dict[str, StoreFactory] = {"file": file_store, "memory": memory_store}
        rates: dict[tuple[str, str], float] = {}
        latencies: dict[str, list[float]] = {}
        for kind, make in stores.items():
            with make() as store:
                rates[("add", kind)] = store_adds(store)
            with make() as store:
                rates[("round trip", kind)] = store_round_trips(store)
            with make() as store:
                rates[("sender", kind)] = await sender_cycles(store)
            with make() as store:
                latencies[kind] = await session_latencies(store, SESSIONS)

    print(f"outbox throughput, messages per second (database files in {base or 'the temp dir'})")
    print(f"{'':<46}{'file':>10}{'memory':>10}{'mem/file':>10}")
    rows = [
        ("stored (outbox_add, one commit)", "add"),
        ("round trip (outbox_add + outbox_delivered)", "round trip"),
        ("Sender enqueue -> deliver (instant CSMS)", "sender"),
    ]
    for label, key in rows:
        file_rate, memory_rate = rates[(key, "file")], rates[(key, "memory")]
        print(f"{label:<46}{file_rate:>10.0f}{memory_rate:>10.0f}{memory_rate / file_rate:>9.1f}x")
    print()
    print(f"card presented -> StartTransaction leaving, {SESSIONS} sessions each (ms)")
    print(f"{'':<46}{'median':>10}{'p99':>10}{'max':>10}")
    for kind in ("file", "memory"):
        times = latencies[kind]
        print(
            f"{kind + ' store':<46}{statistics.median(times) * 1e3:>10.3f}"
            f"{_percentile(times, 0.99) * 1e3:>10.3f}{max(times) * 1e3:>10.3f}"
        )
    added = statistics.median(latencies["file"]) - statistics.median(latencies["memory"])
    added_p99 = _percentile(latencies["file"], 0.99) - _percentile(latencies["memory"], 0.99)
    print(f"{'durability adds':<46}{added * 1e3:>10.3f}{added_p99 * 1e3:>10.3f}")


if __name__ == "__main__":
    asyncio.run(main())
