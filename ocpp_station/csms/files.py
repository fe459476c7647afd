"""Files a central system hands to stations and takes from them, over HTTP (Firmware
Management): firmware images to download, diagnostics archives uploaded.

| method and path | what it does |
|---|---|
| `GET /files/{name}` | a file put there, or for `firmware-<version>.bin` an image of that version |
| `PUT /files/{name}` | keep the body as a file to serve |
| `PUT` or `POST /diagnostics/{name}` | receive an upload (POST: a multipart form's first file) |

A generated image starts with a `version:` line, which the simulator's installer reads. A
station's diagnostics go to `<url>/diagnostics/`; every upload received is kept, in memory,
with its time, for the central system's API and the conformance tool to read.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import BodyPartReader, web

from ocpp_station.httpserver import HttpServer

FIRMWARE_NAME = re.compile(r"firmware-([A-Za-z0-9._-]{1,50})\.bin")
MAX_FILE = 64 * 1024 * 1024
"""The largest upload or file taken: a diagnostics archive of days is a few megabytes."""
IMAGE_PADDING = 64 * 1024


def firmware_image(version: str) -> bytes:
    """An image the simulator's installer takes as `version`: the line, then some bytes."""
    return f"version: {version}\n".encode() + bytes(range(256)) * (IMAGE_PADDING // 256)


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    data: bytes
    received: datetime
    method: str


@dataclass(slots=True)
class FileDepot:
    """The files served and the uploads received, with their HTTP routes."""

    files: dict[str, bytes] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    """The names of the files stations fetched, in order."""
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/files/{name}", self._get),
            web.put("/files/{name}", self._put_file),
            web.put("/diagnostics/{name}", self._receive),
            web.post("/diagnostics/{name}", self._receive),
        ]

    async def _get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = self.files.get(name)
        if data is None:
            found = FIRMWARE_NAME.fullmatch(name)
            if found is None:
                raise web.HTTPNotFound(text=f"no file {name}")
            data = firmware_image(found.group(1))
        self.downloads.append(name)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _put_file(self, request: web.Request) -> web.Response:
        self.files[request.match_info["name"]] = await _body(request)
        return web.Response(status=201)

    async def _receive(self, request: web.Request) -> web.Response:
        if request.method == "POST" and request.content_type.startswith("multipart/"):
            data = await _first_file(request)
        else:
            data = await _body(request)
        self.uploads.append(
            Upload(request.match_info["name"], data, datetime.now(UTC), request.method)
        )
        self._arrived.set()
        return web.Response(status=201)

    async def wait_upload(self, name: str, timeout: float) -> Upload | None:  # noqa: ASYNC109
        """The upload of `name`, waiting up to `timeout` seconds for it; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            for upload in self.uploads:
                if upload.name == name:
                    return upload
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return None


async def _body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_FILE:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_FILE, actual_size=request.content_length or 0
        )
    return await request.read()


async def _first_file(request: web.Request) -> bytes:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.filename is not None:
            return bytes(await part.read(decode=False))
    raise web.HTTPBadRequest(text="the form holds no file")


class FileServer(HttpServer):
    """A FileDepot served on its own address (the conformance tool's)."""

    def __init__(self, depot: FileDepot | None = None) -> None:
        self.depot = depot if depot is not None else FileDepot()
        app = web.Application(client_max_size=MAX_FILE)
        app.add_routes(self.depot.routes())
        super().__init__(app)
