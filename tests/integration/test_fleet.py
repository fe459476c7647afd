"""`ocpp-station fleet` as a process against a real central system on 127.0.0.1: stations boot
and charge by the scenario, the control API shows the fleet and each station, a share of the
fleet loses power and recovers, and after SIGTERM every transaction the central system saw
start was stopped."""

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
from ocpp_station.fleet.api import FleetApi
from ocpp_station.fleet.fleet import Fleet, FleetOptions
from ocpp_station.fleet.scenario import Scenario, Sessions
from ocpp_station.runtime import StationOptions

COUNT = 6
START_TIMEOUT = 30.0
SCENARIO = """
seed = 4
[config]
MeterValueSampleInterval = "2"
[sessions]
gap = [0.5, 1.5]
duration = [2, 4]
card_delay = 0.3
unplug_delay = 0.3
[[faults.power_loss]]
at = 4
share = 0.5
off = 1
"""


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, await response.json(content_type=None)


async def _wait(http: aiohttp.ClientSession, url: str, check: Any, timeout: float) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            status, data = await _get(http, url)
            if status == 200 and check(data):
                return data
            await asyncio.sleep(0.2)


async def test_a_fleet_charges_recovers_and_loses_nothing(
    csms: CentralSystem, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    log = (tmp_path / "fleet.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "fleet", "--csms", csms.url, "--count", str(COUNT),
        "--connectors", "2", "--control", "127.0.0.1:0", "--scenario", str(scenario),
        "--summary-every", "1", "--ramp-up", "50",
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )  # fmt: skip
    log.close()
    assert proc.stdout is not None
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        async with asyncio.timeout(START_TIMEOUT):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("control: http://127.0.0.1:"), line
        api = line.split()[1]

        fleet = await _wait(
            http,
            f"{api}/api/fleet",
            lambda f: f["registration"].get("Accepted") == COUNT and f["sessions"] > 0,
            START_TIMEOUT,
        )
        assert fleet["stations"] == COUNT and fleet["connected"] == COUNT
        # The central system accepts every card: nothing rejected.
        assert fleet["sessionsRejected"] == 0 and fleet["sessionsFailed"] >= 0

        # The station list pages; each row is small.
        status, first = await _get(http, f"{api}/api/stations?limit=4")
        assert status == 200 and first["total"] == COUNT and len(first["stations"]) == 4
        assert first["stations"][0]["id"] == "FLEET-1"
        status, rest = await _get(http, api + first["next"])
        assert [s["id"] for s in rest["stations"]] == ["FLEET-5", "FLEET-6"] and rest[
            "next"
        ] is None
        status, bad = await _get(http, f"{api}/api/stations?limit=0")
        assert status == 422 and "limit" in bad["error"]

        # One station, through the single-station contract under /api/stations/{id}.
        status, one = await _get(http, f"{api}/api/stations/FLEET-3/status")
        assert status == 200 and one["id"] == "FLEET-3" and len(one["connectors"]) == 3
        status, missing = await _get(http, f"{api}/api/stations/FLEET-99/status")
        assert status == 404 and "FLEET-99" in missing["error"]
        async with http.post(f"{api}/api/stations/FLEET-3/connectors/7/plug") as response:
            assert response.status == 404

        # The scenario cuts the power of half the fleet at 4 s for 1 s.
        fleet = await _wait(
            http,
            f"{api}/api/fleet",
            lambda f: f["autopilot"]["powerLosses"] == COUNT // 2 and f["connected"] == COUNT,
            START_TIMEOUT,
        )
        await asyncio.sleep(2)  # sessions go on after the recovery
    finally:
        await http.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
    assert code == 0, (tmp_path / "fleet.log").read_text()[-3000:]
    # The console's summary lines count the sessions that went wrong as well.
    printed = (await proc.stdout.read()).decode()
    assert re.search(r"\d+ sessions \(0 rejected, \d+ failed\)", printed), printed[-500:]

    # Nothing lost: every transaction started at the central system was stopped, by the
    # driver, by the power loss recovery (PowerLoss) or by the controlled shutdown.
    stopped = reasons = 0
    seen_power_loss = False
    for identity in (f"FLEET-{n}" for n in range(1, COUNT + 1)):
        record = csms.record(identity)
        assert record.registration == "Accepted"
        assert record.open_transactions == {}, (identity, record.open_transactions)
        assert record.unmatched_stops == []
        stopped += len(record.finished_transactions)
        for tx in record.finished_transactions:
            reasons += 1
            seen_power_loss |= tx.stop_reason == "PowerLoss"
    assert stopped >= COUNT and reasons == stopped
    assert seen_power_loss


async def _start_fleet(csms: CentralSystem, tmp_path: Path, *extra: str) -> Any:
    log = (tmp_path / "fleet.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "fleet", "--csms", csms.url, "--count", "4",
        "--connectors", "2", "--control", "127.0.0.1:0", "--ramp-up", "50", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )  # fmt: skip
    log.close()
    assert proc.stdout is not None
    async with asyncio.timeout(START_TIMEOUT):
        line = (await proc.stdout.readline()).decode()
    assert line.startswith("control: "), line
    return proc, line.split()[1]


async def test_a_killed_fleet_with_a_state_dir_recovers_every_station(
    csms: CentralSystem, tmp_path: Path
) -> None:
    """SIGKILL of the whole fleet process, as a power cut of every station: on restart from
    the shared state file, sessions that were running end with PowerLoss and nothing is lost."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        "[sessions]\ngap = 0.5\nduration = 600\ncard_delay = 0.3\nunplug_delay = 0.3\n"
    )
    args = ("--state-dir", str(tmp_path / "state"), "--scenario", str(scenario))
    proc, api = await _start_fleet(csms, tmp_path, *args)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        await _wait(http, f"{api}/api/fleet", lambda f: f["sessions"] == 8, START_TIMEOUT)
        running = [
            tx.transaction_id
            for n in range(1, 5)
            for tx in csms.record(f"FLEET-{n}").open_transactions.values()
        ]
        assert len(running) == 8
        proc.kill()
        await proc.wait()

        proc, api = await _start_fleet(csms, tmp_path, *args)
        try:
            await _wait(
                http,
                f"{api}/api/fleet",
                lambda f: f["registration"].get("Accepted") == 4 and f["queuedMessages"] == 0,
                START_TIMEOUT,
            )
            async with asyncio.timeout(START_TIMEOUT):
                while any(csms.transaction(t) is None or not csms.transaction(t).ended
                          for t in running):  # fmt: skip
                    await asyncio.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await proc.wait() == 0
    for transaction_id in running:
        tx = csms.transaction(transaction_id)
        assert tx is not None and tx.stop_reason == "PowerLoss", transaction_id
    for n in range(1, 5):
        record = csms.record(f"FLEET-{n}")
        assert record.open_transactions == {} and record.unmatched_stops == []


async def test_a_scenario_power_cut_is_a_cut_not_a_shutdown(csms: CentralSystem) -> None:
    """In-process power loss of one fleet station: nothing is sent while it is dark (no
    StopTransaction, no close handshake); back on, it boots and then ends the session that was
    running with reason PowerLoss, as after SIGKILL of a single station."""
    scenario = Scenario(
        sessions=Sessions(gap=(0.2, 0.2), duration=(600, 600), card_delay=(0.2, 0.2))
    )
    fleet = Fleet(FleetOptions(csms_url=csms.url, count=1, connectors=1, scenario=scenario))
    task = asyncio.ensure_future(fleet.run())
    try:
        session = await csms.wait_for_station("FLEET-1", timeout=START_TIMEOUT)
        start = await session.expect("StartTransaction", timeout=START_TIMEOUT)
        await session.expect("StatusNotification", {"status": "Charging"})
        [station] = list(fleet)
        await station.power_loss()
        await asyncio.wait_for(session.closed.wait(), 5)
        # The cut wrote nothing either: the stop is the next start's recovery's to make.
        assert [m.action for m in station.store.outbox_pending()] == []
        station.power_on()
        again = await csms.wait_for_station("FLEET-1", timeout=START_TIMEOUT)
        await again.expect("BootNotification", timeout=START_TIMEOUT)
        stop = await again.expect("StopTransaction", timeout=START_TIMEOUT)
        assert stop.payload["reason"] == "PowerLoss"
        transaction = csms.transaction(stop.payload["transactionId"])
        assert transaction is not None and transaction.id_tag == start.payload["idTag"]
        stops = [m for s in (session, again) for m in s.messages if m.action == "StopTransaction"]
        assert len(stops) == 1  # the dark station sent nothing
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_fleet_api_cuts_one_stations_power(csms: CentralSystem) -> None:
    """`POST /api/stations/{id}/power-cut`: that station goes dark (409 meanwhile, the others
    go on) and comes back by itself after offSeconds."""
    fleet = Fleet(FleetOptions(csms_url=csms.url, count=2, connectors=1, autopilot=False))
    api = FleetApi(fleet)
    await api.start("127.0.0.1", 0)
    task = asyncio.ensure_future(fleet.run())
    try:
        first = await csms.wait_for_station("FLEET-1", timeout=START_TIMEOUT)
        await first.expect("BootNotification", timeout=START_TIMEOUT)
        await csms.wait_for_station("FLEET-2", timeout=START_TIMEOUT)
        base = f"{api.url}/api/stations"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/FLEET-1/power-cut", json={"offSeconds": 1}) as answer:
                assert (answer.status, await answer.json()) == (
                    200,
                    {"powered": False, "offSeconds": 1},
                )
            assert await _get(http, f"{base}/FLEET-1/status") == (
                409,
                {"error": "station FLEET-1 has no power"},
            )
            assert (await _get(http, f"{base}/FLEET-2/status"))[0] == 200
            async with http.post(f"{base}/NOPE/power-cut") as answer:
                assert answer.status == 404
            await asyncio.wait_for(first.closed.wait(), 5)
            again = await csms.wait_for_station("FLEET-1", timeout=START_TIMEOUT)
            await again.expect("BootNotification", timeout=START_TIMEOUT)
            status = await _wait(
                http, f"{base}/FLEET-1/status", lambda s: s.get("connected"), START_TIMEOUT
            )
            assert status["id"] == "FLEET-1"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.stop()


@pytest.mark.parametrize("transport", ["picows", "websockets"])
async def test_a_fleet_over_two_central_systems_and_two_source_addresses(transport: str) -> None:
    """Four stations, round-robin over two central systems, leaving from 127.0.0.2 and
    127.0.0.3 in turn (loopback answers to all of 127/8): each central system meets two, each
    from the address the station's number gives."""
    async with CentralSystem() as first, CentralSystem() as second:
        options = FleetOptions(
            csms_url=first.url,
            more_csms=(second.url,),
            count=4,
            connectors=1,
            autopilot=False,
            source_addresses=("127.0.0.2", "127.0.0.3"),
            station=StationOptions(transport=transport),
        )
        fleet = Fleet(options)
        task = asyncio.ensure_future(fleet.run())
        try:
            met: dict[str, tuple[str, str]] = {}
            for csms, identities in ((first, (1, 3)), (second, (2, 4))):
                for n in identities:
                    session = await csms.wait_for_station(f"FLEET-{n}", timeout=START_TIMEOUT)
                    await session.expect("BootNotification", timeout=START_TIMEOUT)
                    met[session.identity] = (csms.url, session.connection.remote_address[0])
            assert met == {
                "FLEET-1": (first.url, "127.0.0.2"),
                "FLEET-2": (second.url, "127.0.0.3"),
                "FLEET-3": (first.url, "127.0.0.2"),
                "FLEET-4": (second.url, "127.0.0.3"),
            }
            assert set(first.stations) == {"FLEET-1", "FLEET-3"}
            assert set(second.stations) == {"FLEET-2", "FLEET-4"}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
