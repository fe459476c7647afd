"""The minimal central system on picows: one callback object per connection, no task.

Imported only when picows is installed (server.py chooses the transport).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from ocpp_station.csms.minimal.ledger import StationLedger
from ocpp_station.csms.minimal.server import AT_CAPACITY, MinimalCentralSystem
from ocpp_station.rpc.ocppj import SUBPROTOCOL, identity_from_path

# picows allocates this much per connection up front (16 KiB by default) and grows it for a
# larger frame: OCPP frames are mostly well under 1 KiB, and 10,000 stations x 16 KiB is 160 MB.
# (Measured with 10,000 stations: 2 KiB gives 215 MB in all, 8 KiB 276 MB, 16 KiB 358 MB.)
READ_BUFFER = 2048

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class PicowsServer:
    """The asyncio server plus the connections it accepted, so that stop() can end them."""

    def __init__(self, server: asyncio.Server, listeners: set[_StationListener]) -> None:
        self.server = server
        self._listeners = listeners

    @property
    def sockets(self) -> Any:
        return self.server.sockets

    def close(self) -> None:
        self.server.close()
        for listener in list(self._listeners):
            listener.close(WSCloseCode.GOING_AWAY)

    async def wait_closed(self) -> None:
        await self.server.wait_closed()


async def create_server(
    core: MinimalCentralSystem,
    host: str,
    port: int,
    *,
    backlog: int,
    max_frame_size: int,
    admit: Callable[[int], bool],
) -> PicowsServer:
    """`admit(serving)`: whether one more station may connect (else it is answered 503)."""
    listeners: set[_StationListener] = set()

    def route(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        try:
            identity = identity_from_path(request.path.decode("utf-8", "surrogateescape"))
        except ValueError as exc:
            response = WSUpgradeResponse.create_error_response(400, f"{exc}\n".encode())
            return WSUpgradeResponseWithListener(response, None)
        if not admit(len(listeners)):
            response = WSUpgradeResponse.create_error_response(503, AT_CAPACITY.encode())
            return WSUpgradeResponseWithListener(response, None)
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        agreed = SUBPROTOCOL in (item.strip() for item in offered.split(","))
        headers = {"Sec-WebSocket-Protocol": SUBPROTOCOL} if agreed else None
        listener = _StationListener(core, identity, agreed, listeners)
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response(headers), listener
        )

    server = await ws_create_server(
        route,
        host,
        port,
        backlog=backlog,
        max_frame_size=max_frame_size,
        enable_auto_pong=True,
        websocket_handshake_timeout=10,
        read_buffer_init_size=READ_BUFFER,
    )
    return PicowsServer(server, listeners)


class _StationListener(WSListener):
    def __init__(
        self,
        core: MinimalCentralSystem,
        identity: str,
        agreed: bool,
        listeners: set[_StationListener],
    ) -> None:
        self.core = core
        self.identity = identity
        self.agreed = agreed
        self.listeners = listeners
        self.account: StationLedger | None = None
        self.transport: WSTransport | None = None
        self.fragments: bytearray | None = None  # a text message arriving in several frames

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if not self.agreed:
            # [J] 3.2: without an agreed subprotocol the central system closes at once.
            transport.send_close(WSCloseCode.PROTOCOL_ERROR, f"{SUBPROTOCOL} subprotocol required")
            transport.disconnect()
            return
        self.listeners.add(self)
        self.account = self.core.attach(self.identity, self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        account = self.account
        if account is None:
            return
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:
                reply = self.core.handle(account, frame.get_payload_as_memoryview())
                if reply is not None:
                    transport.send(_TEXT, reply)
            else:
                self.fragments = bytearray(frame.get_payload_as_memoryview())
        elif kind is _CONTINUATION:
            if self.fragments is None:
                transport.send_close(WSCloseCode.PROTOCOL_ERROR, b"continuation without start")
                transport.disconnect()
                return
            self.fragments += frame.get_payload_as_memoryview()
            if frame.fin:
                data, self.fragments = self.fragments, None
                reply = self.core.handle(account, data)
                if reply is not None:
                    transport.send(_TEXT, reply)
        elif kind is _CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.listeners.discard(self)
        if self.account is not None:
            self.core.detach(self.account, self)

    async def send(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_disconnected:
            raise ConnectionError(f"{self.identity} is disconnected")
        transport.send(_TEXT, data)

    def close(self, code: WSCloseCode) -> None:
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            transport.send_close(code)
            transport.disconnect()
