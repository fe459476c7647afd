"""The fleet in two shards on a local Ray: the stations split without overlap, one view of
them all (totals, shard health, paging, a station's routes forwarded to its shard), a shard
whose process dies started again with its stations recovered from their state folder, and a
controlled stop that drains every shard (nothing lost). Kept small: Ray's start is most of it."""

from __future__ import annotations

import asyncio
import importlib.util
import resource
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms.server import CentralSystem
from ocpp_station.file_limit import FileLimitError
from ocpp_station.fleet.fleet import FleetOptions
from ocpp_station.fleet.scenario import Scenario, Sessions
from ocpp_station.fleet.shards import RayFleet, split

ray = pytest.importorskip("ray")
START = 60.0
# Sessions that start at once and outlast the test: the stop must end them all.
BUSY = Scenario(sessions=Sessions(gap=(0.5, 1.0), duration=(600, 600), card_delay=(0.2, 0.5)))


def test_the_split_covers_every_station_once() -> None:
    parts = split(FleetOptions(csms_url="ws://x", count=7, first=3, ramp_up=90.0), 3)
    assert [(p.first, p.count) for p in parts] == [(3, 3), (6, 2), (8, 2)]
    assert [p.ramp_up for p in parts] == [30.0, 30.0, 30.0]
    assert [(p.first, p.count) for p in split(FleetOptions("ws://x", count=2), 5)] == [
        (1, 1),
        (2, 1),
    ]
    with pytest.raises(ValueError, match="at least one shard"):
        split(FleetOptions("ws://x", count=2), 0)


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as answer:
        return answer.status, await answer.json()


async def test_two_shards_on_a_local_ray(tmp_path: Path) -> None:
    ray.init(address="local", num_cpus=2, object_store_memory=80 * 1024 * 1024,
             include_dashboard=False, log_to_driver=False)  # fmt: skip
    try:
        async with CentralSystem(heartbeat_interval=60) as csms:
            options = FleetOptions(
                csms_url=csms.url,
                count=6,
                connectors=1,
                scenario=BUSY,
                ramp_up=50.0,
                state_dir=tmp_path / "state",
            )
            head = RayFleet(options, shards=2)
            shards = await head.start()
            assert [(s.first, s.count) for s in shards] == [(1, 3), (4, 3)]
            api = head.api()
            await api.start("127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as http:
                    async with asyncio.timeout(START):
                        while True:
                            status, whole = await get(http, f"{api.url}/api/fleet")
                            if status == 200 and whole["sessions"] == 6:
                                break
                            await asyncio.sleep(0.5)
                    assert (whole["stations"], whole["connected"]) == (6, 6)
                    assert [(s["first"], s["count"], s["ok"]) for s in whole["shards"]] == [
                        (1, 3, True),
                        (4, 3, True),
                    ]
                    # Paging across the shards, in station order.
                    status, page = await get(http, f"{api.url}/api/stations?offset=2&limit=3")
                    assert [s["id"] for s in page["stations"]] == ["FLEET-3", "FLEET-4", "FLEET-5"]
                    assert page["total"] == 6 and page["next"] == "/api/stations?offset=5&limit=3"
                    # One station's routes, forwarded to its shard.
                    status, five = await get(http, f"{api.url}/api/stations/FLEET-5/status")
                    assert status == 200 and five["id"] == "FLEET-5"
                    status, none = await get(http, f"{api.url}/api/stations/FLEET-7/status")
                    assert (status, none) == (404, {"error": "unknown station 'FLEET-7'"})
                    # Two processes: each shard its own, on the one node of a local Ray.
                    assert {s["url"] for s in whole["shards"]} == {s.url for s in shards}
                    assert len({s["node"] for s in whole["shards"]}) == 1
                    assert [s["restarts"] for s in whole["shards"]] == [0, 0]

                    # The second shard's process dies with a session on each of its stations:
                    # Ray starts it again, the head its stations, which recover from their
                    # state folder (the interrupted sessions end with PowerLoss, new ones begin).
                    ray.kill(head.actors[1], no_restart=False)
                    async with asyncio.timeout(START):
                        while True:
                            status, whole = await get(http, f"{api.url}/api/fleet")
                            ended = [
                                len(csms.record(f"FLEET-{n}").finished_transactions)
                                for n in range(4, 7)
                            ]
                            if status == 200 and whole["sessions"] == 6 and min(ended) == 1:
                                break
                            await asyncio.sleep(0.5)
                    assert [s["restarts"] for s in whole["shards"]] == [0, 1]
                    assert whole["shardsDown"] == 0
                    # Ray runs an async actor on uvloop where it is installed, as --loop auto.
                    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
                    assert [s["loop"] for s in whole["shards"]] == [loop, loop]
                assert set(csms.stations) == {f"FLEET-{n}" for n in range(1, 7)}
            finally:
                await api.stop()
                await head.stop()
            # The controlled stop drained both shards: every session stopped at the central
            # system, nothing left queued; the second shard's stations had two sessions each,
            # the one its death cut short and the one the stop ended.
            for n in range(1, 7):
                record = csms.record(f"FLEET-{n}")
                assert record.open_transactions == {}, (n, record.open_transactions)
                assert len(record.finished_transactions) == (1 if n <= 3 else 2), n
                reasons = {tx.stop_reason for tx in record.finished_transactions}
                assert reasons == {"PowerLoss"}, (n, reasons)
            assert sum(part["queuedMessages"] for part in head.last) == 0
            assert ray.is_initialized()  # the test's own Ray: the head left it running

            # --loop asyncio: the shard on asyncio's own loop.
            plain = RayFleet(
                FleetOptions(csms_url=csms.url, count=1, first=7, connectors=1, autopilot=False),
                shards=1,
                loop="asyncio",
            )
            await plain.start()
            view = plain.api()
            await view.start("127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as http:
                    status, whole = await get(http, f"{view.url}/api/fleet")
            finally:
                await view.stop()
                await plain.stop()
            assert [s["loop"] for s in whole["shards"]] == ["asyncio"]
        if resource.getrlimit(resource.RLIMIT_NOFILE)[1] != resource.RLIM_INFINITY:
            # A shard given more stations than its process may open: said at the start, and
            # no shard is left running (the other one stopped again).
            huge = RayFleet(FleetOptions(csms_url="ws://127.0.0.1:9", count=20_000_000), 2)
            with pytest.raises(FileLimitError, match="10,000,000 stations need about"):
                await huge.start()
            assert huge.actors == []
    finally:
        ray.shutdown()
