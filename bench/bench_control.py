"""What the web page costs the station: pushing a frame to an open page, and the frames log.

- push: a frame added to the station's log reaches a page following GET /api/events (a real
  aiohttp client on 127.0.0.1): ms from the add to the event read, median and 95th percentile
  (a stream sends a burst as one write 50 ms after its first frame: the figure is about that);
- status: GET /api/status round trips, ms each (what a page opened on the old, polling page
  cost every second);
- log: MessageLog.add of one MeterValues frame, µs, with no page open (a fleet's every frame)
  and with a page waiting (the wake-up), and against the log without the wake-up check (the
  class as it was, inlined here) as a ratio in the same run.

Run: .venv/bin/python bench/bench_control.py   (about 20 s)
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
import timeit
from collections import deque
from typing import Any

import aiohttp
import orjson

from ocpp_station.control.api import ControlApi
from ocpp_station.rpc.secrets import shown_frame
from ocpp_station.runtime import MessageLog, StationOptions, StationRuntime

PUSHES = 100
STATUS = 500
ADDS = 100_000
FRAME: list[Any] = [
    2,
    "1234",
    "MeterValues",
    {
        "connectorId": 1,
        "transactionId": 5,
        "meterValue": [
            {
                "timestamp": "2026-12-06T00:00:00Z",
                "sampledValue": [
                    {"value": "1234.5", "measurand": "Energy.Active.Import.Register"},
                    {"value": "50000", "measurand": "Power.Active.Import"},
                ],
            }
        ],
    },
]


class LogWithoutWakeUp:
    """MessageLog.add before the page's streams: the baseline of the ratio."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: deque[tuple[int, float, str, str]] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def add(self, direction: str, frame: list[Any]) -> str:
        text = orjson.dumps(shown_frame(frame)).decode()
        self._entries.append((next(self._seq), time.time(), direction, text))
        return text


async def push_latency(rt: StationRuntime, url: str) -> list[float]:
    took: list[float] = []
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/events") as stream:
        lines = stream.content
        # The page's first events (status, history, keys) before timing anything.
        async with asyncio.timeout(10):
            while b"event: config" not in await lines.readline():
                pass
        for n in range(PUSHES):
            began = time.perf_counter()
            rt.messages.add("out", [2, f"bench-{n}", "Heartbeat", {}])
            async with asyncio.timeout(10):
                while f'"bench-{n}"'.encode() not in await lines.readline():
                    pass
            took.append((time.perf_counter() - began) * 1000.0)
    return took


async def status_round_trips(url: str) -> float:
    async with aiohttp.ClientSession() as http:
        began = time.perf_counter()
        for _ in range(STATUS):
            async with http.get(f"{url}/api/status") as answer:
                await answer.read()
        return (time.perf_counter() - began) * 1000.0 / STATUS


def log_costs() -> tuple[float, float, float]:
    def per_add(log: Any) -> float:
        best = min(timeit.repeat(lambda: log.add("out", FRAME), number=ADDS, repeat=5))
        return best / ADDS * 1e6

    baseline = per_add(LogWithoutWakeUp())
    idle = per_add(MessageLog())
    watched = MessageLog()
    loop = asyncio.new_event_loop()

    def add_with_a_page_waiting() -> None:
        watched.wake_on(loop.create_future())
        watched.add("out", FRAME)

    with_page = min(timeit.repeat(add_with_a_page_waiting, number=ADDS, repeat=5)) / ADDS * 1e6
    loop.close()
    return baseline, idle, with_page


async def main() -> None:
    rt = StationRuntime(StationOptions(csms_url="ws://127.0.0.1:9"))  # never connects
    api = ControlApi(rt)
    await api.start("127.0.0.1", 0)
    try:
        took = await push_latency(rt, api.url)
        status_ms = await status_round_trips(api.url)
    finally:
        await api.stop()
        await rt.stop()
    cuts = statistics.quantiles(took, n=20)
    print(
        f"push: a frame to an open page {statistics.median(took):.1f} ms median, "
        f"{cuts[18]:.1f} ms p95 ({PUSHES} frames)"
    )
    print(f"status: GET /api/status {status_ms:.2f} ms per round trip ({STATUS} requests)")
    baseline, idle, with_page = log_costs()
    print(
        f"log: MessageLog.add {idle:.2f} µs with no page, {with_page:.2f} µs with a page "
        f"waiting; without the wake-up check {baseline:.2f} µs (ratio {idle / baseline:.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
