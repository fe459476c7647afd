"""One station's connection to the central system, and the API tests script it with.

Every CALL the station sends is appended to `messages` before it is answered, so a test that
saw the station react to an answer finds the CALL already recorded. `expect()` reads the
messages with a cursor that moves forward: a test states what the station must send, in order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from ocpp_station.clock import Clock
from ocpp_station.csms.records import StationRecord
from ocpp_station.rpc.actions import ALL_ACTIONS
from ocpp_station.rpc.endpoint import Router, RpcEndpoint
from ocpp_station.rpc.errors import ConnectionLost, RpcTimeout
from ocpp_station.rpc.frames import CALL, CALLERROR, CALLRESULT, FrameError
from ocpp_station.rpc.secrets import shown_payload

_LOG_PAYLOAD_LIMIT = 2000


class _NoAnswer:
    """The type of NO_ANSWER."""

    _instance: _NoAnswer | None = None

    def __new__(cls) -> _NoAnswer:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER: Final = _NoAnswer()
"""Returned by a handler: leave the CALL unanswered (for the station's timeout handling)."""

SessionHandler = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[Any] | _NoAnswer]
"""A per-station answer: a dict, an awaitable of one, NO_ANSWER, or raise an OcppError."""

Match = Callable[[dict[str, Any]], bool] | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Received:
    """A CALL received from the station."""

    seq: int
    """1, 2, 3... per connection, in arrival order."""
    time: datetime
    """The central system's clock when it arrived (UTC)."""
    action: str
    payload: dict[str, Any]
    message_id: str


class ExpectationFailed(AssertionError):
    """The station did not send what a test expected, or sent what it must not."""


def _matcher(match: Match) -> Callable[[dict[str, Any]], bool]:
    if match is None:
        return lambda payload: True
    if isinstance(match, Mapping):
        wanted = dict(match)
        return lambda payload: all(
            key in payload and payload[key] == value for key, value in wanted.items()
        )
    if callable(match):
        return match
    raise TypeError(f"match must be a dict, a callable or None, not {type(match).__name__}")


def _describe(action: str, match: Match) -> str:
    if match is None:
        return action
    if isinstance(match, Mapping):
        return f"{action} matching {dict(match)}"
    return f"{action} matching {getattr(match, '__name__', 'the predicate')}"


def _text(payload: Any) -> str:
    try:
        text = orjson.dumps(payload).decode()
    except TypeError:
        text = repr(payload)
    if len(text) > _LOG_PAYLOAD_LIMIT:
        text = text[:_LOG_PAYLOAD_LIMIT] + "..."
    return text


