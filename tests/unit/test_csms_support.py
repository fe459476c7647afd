"""A hand-driven OCPP-J client for the central system's tests (it holds no tests itself).

It speaks the frames itself over a plain `websockets` client, so that the central system is
tested without the station's own code.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

WAIT = 5.0

BOOT = {"chargePointVendor": "Acme", "chargePointModel": "DC-2"}


def auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class RawStation:
    """One connection speaking OCPP-J frames by hand."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.calls: asyncio.Queue[list[Any]] = asyncio.Queue()  # CALLs from the central system
        self._answers: dict[str, asyncio.Future[list[Any]]] = {}
        self._ids = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        subprotocols: list[str] | tuple[str, ...] = ("ocpp1.6",),
        headers: dict[str, str] | None = None,
    ) -> RawStation:
        ws = await connect(
            url,
            subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,
            proxy=None,
            open_timeout=WAIT,
        )
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                frame = orjson.loads(data)
                if frame[0] == 2:
                    await self.calls.put(frame)
                    continue
                future = self._answers.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)
        except ConnectionClosed:
            pass
        finally:
            for future in self._answers.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
                    future.exception()  # nobody may be waiting any more: no warning

    def next_id(self) -> str:
        return f"m{next(self._ids)}"

    async def send_call(self, action: str, payload: Any, message_id: str | None = None) -> str:
        message_id = message_id or self.next_id()
        await self.ws.send(orjson.dumps([2, message_id, action, payload]), text=True)
        return message_id

    async def answer_of(self, message_id: str, timeout: float = WAIT) -> list[Any]:
        future = self._answers.get(message_id)
        if future is None:
            future = self._answers[message_id] = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            return await asyncio.shield(future)

    async def call(self, action: str, payload: Any) -> list[Any]:
        """Send a CALL and return the whole answer frame."""
        message_id = self.next_id()
        future = self._answers[message_id] = asyncio.get_running_loop().create_future()
        await self.send_call(action, payload, message_id)
        async with asyncio.timeout(WAIT):
            return await future

    async def result(self, action: str, payload: Any) -> dict[str, Any]:
        """Send a CALL and return its CALLRESULT payload (failing on a CALLERROR)."""
        frame = await self.call(action, payload)
        assert frame[0] == 3, f"{action} answered with {frame}"
        return frame[2]

    async def next_call(self) -> list[Any]:
        async with asyncio.timeout(WAIT):
            return await self.calls.get()

    async def reply(self, message_id: str, payload: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps([3, message_id, payload]), text=True)

    async def reply_error(self, message_id: str, code: str, description: str = "") -> None:
        await self.ws.send(orjson.dumps([4, message_id, code, description, {}]), text=True)

    async def close(self) -> None:
        await self.ws.close()
        async with asyncio.timeout(WAIT):
            await self._reader

    async def closed(self) -> None:
        """Wait until the central system has closed the connection."""
        async with asyncio.timeout(WAIT):
            await self.ws.wait_closed()
            await self._reader
