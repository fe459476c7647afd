"""The station's WebSocket connection to its central system: connect, read, ping, reconnect.

The charge point is the WebSocket client ([J] 3.1). This module owns the socket and nothing else:
frames go up through `on_message` in the order they arrived, and the RPC layer above decides what
they mean. Every connection failure is followed by a back-off delay and another attempt, until
stop().
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.typing import Subprotocol

from ocpp_station import __version__
from ocpp_station.rpc.errors import ConnectionLost
from ocpp_station.rpc.ocppj import MAX_FRAME_SIZE, SUBPROTOCOL
from ocpp_station.transport.backoff import Backoff
from ocpp_station.transport.connection import WebSocketConnection
from ocpp_station.transport.url import build_url as build_url  # re-exported for callers
from ocpp_station.transport.url import is_secure

DEFAULT_MAX_SIZE = MAX_FRAME_SIZE

_log = logging.getLogger("ocpp_station.transport")

# A charger connects directly: proxy variables of the host must not divert it. websockets 15
# added proxy support (on by default); 14 has neither the feature nor the argument.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect).parameters else {}
)


class SubprotocolRefused(ConnectionError):
    """The central system answered the handshake without agreeing to ocpp1.6 ([J] 3.2)."""


class HandshakeRejected(ConnectionError):
    """The central system answered the upgrade request with an HTTP error status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".rstrip())
        self.status = status


class PongTimeout(ConnectionError):
    """A ping of ours was not answered in time: the connection is taken for dead."""


def basic_auth_header(user: str, password: str | bytes) -> str:
    """The Authorization header value of HTTP Basic authentication (RFC 7617). A password in
    bytes goes as those bytes (an AuthorizationKey given in hex is its decoded bytes)."""
    if ":" in user:
        # RFC 7617 §2: the user-id cannot contain a colon; the server would split it wrongly.
        raise ValueError(f"identity {user!r} contains ':' and cannot be a Basic auth user name")
    secret = password if isinstance(password, bytes) else password.encode()
    token = base64.b64encode(user.encode() + b":" + secret).decode("ascii")
    return f"Basic {token}"


