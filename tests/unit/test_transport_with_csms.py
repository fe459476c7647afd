"""StationClient and an RpcEndpoint against the embedded central system, over loopback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ocpp_station.csms import CentralSystem
from ocpp_station.rpc.endpoint import Router, RpcEndpoint
from ocpp_station.transport import Backoff, StationClient, build_url

WAIT = 5.0
BOOT = {"chargePointVendor": "Acme", "chargePointModel": "DC-2"}


class MiniStation:
    """Just enough of a charge point: answers Reset, boots when asked."""

    def __init__(self, url: str, identity: str, password: str | None = None) -> None:
        router = Router()
        router.route("Reset", self._reset)
        self.resets: list[str] = []
        self.opened = asyncio.Event()
        self.refusals: asyncio.Queue[BaseException] = asyncio.Queue()
        self.client = StationClient(
            url,
            identity,
            password=password,
            on_open=self._on_open,
            on_message=self._on_message,
            on_close=self._on_close,
            on_connect_error=self.refusals.put,
            backoff=Backoff(0.01, 0.05, rng=random.Random(1)),
            reconnect_delay=0.01,
        )
        self.endpoint = RpcEndpoint(self.client.send, router)
        self._router = router
        self.task: asyncio.Task[None] | None = None

    def _reset(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.resets.append(payload["type"])
        return {"status": "Accepted"}

    async def _on_open(self) -> None:
        self.endpoint = RpcEndpoint(self.client.send, self._router)
        self.opened.set()

    async def _on_message(self, frame: bytes | str) -> None:
        await self.endpoint.feed(frame)

    async def _on_close(self, exc: BaseException | None) -> None:
        self.opened.clear()
        self.endpoint.connection_lost()

    async def __aenter__(self) -> MiniStation:
        self.task = asyncio.create_task(self.client.run())
        async with asyncio.timeout(WAIT):
            await self.opened.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        async with asyncio.timeout(WAIT):
            await self.client.stop()
            await self.task


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    async with CentralSystem(passwords={"CP 1": "0123456789abcdef"}) as central:
        yield central


async def test_boot_call_and_password_change(csms: CentralSystem) -> None:
    url = build_url(csms.url + "/ocpp", "CP 1")
    async with MiniStation(url, "CP 1", password="0123456789abcdef") as station:
        session = await csms.wait_for_station("CP 1", timeout=WAIT)
        answer = await station.endpoint.call("BootNotification", BOOT, timeout=WAIT)
        assert answer["status"] == "Accepted"
        assert (await session.expect("BootNotification", timeout=WAIT)).payload == BOOT

        assert await session.call("Reset", {"type": "Soft"}, timeout=WAIT) == {"status": "Accepted"}
        assert station.resets == ["Soft"]

        # AuthorizationKey changed ([W] A01): the new password from the next connection on.
        csms.passwords["CP 1"] = "new_password_12345678"
        station.client.set_password("new_password_12345678")
        await station.client.reconnect()
        async with asyncio.timeout(WAIT):
            await session.closed.wait()
        new_session = await csms.wait_for_station("CP 1", timeout=WAIT)
        assert new_session is not session
        async with asyncio.timeout(WAIT):
            await station.opened.wait()
        assert "currentTime" in await station.endpoint.call("Heartbeat", {}, timeout=WAIT)
        assert (await new_session.expect("Heartbeat", timeout=WAIT)).seq == 1


async def test_station_keeps_retrying_until_the_central_system_accepts(
    csms: CentralSystem,
) -> None:
    csms.accepting = False
    url = build_url(csms.url, "CP 1")
    station = MiniStation(url, "CP 1", password="0123456789abcdef")
    task = asyncio.create_task(station.client.run())
    try:
        async with asyncio.timeout(WAIT):
            for _ in range(3):
                refused = await station.refusals.get()
                assert getattr(refused, "status", None) == 503
        assert not station.client.connected
        csms.accepting = True
        await csms.wait_for_station("CP 1", timeout=WAIT)
        async with asyncio.timeout(WAIT):
            await station.opened.wait()
    finally:
        async with asyncio.timeout(WAIT):
            await station.client.stop()
            await task
