"""The real station process against a real central system on 127.0.0.1.

A test gets a `StationProcess` (the `ocpp-station run` process, driven through its HTTP control
API exactly as interface.md says) and the `StationSession` of the central system it connected
to, already booted: BootNotification answered Accepted and the first StatusNotifications seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.conformance import target
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import StationSession

START_TIMEOUT = target.START_TIMEOUT


class StationProcess(target.StationProcess):
    """The conformance tool's station process (start, SIGTERM, SIGKILL, its output kept in the
    log), with the control API calls the tests make."""

    def __init__(self, csms_url: str, state_dir: Path, identity: str, args: list[str]) -> None:
        super().__init__(csms_url, identity, state_dir, state_dir.parent / f"{identity}.log", args)
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        control = await super().start()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return control

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

    async def _close_http(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def stop(self) -> int | None:
        """SIGTERM, then wait (SIGKILL after the tool's stop timeout)."""
        await self._close_http()
        return await self.terminate()

    async def kill(self) -> None:
        """A power cut: SIGKILL."""
        await self._close_http()
        await super().kill()


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
