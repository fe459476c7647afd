"""Server-sent events for the web page: what changed, pushed as it happens.

One stream per open page. A stream wakes on each new OCPP frame and at least once a second
(power and energy move without a frame); every stream ends when the server shuts down, so a
page left open never holds the server's stop (aiohttp waits for running handlers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ocpp_station.control.history import PowerHistory
from ocpp_station.runtime import MessageLog, StationRuntime

# A page opened late gets at most the last this many frames, then every new one.
BACKLOG = 500
# A comment line after this many quiet rounds (about a second each) finds a page that left.
KEEPALIVE = 15


def event(kind: str, data: str, event_id: int | None = None) -> bytes:
    """One event; `data` is JSON text, which has no line breaks."""
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {data}\n\n".encode()


def frame_event(seq: int, time: float, direction: str, frame: str) -> bytes:
    data = f'{{"seq":{seq},"time":{time},"direction":"{direction}","frame":{frame}}}'
    return event("frame", data, seq)


class EventStreams:
    """The open streams of one HTTP API."""

    def __init__(self, app: web.Application) -> None:
        self.closing = False
        self._wakers: set[asyncio.Future[None]] = set()
        app.on_shutdown.append(self._close)

    async def _close(self, app: web.Application) -> None:
        self.closing = True
        for waker in self._wakers:
            if not waker.done():
                waker.set_result(None)

    async def open(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        return response

    async def repeat(
        self,
        request: web.Request,
        kind: str,
        produce: Callable[[], Awaitable[Any]],
        every: float,
    ) -> web.StreamResponse:
        """A stream of `kind` events, `produce()` as JSON every `every` seconds (a fleet's
        totals), until the page goes or the server stops."""
        response = await self.open(request)
        try:
            while not self.closing:
                await response.write(event(kind, orjson.dumps(await produce()).decode()))
                await self.wait(None, every)
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away, or the server stops
        return response

    async def wait(self, log: MessageLog | None, longest: float) -> None:
        """Until a new frame in `log`, `longest` seconds, or the server's shutdown."""
        if self.closing:
            return
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wakers.add(waker)
        if log is not None:
            log.wake_on(waker)
        try:
            await asyncio.wait({waker}, timeout=longest)
        finally:
            self._wakers.discard(waker)
            if log is not None:
                log.unwake(waker)
            if not waker.done():
                waker.cancel()


class StationStream:
    """What one page has not seen yet of one station: `next(runtime)` gives it as events
    (frames after the last one sent, the status if it changed, the power history once, the
    configuration when a key changed), or b"" when nothing is new."""

    def __init__(
        self,
        after: int,
        view: Callable[[StationRuntime], dict[str, Any]],
        entries: Callable[[StationRuntime], list[dict[str, Any]]],
        history: PowerHistory | None = None,
    ) -> None:
        self.after = after
        self._view = view
        self._entries = entries
        self._history = history
        # The station's log; it outlives a power cut (the runtime goes, the frames stay).
        self.log: MessageLog | None = None
        self._watched: StationRuntime | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._config_changed = True
        self._status = b""
        self._quiet = 0

    def next(self, rt: StationRuntime | None) -> bytes:
        if rt is not self._watched:
            self._watch(rt)
        chunks: list[bytes] = []
        if rt is not None:
            self.log = rt.messages
        log = self.log
        if log is not None:
            if self.after > log.last_seq:
                self.after = 0  # a page back from an earlier process: this log began afresh
            for seq, t, d, text in log.raw_after(max(self.after, log.last_seq - BACKLOG)):
                chunks.append(frame_event(seq, t, d, text))
                self.after = seq
        status = orjson.dumps({"powered": True, **self._view(rt)} if rt else {"powered": False})
        if status != self._status:
            chunks.append(event("status", status.decode()))
            self._status = status
        if self._history is not None:
            chunks.append(event("history", orjson.dumps(self._history.view()).decode()))
            self._history = None  # once: the page goes on from the status events
        if rt is not None and self._config_changed:
            self._config_changed = False
            chunks.append(event("config", orjson.dumps(self._entries(rt)).decode()))
        self._quiet = 0 if chunks else self._quiet + 1
        if self._quiet >= KEEPALIVE:
            self._quiet = 0
            chunks.append(b": still here\n\n")
        return b"".join(chunks)

    def _watch(self, rt: StationRuntime | None) -> None:
        self.close()
        self._watched = rt
        if rt is not None:
            self._unsubscribe = rt.config.subscribe(self._key_changed)
            self._config_changed = True

    def _key_changed(self, key: str, value: str) -> None:
        self._config_changed = True

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
