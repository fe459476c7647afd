"""One view of a fleet in shards, without Ray: two fleets of this process behind their own APIs
(with the token the head uses), and the head's API over them. What Ray adds is only where the
shards run (test_fleet_on_ray.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ocpp_station.control.gate import Gate
from ocpp_station.csms.server import CentralSystem
from ocpp_station.fleet.api import FleetApi
from ocpp_station.fleet.fleet import Fleet, FleetOptions
from ocpp_station.fleet.sharded_api import Shard, ShardedFleetApi, add_up

TOKEN = "the-head-token-0123456789"
WAIT = 20.0


def test_adding_up_summaries() -> None:
    total: dict[str, Any] = {}
    add_up(total, {"connected": 2, "registration": {"Accepted": 2}, "ok": True, "x": "a"})
    add_up(total, {"connected": 3, "registration": {"Accepted": 1, "Pending": 2}, "rate": 1.5})
    assert total == {"connected": 5, "registration": {"Accepted": 3, "Pending": 2}, "rate": 1.5}


@pytest.fixture
async def head() -> AsyncIterator[tuple[CentralSystem, str, list[Fleet]]]:
    async with CentralSystem(heartbeat_interval=60) as csms:
        fleets, apis, tasks = [], [], []
        for first in (1, 4):
            fleet = Fleet(
                FleetOptions(csms_url=csms.url, count=3, first=first, connectors=1, autopilot=False)
            )
            api = FleetApi(fleet, Gate(loopback=False, token=TOKEN))
            await api.start("127.0.0.1", 0)
            fleets.append(fleet)
            apis.append(api)
            tasks.append(asyncio.ensure_future(fleet.run()))
        shards = [
            Shard(api.url, f.options.first, 3, TOKEN) for api, f in zip(apis, fleets, strict=True)
        ]
        whole = ShardedFleetApi(shards, "FLEET-")
        await whole.start("127.0.0.1", 0)
        try:
            for n in range(1, 7):
                await csms.wait_for_station(f"FLEET-{n}", timeout=WAIT)
            yield csms, whole.url, fleets
        finally:
            await whole.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for api in apis:
                await api.stop()


async def test_one_view_of_the_shards(head: tuple[CentralSystem, str, list[Fleet]]) -> None:
    csms, url, fleets = head
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(WAIT):
            while True:
                async with http.get(f"{url}/api/fleet") as answer:
                    whole = await answer.json()
                if whole["connected"] == 6:
                    break
                await asyncio.sleep(0.2)
        assert whole["stations"] == 6 and whole["registration"] == {"Accepted": 6}
        assert [(s["first"], s["count"], s["ok"], s["connected"]) for s in whole["shards"]] == [
            (1, 3, True, 3),
            (4, 3, True, 3),
        ]
        async with http.get(f"{url}/api/stations?offset=0&limit=4") as answer:
            page = await answer.json()
        assert [s["id"] for s in page["stations"]] == ["FLEET-1", "FLEET-2", "FLEET-3", "FLEET-4"]
        async with http.get(f"{url}/api/stations?offset=4&limit=100") as answer:
            rest = await answer.json()
        assert [s["id"] for s in rest["stations"]] == ["FLEET-5", "FLEET-6"] and rest[
            "next"
        ] is None
        # A change forwarded with its body; the answer is the shard's.
        async with http.post(f"{url}/api/stations/FLEET-5/connectors/1/plug") as answer:
            assert answer.status == 200 and (await answer.json())["status"] == "Preparing"
        card = {"idTag": "SHARDED", "connectorId": 1}
        async with http.post(f"{url}/api/stations/FLEET-5/rfid", json=card) as answer:
            assert (await answer.json())["card"]["outcome"] == "started"
        async with http.post(f"{url}/api/stations/FLEET-5/connectors/9/plug") as answer:
            assert answer.status == 404
        # The page's events of one station, through the head.
        async with http.get(f"{url}/api/stations/FLEET-5/events") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            seen: list[str] = []
            async with asyncio.timeout(WAIT):
                async for raw in stream.content:
                    line = raw.decode()
                    if line.startswith("data: ") and '"StartTransaction"' in line:
                        seen.append(json.loads(line[6:])["frame"][2])
                        break
            assert seen == ["StartTransaction"]
        # A shard that stops answering is named, the others still counted.
        await fleets[1].cut_power(fleets[1].stations["FLEET-4"], 60)
        async with http.get(f"{url}/api/stations/FLEET-4/status") as answer:
            assert answer.status == 409
        async with http.get(f"{url}/") as answer:
            assert 'data-mode="fleet"' in await answer.text()
    assert "FLEET-5" in csms.stations


async def test_a_shard_that_does_not_answer_is_named() -> None:
    dead = Shard("http://127.0.0.1:9", 1, 2, TOKEN)  # nothing listens there
    whole = ShardedFleetApi([dead], "FLEET-")
    await whole.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{whole.url}/api/fleet") as answer:
                summary = await answer.json()
            async with http.get(f"{whole.url}/api/stations/OTHER-1/status") as answer:
                assert (answer.status, await answer.json()) == (
                    404,
                    {"error": "unknown station 'OTHER-1'"},
                )
    finally:
        await whole.stop()
    [shard] = summary["shards"]
    assert shard["ok"] is False and shard["error"]
