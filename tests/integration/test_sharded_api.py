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
from ocpp_station.fleet.cli import summary_line
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


async def connected(http: aiohttp.ClientSession, url: str, count: int) -> Any:
    """The view's /api/fleet once `count` stations are connected."""
    async with asyncio.timeout(WAIT):
        while True:
            async with http.get(f"{url}/api/fleet") as answer:
                whole = await answer.json()
            if whole["connected"] == count:
                return whole
            await asyncio.sleep(0.1)


async def test_one_view_of_the_shards(head: tuple[CentralSystem, str, list[Fleet]]) -> None:
    csms, url, fleets = head
    async with aiohttp.ClientSession() as http:
        whole = await connected(http, url, 6)
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
    """One shard alive (FLEET-1..3), one gone (FLEET-4..6): the totals count all six and
    name the one down, the list shows its stations with the reason, a route of one of them
    answers 502 saying so, and the console line says it."""
    async with CentralSystem(heartbeat_interval=60) as csms:
        fleet = Fleet(FleetOptions(csms_url=csms.url, count=3, connectors=1, autopilot=False))
        api = FleetApi(fleet, Gate(loopback=False, token=TOKEN))
        await api.start("127.0.0.1", 0)
        task = asyncio.ensure_future(fleet.run())
        dead = Shard("http://127.0.0.1:9", 4, 3, TOKEN, node="n2")  # nothing listens there
        whole = ShardedFleetApi([Shard(api.url, 1, 3, TOKEN, node="n1"), dead], "FLEET-")
        await whole.start("127.0.0.1", 0)
        try:
            for n in range(1, 4):
                await csms.wait_for_station(f"FLEET-{n}", timeout=WAIT)
            async with aiohttp.ClientSession() as http:
                summary = await connected(http, whole.url, 3)
                async with http.get(f"{whole.url}/api/stations?offset=1&limit=4") as answer:
                    page = await answer.json()
                async with http.get(f"{whole.url}/api/stations/FLEET-5/status") as answer:
                    forwarded = (answer.status, await answer.json())
                async with http.get(f"{whole.url}/api/stations/OTHER-1/status") as answer:
                    assert (answer.status, await answer.json()) == (
                        404,
                        {"error": "unknown station 'OTHER-1'"},
                    )
        finally:
            await whole.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.stop()
    assert (summary["stations"], summary["connected"], summary["shardsDown"]) == (6, 3, 1)
    alive, down = summary["shards"]
    assert (alive["ok"], alive["node"], alive["connected"]) == (True, "n1", 3)
    assert (down["ok"], down["node"], down["first"], down["count"]) == (False, "n2", 4, 3)
    assert "127.0.0.1:9" in down["error"]
    assert [row["id"] for row in page["stations"]] == ["FLEET-2", "FLEET-3", "FLEET-4", "FLEET-5"]
    assert [row.get("shardDown", False) for row in page["stations"]] == [False, False, True, True]
    assert page["stations"][0]["connected"] is True
    assert page["stations"][2]["error"].startswith("its shard does not answer: ")
    status, error = forwarded
    assert status == 502
    assert error["error"].startswith("the shard of FLEET-5 (http://127.0.0.1:9) does not answer: ")
    line = summary_line(summary)
    assert line.startswith("fleet: 3/6 connected, 3 accepted, ")
    assert line.endswith("; 1 of 2 shards not answering")


def test_the_console_line_with_every_shard_down() -> None:
    """Nothing added up but the count: the line still comes, with zeros, and says why."""
    down = {"ok": False, "error": "gone"}
    summary = {"stations": 6, "shardsDown": 2, "shards": [down, down]}
    assert summary_line(summary) == (
        "fleet: 0/6 connected, 0 accepted, 0 sessions (0 rejected, 0 failed), 0 in/s 0 out/s, "
        "queued 0, errors 0, cpu 0 s, rss 0 MB; 2 of 2 shards not answering"
    )
