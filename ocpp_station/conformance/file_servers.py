"""The tool's file servers for the firmware and diagnostics cases: HTTP (the central system's
file depot on its own address) or FTP (pyftpdlib, when installed), one per case.

Both offer the same: a URL for a file the tool puts there, a folder that takes uploads, a
folder that refuses them, and the upload a station made.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from ocpp_station.csms.files import FileServer

PROTOCOLS = ("http", "ftp")
FTP_USER = "station"


class CaseFiles(Protocol):
    def file_url(self, name: str) -> str:
        """Where the station downloads the file `name` the tool offers."""
        ...

    def offer(self, name: str, data: bytes) -> None: ...

    def upload_url(self) -> str:
        """A folder that takes uploads (ends with /)."""
        ...

    def refusing_url(self) -> str:
        """A folder that refuses every upload (ends with /)."""
        ...

    async def uploaded(self, name: str, timeout: float) -> bytes | None:  # noqa: ASYNC109
        """The upload named `name`, waiting up to `timeout` seconds; None if none came."""
        ...

    async def stop(self) -> None: ...


class HttpFiles:
    def __init__(self, server: FileServer) -> None:
        self.server = server

    @classmethod
    async def start(cls, host: str) -> HttpFiles:
        server = FileServer()
        await server.start(host, 0)
        return cls(server)

    def file_url(self, name: str) -> str:
        return f"{self.server.url}/files/{name}"

    def offer(self, name: str, data: bytes) -> None:
        self.server.depot.files[name] = data

    def upload_url(self) -> str:
        return f"{self.server.url}/diagnostics/"

    def refusing_url(self) -> str:
        return f"{self.server.url}/files/read-only/"

    async def uploaded(self, name: str, timeout: float) -> bytes | None:  # noqa: ASYNC109
        upload = await self.server.depot.wait_upload(name, timeout)
        return upload.data if upload is not None else None

    async def stop(self) -> None:
        await self.server.stop()


class FtpFiles:
    """pyftpdlib in a thread: /files read-only, /diagnostics writable, one user whose password
    is made for the case."""

    def __init__(self, root: Path, server: Any, thread: threading.Thread, url: str) -> None:
        self.root = root
        self._server = server
        self._thread = thread
        self._url = url

    @classmethod
    async def start(cls, host: str) -> FtpFiles:
        try:
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer
        except ImportError:
            raise RuntimeError("FTP file serving needs pyftpdlib (pip install pyftpdlib)") from None
        root = Path(tempfile.mkdtemp(prefix="ocpp-conformance-ftp-"))
        (root / "files").mkdir()
        (root / "diagnostics").mkdir()
        password = secrets.token_hex(8)
        authorizer = DummyAuthorizer()
        authorizer.add_user(FTP_USER, password, str(root), perm="elr")
        authorizer.override_perm(FTP_USER, str(root / "diagnostics"), perm="elrw")
        handler = type("CaseFtpHandler", (FTPHandler,), {"authorizer": authorizer})
        server = FTPServer((host, 0), handler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True
        )
        thread.start()
        bound = f"[{host}]" if ":" in host else host
        url = f"ftp://{FTP_USER}:{password}@{bound}:{server.address[1]}"
        return cls(root, server, thread, url)

    def file_url(self, name: str) -> str:
        return f"{self._url}/files/{name}"

    def offer(self, name: str, data: bytes) -> None:
        (self.root / "files" / name).write_bytes(data)

    def upload_url(self) -> str:
        return f"{self._url}/diagnostics/"

    def refusing_url(self) -> str:
        return f"{self._url}/files/"

    async def uploaded(self, name: str, timeout: float) -> bytes | None:  # noqa: ASYNC109
        path = self.root / "diagnostics" / name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await asyncio.to_thread(path.exists):
                return await asyncio.to_thread(path.read_bytes)
            await asyncio.sleep(0.1)
        return None

    async def stop(self) -> None:
        self._server.close_all()
        await asyncio.to_thread(self._thread.join, 5)


async def start_files(protocol: str, host: str) -> CaseFiles:
    if protocol == "ftp":
        return await FtpFiles.start(host)
    return await HttpFiles.start(host)
