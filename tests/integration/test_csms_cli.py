"""`ocpp-station csms` as a process: a real station connects, the HTTP API shows its stations
and sessions and sends it requests, and the database outlives the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import START_TIMEOUT, StationProcess

TAG = "CSMS-TAG-1"

LAUNCHER = [sys.executable, "-m", "ocpp_station", "csms"]


@pytest.fixture
def launcher() -> list[str]:
    return LAUNCHER


class CsmsProcess:
    def __init__(self, launcher: list[str], args: list[str], log_path: Path) -> None:
        self.command = [*launcher, *args]
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.csms = ""
        self.api = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        assert self.proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            while not (self.csms and self.api):
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"csms exited early: {self.log_text()[-2000:]}")
                name, _, value = line.strip().partition(": ")
                if name == "csms":
                    self.csms = value
                elif name == "api":
                    self.api = value
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(method, self.api + path, json=body) as response:
            return response.status, await response.json()

    async def get(self, path: str) -> Any:
        status, body = await self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> tuple[int, Any]:
        body = {"action": action, "payload": payload}
        return await self.request("POST", f"/api/stations/{identity}/call", body)

    async def stop(self) -> int | None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                return await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[list[Any]]:
    """Every process a test starts is stopped at its end."""
    started: list[Any] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            with contextlib.suppress(Exception):
                await process.stop()


async def poll(check: Any, timeout: float = 20) -> Any:
    """The first truthy result of `await check()`, polled."""
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)


async def test_a_station_its_sessions_and_requests_through_the_api(
    launcher: list[str], tmp_path: Path, processes: list[Any]
) -> None:
    db = tmp_path / "csms.sqlite"
    args = [
        "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--db", str(db),
        "--heartbeat-interval", "60", "--tag", TAG, "--reject-unknown-tags",
    ]  # fmt: skip
    csms = CsmsProcess(launcher, args, tmp_path / "csms.log")
    processes.append(csms)
    await csms.start()
    assert csms.csms.startswith("ws://127.0.0.1:") and csms.api.startswith("http://127.0.0.1:")
    station = StationProcess(
        csms.csms, tmp_path / "CP-1", "CP-1", ["--config", "MeterValueSampleInterval=1"]
    )
    processes.append(station)
    await station.start()

    async def registered() -> Any:
        stations = await csms.get("/api/stations")
        ready = (
            stations
            and stations[0]["registration"] == "Accepted"
            and len(stations[0]["statuses"]) == 3
        )
        return stations[0] if ready else None

    listed = await poll(registered)
    assert listed["id"] == "CP-1" and listed["connected"] is True
    assert listed["boot"]["chargePointVendor"]
    assert [s["status"] for s in listed["statuses"]] == ["Available"] * 3

    status, answer = await csms.call("CP-1", "GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert status == 200
    assert answer["configurationKey"][0]["value"] == "60"
    status, answer = await csms.call("CP-1", "Bogus", {})
    assert status == 422 and answer["error"]
    status, answer = await csms.call("CP-9", "ClearCache", {})
    assert status == 409

    await station.plug(1)
    await station.rfid(TAG)

    async def open_session() -> Any:
        sessions = (await csms.get("/api/sessions?open=true"))["sessions"]
        return sessions[0] if sessions else None

    session = await poll(open_session)
    assert (session["station"], session["connectorId"], session["idTag"]) == ("CP-1", 1, TAG)
    assert session["idTagInfo"]["status"] == "Accepted"
    path = f"/api/sessions/{session['id']}"

    async def sampled() -> bool:
        return bool((await csms.get(path))["meterValues"])

    await poll(sampled)
    status, answer = await csms.call(
        "CP-1", "RemoteStopTransaction", {"transactionId": session["id"]}
    )
    assert (status, answer) == (200, {"status": "Accepted"})

    async def stopped() -> Any:
        found = await csms.get(path)
        return None if found["open"] else found

    done = await poll(stopped)
    assert done["reason"] == "Remote"
    assert done["energyWh"] == done["meterStop"] - done["meterStart"] >= 0
    assert {v["source"] for v in done["meterValues"]} >= {"MeterValues"}
    assert [s["id"] for s in (await csms.get("/api/sessions"))["sessions"]] == [session["id"]]

    await station.stop()
    assert await csms.stop() == 0

    # The database outlives the process.
    again = CsmsProcess(launcher, args, tmp_path / "csms.log")
    processes.append(again)
    await again.start()
    kept = await again.get("/api/stations/CP-1")
    assert kept["connected"] is False and kept["lastDisconnected"] is not None
    assert kept["boot"] == listed["boot"]
    assert await again.get(path) == done
    assert await again.stop() == 0


async def test_bad_arguments_exit_2(launcher: list[str], tmp_path: Path) -> None:
    for bad in (["--boot", "maybe"], ["--tags", str(tmp_path / "missing.csv")]):
        proc = await asyncio.create_subprocess_exec(
            *launcher, *bad, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(START_TIMEOUT):
            out, err = await proc.communicate()
        assert proc.returncode == 2, err
        assert out == b"" and err.strip()


async def test_a_taken_port_exits_2_with_the_reason(launcher: list[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *launcher, "--listen", f"127.0.0.1:{port}", "--api", "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(START_TIMEOUT):
            out, err = await proc.communicate()
    assert proc.returncode == 2, err  # an address in use is a bad argument
    assert out == b""
    assert f"127.0.0.1:{port}" in err.decode()
