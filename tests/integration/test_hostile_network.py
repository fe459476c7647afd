"""The real station process behind a fault-injecting proxy (ocpp_station.csms.faults): frames
cut in the middle, connections reset, delays, answers twice, answers to ids never used,
refused transaction messages, a stalled reader, oversized frames. Sessions run on both
connectors all along; when the faults stop, every session the station ran must be known to the
central system, started and stopped, and the station must be back, answering, with nothing left
queued."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from ocpp_station.csms.faults import KINDS, FaultProxy, FaultRates
from ocpp_station.csms.server import CentralSystem
from ocpp_station.timefmt import parse
from tests.integration.conftest import StationProcess

DRIVE_SECONDS = 40.0
SETTLE_SECONDS = 90.0
RATES = FaultRates(
    drop=0.01,
    reset=0.005,
    delay=0.05,
    duplicate=0.05,
    stray=0.05,
    refuse=0.15,
    stall=0.01,
    oversize=0.003,
    max_delay=0.5,
    refusals=2,
)
CONFIG = {
    "TransactionMessageAttempts": "5",  # a refused message gets through on the third try
    "TransactionMessageRetryInterval": "1",
    "MessageTimeout": "5",
    "MeterValueSampleInterval": "3",
    "HeartbeatInterval": "5",
    "WebSocketPingInterval": "5",
    "AllowOfflineTxForUnknownId": "true",  # sessions go on while the link is down
}


async def _quietly(call: Any) -> Any:
    try:
        return await call
    except Exception:  # 409 while the station's state moved under the driver: try again later
        return None


async def _drive(station: StationProcess, connector: int, rng: random.Random, until: float) -> int:
    loop = asyncio.get_running_loop()
    sessions = 0
    while loop.time() < until:
        await _quietly(station.plug(connector))
        await _quietly(station.rfid(f"TAG{connector}", connector))
        await asyncio.sleep(rng.uniform(1.5, 4.0))
        await _quietly(station.post(f"/api/connectors/{connector}/stop"))
        await _quietly(station.unplug(connector))
        sessions += 1
        await asyncio.sleep(rng.uniform(0.2, 1.0))
    return sessions


async def test_nothing_is_lost_behind_a_hostile_network(csms: CentralSystem, make_station) -> None:
    proxy = FaultProxy(csms.url, RATES, seed=7)
    await proxy.start()
    try:
        config = [arg for key, value in CONFIG.items() for arg in ("--config", f"{key}={value}")]
        station: StationProcess = await make_station(*config, url=proxy.url)
        await csms.wait_for_station(station.identity, timeout=20)
        loop = asyncio.get_running_loop()
        until = loop.time() + DRIVE_SECONDS
        rng = random.Random(3)

        async def force_each_kind() -> None:
            # Every kind at least once, whatever the dice say.
            for kind in KINDS:
                await asyncio.sleep(DRIVE_SECONDS / (len(KINDS) + 1))
                proxy.force(kind)

        drivers = [
            asyncio.create_task(_drive(station, c, random.Random(rng.random()), until))
            for c in (1, 2)
        ]
        await asyncio.gather(*drivers, force_each_kind())
        sessions = sum(driver.result() for driver in drivers)
        assert sessions >= 10
        proxy.enabled = False  # the network heals
        status = await _settled(station)
        assert status["connected"] and status["registration"] == "Accepted"
        assert status["queuedMessages"] == 0
        assert all(c["transactionId"] is None for c in status["connectors"][1:])
        _, messages = await station.request("GET", "/api/messages?after=0")
        _every_session_arrived(csms, station, messages)
        for kind in KINDS:
            assert proxy.counts[kind] >= 1, (kind, dict(proxy.counts))
        assert proxy.counts["connections"] >= 3  # drops, resets and oversized frames reconnect
        print("injected:", dict(proxy.counts), "sessions:", sessions)
    finally:
        await proxy.stop()


async def _settled(station: StationProcess) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while True:
        status = await station.status()
        done = status["connected"] and status["queuedMessages"] == 0
        if done and all(c["transactionId"] is None for c in status["connectors"][1:]):
            return status
        assert loop.time() < deadline, f"the station did not settle: {status}"
        await asyncio.sleep(0.5)


def _every_session_arrived(
    csms: CentralSystem, station: StationProcess, messages: list[dict[str, Any]]
) -> None:
    """Each StartTransaction the station sent (one per session, retries alike) is, at the
    central system, a transaction that was stopped."""
    starts = {
        (m["frame"][3]["connectorId"], m["frame"][3]["timestamp"])
        for m in messages
        if m["direction"] == "out" and m["frame"][0] == 2 and m["frame"][2] == "StartTransaction"
    }
    record = csms.record(station.identity)
    known = [*record.finished_transactions, *record.open_transactions.values()]
    stopped = {(t.connector_id, t.start_time) for t in known if t.ended}
    missing = [s for s in starts if (s[0], parse(s[1])) not in stopped]
    assert starts and not missing, f"sessions never stopped at the central system: {missing}"
    assert record.unmatched_stops == []
