"""`ocpp-station fleet --ray ADDRESS` on a Ray cluster it did not start: two nodes (Ray's own
test cluster, both on this machine), a shard on each, their APIs on the nodes' addresses, and
after SIGTERM every session stopped, the shards gone and the cluster still up."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms.server import CentralSystem

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

START = 90.0
COUNT = 6
# Sessions that start at once and outlast the test: the stop must end them all.
BUSY = """
[sessions]
gap = [0.5, 1.0]
duration = [600, 600]
card_delay = [0.2, 0.5]
"""


async def _fleet(http: aiohttp.ClientSession, api: str) -> Any:
    async with http.get(f"{api}/api/fleet") as answer:
        return await answer.json() if answer.status == 200 else None


async def test_a_fleet_on_a_cluster_it_did_not_start(csms: CentralSystem, tmp_path: Path) -> None:
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        scenario = tmp_path / "busy.toml"
        scenario.write_text(BUSY)
        log = (tmp_path / "fleet.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpp_station", "fleet", "--ray", cluster.address,
            "--shards", "2", "--csms", csms.url, "--count", str(COUNT), "--connectors", "1",
            "--scenario", str(scenario), "--control", "127.0.0.1:0", "--ramp-up", "50",
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
        log.close()
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(START):
                line = (await proc.stdout.readline()).decode()
            assert line.startswith("control: "), (tmp_path / "fleet.log").read_text()[-3000:]
            api = line.split()[1]
            async with aiohttp.ClientSession() as http, asyncio.timeout(START):
                while True:
                    whole = await _fleet(http, api)
                    if whole is not None and whole["sessions"] == COUNT:
                        break
                    await asyncio.sleep(0.5)
            shards = whole["shards"]
            ranges = [(s["first"], s["count"], s["ok"]) for s in shards]
            assert ranges == [(1, 3, True), (4, 3, True)]
            # On a cluster a shard serves on its node's address (the head may be elsewhere),
            # and SPREAD puts the two shards on the two nodes.
            assert all(not s["url"].startswith("http://127.0.0.1:") for s in shards), shards
            assert len({s["node"] for s in shards}) == 2, shards
        finally:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(START):
                code = await proc.wait()
        logged = (tmp_path / "fleet.log").read_text()
        assert code == 0, logged[-3000:]
        # The shards' log on the head's stderr, through Ray, without colour codes in a file.
        assert re.search(r"^\(FleetShard pid=\d+(, ip=\S+)?\) \S+Z WARNING ", logged, re.M), logged
        assert "\x1b[36m" not in logged
        # The controlled stop drained both shards: every session stopped at the central system.
        for n in range(1, COUNT + 1):
            record = csms.record(f"FLEET-{n}")
            assert record.open_transactions == {}, (n, record.open_transactions)
            assert len(record.finished_transactions) == 1
        # The head left the cluster as it found it: both nodes up, no shard left behind.
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            assert sum(1 for node in ray.nodes() if node["Alive"]) == 2
            async with asyncio.timeout(30):  # the shards' cores come back as they end
                while ray.available_resources().get("CPU") != 2.0:
                    await asyncio.sleep(0.2)
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
