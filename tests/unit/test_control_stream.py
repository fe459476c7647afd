"""What the web page is pushed (control/stream.py) and the power history it plots first."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from ocpp_station.control.history import PowerHistory
from ocpp_station.control.stream import BACKLOG, KEEPALIVE, EventStreams, StationStream
from ocpp_station.runtime import MessageLog, StationOptions, StationRuntime


@pytest.fixture
async def rt() -> AsyncIterator[StationRuntime]:
    runtime = StationRuntime(StationOptions(csms_url="ws://127.0.0.1:9"))
    yield runtime
    await runtime.stop()


def parse(chunk: bytes) -> list[tuple[str, int | None, Any]]:
    """(event, id, data) of each event; a comment line is ("comment", None, text)."""
    events: list[tuple[str, int | None, Any]] = []
    for block in chunk.decode().split("\n\n")[:-1]:
        if block.startswith(":"):
            events.append(("comment", None, block))
            continue
        fields = dict(re.findall(r"^(\w+): (.*)$", block, re.M))
        seq = int(fields["id"]) if "id" in fields else None
        events.append((fields["event"], seq, orjson.loads(fields["data"])))
    return events


def view(rt: StationRuntime) -> dict[str, Any]:
    return {"id": rt.options.identity}


def entries(rt: StationRuntime) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v, _ in rt.config.entries() if k == "HeartbeatInterval"]


async def test_what_a_page_gets_first_and_then(rt: StationRuntime) -> None:
    history = PowerHistory(lambda: rt)
    history.sample()
    stream = StationStream(0, view, entries, history)
    first = parse(stream.next(rt))
    kinds = [kind for kind, _, _ in first]
    assert kinds == ["status", "history", "config"]
    assert first[0][2] == {"powered": True, "id": "CP-1"}
    assert first[1][2][0]["connectors"] == {"1": [0.0, None], "2": [0.0, None]}
    assert first[2][2] == [{"key": "HeartbeatInterval", "value": "20"}]
    assert stream.next(rt) == b""  # nothing new: nothing sent
    rt.messages.add("out", [2, "1", "Heartbeat", {}])
    rt.messages.add("in", [3, "1", {"currentTime": "2026-12-06T00:00:00Z"}])
    frames = parse(stream.next(rt))
    assert [(kind, seq, data["frame"]) for kind, seq, data in frames] == [
        ("frame", 1, [2, "1", "Heartbeat", {}]),
        ("frame", 2, [3, "1", {"currentTime": "2026-12-06T00:00:00Z"}]),
    ]
    assert frames[0][2]["direction"] == "out" and frames[1][2]["direction"] == "in"
    assert stream.next(rt) == b""
    rt.config.change("HeartbeatInterval", "45")
    assert parse(stream.next(rt)) == [
        ("config", None, [{"key": "HeartbeatInterval", "value": "45"}])
    ]
    # A quiet page hears from the server now and then: a page that left is found out.
    quiet = [stream.next(rt) for _ in range(KEEPALIVE)]
    assert quiet[:-1] == [b""] * (KEEPALIVE - 1)
    assert parse(quiet[-1]) == [("comment", None, ": still here")]
    stream.close()
    rt.config.change("HeartbeatInterval", "50")
    assert stream.next(rt) == b""  # closed: the station's keys are no longer watched...
    # ... until the stream looks at a station again (after a power cut, a new runtime).


async def test_a_power_cut_and_a_late_page(rt: StationRuntime) -> None:
    for n in range(BACKLOG + 10):
        rt.messages.add("out", [2, str(n), "Heartbeat", {}])
    stream = StationStream(0, view, entries)
    opened = parse(stream.next(rt))
    frames = [seq for kind, seq, _ in opened if kind == "frame"]
    assert frames == list(range(11, BACKLOG + 11))  # the last BACKLOG frames only
    assert "history" not in [kind for kind, _, _ in opened]  # none kept (a fleet's station)
    # The power goes: the page is told once; the log stays and new frames still come.
    assert parse(stream.next(None)) == [("status", None, {"powered": False})]
    assert stream.next(None) == b""
    # Resumed from where the page was (Last-Event-ID): only what came after.
    later = StationStream(BACKLOG + 8, view, entries)
    assert [seq for kind, seq, _ in parse(later.next(rt)) if kind == "frame"] == [
        BACKLOG + 9,
        BACKLOG + 10,
    ]
    # A page that saw more than this log holds saw another process: it gets this one's.
    other = StationStream(BACKLOG + 99, view, entries)
    assert len([seq for kind, seq, _ in parse(other.next(rt)) if kind == "frame"]) == BACKLOG


async def test_a_stream_wakes_at_a_frame_and_at_shutdown() -> None:
    from aiohttp import web

    app = web.Application()
    streams = EventStreams(app)
    log = MessageLog()
    loop = asyncio.get_running_loop()
    began = loop.time()
    waiting = asyncio.ensure_future(streams.wait(log, 30.0))
    await asyncio.sleep(0.01)
    log.add("out", [2, "1", "Heartbeat", {}])
    await asyncio.wait_for(waiting, 5)
    assert loop.time() - began < 5  # woken by the frame, not the 30 s
    assert log._wakers == []
    waiting = asyncio.ensure_future(streams.wait(log, 30.0))
    await asyncio.sleep(0.01)
    for hook in app.on_shutdown:
        await hook(app)
    await asyncio.wait_for(waiting, 5)
    assert streams.closing
    await asyncio.wait_for(streams.wait(log, 30.0), 1)  # closing: no wait at all
    timed = asyncio.ensure_future(streams.wait(None, 0.01))
    await asyncio.wait_for(timed, 5)


async def test_the_power_history_keeps_the_last_minutes(rt: StationRuntime) -> None:
    off = [False]
    history = PowerHistory(lambda: None if off[0] else rt, every=2.0, keep=6.0)
    for _ in range(5):
        history.sample()
    off[0] = True
    history.sample()  # no power: no sample
    samples = history.view()
    assert len(samples) == 3  # 6 s of 2 s samples
    assert all(s["connectors"] == {"1": [0.0, None], "2": [0.0, None]} for s in samples)
    assert samples[0]["time"] <= samples[-1]["time"]
