"""The tool's view of the station under test across all its connections.

A case may reboot the station or cut its connection; what the station sends afterwards comes on
a new StationSession. StationLink joins the sessions of one identity into a single stream of
CALLs (numbered 1, 2, 3... in arrival order) and keeps every frame line of both directions,
so that expectations read on across reconnections and a failure can be shown with the frames
around it.

It listens to the central system's per-message log lines (a logging.Handler on the tool's own
logger): each line is a frame, a connection or a disconnection, and each wakes the waiters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import Received, StationSession

# A waiter also looks again this often, in case a change came without a log line.
_POLL = 0.25


class Message(dict[str, Any]):
    """A CALL the station sent: its payload, with where and when it arrived."""

    __slots__ = ("action", "connection", "message_id", "seq", "time")

    def __init__(self, seq: int, connection: int, received: Received) -> None:
        super().__init__(received.payload)
        self.seq = seq
        """1, 2, 3... over all the station's connections, in arrival order."""
        self.connection = connection
        """1 for the first connection the tool saw, 2 after a reconnection..."""
        self.time: datetime = received.time
        self.action = received.action
        self.message_id = received.message_id

    def __repr__(self) -> str:
        return f"<#{self.seq} {self.action} {dict(self)!r}>"


@dataclass(frozen=True, slots=True)
class FrameLine:
    """One line of the transcript: a frame either way, or a connection event."""

    time: datetime
    text: str

    def render(self) -> str:
        return f"{self.time.strftime('%H:%M:%S.%f')[:-3]} {self.text}"


class StationLink(logging.Handler):
    """Every CALL and frame line of one station (the first to connect when `identity` is None)."""

    def __init__(self, csms: CentralSystem, identity: str | None = None) -> None:
        super().__init__(level=logging.INFO)
        self.csms = csms
        self.identity = identity
        self.sessions: list[StationSession] = []
        self.messages: list[Message] = []
        self.frames: list[FrameLine] = []
        self.on_connection: list[Callable[[StationSession], None]] = []
        """Called with each new connection of the station as soon as it is seen (before any of
        its CALLs is answered when the central system logs the connection first)."""
        self._taken: list[int] = []  # per session: how many of its messages are in `messages`
        self._starts: list[int] = []  # per session: len(messages) when it was adopted
        self.generation = 0
        """Counts the log lines seen: a waiter that saw generation g waits for g + 1."""
        self._changed = asyncio.Event()
        csms.log.addHandler(self)
        if csms.log.getEffectiveLevel() > logging.INFO:
            csms.log.setLevel(logging.INFO)

    def detach(self) -> None:
        self.csms.log.removeHandler(self)

    # ------------------------------------------------------------------ logging.Handler

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sync()
            args = record.args
            who = args[0] if isinstance(args, tuple) and args else None
            if who is not None and who == self.identity:
                when = datetime.fromtimestamp(record.created, UTC)
                self.frames.append(FrameLine(when, record.getMessage()))
            self.generation += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
        except Exception:  # a logging handler must not break the central system
            self.handleError(record)

    # ------------------------------------------------------------------ the stream

    @property
    def session(self) -> StationSession | None:
        """The station's open connection, if it has one."""
        self.sync()
        if self.sessions and not self.sessions[-1].closed.is_set():
            return self.sessions[-1]
        return None

    @property
    def connections(self) -> int:
        """How many connections of the station the tool has seen."""
        self.sync()
        return len(self.sessions)

    def connection_start(self, connection: int) -> int:
        """The seq after which connection `connection` (1-based) begins."""
        self.sync()
        return self._starts[connection - 1]

    def sync(self) -> None:
        """Adopt a new connection of the station and take in the CALLs not yet numbered."""
        stations = self.csms.stations
        if self.identity is None:
            if not stations:
                return
            self.identity = next(iter(stations))
        current = stations.get(self.identity)
        if current is not None and (not self.sessions or self.sessions[-1] is not current):
            if all(s is not current for s in self.sessions):
                self._take_all()  # the older connections' CALLs come first
                self.sessions.append(current)
                self._taken.append(0)
                self._starts.append(len(self.messages))
                for callback in list(self.on_connection):
                    callback(current)
        self._take_all()

    def _take_all(self) -> None:
        for index, session in enumerate(self.sessions):
            taken = self._taken[index]
            received = session.messages
            while taken < len(received):
                seq = len(self.messages) + 1
                self.messages.append(Message(seq, index + 1, received[taken]))
                taken += 1
            self._taken[index] = taken

    async def wait_change(
        self,
        seen: int,
        timeout: float,  # noqa: ASYNC109 - a bounded wait
    ) -> None:
        """Return once something happened after generation `seen` (or after `timeout`, or a
        short poll interval)."""
        if self.generation == seen:
            changed = self._changed
            try:
                async with asyncio.timeout(max(0.0, min(timeout, _POLL))):
                    await changed.wait()
            except TimeoutError:
                pass
        self.sync()

    async def wait_connection(
        self,
        newer_than: int,
        timeout: float,  # noqa: ASYNC109 - a deadline for the whole wait
    ) -> StationSession:
        """The station's open connection number `newer_than + 1` or later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = self.generation
            session = self.session
            if session is not None and len(self.sessions) > newer_than:
                return session
            remaining = deadline - loop.time()
            if remaining <= 0:
                who = self.identity or "a station"
                raise TimeoutError(f"{who} did not connect within {timeout:g} s")
            await self.wait_change(seen, remaining)

    def frames_around(self, when: datetime, before: int, after: int) -> list[FrameLine]:
        """The last `before` frame lines at or before `when` and the first `after` after it."""
        earlier = [f for f in self.frames if f.time <= when]
        later = [f for f in self.frames if f.time > when]
        return (earlier[-before:] if before else []) + later[:after]
