"""The real station process against a real central system on 127.0.0.1.

A test gets a `StationProcess` (the `ocpp-station run` process, driven through its HTTP control
API exactly as interface.md says) and the `StationSession` of the central system it connected
to, already booted: BootNotification answered Accepted and the first StatusNotifications seen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms.server import CentralSystem, StationSession

START_TIMEOUT = 20.0


class StationProcess:
    def __init__(self, csms_url: str, state_dir: Path, identity: str, args: list[str]) -> None:
        self.csms_url = csms_url
        self.state_dir = state_dir
        self.identity = identity
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.control = ""
        self.http: aiohttp.ClientSession | None = None
        self.log_path = state_dir.parent / f"{identity}.log"

    async def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ocpp_station",
            "run",
            "--csms",
            self.csms_url,
            "--id",
            self.identity,
            "--control",
            "127.0.0.1:0",
            "--state-dir",
            str(self.state_dir),
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=env,
        )
        log.close()
        assert self.proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"station exited early; log: {self.log_text()[-2000:]}")
                if line.startswith("control: "):
                    self.control = line.split(" ", 1)[1].strip()
                    break
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(method, self.control + path, json=body) as response:
            return response.status, await response.json(content_type=None)

    async def post(self, path: str, body: Any = None) -> Any:
        status, data = await self.request("POST", path, body)
        assert status == 200, (path, status, data)
        return data

    async def status(self) -> dict[str, Any]:
        status, data = await self.request("GET", "/api/status")
        assert status == 200
        return data

    async def connector(self, connector_id: int) -> dict[str, Any]:
        return (await self.status())["connectors"][connector_id]

    async def plug(self, connector_id: int = 1) -> Any:
        return await self.post(f"/api/connectors/{connector_id}/plug")

    async def unplug(self, connector_id: int = 1) -> Any:
        return await self.post(f"/api/connectors/{connector_id}/unplug")

    async def rfid(self, id_tag: str, connector_id: int | None = None) -> Any:
        body: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            body["connectorId"] = connector_id
        return await self.post("/api/rfid", body)

    async def wait_status(self, connector_id: int, status: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while (await self.connector(connector_id))["status"] != status:
                await asyncio.sleep(0.05)

    async def stop(self) -> int | None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                return await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    async def kill(self) -> None:
        """A power cut: SIGKILL."""
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def boot(csms: CentralSystem, station: StationProcess, connectors: int = 2) -> StationSession:
    """Wait until the station is Accepted and has reported every connector (TC_001's start)."""
    session = await csms.wait_for_station(station.identity, timeout=START_TIMEOUT)
    await session.expect("BootNotification", timeout=START_TIMEOUT)
    for connector_id in range(connectors + 1):
        await session.expect("StatusNotification", {"connectorId": connector_id})
    return session


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def wait_for(station: StationProcess, check: Any, what: str, timeout: float = 10) -> dict:
    """Poll GET /api/status until check(status) holds."""
    status: dict = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                status = await station.status()
                if check(status):
                    return status
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout} s; last {status}") from None


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    central = CentralSystem("127.0.0.1", 0, heartbeat_interval=60)
    await central.start()
    try:
        yield central
    finally:
        await central.stop()


@pytest.fixture
async def make_station(csms: CentralSystem, tmp_path: Path) -> AsyncIterator[Any]:
    """Start station processes: `await make_station(*args, identity="CP-1")`."""
    started: list[StationProcess] = []

    async def make(*args: str, identity: str = "CP-1", url: str | None = None) -> StationProcess:
        station = StationProcess(url or csms.url, tmp_path / identity, identity, list(args))
        started.append(station)
        await station.start()
        return station

    try:
        yield make
    finally:
        for station in started:
            await station.stop()
