"""Time for the behaviour core: a monotonic clock, an adjustable wall clock and timers.

The station's services never sleep and never read the system clock directly: they get a Clock.
The runtime passes a LoopClock (asyncio timers); unit tests pass a VirtualClock and move time
forward by hand, so a 10000 s clock-aligned interval runs in microseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; only differences mean anything."""
        ...

    def now(self) -> datetime:
        """The station's wall clock (UTC, timezone-aware), as last set by the central system."""
        ...

    def set_time(self, current: datetime) -> None:
        """Adjust the wall clock (BootNotification.conf / Heartbeat.conf currentTime)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run callback after delay seconds of monotonic time."""
        ...


class _WallOffset:
    """A wall clock kept as an offset from the system clock, so that setting it is cheap."""

    def __init__(self) -> None:
        self._offset = 0.0

    def _system(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._system() + self._offset, UTC)

    def set_time(self, current: datetime) -> None:
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        self._offset = current.timestamp() - self._system()


class LoopClock(_WallOffset):
    """The real clock, with timers on the running asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self._loop = loop
        self._dead = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def monotonic(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.loop.call_later(max(0.0, delay), self._fire, callback)

    def _fire(self, callback: Callable[[], None]) -> None:
        if not self._dead:
            callback()

    def power_off(self) -> None:
        """Every timer set so far and from now on does nothing: the station it served is gone
        (a power loss simulated inside a process that goes on running other stations)."""
        self._dead = True


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that moves only when told to: for deterministic tests of timed behaviour."""

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 1000.0
        self._wall = (start or datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)).timestamp()
        self._heap: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall, UTC)

    def set_time(self, current: datetime) -> None:
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        self._wall = current.timestamp()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _VirtualTimer(self._mono + max(0.0, delay), callback)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def next_due(self) -> float | None:
        """Monotonic time of the next live timer, or None."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance(self, seconds: float) -> int:
        """Move time forward, firing due timers in order; returns how many fired."""
        end = self._mono + seconds
        fired = 0
        while True:
            due = self.next_due()
            if due is None or due > end:
                break
            _, _, timer = heapq.heappop(self._heap)
            self._step_to(timer.when)
            timer.callback()
            fired += 1
        self._step_to(end)
        return fired

    def _step_to(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += mono - self._mono
            self._mono = mono


def utc_from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


ZERO = timedelta(0)
