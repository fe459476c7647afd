"""Firmware Management in the real station process, against real servers on 127.0.0.1: an
update fetched over FTP (pyftpdlib) and installed, the next BootNotification carrying the new
version; diagnostics uploaded over FTP and over HTTP to a server that takes only POST; the
control API's transfer-fault switches making each step fail as a CSMS engineer would want."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pyftpdlib.handlers import FTPHandler

from ocpp_station.csms.files import FileDepot, FileServer, firmware_image
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import StationSession
from ocpp_station.timefmt import iso
from tests.integration.conftest import boot
from tests.integration.test_file_transfer import Ftp, _ftp_server

WAIT = 20.0


async def statuses(session: StationSession, action: str, count: int) -> list[str]:
    return [(await session.expect(action, timeout=WAIT)).payload["status"] for _ in range(count)]


class PostOnly(FileServer):
    """Takes diagnostics only as a POSTed form (a PUT is 405): the station falls back."""

    def __init__(self) -> None:
        depot = FileDepot()
        super().__init__(depot)
        self.app = web.Application()
        self.app.add_routes([web.post("/diagnostics/{name}", depot._receive)])


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[Ftp]:
    root = tmp_path / "ftp"
    root.mkdir()
    server, thread = _ftp_server(root, type("Handler", (FTPHandler,), {}))
    yield Ftp(root, server.address[1], "ftp")
    server.close_all()
    thread.join(5)


@pytest.fixture
async def post_only() -> AsyncIterator[PostOnly]:
    server = PostOnly()
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


async def test_an_update_over_ftp_and_diagnostics_over_ftp_and_http(
    csms: CentralSystem,
    make_station: Any,
    ftp_server: Ftp,
    post_only: PostOnly,
) -> None:
    (ftp_server.root / "fw-3.1.0.bin").write_bytes(firmware_image("3.1.0"))
    station = await make_station()
    session = await boot(csms, station)
    payload = {"location": f"{ftp_server.url}/fw-3.1.0.bin", "retrieveDate": iso(datetime.now(UTC))}
    assert await session.call("UpdateFirmware", payload) == {}
    assert await statuses(session, "FirmwareStatusNotification", 3) == [
        "Downloading",
        "Downloaded",
        "Installing",
    ]
    async with asyncio.timeout(WAIT):
        await session.closed.wait()  # the reboot into the new firmware
    session = await csms.wait_for_station(station.identity, timeout=WAIT)
    booted = await session.expect("BootNotification", timeout=WAIT)
    assert booted.payload["firmwareVersion"] == "3.1.0"
    assert await statuses(session, "FirmwareStatusNotification", 1) == ["Installed"]

    for location in (f"{ftp_server.url}/", f"{post_only.url}/diagnostics/"):
        answer = await session.call("GetDiagnostics", {"location": location})
        name = answer["fileName"]
        assert await statuses(session, "DiagnosticsStatusNotification", 2) == [
            "Uploading",
            "Uploaded",
        ]
        if location.startswith("ftp"):
            data = (ftp_server.root / name).read_bytes()
        else:
            [upload] = post_only.depot.uploads
            assert (upload.name, upload.method) == (name, "POST")
            data = upload.data
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            station_log = archive.read("station.log").decode()
            ocpp_log = archive.read("ocpp.log").decode()
        assert "firmware 3.1.0 installed" in station_log
        assert "UpdateFirmware" in ocpp_log
    await station.stop()


async def test_the_fault_switches_fail_each_step(
    csms: CentralSystem, make_station: Any, tmp_path: Path
) -> None:
    files = FileServer()
    await files.start("127.0.0.1", 0)
    station = await make_station()
    session = await boot(csms, station)
    try:
        status, body = await station.request("POST", "/api/transfer-faults", {"download": "yes"})
        assert status == 422 and "download must be true or false" in body["error"]
        faults = await station.post("/api/transfer-faults", {"download": True})
        assert faults == {"download": True, "upload": False, "install": False, "delaySeconds": 0.0}
        update = {
            "location": f"{files.url}/files/firmware-4.0.0.bin",
            "retrieveDate": iso(datetime.now(UTC)),
        }
        await session.call("UpdateFirmware", update)
        assert await statuses(session, "FirmwareStatusNotification", 2) == [
            "Downloading",
            "DownloadFailed",
        ]
        assert files.depot.downloads == []  # it never reached the server
        await station.post("/api/transfer-faults", {"download": False, "install": True})
        await session.call("UpdateFirmware", update)
        assert await statuses(session, "FirmwareStatusNotification", 4) == [
            "Downloading",
            "Downloaded",
            "Installing",
            "InstallationFailed",
        ]
        await station.post("/api/transfer-faults", {"install": False, "upload": True})
        answer = await session.call("GetDiagnostics", {"location": f"{files.url}/diagnostics/"})
        assert "fileName" in answer
        assert await statuses(session, "DiagnosticsStatusNotification", 2) == [
            "Uploading",
            "UploadFailed",
        ]
        assert files.depot.uploads == []
        assert (await station.request("GET", "/api/transfer-faults"))[1]["upload"] is True
    finally:
        await station.stop()
        await files.stop()
