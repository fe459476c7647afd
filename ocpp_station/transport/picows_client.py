"""StationClient on picows: the same connection loop over a cheaper WebSocket implementation.

PicowsStationClient is StationClient with another socket underneath: connecting, reading in
order, on_open before the first frame, pings and the pong timeout, back-off, reconnect(), stop(),
drop() and abort() are StationClient's own code, driving a PicowsConnection instead of a
`websockets` ClientConnection. bench/bench_transport.py measures why: on this machine the
station's client spends about half the CPU per echoed frame on picows that it does on
`websockets`, on asyncio as on uvloop, for the same memory per connection.

picows is a frame-level library; PicowsConnection adds what `websockets` does above the frames
and the station relies on: subprotocol and extension checks of the handshake answer, reassembly
of fragmented messages with the size limit applied to the whole message, UTF-8 validation of
TEXT messages, the closing handshake with a timeout, ping/pong matching, flow control in both
directions, and websockets' ConnectionClosed exceptions, so on_close and the logs read the same.
It has no permessage-deflate ([J] 5.1 asks for no compression anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any

from picows import (
    WSCloseCode,
    WSFrame,
    WSHandshakeError,
    WSInvalidStatusError,
    WSListener,
    WSMsgType,
    WSParsedURL,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    ws_connect,
)
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import OK_CLOSE_CODES, Close, CloseCode
from websockets.protocol import State

from ocpp_station import __version__
from ocpp_station.rpc.ocppj import SUBPROTOCOL
from ocpp_station.transport.client import (
    HandshakeRejected,
    StationClient,
    SubprotocolRefused,
    basic_auth_header,
)

READ_BUFFER = 2048
"""Initial read buffer per connection (picows' minimum; its default is 16 KiB). It doubles when
a frame needs more, so a small start costs nothing but memory saved: 14 KiB per connection, ten
thousand times in a fleet."""

# Messages waiting for recv() before the socket stops being read, and the level at which reading
# resumes: websockets' defaults (max_queue=16), so a slow on_message holds back the sender.
_QUEUE_HIGH = 16
_QUEUE_LOW = 4

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_PONG = WSMsgType.PONG
_CLOSE = WSMsgType.CLOSE


class _QuietLog(logging.LoggerAdapter[logging.Logger]):
    """picows reports every connect and disconnect at INFO: with ten thousand stations that
    drowns the log, and StationClient logs them once already. They go to DEBUG; warnings and
    errors stay. One adapter for every connection: picows gives each connection a Logger of its
    own when handed a plain Logger, which costs memory per connection."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, msg, *args, **kwargs)


_PICOWS_LOG = _QuietLog(logging.getLogger("ocpp_station.transport.picows"))


class PicowsConnection(WSListener):
    """One picows client connection with the interface of a websockets ClientConnection that
    StationClient uses (see ocpp_station.transport.connection.WebSocketConnection).

    Created by open(); picows calls the on_ws_* methods from its protocol as frames arrive.
    """

    __slots__ = (
        "_close_timeout",
        "_close_timer",
        "_closed",
        "_closing",
        "_discarding",
        "_fragment_size",
        "_fragment_text",
        "_fragments",
        "_loop",
        "_max_size",
        "_messages",
        "_pings",
        "_reading_paused",
        "_state",
        "_subprotocol",
        "_waiter",
        "_writable",
        "_ws",
    )

    def __init__(self, max_size: int, close_timeout: float) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._max_size = max_size
        self._close_timeout = close_timeout
        self._ws: WSTransport | None = None
        self._state = State.CONNECTING
        self._subprotocol: str | None = None
        # A list, not a deque: an empty deque costs 600 bytes per connection, and reading pauses
        # at _QUEUE_HIGH messages, so pop(0) stays cheap.
        self._messages: list[str | bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None  # set while the peer reads too slowly
        self._fragments: list[bytes] | None = None  # a fragmented message being reassembled
        self._fragment_text = False
        self._fragment_size = 0
        self._discarding = False  # after a Close or a protocol error: further data is dropped
        self._closing = False  # we sent a Close (picows sends one itself on a protocol error)
        self._pings: dict[bytes, tuple[asyncio.Future[float], float]] = {}
        self._close_timer: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()

    @classmethod
    async def open(
        cls,
        url: str,
        headers: dict[str, str],
        *,
        ssl_context: ssl.SSLContext | None,
        open_timeout: float,
        close_timeout: float,
        max_size: int,
        offered: tuple[str, ...] = (),
        source_address: str | None = None,
    ) -> PicowsConnection:
        """Connect (TCP, TLS for wss://, the upgrade) within open_timeout and check the answer.

        `offered` lists the subprotocols put in the request; the answer may name one of them or
        none (`subprotocol` says which). Raises TimeoutError, OSError, ssl errors, picows'
        WSHandshakeError for an HTTP answer other than 101, or ConnectionError for an answer
        that names a subprotocol or an extension that was not offered.
        """
        loop = asyncio.get_running_loop()
        sockets: list[socket.socket] = []

        async def connect_socket(parsed: WSParsedURL) -> socket.socket:
            sock = await _connect_socket(loop, parsed.host, parsed.port, source_address)
            sockets.append(sock)
            return sock

        def listener(request: WSUpgradeRequest, response: WSUpgradeResponse) -> PicowsConnection:
            return cls(max_size, close_timeout)

        if offered:
            headers = {**headers, "Sec-WebSocket-Protocol": ", ".join(offered)}
        try:
            async with asyncio.timeout(open_timeout):
                ws, connection = await ws_connect(
                    listener,
                    url,
                    ssl_context=ssl_context,
                    websocket_handshake_timeout=None,  # open_timeout covers it all
                    logger_name=_PICOWS_LOG,
                    enable_auto_ping=False,  # StationClient's keepalive pings, interval adjustable
                    enable_auto_pong=True,
                    max_frame_size=max_size,
                    extra_headers=headers,
                    read_buffer_init_size=READ_BUFFER,
                    socket_factory=connect_socket,
                    # The event loop's own transports (uvloop's or asyncio's), not aiofastnet's:
                    # the same CPU per frame within the bench's noise, 5 KiB less per
                    # connection, and TLS errors are the ssl module's, as with websockets.
                    use_aiofastnet=False,
                )
        except BaseException:
            # picows does not close a connection whose handshake is cancelled or timed out: shut
            # the socket down, so its transport sees the end and closes.
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise
        assert isinstance(connection, PicowsConnection)
        try:
            connection._check_answer(ws.response, offered)
        except ConnectionError:
            # No WebSocket connection was established, so there is no closing handshake to do.
            ws.disconnect(graceful=False)
            await connection.wait_closed()
            raise
        return connection

    def _check_answer(self, response: WSUpgradeResponse, offered: tuple[str, ...]) -> None:
        # RFC 6455 §4.1: the client fails the connection when the server names a subprotocol
        # or an extension the client did not offer.
        if response.headers.getall("Sec-WebSocket-Extensions", []):
            raise ConnectionError("invalid handshake: no extensions supported")
        answered = [
            token.strip()
            for value in response.headers.getall("Sec-WebSocket-Protocol", [])
            for token in value.split(",")
            if token.strip()
        ]
        if len(answered) > 1:
            listed = ", ".join(answered)
            raise ConnectionError(f"invalid handshake: multiple subprotocols: {listed}")
        if answered:
            if answered[0] not in offered:
                raise ConnectionError(f"invalid handshake: unsupported subprotocol: {answered[0]}")
            self._subprotocol = answered[0]

    # ------------------------------------------------------------------ the ClientConnection face

    @property
    def state(self) -> State:
        state = self._state
        if state is State.OPEN and self._ws is not None and self._ws.is_close_frame_sent:
            return State.CLOSING  # picows failed the connection (a frame over max_size)
        return state

    @property
    def subprotocol(self) -> str | None:
        return self._subprotocol

    @property
    def transport(self) -> asyncio.Transport:
        assert self._ws is not None
        return self._ws.underlying_transport

    async def send(self, message: bytes | str, *, text: bool | None = None) -> None:
        """Send one message in one frame: TEXT for str (or text=True), BINARY for bytes."""
        if self.state is not State.OPEN:
            await self._raise_closed()
        assert self._ws is not None
        if text is None:
            text = isinstance(message, str)
        self._ws.send(_TEXT if text else _BINARY, message)
        writable = self._writable
        if writable is not None:
            # The socket's write buffer is over its high-water mark: wait until it drains, as
            # websockets does, so a sender cannot pile up memory without bound.
            await asyncio.shield(writable)
            if self._state is State.CLOSED:
                raise self._closed_error()

    async def recv(self) -> bytes | str:
        messages = self._messages
        while not messages:
            if self._state is State.CLOSED:
                raise self._closed_error()
            waiter = self._loop.create_future()
            self._waiter = waiter
            await waiter
        message = messages.pop(0)
        if self._reading_paused and len(messages) <= _QUEUE_LOW:
            self._reading_paused = False
            if self._state is not State.CLOSED:
                self.transport.resume_reading()
        return message

    async def ping(self) -> Awaitable[float]:
        if self.state is not State.OPEN:
            await self._raise_closed()
        assert self._ws is not None
        payload = os.urandom(4)
        while payload in self._pings:
            payload = os.urandom(4)
        pong: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = (pong, self._loop.time())
        self._ws.send_ping(payload)
        return pong

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """The closing handshake: send Close, wait for the server to answer and end the TCP
        connection (RFC 6455 §7.1.1: the server closes first), abort after close_timeout."""
        ws = self._ws
        assert ws is not None
        if self.state is State.OPEN:
            self._state = State.CLOSING
            self._closing = True
            ws.send_close(_close_code(code), reason.encode())
        if self._state is State.CLOSED:
            return
        try:
            async with asyncio.timeout(self._close_timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            ws.underlying_transport.abort()
            await asyncio.shield(self._closed)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport
        self._state = State.OPEN

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == _PONG:
            self._pong(frame.get_payload_as_bytes())
            return
        if kind == _CLOSE:
            self._close_received(transport, frame)
            return
        # Pings are answered by picows (enable_auto_pong).
        if self._discarding or (transport.is_close_frame_sent and not self._closing):
            # A Close we did not send is picows failing the connection (a frame over max_size):
            # it keeps parsing, and what follows must not reach the station.
            return
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            # RFC 6455 §5.2: without a negotiated extension a set RSV bit fails the connection.
            self._fail(CloseCode.PROTOCOL_ERROR, "reserved bits must be 0")
            return
        if kind == _CONTINUATION:
            fragments = self._fragments
            if fragments is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
                return
            self._fragment_size += frame.payload_size
            if self._fragment_size > self._max_size:
                self._fail(CloseCode.MESSAGE_TOO_BIG, f"message over {self._max_size} bytes")
                return
            fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                self._fragments = None
                data = b"".join(fragments)
                if self._fragment_text:
                    try:
                        self._deliver(data.decode())
                    except UnicodeDecodeError:
                        self._fail(CloseCode.INVALID_DATA, "invalid UTF-8")
                else:
                    self._deliver(data)
            return
        if kind != _TEXT and kind != _BINARY:
            return  # PING, already answered
        if self._fragments is not None:
            self._fail(CloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            return
        if not frame.fin:
            self._fragments = [frame.get_payload_as_bytes()]
            self._fragment_text = kind == _TEXT
            self._fragment_size = frame.payload_size
            return
        if kind == _TEXT:
            try:
                self._deliver(frame.get_payload_as_utf8_text())
            except UnicodeDecodeError:
                # RFC 6455 §8.1: a TEXT message that is not UTF-8 fails the connection (1007).
                self._fail(CloseCode.INVALID_DATA, "invalid UTF-8")
        else:
            self._deliver(frame.get_payload_as_bytes())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._state = State.CLOSED
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._wake_reader()
        writable = self._writable
        self._writable = None
        if writable is not None and not writable.done():
            writable.set_result(None)
        if self._pings:
            error = self._closed_error()
            for pong, _sent in self._pings.values():
                if not pong.done():
                    pong.set_exception(error)
                # Done already, so cancel() changes nothing but keeps an exception nobody
                # awaited out of the log (as websockets does).
                pong.cancel()
            self._pings.clear()
        if not self._closed.done():
            self._closed.set_result(None)
        # picows keeps the error that made it fail the connection for wait_disconnected();
        # collected here, or asyncio logs it as never retrieved. The close codes tell it already.
        self._loop.create_task(_collect(transport))

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable = self._writable
        self._writable = None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # ------------------------------------------------------------------ internals

    def _deliver(self, message: str | bytes) -> None:
        messages = self._messages
        messages.append(message)
        self._wake_reader()
        if len(messages) >= _QUEUE_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _pong(self, payload: bytes) -> None:
        if payload not in self._pings:
            return  # RFC 6455 §5.5.3: an unsolicited Pong needs no answer
        now = self._loop.time()
        # A Pong may answer only the latest of several Pings: it acknowledges the earlier ones.
        answered = []
        for key, (pong, sent) in self._pings.items():
            answered.append(key)
            if not pong.done():
                pong.set_result(now - sent)
            if key == payload:
                break
        for key in answered:
            del self._pings[key]

    def _close_received(self, transport: WSTransport, frame: WSFrame) -> None:
        self._discarding = True  # RFC 6455 §1.4: data after a Close is discarded
        self._fragments = None
        if self._state is State.OPEN and not transport.is_close_frame_sent:
            # RFC 6455 §5.5.1: answer with a Close, echoing the status code. A Close without
            # one (1005 must not be sent) is answered with 1000.
            code = frame.get_close_code()
            if code == WSCloseCode.NO_INFO:
                transport.send_close(WSCloseCode.OK)
            else:
                transport.send_close(code, frame.get_close_message())
            self._state = State.CLOSING
            self._arm_close_timer()
        # Otherwise it answers ours; close() waits for the server to end the TCP connection.

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): Close with `code`, then end the TCP connection."""
        ws = self._ws
        assert ws is not None
        self._discarding = True
        self._closing = True
        self._fragments = None
        if not ws.is_close_frame_sent:
            ws.send_close(_close_code(code), reason.encode())
        self._state = State.CLOSING
        ws.disconnect()  # after the Close frame left
        self._arm_close_timer()

    def _arm_close_timer(self) -> None:
        if self._close_timer is None:
            self._close_timer = self._loop.call_later(self._close_timeout, self._abort)

    def _abort(self) -> None:
        self._close_timer = None
        if self._state is not State.CLOSED:
            self.transport.abort()

    async def _raise_closed(self) -> None:
        if self.state is State.CLOSING:
            await asyncio.shield(self._closed)  # the close codes are known once it is closed
        raise self._closed_error()

    def _closed_error(self) -> ConnectionClosed:
        """websockets' exception for this connection's end: OK after a 1000/1001 handshake."""
        received = sent = None
        received_then_sent: bool | None = None
        handshake = self._ws.close_handshake if self._ws is not None else None
        if handshake is not None:
            received = _close_of(handshake.recv)
            sent = _close_of(handshake.sent)
            if received is not None and sent is not None:
                received_then_sent = bool(handshake.recv_then_sent)
        ok = (
            received is not None
            and sent is not None
            and received.code in OK_CLOSE_CODES
            and sent.code in OK_CLOSE_CODES
        )
        kind = ConnectionClosedOK if ok else ConnectionClosedError
        return kind(received, sent, received_then_sent)


class PicowsStationClient(StationClient):
    """StationClient over picows: the same arguments, callbacks and behaviour (see StationClient),
    except that permessage-deflate is not available (compression=True is refused)."""

    def __init__(self, url: str, identity: str, **options: Any) -> None:
        """StationClient's arguments, passed on as they are."""
        if options.get("compression"):
            raise ValueError(
                "the picows transport has no permessage-deflate; use the websockets transport"
                " for a compressed connection"
            )
        super().__init__(url, identity, **options)

    async def _open(self) -> PicowsConnection:
        headers = {"User-Agent": f"ocpp-station/{__version__}"}
        if self._password is not None:
            # Security profiles 1 and 2 ([W] 2.3, 2.4): user = identity, on ws:// and wss://.
            headers["Authorization"] = basic_auth_header(self.identity, self._password)
        try:
            ws = await PicowsConnection.open(
                self.url,
                headers,
                ssl_context=self._ssl,
                open_timeout=self._open_timeout,
                close_timeout=self._close_timeout,
                max_size=self._max_size,
                offered=(SUBPROTOCOL,),
                source_address=self._source,
            )
        except WSInvalidStatusError as exc:
            status = exc.response.status if exc.response is not None else HTTPStatus(500)
            raise HandshakeRejected(int(status), HTTPStatus(status).phrase) from exc
        except WSHandshakeError as exc:
            raise ConnectionError(f"invalid handshake: {exc}") from exc
        if ws.subprotocol != SUBPROTOCOL:
            # [J] 3.2: a 101 without Sec-WebSocket-Protocol means the server did not agree.
            await ws.close(CloseCode.PROTOCOL_ERROR, "ocpp1.6 subprotocol required")
            raise SubprotocolRefused(
                f"the central system did not agree to the {SUBPROTOCOL} subprotocol (answered none)"
            )
        return ws


async def _collect(ws: WSTransport) -> None:
    with contextlib.suppress(Exception):
        await ws.wait_disconnected()


async def _connect_socket(
    loop: asyncio.AbstractEventLoop, host: str, port: int, source: str | None = None
) -> socket.socket:
    """A TCP connection to host:port (from the local address `source` if given), trying each
    address in turn as create_connection does.

    Made here rather than by picows so that a cancelled handshake can shut the socket down."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    errors: list[OSError] = []
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if source is not None:
                sock.bind((source, 0))
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if not errors:
        raise OSError(f"no address found for {host}")
    if len(errors) == 1 or all(str(exc) == str(errors[0]) for exc in errors):
        raise errors[0]
    raise OSError(f"Multiple exceptions: {', '.join(str(exc) for exc in errors)}")


def _close_code(code: int) -> WSCloseCode:
    try:
        return WSCloseCode(int(code))
    except ValueError:
        # 3000-4999: registered or private codes picows has no name for; it sends the number.
        return int(code)  # type: ignore[return-value]


def _close_of(info: Any) -> Close | None:
    if info is None:
        return None
    code = int(info.code)
    # An empty Close frame: websockets reports 1005, "no status received".
    return Close(code or CloseCode.NO_STATUS_RCVD, info.reason or "")
