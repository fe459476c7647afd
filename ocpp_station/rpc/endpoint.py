"""One OCPP-J connection's RPC state: routing inbound CALLs, matching answers to our CALL.

The endpoint does no I/O of its own: the transport feeds it every received text frame and gives
it a `send` coroutine. The same class serves the charge point and the central system.

Hot path: an inbound CALL is decoded with orjson, validated by a compiled schema, handed to the
handler as the wire's dict (camelCase keys, no conversion) and, for a sync handler, answered
inline without creating a task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ocpp_station.rpc.actions import ALL_ACTIONS
from ocpp_station.rpc.errors import (
    CallErrorReceived,
    ConnectionLost,
    InternalError,
    NotImplementedCall,
    NotSupported,
    OcppError,
    ProtocolError,
    RpcTimeout,
)
from ocpp_station.rpc.frames import (
    CALL,
    CALLERROR,
    CALLRESULT,
    FrameError,
    decode,
    encode_error,
    error_frame,
)
from ocpp_station.rpc.schemas import read_answer, validate_request, validate_response

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
AfterHook = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None] | None]
FrameObserver = Callable[[str, list[Any]], None]
# Sees each received frame that could not be read (its text, and why); for transcripts.
BadFrameObserver = Callable[[bytes | str, FrameError], None]
# The inbound gate: given the action of a CALL (None when it cannot be read), True routes it to
# its handler, False ignores it (no answer at all), and a dict is the answer to send instead of
# the handler's. A charge point's gate follows its registration (OCPP 1.6 §4.2).
Gate = Callable[[str | None], "bool | dict[str, Any]"]

_dumps = orjson.dumps


def _uuid4_id() -> str:
    return str(uuid.uuid4())


class Router:
    """Handlers for inbound CALLs, by action name. Built once, shared by many connections.

    A handler gets the validated request payload (the wire's dict) and returns the response
    payload, or an awaitable of it; it raises an OcppError subclass to answer with a CALLERROR.
    An after hook gets (request, response) once the CALLRESULT has been sent. A `gate`, when
    given, sees every CALL first (see Gate).
    """

    __slots__ = ("_after", "_handlers", "gate")

    def __init__(self, gate: Gate | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._after: dict[str, AfterHook] = {}
        self.gate = gate

    def route(self, action: str, handler: Handler, after: AfterHook | None = None) -> None:
        _check_action(action)
        if not callable(handler):
            raise TypeError(f"handler for {action} is not callable: {handler!r}")
        if action in self._handlers:
            raise ValueError(f"a handler for {action} is already registered")
        self._handlers[action] = handler
        if after is not None:
            self._set_after(action, after)

    def on(self, action: str) -> Callable[[Handler], Handler]:
        """Decorator form of route()."""
        _check_action(action)

        def register(handler: Handler) -> Handler:
            self.route(action, handler)
            return handler

        return register

    def after(self, action: str) -> Callable[[AfterHook], AfterHook]:
        """Decorator registering the after hook of `action`."""
        _check_action(action)

        def register(hook: AfterHook) -> AfterHook:
            self._set_after(action, hook)
            return hook

        return register

    def _set_after(self, action: str, hook: AfterHook) -> None:
        if not callable(hook):
            raise TypeError(f"after hook for {action} is not callable: {hook!r}")
        if action in self._after:
            raise ValueError(f"an after hook for {action} is already registered")
        self._after[action] = hook

    @property
    def actions(self) -> frozenset[str]:
        """The actions that have a handler."""
        return frozenset(self._handlers)


def _check_action(action: str) -> None:
    # A handler for a name outside 1.6 could never run: such CALLs get NotImplemented.
    if action not in ALL_ACTIONS:
        raise ValueError(f"{action!r} is not an OCPP 1.6 action")


class _Outstanding:
    """Our CALL that waits for its answer."""

    __slots__ = ("action", "future", "message_id")

    def __init__(self, message_id: str, action: str, future: asyncio.Future[dict[str, Any]]):
        self.message_id = message_id
        self.action = action
        self.future = future


class RpcEndpoint:
    """One OCPP-J connection's RPC state. Does no I/O of its own except through `send`."""

    __slots__ = (
        "_after",
        "_closed",
        "_gate",
        "_handlers",
        "_in_progress",
        "_lenient",
        "_lenient_answers",
        "_lock",
        "_next_id",
        "_on_bad_frame",
        "_on_frame",
        "_outstanding",
        "_send",
        "_tasks",
        "_timeout",
        "_validate_outbound",
    )

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        router: Router,
        *,
        response_timeout: float = 30.0,
        next_id: Callable[[], str] | None = None,
        validate_outbound: bool = False,
        lenient_timestamps: bool = True,
        lenient_answers: bool = False,
        on_frame: FrameObserver | None = None,
        on_bad_frame: BadFrameObserver | None = None,
    ) -> None:
        """`lenient_answers`: read the answers to our CALLs as schemas.read_answer does
        (unknown properties ignored, integral numbers as integers), as a charge point facing
        central systems it did not write should; the CALLs it answers stay strict."""
        if not response_timeout > 0:
            raise ValueError(f"response_timeout must be positive, got {response_timeout!r}")
        self._send = send
        # The router's own dicts: handlers registered later are seen by every endpoint.
        self._handlers = router._handlers
        self._after = router._after
        self._gate = router.gate
        self._timeout = float(response_timeout)
        self._next_id = next_id if next_id is not None else _uuid4_id
        self._validate_outbound = validate_outbound
        self._lenient = lenient_timestamps
        self._lenient_answers = lenient_answers
        self._on_frame = on_frame
        self._on_bad_frame = on_bad_frame
        # asyncio.Lock wakes its waiters in FIFO order: concurrent call()s go out in the order
        # they were made, one at a time (OCPP-J 1.6 §4.1.1).
        self._lock = asyncio.Lock()
        self._outstanding: _Outstanding | None = None
        self._in_progress: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def busy(self) -> bool:
        """A CALL of ours is outstanding."""
        return self._outstanding is not None

    @property
    def closed(self) -> bool:
        """connection_lost() was called."""
        return self._closed

    # ----------------------------------------------------------------------------- inbound

    async def feed(self, data: bytes | str) -> None:
        """Process one received text frame. Never raises for bad input.

        A sync handler is answered inline; an awaitable handler runs in its own task, so the
        reader never waits on it (a handler may await a call() of ours without deadlock).
        """
        if self._closed:
            log.debug("frame after connection loss dropped")
            return
        try:
            frame = decode(data)
        except FrameError as exc:
            if self._on_bad_frame is not None:
                try:
                    self._on_bad_frame(data, exc)
                except Exception:
                    log.exception("on_bad_frame observer failed")
            await self._bad_frame(exc)
            return
        if self._on_frame is not None:
            self._observe(self._on_frame, "in", frame)
        type_id = frame[0]
        if type_id == CALL:
            await self._on_call(frame[1], frame[2], frame[3])
        elif type_id == CALLRESULT:
            self._on_result(frame[1], frame[2])
        elif type_id == CALLERROR:
            self._on_error(frame[1], frame[2], frame[3], frame[4])
        else:
            # OCPP-J 1.6 §4.1.3: an unknown MessageTypeNumber is ignored.
            log.warning("ignoring frame with unknown MessageTypeId %r", type_id)

    async def _on_call(self, message_id: str, action: str, payload: dict[str, Any]) -> None:
        gate = self._gate
        canned: dict[str, Any] | None = None
        if gate is not None:
            verdict = gate(action)
            if verdict is False:
                log.info("ignoring %s %s: the gate is closed", action, message_id)
                return
            if verdict is not True:
                canned = verdict
        if message_id in self._in_progress:
            # OCPP-J 1.6 §4.2.3: "an existing call with the same unique identifier is being
            # handled already" is not a proper message.
            await self._send_error(
                message_id, ProtocolError(f"message id {message_id} is already being processed")
            )
            return
        handler = self._handlers.get(action)
        if handler is None:
            if action in ALL_ACTIONS:
                error: OcppError = NotSupported(f"{action} is not supported")
            else:
                error = NotImplementedCall(f"{action} is not an OCPP 1.6 action")
            await self._send_error(message_id, error)
            return
        try:
            validate_request(action, payload, lenient_timestamps=self._lenient)
            if canned is not None:
                # The gate's answer stands for the handler's: no after hook runs for it.
                await self._answer(message_id, action, payload, canned, run_after=False)
                return
            result = handler(payload)
        except OcppError as exc:
            await self._send_error(message_id, exc)
            return
        except Exception as exc:
            log.exception("handler for %s (message %s) failed", action, message_id)
            await self._send_error(message_id, _internal(exc))
            return
        if type(result) is dict:
            await self._answer(message_id, action, payload, result)
        elif inspect.isawaitable(result):
            self._in_progress.add(message_id)
            self._spawn(self._finish_call(message_id, action, payload, result))
        else:
            await self._send_error(message_id, _bad_result(action, result))

    async def _finish_call(
        self,
        message_id: str,
        action: str,
        payload: dict[str, Any],
        pending: Awaitable[dict[str, Any]],
    ) -> None:
        try:
            try:
                result = await pending
            except OcppError as exc:
                await self._send_error(message_id, exc)
                return
            except Exception as exc:
                log.exception("handler for %s (message %s) failed", action, message_id)
                await self._send_error(message_id, _internal(exc))
                return
            if type(result) is not dict:
                await self._send_error(message_id, _bad_result(action, result))
                return
            await self._answer(message_id, action, payload, result)
        finally:
            self._in_progress.discard(message_id)

    async def _answer(
        self,
        message_id: str,
        action: str,
        request: dict[str, Any],
        response: dict[str, Any],
        *,
        run_after: bool = True,
    ) -> None:
        if self._validate_outbound:
            try:
                # Strict on what we send: RFC 3339 timestamps only.
                validate_response(action, response, lenient_timestamps=False)
            except OcppError as exc:
                log.error("our %s response fails its schema: %s", action, exc)
                await self._send_error(message_id, InternalError(f"invalid response: {exc}"))
                return
        frame = [CALLRESULT, message_id, response]
        try:
            data = _dumps(frame)
        except orjson.JSONEncodeError as exc:
            log.error("our %s response cannot be encoded: %s", action, exc)
            await self._send_error(message_id, _internal(exc))
            return
        if not await self._transmit(data, frame) or not run_after:
            return
        hook = self._after.get(action)
        if hook is not None:
            self._run_after(action, hook, request, response)

    def _run_after(
        self, action: str, hook: AfterHook, request: dict[str, Any], response: dict[str, Any]
    ) -> None:
        try:
            outcome = hook(request, response)
        except Exception:
            log.exception("after hook of %s failed", action)
            return
        if outcome is not None and inspect.isawaitable(outcome):
            self._spawn(self._await_after(action, outcome))

    @staticmethod
    async def _await_after(action: str, outcome: Awaitable[None]) -> None:
        try:
            await outcome
        except Exception:
            log.exception("after hook of %s failed", action)

    def _on_result(self, message_id: str, payload: dict[str, Any]) -> None:
        outstanding = self._take_outstanding(message_id)
        if outstanding is None:
            return
        action = outstanding.action
        if action in ALL_ACTIONS:
            try:
                if self._lenient_answers:
                    payload = read_answer(action, payload, lenient_timestamps=self._lenient)
                else:
                    validate_response(action, payload, lenient_timestamps=self._lenient)
            except OcppError as exc:
                outstanding.future.set_exception(exc)
                return
        outstanding.future.set_result(payload)

    def _on_error(
        self, message_id: str, code: str, description: str, details: dict[str, Any]
    ) -> None:
        outstanding = self._take_outstanding(message_id)
        if outstanding is None:
            return
        outstanding.future.set_exception(
            CallErrorReceived(outstanding.action, code, description, details)
        )

    def _take_outstanding(self, message_id: str) -> _Outstanding | None:
        """The outstanding CALL that `message_id` answers, no longer outstanding; else None."""
        outstanding = self._outstanding
        if outstanding is None or outstanding.message_id != message_id:
            log.warning("ignoring answer to message %s: no such CALL outstanding", message_id)
            return None
        self._outstanding = None
        if outstanding.future.done():  # timed out or cancelled a moment ago
            return None
        return outstanding

    async def _bad_frame(self, exc: FrameError) -> None:
        type_id = exc.message_type_id
        message_id = exc.message_id
        if type_id == CALL and self._gate is not None and self._gate(None) is False:
            log.info("ignoring malformed CALL %s: the gate is closed", message_id)
        elif type_id == CALL and message_id is not None:
            log.warning("answering malformed CALL %s: %s", message_id, exc.description)
            await self._send_error(message_id, exc)
        elif type_id in (CALLRESULT, CALLERROR) and message_id is not None:
            outstanding = self._outstanding
            if outstanding is not None and outstanding.message_id == message_id:
                # A broken answer to our CALL: the caller learns that, rather than waiting
                # for a timeout.
                self._outstanding = None
                if not outstanding.future.done():
                    outstanding.future.set_exception(exc)
            else:
                log.warning("ignoring malformed answer %s: %s", message_id, exc.description)
        else:
            log.warning("ignoring malformed frame without readable id: %s", exc.description)

    # ---------------------------------------------------------------------------- outbound

    def set_response_timeout(self, seconds: float) -> None:
        """Change the response timeout of later CALLs (MessageTimeout, [E] 3.83)."""
        if not seconds > 0:
            raise ValueError(f"response_timeout must be positive, got {seconds!r}")
        self._timeout = float(seconds)

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - part of the RPC contract, per CALL
    ) -> dict[str, Any]:
        """Send a CALL and return the validated CALLRESULT payload.

        At most one CALL is outstanding; concurrent callers wait in FIFO order. Raises
        CallErrorReceived, RpcTimeout, ConnectionLost, or the OcppError subclass describing why
        the CALLRESULT failed its schema.
        """
        if self._closed:
            raise ConnectionLost(f"{action}: no connection")
        if self._validate_outbound:
            validate_request(action, payload, lenient_timestamps=False)
        wait = self._timeout if timeout is None else timeout
        if not wait > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        async with self._lock:
            if self._closed:
                raise ConnectionLost(f"{action}: connection lost before it could be sent")
            loop = asyncio.get_running_loop()
            message_id = self._next_id()
            frame = [CALL, message_id, action, payload]
            data = _dumps(frame)
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            outstanding = _Outstanding(message_id, action, future)
            self._outstanding = outstanding
            timer: asyncio.TimerHandle | None = None
            try:
                if self._on_frame is not None:
                    self._observe(self._on_frame, "out", frame)
                try:
                    await self._send(data)
                except Exception as exc:
                    raise ConnectionLost(f"{action}: sending failed: {exc}") from exc
                if not future.done():
                    # OCPP-J 1.6 §4.1.1: the timeout runs from the moment the CALL was sent.
                    timer = loop.call_later(wait, _expire, future, action, wait)
                return await future
            finally:
                if timer is not None:
                    timer.cancel()
                if self._outstanding is outstanding:
                    self._outstanding = None

    def connection_lost(self) -> None:
        """Fail the outstanding and waiting calls with ConnectionLost; later call()s raise it."""
        self._closed = True
        outstanding = self._outstanding
        self._outstanding = None
        if outstanding is not None and not outstanding.future.done():
            outstanding.future.set_exception(
                ConnectionLost(f"{outstanding.action}: connection lost while waiting for answer")
            )

    async def _send_error(self, message_id: str, error: OcppError) -> None:
        frame = error_frame(message_id, error.code, error.description, error.details)
        try:
            data = _dumps(frame)
        except orjson.JSONEncodeError:
            data = encode_error(message_id, error.code, error.description, None)
            frame[4] = {}
        await self._transmit(data, frame)

    async def _transmit(self, data: bytes, frame: list[Any]) -> bool:
        """Send an answer; False when it could not go out (the transport logs the closing)."""
        if self._closed:
            log.debug("answer to %s dropped: connection lost", frame[1])
            return False
        if self._on_frame is not None:
            self._observe(self._on_frame, "out", frame)
        try:
            await self._send(data)
        except Exception as exc:
            log.warning("answer to %s not sent: %s", frame[1], exc)
            return False
        return True

    @staticmethod
    def _observe(observer: FrameObserver, direction: str, frame: list[Any]) -> None:
        try:
            observer(direction, frame)
        except Exception:
            log.exception("on_frame observer failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _expire(future: asyncio.Future[dict[str, Any]], action: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(RpcTimeout(action, timeout))


def _internal(exc: BaseException) -> InternalError:
    return InternalError(f"{type(exc).__name__}: {exc}")


def _bad_result(action: str, result: object) -> InternalError:
    log.error("handler for %s returned %s, not a dict", action, type(result).__name__)
    return InternalError(f"handler returned {type(result).__name__}, not an object")
