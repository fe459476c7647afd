"""The drivers: the HTTP control API, the operator on the console, our process's power switch."""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ocpp_station.conformance.case import NotApplicable
from ocpp_station.conformance.drivers import (
    Console,
    ControlApiDriver,
    DriverError,
    OperatorDriver,
    ProcessPower,
)


class FakeControlApi:
    """Records requests; connector 9 is unknown (404), plugging twice conflicts (409),
    connector 3 has no fault hook (501)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.plugged: set[int] = set()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.seen.append((request.method, request.path, body))
        connector = request.match_info.get("id")
        if request.path.endswith("/fault") and connector == "3":
            return web.json_response({"error": "this station has no fault hook"}, status=501)
        if connector == "9":
            return web.json_response({"error": "unknown connector 9"}, status=404)
        if request.path.endswith("/plug"):
            if int(connector or 0) in self.plugged:
                return web.json_response({"error": "Connector 1 is plugged already."}, status=409)
            self.plugged.add(int(connector or 0))
        return web.json_response({"id": connector, "status": "Preparing"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/connectors/{id}/{action:.*}", self.handle)
        app.router.add_post("/api/rfid", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def api() -> AsyncIterator[FakeControlApi]:
    server = FakeControlApi()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_control_api_driver_speaks_the_interface(api: FakeControlApi) -> None:
    driver = ControlApiDriver(api.url + "/")
    try:
        await driver.plug(1)
        await driver.present_card("TAG1", None)
        await driver.present_card("TAG2", 2)
        await driver.suspend_ev(1)
        await driver.resume_ev(1)
        await driver.raise_fault(2, "GroundFailure", "test")
        await driver.clear_fault(2)
        await driver.set_lock_failure(1, True)
        await driver.set_lock_failure(1, False)
        await driver.press_stop(1, "EmergencyStop")
        await driver.unplug(1)
    finally:
        await driver.close()
    assert api.seen == [
        ("POST", "/api/connectors/1/plug", None),
        ("POST", "/api/rfid", {"idTag": "TAG1"}),
        ("POST", "/api/rfid", {"idTag": "TAG2", "connectorId": 2}),
        ("POST", "/api/connectors/1/ev/suspend", None),
        ("POST", "/api/connectors/1/ev/resume", None),
        ("POST", "/api/connectors/2/fault", {"errorCode": "GroundFailure", "info": "test"}),
        ("DELETE", "/api/connectors/2/fault", None),
        ("POST", "/api/connectors/1/lock-failure", None),
        ("DELETE", "/api/connectors/1/lock-failure", None),
        ("POST", "/api/connectors/1/stop", {"reason": "EmergencyStop"}),
        ("POST", "/api/connectors/1/unplug", None),
    ]
    assert driver.description == f"HTTP control API at {api.url}"


async def test_a_step_the_adapter_cannot_do_makes_the_case_not_applicable(
    api: FakeControlApi,
) -> None:
    """501 Not Implemented: the station behind the adapter has no way to do the step (the
    operator's "skip"): N/A, not an Error of the tool."""
    driver = ControlApiDriver(api.url)
    try:
        with pytest.raises(
            NotApplicable, match="cannot POST /api/connectors/3/fault: this station"
        ):
            await driver.raise_fault(3, "GroundFailure", None)
    finally:
        await driver.close()


async def test_control_api_errors_become_driver_errors(api: FakeControlApi) -> None:
    driver = ControlApiDriver(api.url)
    try:
        with pytest.raises(DriverError, match="answered 404: unknown connector 9"):
            await driver.unplug(9)
        await driver.plug(1)
        with pytest.raises(DriverError, match="answered 409: Connector 1 is plugged already"):
            await driver.plug(1)
        with pytest.raises(DriverError, match="no power switch"):
            await driver.power_cycle(graceful=True)
    finally:
        await driver.close()
    gone = ControlApiDriver("http://127.0.0.1:1")
    try:
        with pytest.raises(
            DriverError, match=re.escape("POST http://127.0.0.1:1/api/connectors/1/plug")
        ):
            await gone.plug(1)
    finally:
        await gone.close()
    with pytest.raises(ValueError, match="http:// or https://"):
        ControlApiDriver("ws://127.0.0.1:1")


class FakeProcess:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.starts = 0

    async def terminate(self) -> int | None:
        self.calls.append("terminate")
        return 0

    async def kill(self) -> None:
        self.calls.append("kill")

    async def start(self) -> str:
        self.starts += 1
        self.calls.append("start")
        return f"http://127.0.0.1:{8000 + self.starts}/"


async def test_the_power_switch_restarts_the_process_and_follows_its_new_address() -> None:
    process = FakeProcess()
    driver = ControlApiDriver("http://127.0.0.1:8000", power=ProcessPower(process))
    await driver.power_cycle(graceful=True)
    assert driver.base_url == "http://127.0.0.1:8001"
    await driver.power_cycle(graceful=False)
    assert driver.base_url == "http://127.0.0.1:8002"
    assert process.calls == ["terminate", "start", "kill", "start"]


class Pipe:
    """A console input a test types into."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.reader = os.fdopen(read, "r")
        self.writer = os.fdopen(write, "w")

    def type(self, text: str) -> None:
        self.writer.write(text)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


async def test_the_operator_is_asked_and_answers() -> None:
    pipe, out = Pipe(), io.StringIO()
    driver = OperatorDriver(Console(pipe.reader, out), timeout=5)
    try:
        asyncio.get_running_loop().call_later(0.05, pipe.type, "\n")
        await driver.plug(1)
        assert "Plug the cable of connector 1 into the EV, then press Enter" in out.getvalue()

        asyncio.get_running_loop().call_later(0.05, pipe.type, "skip\n")
        with pytest.raises(NotApplicable, match="the operator could not do it: Present the card"):
            await driver.present_card("TAG1", 2)
        assert "Present the card TAG1 to the reader for connector 2" in out.getvalue()
    finally:
        pipe.close()


async def test_an_operator_who_does_not_answer_is_a_driver_error() -> None:
    pipe, out = Pipe(), io.StringIO()
    driver = OperatorDriver(Console(pipe.reader, out), timeout=0.2)
    try:
        with pytest.raises(DriverError, match=r"did not answer within 0.2 s: Cut the station's"):
            await driver.power_cycle(graceful=False)
        # A late Enter is not taken as the answer to the next question.
        pipe.type("\n")
        await asyncio.sleep(0.05)
        with pytest.raises(DriverError, match="did not answer"):
            await driver.unplug(2)
        pipe.close()
        with pytest.raises(DriverError, match="no operator"):
            await driver.clear_fault(1)
    finally:
        if not pipe.writer.closed:
            pipe.close()
