"""What StationClient needs of an open WebSocket connection, whichever library holds it.

`websockets`' ClientConnection has this shape; ocpp_station.transport.picows_client wraps a picows
connection in it, so both clients share one connect/read/ping/reconnect loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from websockets.protocol import State


class WebSocketConnection(Protocol):
    """An open client connection: frames in and out, pings, the closing handshake."""

    @property
    def state(self) -> State:
        """OPEN while frames can be sent; CLOSING, then CLOSED once the TCP connection ended."""
        ...

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server agreed to in the handshake, None when it named none."""
        ...

    @property
    def transport(self) -> asyncio.Transport:
        """The socket's transport; abort() on it drops the connection without a handshake."""
        ...

    async def send(self, message: bytes | str, *, text: bool | None = None) -> None:
        """Send one message; raises websockets' ConnectionClosed once the connection ended."""
        ...

    async def recv(self) -> bytes | str:
        """The next whole message, str for TEXT and bytes for BINARY, in arrival order; after the
        last one, websockets' ConnectionClosed (ConnectionClosedOK after a normal closure)."""
        ...

    async def ping(self) -> Awaitable[float]:
        """Send a Ping; the result completes with the latency when its Pong arrives."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Perform the closing handshake and wait until the TCP connection ended."""
        ...
