"""The station's response time to central-system CALLs over loopback.

Starts the real station process (`ocpp-station run`) against the embedded central system in
this process, waits for it to boot, then sends CALLs one after another and times each from the
moment the central system sends it to the moment its answer is read. Baseline in the same
run: a bare `websockets` echo server in another process over loopback, the transport's
ceiling. Prints median, p99 and max per action, and the ratio of our median to the echo's.

Run: .venv/bin/python bench/bench_response_time.py [calls]
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect

from ocpp_station.csms.server import CentralSystem

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def _requests() -> list[tuple[str, Callable[[int], dict[str, Any]]]]:
    return [
        ("RemoteStartTransaction", lambda i: {"idTag": f"B{i % 1000}", "connectorId": 2}),
        ("GetConfiguration", lambda i: {"key": ["HeartbeatInterval"]}),
        (
            "ChangeConfiguration",
            lambda i: {"key": "MeterValueSampleInterval", "value": str(20 + i % 10)},
        ),
        ("RemoteStopTransaction", lambda i: {"transactionId": 10_000_000 + i}),
        ("DataTransfer", lambda i: {"vendorId": "com.example.bench", "data": "x"}),
    ]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


ECHO_SERVER = """
import asyncio
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


async def _echo_baseline(n: int) -> list[float]:
    """A bare websockets echo in another process: the same hop the station's answers take."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ECHO_SERVER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int((await proc.stdout.readline()).decode())
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            frame = '[2,"1","Heartbeat",{}]'
            times = []
            for _ in range(n):
                start = time.perf_counter()
                await ws.send(frame)
                await ws.recv()
                times.append(time.perf_counter() - start)
            return times
    finally:
        proc.kill()
        await proc.wait()


async def main() -> None:
    central = CentralSystem("127.0.0.1", 0)
    await central.start()
    with tempfile.TemporaryDirectory() as state:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ocpp_station",
            "--log-level",
            "WARNING",
            "run",
            "--csms",
            central.url,
            "--control",
            "127.0.0.1:0",
            "--state-dir",
            state,
            stdout=asyncio.subprocess.DEVNULL,
            env=dict(os.environ),
        )
        try:
            session = await central.wait_for_station("CP-1", timeout=30)
            await session.expect("BootNotification", timeout=30)
            for connector in range(3):
                await session.expect("StatusNotification", {"connectorId": connector})
            # Keep connector 2 busy so RemoteStartTransaction is answered Rejected (TC_026)
            # without starting sessions.
            await session.call("RemoteStartTransaction", {"idTag": "BUSY", "connectorId": 2})
            requests = _requests()
            for i in range(200):  # warm-up: compile validators, fill caches
                action, make = requests[i % len(requests)]
                await session.call(action, make(i))
            per_action: dict[str, list[float]] = {a: [] for a, _ in requests}
            for i in range(CALLS):
                action, make = requests[i % len(requests)]
                payload = make(i)
                start = time.perf_counter()
                await session.call(action, payload)
                per_action[action].append(time.perf_counter() - start)
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            await central.stop()
    echo = await _echo_baseline(CALLS)
    every = [t for times in per_action.values() for t in times]
    print(f"station response time over loopback, {CALLS} CALLs (ms)")
    print(f"{'action':<24}{'n':>6}{'median':>10}{'p99':>10}{'max':>10}")
    for action, times in [*per_action.items(), ("all", every), ("websockets echo", echo)]:
        print(
            f"{action:<24}{len(times):>6}{statistics.median(times) * 1e3:>10.3f}"
            f"{_percentile(times, 0.99) * 1e3:>10.3f}{max(times) * 1e3:>10.3f}"
        )
    ratio = statistics.median(every) / statistics.median(echo)
    print(f"median / bare echo median: {ratio:.2f}x  (goal: p99 under 2 ms)")


if __name__ == "__main__":
    asyncio.run(main())
