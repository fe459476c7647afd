"""An aiohttp application served on HOST:PORT, knowing the address it got (port 0: a free one).

Every HTTP API of the project (the station's control API, the fleet's, the central systems')
starts and stops the same way."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from aiohttp import web


class HttpServer:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen; OSError (address in use, ...) leaves nothing behind."""
        if self._runner is not None:
            raise RuntimeError("the HTTP API is already running")
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # aiohttp offers no public way to read the port it bound; its server is the event
        # loop's (asyncio's or uvloop's), which both list their sockets.
        sockets: Sequence[socket.socket] = getattr(site._server, "sockets", None) or ()
        self.host, self.port = sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