def describe_failure(exc: BaseException) -> str:
    """One human line for why a connection attempt or a connection ended."""
    if isinstance(exc, HandshakeRejected):
        if exc.status == 401:
            return f"{exc}: the central system refused the identity and password"
        if exc.status == 404:
            return f"{exc}: the central system does not know this identity"
        return str(exc)
    if isinstance(exc, ConnectionClosed):
        return f"connection closed ({exc})"
    if isinstance(exc, TimeoutError):
        return "no answer to the opening handshake in time"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the central system's certificate was not accepted ({exc.verify_message})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class StationClient:
    """One station's connection to its central system, reconnecting until stopped.

    `url` is the complete connection URL (see build_url). `on_open` runs once per connection,
    before any frame is delivered: frames that arrive meanwhile wait in the socket's buffer, so
    on_open must not wait for answers from the central system (start such work in a task).
    `on_message` receives every frame in arrival order; `on_close` runs when a connection that
    was opened ends, with the exception that ended it, or None when we closed it ourselves.
    `on_connect_error`, if given, learns of every failed attempt (for security events such as
    InvalidCentralSystemCertificate).
    """

    def __init__(
        self,
        url: str,
        identity: str,
        *,
        password: str | bytes | None = None,
        on_open: Callable[[], Awaitable[None]],
        on_message: Callable[[bytes | str], Awaitable[None]],
        on_close: Callable[[BaseException | None], Awaitable[None]],
        ping_interval: float = 0,
        open_timeout: float = 10,
        backoff: Backoff | None = None,
        ssl_context: ssl.SSLContext | None = None,
        log: logging.Logger | None = None,
        compression: bool = False,
        max_size: int = DEFAULT_MAX_SIZE,
        min_pong_timeout: float = 10.0,
        reconnect_delay: float = 0.5,
        close_timeout: float = 5.0,
        on_connect_error: Callable[[BaseException], Awaitable[None]] | None = None,
        source_address: str | None = None,
    ) -> None:
        """`source_address`: the local address the connection leaves from (None: the
        system's choice); a fleet spreads its stations over several, as one address has only
        about 64,000 ports towards one central system."""
        self._source = source_address
        self._secure = is_secure(url)
        if ssl_context is not None and not self._secure:
            raise ValueError(f"a TLS context was given for the unencrypted URL {url!r}")
        if not identity:
            raise ValueError("the charge point identity is empty")
        password = password or None  # an empty AuthorizationKey means no Basic auth
        if password is not None:
            basic_auth_header(identity, password)  # fail now, not at every connection attempt
        _check_ping_interval(ping_interval)
        if open_timeout <= 0 or close_timeout <= 0 or min_pong_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if reconnect_delay < 0:
            raise ValueError(f"reconnect delay must not be negative, got {reconnect_delay}")
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, got {max_size}")
        self.url = url
        self.identity = identity
        self._password = password
        self._on_open = on_open
        self._on_message = on_message
        self._on_close = on_close
        self._on_connect_error = on_connect_error
        self._ping_interval = float(ping_interval)
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._min_pong_timeout = min_pong_timeout
        self._reconnect_delay = reconnect_delay
        self._backoff = backoff if backoff is not None else Backoff()
        self._ssl: ssl.SSLContext | None = None
        if self._secure:
            # Profile 2: the server certificate is checked against the system trust store
            # unless the station passes a context holding its CentralSystemRootCertificate.
            self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._log = log if log is not None else _log
        self._compression = compression
        self._max_size = max_size

        self._ws: WebSocketConnection | None = None
        self._connect_task: asyncio.Task[WebSocketConnection] | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._hurry = False  # reconnect() asked for a short delay instead of the back-off
        self._closed_by_us: str | None = None  # why we closed the current connection
        self._failure: BaseException | None = None  # set by the keepalive before it aborts
        self._wake = asyncio.Event()
        self._ping_changed = asyncio.Event()
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        ws = self._ws
        return ws is not None and ws.state is State.OPEN

    @property
    def stopping(self) -> bool:
        """stop() or abort() was called: the connection ends on purpose, for good."""
        return self._stopping

    @property
    def ping_interval(self) -> float:
        return self._ping_interval

    def set_ping_interval(self, seconds: float) -> None:
        """WebSocketPingInterval ([S] 9.1.34): 0 = we send no pings; applies at once."""
        _check_ping_interval(seconds)
        self._ping_interval = float(seconds)
        self._ping_changed.set()

    def set_password(self, password: str | bytes | None) -> None:
        """The Basic auth password (AuthorizationKey) for the next connection; None or ""
        for none (no Authorization header)."""
        password = password or None
        if password is not None:
            basic_auth_header(self.identity, password)
        self._password = password

    def retarget(
        self, url: str, ssl_context: ssl.SSLContext | None, password: str | bytes | None
    ) -> None:
        """Where and how the next connection goes (a new security profile, a new password or
        certificate): the URL, the TLS context for a wss:// URL (None: the system trust store)
        and the Basic auth password."""
        secure = is_secure(url)
        if ssl_context is not None and not secure:
            raise ValueError(f"a TLS context was given for the unencrypted URL {url!r}")
        self.set_password(password)
        self.url = url
        self._secure = secure
        self._ssl = (ssl_context or ssl.create_default_context()) if secure else None

    def tls_peer_certificate(self) -> bytes | None:
        """The DER certificate the central system showed on the open TLS connection."""
        ws = self._ws
        if ws is None:
            return None
        ssl_object = ws.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return bytes(der) if der else None

    async def send(self, data: bytes | str) -> None:
        """Send one OCPP-J message as a TEXT frame ([J] 4.1.2: UTF-8 text)."""
        ws = self._ws
        if ws is None or ws.state is not State.OPEN:
            raise ConnectionLost("not connected to the central system")
        try:
            await ws.send(data, text=True)
        except ConnectionClosed as exc:
            raise ConnectionLost(f"connection to the central system lost: {exc}") from exc

    async def reconnect(self) -> None:
        """Close the connection and connect again after a short delay (not the back-off).

        Used when the credentials or the security profile change. When no connection is open,
        the next attempt is brought forward instead.
        """
        self._hurry = True
        self._wake.set()
        ws = self._ws
        if ws is not None and ws.state is State.OPEN:
            self._closed_by_us = "reconnect requested"
            await ws.close(CloseCode.NORMAL_CLOSURE, "reconnecting")

    async def stop(self) -> None:
        """Close the connection and end run(). A stopped client stays stopped."""
        self._stopping = True
        self._wake.set()
        if self._connect_task is not None:
            self._connect_task.cancel()
        ws = self._ws
        if ws is not None and ws.state is State.OPEN:
            self._closed_by_us = "stopped"
            await ws.close(CloseCode.GOING_AWAY, "station stopping")
        current = asyncio.current_task()
        if self._running and current is not self._run_task:
            await self._done.wait()

    def drop(self) -> None:
        """Lose the connection as a network fault does (no closing handshake); the client
        reconnects after its back-off delay as after any lost connection."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    async def abort(self) -> None:
        """Drop the connection without a closing handshake and end run(), as a power cut does:
        the central system sees the TCP connection vanish. A stopped client stays stopped."""
        self._stopping = True
        self._wake.set()
        if self._connect_task is not None:
            self._connect_task.cancel()
        ws = self._ws
        if ws is not None:
            self._closed_by_us = "power lost"
            ws.transport.abort()
        current = asyncio.current_task()
        if self._running and current is not self._run_task:
            await self._done.wait()

    async def run(self) -> None:
        """Connect, deliver frames, reconnect with back-off; returns after stop()."""
        if self._running:
            raise RuntimeError("StationClient.run() is already running")
        self._running = True
        self._done.clear()
        self._run_task = asyncio.current_task()
        try:
            while not self._stopping:
                delay = await self._attempt()
                if self._stopping:
                    break
                await self._sleep(delay)
        finally:
            self._running = False
            self._run_task = None
            self._done.set()

    # ------------------------------------------------------------------ one connection

    async def _attempt(self) -> float:
        """Connect once and serve the connection until it ends; returns the delay to wait."""
        current = asyncio.current_task()
        self._connect_task = asyncio.create_task(self._open())
        try:
            ws = await self._connect_task
        except asyncio.CancelledError:
            if self._stopping and (current is None or current.cancelling() == 0):
                return 0.0  # stop() cancelled the attempt
            raise
        except Exception as exc:
            delay = self._backoff.next_delay()
            self._log.warning(
                "%s: cannot connect to %s: %s; retrying in %.1f s",
                self.identity,
                self.url,
                describe_failure(exc),
                delay,
            )
            await self._report_connect_error(exc)
            return delay
        finally:
            self._connect_task = None
        if self._stopping:
            await ws.close(CloseCode.GOING_AWAY, "station stopping")
            return 0.0

        self._backoff.reset()
        self._closed_by_us = None
        self._failure = None
        self._ws = ws
        self._log.info("%s: connected to %s", self.identity, self.url)
        keepalive = asyncio.create_task(self._keepalive(ws))
        ended: BaseException | None = None
        try:
            try:
                await self._on_open()
            except Exception as exc:
                self._log.exception("%s: on_open failed; closing the connection", self.identity)
                ended = exc
                await ws.close(CloseCode.INTERNAL_ERROR, "station error")
            else:
                ended = await self._read(ws)
        finally:
            keepalive.cancel()
            self._ws = None
            if ws.state is not State.CLOSED:
                await _close_briefly(ws)  # only reached when run() was cancelled
            reason = self._closed_by_us
            if reason is not None:
                ended = None
            try:
                await self._on_close(ended)
            except Exception:
                self._log.exception("%s: on_close failed", self.identity)

        if self._stopping:
            self._log.info("%s: connection to %s closed: stopped", self.identity, self.url)
            return 0.0
        delay = self._reconnect_delay if reason is not None else self._backoff.next_delay()
        # A connection we closed on request (new password, new profile) is no cause for alarm.
        level = logging.INFO if reason is not None else logging.WARNING
        if reason is None:
            reason = describe_failure(ended) if ended is not None else "closed"
        self._log.log(
            level,
            "%s: connection to %s closed: %s; reconnecting in %.1f s",
            self.identity,
            self.url,
            reason,
            delay,
        )
        return delay

    def _local_address(self) -> dict[str, Any]:
        return {"local_addr": (self._source, 0)} if self._source is not None else {}

    async def _open(self) -> WebSocketConnection:
        # The one library-specific step: PicowsStationClient overrides it.
        headers: dict[str, str] = {}
        if self._password is not None:
            # Security profiles 1 and 2 ([W] 2.3, 2.4): user = identity, on ws:// and wss://.
            headers["Authorization"] = basic_auth_header(self.identity, self._password)
        try:
            ws = await connect(
                self.url,
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                additional_headers=headers,
                # [J] 5.1: no compression beyond RFC 6455. permessage-deflate also keeps zlib
                # state: about 40 KiB more per connection end, measured with websockets 17.
                compression="deflate" if self._compression else None,
                user_agent_header=f"ocpp-station/{__version__}",
                **_NO_PROXY,
                open_timeout=self._open_timeout,
                ping_interval=None,  # our own keepalive, adjustable at runtime
                ping_timeout=None,
                close_timeout=self._close_timeout,
                max_size=self._max_size,
                ssl=self._ssl,
                # Passed on to the event loop's create_connection.
                **self._local_address(),
            )
        except InvalidStatus as exc:
            response = exc.response
            raise HandshakeRejected(response.status_code, response.reason_phrase) from exc
        except InvalidHandshake as exc:
            raise ConnectionError(f"invalid handshake: {exc}") from exc
        if ws.subprotocol != SUBPROTOCOL:
            # [J] 3.2: a 101 without Sec-WebSocket-Protocol means the server did not agree.
            await ws.close(CloseCode.PROTOCOL_ERROR, "ocpp1.6 subprotocol required")
            raise SubprotocolRefused(
                f"the central system did not agree to the {SUBPROTOCOL} subprotocol"
                f" (answered {ws.subprotocol or 'none'})"
            )
        return ws

    async def _read(self, ws: WebSocketConnection) -> BaseException:
        """Deliver frames in order until the connection ends; returns why it ended."""
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                return self._failure if self._failure is not None else exc
            # Awaited, not spawned: order is kept, and the RPC layer runs slow handlers in
            # tasks of its own.
            try:
                await self._on_message(frame)
            except Exception:
                self._log.exception("%s: on_message failed for a frame", self.identity)

    async def _keepalive(self, ws: WebSocketConnection) -> None:
        """Ping every WebSocketPingInterval seconds; abort when a pong does not come."""
        while True:
            interval = self._ping_interval
            self._ping_changed.clear()
            if interval <= 0:
                await self._ping_changed.wait()
                continue
            try:
                async with asyncio.timeout(interval):
                    await self._ping_changed.wait()
                continue  # the interval changed: start counting again with the new one
            except TimeoutError:
                pass
            try:
                pong = await ws.ping()
            except ConnectionClosed:
                return
            limit = max(self._min_pong_timeout, interval)
            try:
                async with asyncio.timeout(limit):
                    await pong
            except TimeoutError:
                # A half-open connection ([JE] 3.11): no closing handshake can succeed, so the
                # socket is dropped at once and the reader sees the connection end.
                self._failure = PongTimeout(f"no pong within {limit:g} s")
                ws.transport.abort()
                return
            except ConnectionClosed:
                return

    async def _sleep(self, delay: float) -> None:
        """Wait before the next attempt; stop() ends the wait, reconnect() shortens it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while not self._stopping:
            if self._hurry:
                self._hurry = False
                deadline = min(deadline, loop.time() + self._reconnect_delay)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _report_connect_error(self, exc: BaseException) -> None:
        if self._on_connect_error is None:
            return
        try:
            await self._on_connect_error(exc)
        except Exception:
            self._log.exception("%s: on_connect_error failed", self.identity)


async def _close_briefly(ws: WebSocketConnection) -> None:
    """Close with 1001 if the peer answers within a second, else drop the socket."""
    try:
        async with asyncio.timeout(1.0):
            await ws.close(CloseCode.GOING_AWAY, "station stopping")
    except TimeoutError:
        pass
    finally:
        if ws.state is not State.CLOSED:
            ws.transport.abort()


def _check_ping_interval(seconds: float) -> None:
    # [S] 9.1.34: negative values are not allowed.
    if seconds < 0:
        raise ValueError(f"ping interval must not be negative, got {seconds}")
