"""CPU cost of one inbound CALL: parse, validate, dispatch, answer, encode.

Compares ocpp_station's RpcEndpoint (trivial sync handler) with a charge point built on the
`ocpp` package's v16 ChargePoint (`@on` handlers, `route_message` fed the same frames, a
connection whose `send` does nothing), in the same run. CPU time is process time, so the work
the `ocpp` package does in its validation thread pool is counted too. Each figure is the median
of several repetitions.

Run: .venv/bin/python bench/bench_rpc_cpu.py
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ocpp_reference import reference_charge_point

from ocpp_station.rpc import Router, RpcEndpoint

REPETITIONS = 5
DISTINCT_FRAMES = 64

REMOTE_START = {"connectorId": 1, "idTag": "04A2B3C4D5E6F7"}


def _sample(measurand: str, unit: str, value: str, phase: str | None = None) -> dict[str, str]:
    sample = {
        "value": value,
        "context": "Sample.Periodic",
        "format": "Raw",
        "measurand": measurand,
        "location": "Outlet",
        "unit": unit,
    }
    if phase is not None:
        sample["phase"] = phase
    return sample


METER_VALUES = {
    "connectorId": 1,
    "transactionId": 1742,
    "meterValue": [
        {
            "timestamp": "2024-05-01T10:00:00.123Z",
            "sampledValue": [
                _sample("Energy.Active.Import.Register", "Wh", "1523467.0"),
                _sample("Power.Active.Import", "W", "48210.5"),
                _sample("Power.Offered", "W", "50000.0"),
                _sample("Current.Import", "A", "121.4"),
                _sample("Current.Offered", "A", "125.0"),
                _sample("Voltage", "V", "397.2"),
                _sample("SoC", "Percent", "63"),
                _sample("Temperature", "Celsius", "41.5"),
                _sample("Energy.Active.Import.Interval", "Wh", "803.4"),
                _sample("Current.Import", "A", "40.5", phase="L1"),
            ],
        }
    ],
}

# (label, action, payload, our iterations, reference iterations)
CASES: list[tuple[str, str, dict[str, Any], int, int]] = [
    ("RemoteStartTransaction", "RemoteStartTransaction", REMOTE_START, 20_000, 2_000),
    ("MeterValues, 10 samples", "MeterValues", METER_VALUES, 20_000, 1_000),
]


def frames_for(action: str, payload: dict[str, Any]) -> list[str]:
    """Distinct CALL frames (text, as a WebSocket text frame arrives) with fresh ids."""
    return [
        orjson.dumps([2, f"bench-{n:06d}", action, payload]).decode()
        for n in range(DISTINCT_FRAMES)
    ]


async def cpu_per_call(feed: Callable[[str], Awaitable[None]], frames: list[str], n: int) -> float:
    """Process-CPU seconds per fed frame over n frames."""
    count = len(frames)
    start = time.process_time()
    for i in range(n):
        await feed(frames[i % count])
    return (time.process_time() - start) / n


def _open_gate(action: str | None) -> bool:
    """A station's inbound gate once it is accepted (BootService.admit): every CALL passes."""
    return True


async def measure_ours(action: str, frames: list[str], n: int, gated: bool = False) -> float:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)
        if len(sent) > 1:
            sent.pop(0)

    router = Router(gate=_open_gate if gated else None)
    if action == "RemoteStartTransaction":
        router.route(action, lambda payload: {"status": "Accepted"})
    else:
        router.route(action, lambda payload: {})
    endpoint = RpcEndpoint(send, router)
    await endpoint.feed(frames[0])  # compile the validator before timing
    expect_answer(sent[-1], frames[0])
    seconds = await cpu_per_call(endpoint.feed, frames, n)
    expect_answer(sent[-1], frames[(n - 1) % len(frames)])
    return seconds


async def measure_reference(frames: list[str], n: int) -> float:
    charge_point, connection = reference_charge_point()
    await charge_point.route_message(frames[0])  # warm up: the library caches its validators
    expect_answer(connection.last, frames[0])
    before = connection.count
    seconds = await cpu_per_call(charge_point.route_message, frames, n)
    if connection.count - before != n:
        raise SystemExit(f"reference answered {connection.count - before} of {n} CALLs")
    expect_answer(connection.last, frames[(n - 1) % len(frames)])
    return seconds


def expect_answer(answer: bytes | str | None, call: str) -> None:
    """The benchmark measures the happy path only: every CALL must get its CALLRESULT."""
    message_id = orjson.loads(call)[1]
    if answer is None:
        raise SystemExit(f"no answer to {message_id}")
    frame = orjson.loads(answer)
    if frame[:2] != [3, message_id]:
        raise SystemExit(f"unexpected answer to {message_id}: {frame}")


async def main() -> int:
    logging.disable(logging.CRITICAL)  # neither side may pay for log output
    wall = time.perf_counter()
    rows = []
    for label, action, payload, ours_n, ref_n in CASES:
        frames = frames_for(action, payload)
        ours = [await measure_ours(action, frames, ours_n) for _ in range(REPETITIONS)]
        gated = [await measure_ours(action, frames, ours_n, True) for _ in range(REPETITIONS)]
        ref = [await measure_reference(frames, ref_n) for _ in range(REPETITIONS)]
        rows.append(
            (
                label,
                len(frames[0]),
                statistics.median(ours),
                statistics.median(gated),
                statistics.median(ref),
            )
        )
    print(f"CPU time per inbound CALL, median of {REPETITIONS} repetitions")
    print(
        f"{'case':<26}{'bytes':>7}{'RpcEndpoint':>14}{'+ gate':>11}"
        f"{'ocpp ChargePoint':>19}{'ratio':>9}"
    )
    for label, size, ours_s, gated_s, ref_s in rows:
        print(
            f"{label:<26}{size:>7}{ours_s * 1e6:>11.1f} µs{gated_s * 1e6:>8.1f} µs"
            f"{ref_s * 1e6:>16.1f} µs{ref_s / ours_s:>8.1f}x"
        )
    print("(+ gate: behind an open inbound gate, as a station's router is once accepted)")
    print(f"(wall time {time.perf_counter() - wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