def security_facts(connection: ServerConnection) -> dict[str, Any]:
    """What the connection shows of the station's security profile (whitepaper §2): `tls` and
    its `tlsVersion`, the `basicUser` of an Authorization header (the password is never kept),
    and the subject (`clientCN`, `clientO`) of a TLS client certificate."""
    facts: dict[str, Any] = {"tls": False, "tlsVersion": None, "basicUser": None}
    facts["clientCN"] = facts["clientO"] = None
    request = getattr(connection, "request", None)  # None before (or without) a handshake
    header = request.headers.get("Authorization") if request is not None else None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token.strip(), validate=True)
                facts["basicUser"] = decoded.split(b":", 1)[0].decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                facts["basicUser"] = ""
    transport = getattr(connection, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is not None:
        facts["tls"] = True
        facts["tlsVersion"] = ssl_object.version()
        peer = ssl_object.getpeercert()
        for entry in (peer or {}).get("subject", ()):
            for name, value in entry:
                if name == "commonName":
                    facts["clientCN"] = value
                elif name == "organizationName":
                    facts["clientO"] = value
    return facts


class StationSession:
    """One open connection of one station, as the central system sees it."""

    def __init__(
        self,
        identity: str,
        connection: ServerConnection,
        router: Router,
        record: StationRecord,
        *,
        clock: Clock,
        log: logging.Logger,
        response_timeout: float = 30.0,
        max_messages: int | None = None,
    ) -> None:
        self.identity = identity
        self.connection = connection
        self.record = record
        self.messages: list[Received] = []
        self.closed = asyncio.Event()
        self.security = security_facts(connection)
        """How the station connected (security profile evidence): see security_facts."""
        self._clock = clock
        self._log = log
        self._max_messages = max_messages
        self._dropped = 0  # messages trimmed from the front of `messages`
        self._next_seq = 1
        self._cursor = 0
        self._changed: asyncio.Event | None = None  # set on each arrival, and on closing
        self._handlers: dict[str, SessionHandler] = {}
        self._inbound: dict[str, str] = {}  # message id of a CALL we have to answer -> action
        self._outbound: dict[str, str] = {}  # message id of our CALL -> action
        self._raw_waiters: dict[str, asyncio.Future[list[Any]]] = {}
        self.endpoint = RpcEndpoint(
            self._send,
            router,
            response_timeout=response_timeout,
            on_frame=self._on_frame,
            on_bad_frame=self._on_bad_frame,
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed.is_set() else "open"
        return f"<StationSession {self.identity} {state}, {self._next_seq - 1} CALLs>"

    # ------------------------------------------------------------------ scripting API

    def cursor(self) -> int:
        """The seq of the last CALL received so far (0 before the first)."""
        return self._next_seq - 1

    async def expect(
        self,
        action: str,
        match: Match = None,
        *,
        timeout: float = 10,  # noqa: ASYNC109 - a deadline for the whole wait
        after: int | None = None,
    ) -> Received:
        """The first CALL of `action` matching `match` with seq > after.

        `after` defaults to the seq of the CALL the previous expect() returned, so successive
        expect()s read the station's messages in order. A dict `match` requires each of its
        keys to equal the payload's value. Raises ExpectationFailed when none arrives in time.
        """
        start = self._cursor if after is None else after
        accept = _matcher(match)
        scanned = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = self._find(action, accept, scanned)
                    if found is not None:
                        self._cursor = max(self._cursor, found.seq)
                        return found
                    scanned = self.cursor()
                    if self.closed.is_set():
                        raise ExpectationFailed(
                            f"{self.identity}: connection closed without "
                            f"{_describe(action, match)} after #{start}; {self._since(start)}"
                        )
                    await self._wait_change()
        except TimeoutError:
            raise ExpectationFailed(
                f"{self.identity}: no {_describe(action, match)} after #{start} within "
                f"{timeout:g} s; {self._since(start)}"
            ) from None

    async def expect_none(
        self,
        action: str,
        match: Match = None,
        *,
        within: float,
        after: int | None = None,
    ) -> None:
        """Fail if a CALL of `action` matching `match` with seq > after arrives within `within`
        seconds (or has arrived already). `after` defaults as for expect(); the cursor stays."""
        start = self._cursor if after is None else after
        accept = _matcher(match)
        scanned = start
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = self._find(action, accept, scanned)
            if found is not None:
                raise ExpectationFailed(
                    f"{self.identity}: unexpected {action} #{found.seq}: {_text(found.payload)}"
                )
            scanned = self.cursor()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self.closed.is_set():
                # Nothing more can arrive on this connection; the caller still gets the full
                # wait, so its timing does not depend on the connection.
                await asyncio.sleep(remaining)
                continue
            try:
                async with asyncio.timeout(remaining):
                    await self._wait_change()
            except TimeoutError:
                return

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float = 10,  # noqa: ASYNC109 - the CALL's response timeout
    ) -> dict[str, Any]:
        """Send a CALL to the station and return its CALLRESULT payload.

        Raises CallErrorReceived, RpcTimeout, ConnectionLost, or an OcppError when the answer
        fails its schema.
        """
        try:
            return await self.endpoint.call(action, payload, timeout=timeout)
        except RpcTimeout:
            self._log.info("%s -> no answer to %s within %g s", self.identity, action, timeout)
            raise

    async def send_raw(self, data: str | bytes) -> None:
        """Send any text frame as it is (for tests of the station's handling of bad input)."""
        await self._send(data)

    async def call_raw(
        self,
        data: str | bytes,
        message_id: str,
        *,
        timeout: float = 10,  # noqa: ASYNC109 - how long to wait for the answer
    ) -> list[Any]:
        """Send a raw frame and return the station's answer frame with `message_id`
        ([3, id, payload] or [4, id, code, description, details])."""
        if message_id in self._raw_waiters:
            raise ValueError(f"already waiting for an answer to {message_id!r}")
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._raw_waiters[message_id] = future
        try:
            await self._send(data)
            try:
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                raise RpcTimeout(f"raw frame {message_id}", timeout) from None
        finally:
            self._raw_waiters.pop(message_id, None)

    def set_handler(self, action: str, handler: SessionHandler | None) -> None:
        """Answer `action` from this station with `handler` (None: the default answer again)."""
        if action not in ALL_ACTIONS:
            raise ValueError(f"{action!r} is not an OCPP 1.6 action")
        if handler is None:
            self._handlers.pop(action, None)
            return
        if not callable(handler):
            raise TypeError(f"handler for {action} is not callable: {handler!r}")
        self._handlers[action] = handler

    def handler(self, action: str) -> SessionHandler | None:
        """The per-station handler set for `action`, if any."""
        return self._handlers.get(action)

    async def close(
        self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "", *, abrupt: bool = False
    ) -> None:
        """Drop the connection: with a closing handshake, or `abrupt` like a cut cable.

        Returns once the session has ended.
        """
        if abrupt:
            self.connection.transport.abort()
        else:
            await self.connection.close(code, reason)
        await self.closed.wait()

    # ------------------------------------------------------------------ internals

    def _find(
        self, action: str, accept: Callable[[dict[str, Any]], bool], after: int
    ) -> Received | None:
        index = max(0, after - self._dropped)
        messages = self.messages
        for position in range(index, len(messages)):
            received = messages[position]
            if received.seq > after and received.action == action and accept(received.payload):
                return received
        return None

    def _since(self, start: int) -> str:
        index = max(0, start - self._dropped)
        later = self.messages[index:]
        if not later:
            return "nothing received since"
        shown = ", ".join(f"#{m.seq} {m.action} {_text(m.payload)}" for m in later[-10:])
        more = f"{len(later) - 10} more, then " if len(later) > 10 else ""
        return f"received since: {more}{shown}"

    async def _wait_change(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _record(self, message_id: str, action: str, payload: dict[str, Any]) -> None:
        received = Received(self._next_seq, self._clock.now(), action, payload, message_id)
        self._next_seq += 1
        self.messages.append(received)
        limit = self._max_messages
        if limit is not None and len(self.messages) >= 2 * limit:
            # Trimmed in halves so that appending stays cheap on average.
            drop = len(self.messages) - limit
            del self.messages[:drop]
            self._dropped += drop
        self._notify()

    async def _send(self, data: bytes | str) -> None:
        try:
            await self.connection.send(data, text=True)
        except ConnectionClosed as exc:
            raise ConnectionLost(f"{self.identity}: connection closed") from exc

    def _on_frame(self, direction: str, frame: list[Any]) -> None:
        kind = frame[0]
        message_id = frame[1]
        if direction == "in":
            if kind == CALL:
                self._inbound[message_id] = frame[2]
                if type(frame[3]) is dict:
                    self._record(message_id, frame[2], frame[3])
            else:
                waiter = self._raw_waiters.get(message_id)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
        if self._log.isEnabledFor(logging.INFO):
            self._log_frame(direction, kind, message_id, frame)
        # The actions are kept only to name them in the log lines of the answers.
        if direction == "in" and kind != CALL:
            self._outbound.pop(message_id, None)
        elif direction == "out" and kind == CALL:
            self._outbound[message_id] = frame[2]
        elif direction == "out":
            self._inbound.pop(message_id, None)

    def _on_bad_frame(self, data: bytes | str, exc: FrameError) -> None:
        # A frame the station sent that is not OCPP-J: the transcript shows it as it came.
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        self._log.warning(
            "%s -> unreadable frame (%s): %s", self.identity, exc.description, text[:2000]
        )

    def _log_frame(self, direction: str, kind: int, message_id: str, frame: list[Any]) -> None:
        """One line per message: `->` from the station, `<-` to it."""
        log = self._log
        who = self.identity
        if direction == "in":
            if kind == CALL:
                log.info("%s -> %s %s", who, frame[2], _text(frame[3]))
                return
            action = self._outbound.get(message_id, "?")
            if kind == CALLRESULT:
                log.info("%s -> %s.conf %s", who, action, _text(frame[2]))
            else:
                log.info(
                    "%s -> %s CALLERROR %s %s %s",
                    who,
                    action,
                    frame[2],
                    _text(frame[3]),
                    _text(frame[4]),
                )
            return
        if kind == CALL:
            log.info("%s <- %s %s", who, frame[2], _text(shown_payload(frame[2], frame[3])))
            return
        action = self._inbound.get(message_id, "?")
        if kind == CALLRESULT:
            log.info("%s <- %s.conf %s", who, action, _text(frame[2]))
        elif kind == CALLERROR:
            log.info("%s <- %s CALLERROR %s %s", who, action, frame[2], _text(frame[3]))

    async def _withhold(self) -> dict[str, Any]:
        """The pending answer of a NO_ANSWER handler: it never comes."""
        await self.closed.wait()
        # The connection is gone: end the handler task without an answer.
        raise asyncio.CancelledError

    def _ended(self) -> None:
        self.endpoint.connection_lost()
        for waiter in self._raw_waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionLost(f"{self.identity}: connection closed"))
        self._inbound.clear()
        self._outbound.clear()
        self.closed.set()
        self._notify()
