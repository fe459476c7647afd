"""A soak: one station and a fleet, for an hour, behind a fault-injecting network.

Processes on 127.0.0.1: the minimal central system (`ocpp-station csms-minimal`), the fault proxy
in front of it (`python -m ocpp_station.csms.faults`: frames cut, resets, delays, answers twice
and to unknown ids, refused transaction messages, stalls, oversized frames), one station
(`ocpp-station run`, durable state, sessions driven through its control API) and a fleet
(`ocpp-station fleet`, the reference profile with connection drops, memory-only state).

Every SOAK_SAMPLE seconds it reads each process's resident memory, open files and asyncio tasks
(the station's `GET /api/health`, the fleet's `GET /api/fleet`); at the end it prints the
samples, the drift (the mean of the last quarter of the samples against the mean of the second
quarter, after warm-up) and, after SIGTERM, the central system's ledger: transactions started
and stopped, open (lost) and duplicated.

Environment: SOAK_SECONDS (default 3600), SOAK_FLEET stations (default 1000), SOAK_SAMPLE
seconds (default 60). Run with `make soak` (not part of `make bench`: it takes the hour).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fleet import get, spawn, stop

SECONDS = float(os.environ.get("SOAK_SECONDS", "3600"))
FLEET = int(os.environ.get("SOAK_FLEET", "1000"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE", "60"))
RATES = (
    "drop=0.0005,reset=0.0002,delay=0.01,duplicate=0.01,stray=0.01,refuse=0.01,"
    "stall=0.0005,oversize=0.0001,max_delay=1,refusals=2"
)
KEYS = {
    "TransactionMessageAttempts": "5",  # a refused message gets through on the third try
    "TransactionMessageRetryInterval": "5",
    "MessageTimeout": "10",
    "WebSocketPingInterval": "20",
}
SCENARIO = (
    "[config]\n"
    + "".join(f'{k} = "{v}"\n' for k, v in KEYS.items())
    + ("[faults]\nconnection_drops_per_hour = 2.0\n")
)


async def drive_station(http: aiohttp.ClientSession, control: str, until: float) -> int:
    """Sessions on the single station: plug, card, 20-60 s, card, unplug, a pause."""
    rng = random.Random(5)
    sessions = 0

    async def post(path: str, body: Any = None) -> None:
        try:
            async with http.post(control + path, json=body) as response:
                await response.read()
        except aiohttp.ClientError:
            pass

    while time.monotonic() < until:
        connector = rng.choice((1, 2))
        await post(f"/api/connectors/{connector}/plug")
        await post("/api/rfid", {"idTag": "SOAK", "connectorId": connector})
        await asyncio.sleep(rng.uniform(20, 60))
        await post(f"/api/connectors/{connector}/stop")
        await post(f"/api/connectors/{connector}/unplug")
        sessions += 1
        await asyncio.sleep(rng.uniform(5, 20))
    return sessions


def drift(values: list[float]) -> float:
    """Mean of the last quarter over the mean of the second quarter, minus one."""
    quarter = max(1, len(values) // 4)
    early = statistics.mean(values[quarter : 2 * quarter]) if len(values) >= 4 else values[0]
    late = statistics.mean(values[-quarter:])
    return late / early - 1 if early else 0.0


async def main() -> None:
    print(
        f"soak: one station + a {FLEET}-station fleet behind the fault proxy for "
        f"{SECONDS:.0f} s, sampled every {SAMPLE:.0f} s; faults per frame: {RATES}"
    )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    csms, found = await spawn(
        "-m", "ocpp_station", "csms-minimal", "--listen", "127.0.0.1:0", "--api",
        "127.0.0.1:0", "--heartbeat-interval", "300",
    )  # fmt: skip
    csms_api = found["api"]
    proxy, proxied = await spawn(
        "-m", "ocpp_station.csms.faults", "--listen", "127.0.0.1:0", "--upstream", found["csms"],
        "--rate", RATES, "--seed", "11",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "soak.toml"
        scenario.write_text(SCENARIO)
        config = [arg for k, v in KEYS.items() for arg in ("--config", f"{k}={v}")]
        station, station_found = await spawn(
            "-m", "ocpp_station", "run", "--csms", proxied["faults"], "--id", "SOAK-1",
            "--control", "127.0.0.1:0", "--state-dir", str(Path(folder) / "station"), *config,
            lines=1,
        )  # fmt: skip
        fleet, fleet_found = await spawn(
            "-m", "ocpp_station", "fleet", "--csms", proxied["faults"], "--count", str(FLEET),
            "--control", "127.0.0.1:0", "--ramp-up", "200", "--summary-every", "3600",
            "--scenario", str(scenario),
        )  # fmt: skip
        control, fleet_api = station_found["control"], fleet_found["control"]
        started = time.monotonic()
        driver = asyncio.ensure_future(drive_station(http, control, started + SECONDS))
        samples: list[dict[str, Any]] = []
        try:
            while time.monotonic() - started < SECONDS:
                await asyncio.sleep(SAMPLE)
                one = await get(http, f"{control}/api/health")
                many = await get(http, f"{fleet_api}/api/fleet")
                samples.append(
                    {
                        "t": time.monotonic() - started,
                        "station_rss": one["rssBytes"] / 1e6,
                        "station_files": one["openFiles"],
                        "station_tasks": one["tasks"],
                        "fleet_rss": many["process"]["rssBytes"] / 1e6,
                        "fleet_files": many["process"]["openFiles"],
                        "fleet_tasks": many["process"]["tasks"],
                        "fleet_connected": many["connected"],
                    }
                )
            sessions = await driver
        finally:
            codes = {
                "station": await stop(station),
                "fleet": await stop(fleet),
            }
            await asyncio.sleep(2)
            ledger = await get(http, f"{csms_api}/stats")
            await stop(proxy)
            await stop(csms)
            await http.close()
    print(f"{'t/s':>6} {'station MB':>10} {'files':>6} {'tasks':>6} {'fleet MB':>9} "
          f"{'files':>6} {'tasks':>6} {'connected':>9}")  # fmt: skip
    rows = samples[:: max(1, len(samples) // 12)]
    if rows and rows[-1] is not samples[-1]:
        rows.append(samples[-1])
    for s in rows:
        print(
            f"{s['t']:>6.0f} {s['station_rss']:>10.1f} {s['station_files']:>6} "
            f"{s['station_tasks']:>6} {s['fleet_rss']:>9.1f} {s['fleet_files']:>6} "
            f"{s['fleet_tasks']:>6} {s['fleet_connected']:>9}"
        )
    for name in ("station_rss", "station_files", "station_tasks", "fleet_rss", "fleet_files",
                 "fleet_tasks"):  # fmt: skip
        print(f"drift {name}: {drift([float(s[name]) for s in samples]):+.1%}")
    print(
        f"single station: {sessions} sessions driven; exit codes {codes}; ledger after SIGTERM: "
        f"started {ledger['started']}, stopped {ledger['stopped']}, lost {ledger['open']}, "
        f"duplicates {ledger['duplicates']}, unknown stops {ledger['unknownStops']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
