"""The minimal central system: canned answers, the ledger, the HTTP API and the command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ocpp_station.csms.minimal import build_parser, main
from ocpp_station.csms.minimal.api import MinimalApi, percentile
from ocpp_station.csms.minimal.ledger import RECENT_STOPPED, Ledger
from ocpp_station.csms.minimal.server import BACKLOG, MinimalCentralSystem, MinimalServer
from ocpp_station.file_limit import RESERVE
from ocpp_station.rpc.schemas import validate_response
from ocpp_station.transport.select import picows_available
from tests.unit.test_csms_support import BOOT, WAIT, RawStation

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = "2024-05-01T10:00:00.000Z"


def start_payload(connector_id: int = 1, id_tag: str = "TAG1", timestamp: str = TIMESTAMP) -> Any:
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0, "timestamp": timestamp}


def meter_values(transaction_id: int | None) -> Any:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": [{"value": "10"}]}],
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def stop_payload(transaction_id: int, **extra: Any) -> Any:
    return {"transactionId": transaction_id, "meterStop": 10, "timestamp": TIMESTAMP, **extra}


# ---------------------------------------------------------------------------------- the ledger


def test_ledger_hands_out_increasing_ids_and_recognises_repeats() -> None:
    ledger = Ledger()
    a, b = ledger.station("A"), ledger.station("B")
    first = ledger.start(a, 1, "TAG1", TIMESTAMP)
    second = ledger.start(b, 1, "TAG1", TIMESTAMP)  # same key, other station: a new one
    third = ledger.start(a, 2, "TAG1", TIMESTAMP)
    assert (first, second, third) == (1, 2, 3)
    assert ledger.start(a, 1, "TAG1", TIMESTAMP) == first  # answered again, not a new one
    assert ledger.start(a, 1, "TAG2", TIMESTAMP) == 4  # another idTag: a new transaction
    assert (a.started, a.duplicates, b.started, b.duplicates) == (3, 1, 1, 0)
    assert ledger.totals()["started"] == 4
    assert ledger.totals()["duplicates"] == 1
    assert ledger.open == 4


def test_ledger_stops_and_meter_values() -> None:
    ledger = Ledger(first_transaction_id=100)
    a, b = ledger.station("A"), ledger.station("B")
    tx = ledger.start(a, 1, "TAG1", TIMESTAMP)
    assert tx == 100
    assert ledger.meter_value(a, tx) and ledger.meter_value(a, tx)
    assert not ledger.meter_value(b, tx)  # not B's transaction
    assert not ledger.stop(b, tx)
    assert a.open[tx].meter_values == 2
    assert ledger.stop(a, tx)
    assert not ledger.stop(a, tx)  # the same stop again
    assert not ledger.stop(a, 999)
    assert not ledger.meter_value(a, tx)  # after its stop
    assert ledger.start(a, 1, "TAG1", TIMESTAMP) == tx  # a late repeat of the start
    assert ledger.totals() == {
        "booted": 0,
        "started": 1,
        "open": 0,
        "stopped": 1,
        "duplicates": 1,
        "duplicateStops": 1,
        "unknownStops": 2,
        "meterValues": 2,
        "unknownMeterValues": 2,
    }
    assert a.as_json() == {
        "identity": "A",
        "booted": False,
        "started": 1,
        "stopped": 1,
        "open": [],
        "duplicates": 1,
        "duplicateStops": 1,
        "unknownStops": 1,
        "meterValues": 2,
        "unknownMeterValues": 1,
    }


def test_ledger_forgets_all_but_the_recent_stops() -> None:
    ledger = Ledger()
    a = ledger.station("A")
    stamps = [f"2024-05-01T10:00:0{i}.000Z" for i in range(RECENT_STOPPED + 1)]
    for stamp in stamps:
        assert ledger.stop(a, ledger.start(a, 1, "TAG1", stamp))
    assert len(a.recent) == RECENT_STOPPED
    assert ledger.start(a, 1, "TAG1", stamps[-1]) == RECENT_STOPPED + 1  # still known
    assert ledger.start(a, 1, "TAG1", stamps[0]) == RECENT_STOPPED + 2  # forgotten: new id
    assert a.duplicates == 1


def test_ledger_rejects_a_bad_first_id() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        Ledger(first_transaction_id=0)


# ---------------------------------------------------------------------------------- the core


def answer(core: MinimalCentralSystem, frame: Any, identity: str = "CP-1") -> list[Any]:
    reply = core.handle(core.ledger.station(identity), orjson.dumps(frame))
    assert reply is not None
    return orjson.loads(reply)


def result(core: MinimalCentralSystem, action: str, payload: Any) -> Any:
    frame = answer(core, [2, "u1", action, payload])
    assert frame[:2] == [3, "u1"], frame
    validate_response(action, frame[2], lenient_timestamps=False)
    return frame[2]


def test_every_core_call_gets_a_schema_valid_answer() -> None:
    core = MinimalCentralSystem(heartbeat_interval=300)
    boot = result(core, "BootNotification", BOOT)
    assert (boot["status"], boot["interval"]) == ("Accepted", 300)
    assert set(result(core, "Heartbeat", {})) == {"currentTime"}
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    assert result(core, "StatusNotification", status) == {}
    assert result(core, "Authorize", {"idTag": "TAG1"}) == {"idTagInfo": {"status": "Accepted"}}
    started = result(core, "StartTransaction", start_payload())
    assert started == {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
    assert result(core, "MeterValues", meter_values(1)) == {}
    assert result(core, "MeterValues", meter_values(None)) == {}  # outside a transaction
    assert result(core, "StopTransaction", stop_payload(1)) == {}
    stopped = result(core, "StopTransaction", stop_payload(1, idTag="TAG1"))
    assert stopped == {"idTagInfo": {"status": "Accepted"}}
    assert result(core, "DataTransfer", {"vendorId": "Acme"}) == {"status": "Rejected"}
    firmware = {"status": "Installed"}
    assert result(core, "FirmwareStatusNotification", firmware) == {}
    assert result(core, "DiagnosticsStatusNotification", {"status": "Uploaded"}) == {}
    stats = core.stats()
    assert stats["messagesTotal"] == 12
    assert stats["messages"]["StopTransaction"] == 2
    assert stats["messages"]["MeterValues"] == 2
    assert (stats["booted"], stats["started"], stats["stopped"], stats["open"]) == (1, 1, 1, 0)
    assert (stats["meterValues"], stats["duplicateStops"]) == (1, 1)


def test_boot_status_pending_is_not_counted_as_booted() -> None:
    core = MinimalCentralSystem(boot_status="Pending", heartbeat_interval=5)
    assert result(core, "BootNotification", BOOT)["status"] == "Pending"
    assert core.stats()["booted"] == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="boot status"):
        MinimalCentralSystem(boot_status="accepted")
    with pytest.raises(ValueError, match="negative"):
        MinimalCentralSystem(heartbeat_interval=-1)
    with pytest.raises(ValueError, match="transport"):
        MinimalServer(MinimalCentralSystem(), "tcp")


def test_calls_it_cannot_answer_get_call_errors() -> None:
    core = MinimalCentralSystem()
    frame = answer(core, [2, "u1", "SignCertificate", {}])
    assert frame[:3] == [4, "u1", "NotImplemented"]
    assert answer(core, [2, "u2", "StartTransaction", []])[2] == "FormationViolation"
    assert answer(core, [2, "u3", "StartTransaction", {"connectorId": 1}])[2] == "ProtocolError"
    assert answer(core, [2, "u4", "StopTransaction", {"transactionId": "1"}])[2] == "ProtocolError"
    bad_id = answer(core, [2, "u5", "MeterValues", {"connectorId": 1, "transactionId": 1.5}])
    assert bad_id[2] == "TypeConstraintViolation"
    assert answer(core, [2, "u6", "Heartbeat"])[2] == "FormationViolation"
    account = core.ledger.station("CP-1")
    assert core.handle(account, b"not json") is None
    assert core.handle(account, b"{}") is None
    assert core.handle(account, b"[9, 1]") is None
    assert core.handle(account, b'[3, "nobody-asked", {}]') is None
    stats = core.stats()
    assert (stats["malformed"], stats["answers"], stats["callErrors"]) == (4, 1, 6)
    assert stats["messages"]["SignCertificate"] == 1
    assert stats["started"] == 0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([7.0], 0.99)) == (
        50.0,
        99.0,
        7.0,
    )


# ---------------------------------------------------------------------------------- over the wire

TRANSPORTS = [
    "websockets",
    pytest.param(
        "picows",
        marks=pytest.mark.skipif(not picows_available(), reason="picows is not installed"),
    ),
]


class Running:
    def __init__(self, server: MinimalServer, api: MinimalApi, http: aiohttp.ClientSession):
        self.server = server
        self.api = api
        self.http = http
        self.core = server.core

    async def station(self, identity: str) -> RawStation:
        return await RawStation.connect(f"{self.server.url}/{identity}")

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.api.url + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.api.url + path, json=body) as response:
            return response.status, await response.json()

    async def connected(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while self.core.connected != count:
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serving(transport: str, max_connections: int | None = None) -> AsyncIterator[Running]:
    """The central system and its API on free ports of 127.0.0.1, and a client for the API."""
    server = MinimalServer(MinimalCentralSystem(heartbeat_interval=60), transport, max_connections)
    api = MinimalApi(server)
    await server.start("127.0.0.1", 0)
    await api.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http:
            yield Running(server, api, http)
    finally:
        await api.stop()
        await server.stop()


@pytest.fixture(params=TRANSPORTS)
async def running(request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    async with serving(request.param) as running:
        yield running


async def test_boot_transactions_and_the_ledger_over_the_wire(running: Running) -> None:
    station = await running.station("CP-1")
    other = await running.station("CP-2")
    try:
        boot = await station.result("BootNotification", BOOT)
        assert (boot["status"], boot["interval"]) == ("Accepted", 60)
        await station.result("BootNotification", BOOT)  # a reboot: still one station
        await other.result("BootNotification", BOOT)
        tx = (await station.result("StartTransaction", start_payload()))["transactionId"]
        repeat = await station.result("StartTransaction", start_payload())
        assert repeat["transactionId"] == tx
        other_tx = (await other.result("StartTransaction", start_payload()))["transactionId"]
        assert other_tx > tx
        for _ in range(3):
            await station.result("MeterValues", meter_values(tx))
        await station.result("MeterValues", meter_values(other_tx))  # not this station's
        status, ledger = await running.get("/stations/CP-1")
        assert status == 200
        assert ledger["connected"] is True
        assert ledger["open"] == [
            {
                "transactionId": tx,
                "connectorId": 1,
                "idTag": "TAG1",
                "timestamp": TIMESTAMP,
                "meterValues": 3,
            }
        ]
        await station.result("StopTransaction", stop_payload(tx))
        await station.result("StopTransaction", stop_payload(12345))
        status, stats = await running.get("/stats")
        assert status == 200
        assert stats["transport"] == running.server.transport
        assert (stats["connected"], stats["booted"]) == (2, 2)
        assert stats["messages"] == {
            "BootNotification": 3,
            "StartTransaction": 3,
            "MeterValues": 4,
            "StopTransaction": 2,
        }
        assert stats["messagesTotal"] == 12
        expected = {"started": 2, "open": 1, "stopped": 1, "duplicates": 1, "unknownStops": 1}
        assert {key: stats[key] for key in expected} == expected
        assert (stats["meterValues"], stats["unknownMeterValues"]) == (3, 1)
        assert stats["cpuSeconds"] > 0
        assert stats["rssBytes"] > 0
    finally:
        await station.close()
        await other.close()
    await running.connected(0)
    status, ledger = await running.get("/stations/CP-1")
    assert (status, ledger["connected"], ledger["stopped"]) == (200, False, 1)
    status, error = await running.get("/stations/CP-9")
    assert status == 404
    assert "CP-9" in error["error"]


async def test_the_subprotocol_is_required(running: Running) -> None:
    async with asyncio.timeout(WAIT):
        async with connect(f"{running.server.url}/CP-1", compression=None, proxy=None) as ws:
            await ws.wait_closed()
    assert ws.close_code == 1002
    assert running.core.connections == 0


async def test_a_reconnect_replaces_the_older_connection(running: Running) -> None:
    first = await running.station("CP-1")
    second = await running.station("CP-1")
    try:
        await running.connected(1)
        await first.close()
        await second.result("Heartbeat", {})
        assert running.core.connected == 1  # the older one leaving does not disconnect CP-1
    finally:
        await second.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_station_beyond_capacity_is_answered_503(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Past its capacity the central system refuses a station with HTTP 503 (the station backs
    off and says why) rather than running out of open files; room again lets it in."""
    stations: list[RawStation] = []
    async with serving(transport, max_connections=2) as running:
        try:
            stations += [await running.station("CP-1"), await running.station("CP-2")]
            await running.connected(2)
            for _ in range(2):
                with pytest.raises(InvalidStatus) as refused:
                    await running.station("CP-3")
                assert refused.value.response.status_code == 503
            _, stats = await running.get("/stats")
            assert (stats["maxConnections"], stats["refused"], stats["connected"]) == (2, 2, 2)
            # Said once in the log for the two (at most every FULL_LOG_EVERY seconds).
            said = [r.getMessage() for r in caplog.records if "at capacity" in r.getMessage()]
            assert len(said) == 1
            assert said[0].startswith("at capacity: 2 stations connected, new ones refused")
            await stations.pop(0).close()
            await running.connected(1)
            stations.append(await running.station("CP-3"))
            boot = await stations[-1].result("BootNotification", BOOT)
            assert boot["status"] == "Accepted"
        finally:
            for station in stations:
                await station.close()


async def test_the_capacity_follows_the_open_file_limit() -> None:
    """By default: the open files the process may have, less the reserve and room for one
    burst of accepts."""
    server = MinimalServer(MinimalCentralSystem())
    await server.start("127.0.0.1", 0)
    try:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert server.max_connections is not None
        if limit != resource.RLIM_INFINITY:
            backlog = min(BACKLOG, max(16, limit // 16))
            assert server.max_connections == max(1, limit - RESERVE - backlog - 1)
    finally:
        await server.stop()
    with pytest.raises(ValueError, match="at least 1"):
        MinimalServer(MinimalCentralSystem(), max_connections=0)


async def _answer_remote_starts(station: RawStation, answer: dict[str, Any] | None) -> None:
    """Answer each RemoteStartTransaction with `answer` (a CALLERROR when None)."""
    while True:
        call = await station.calls.get()
        assert call[2] == "RemoteStartTransaction"
        assert call[3] == {"idTag": "REMOTE1", "connectorId": 2}
        if answer is None:
            await station.reply_error(call[1], "InternalError")
        else:
            await station.reply(call[1], answer)


async def test_remote_start_reports_latencies_and_statuses(running: Running) -> None:
    stations = [await running.station(f"CP-{i}") for i in range(4)]
    answers = [{"status": "Accepted"}, {"status": "Accepted"}, {"status": "Rejected"}, None]
    answering = [
        asyncio.create_task(_answer_remote_starts(station, reply))
        for station, reply in zip(stations, answers, strict=True)
    ]
    try:
        await running.connected(4)
        body = {"count": 4, "connectorId": 2, "idTag": "REMOTE1"}
        status, report = await running.post("/remote-start", body)
        assert status == 200, report
        assert report["statuses"] == {"Accepted": 2, "Rejected": 1, "CallError:InternalError": 1}
        assert (report["count"], report["answered"]) == (4, 4)
        assert 0 < report["p50Ms"] <= report["p99Ms"] <= report["maxMs"]
        status, error = await running.post("/remote-start", {**body, "count": 5})
        assert status == 409
        assert "4 connected" in error["error"]
        for bad in ({"count": 0}, {"idTag": ""}, {"connectorId": 0}, {"timeout": -1}):
            status, error = await running.post("/remote-start", {**body, **bad})
            assert status == 400, bad
            assert error["error"]
        async with running.http.post(running.api.url + "/remote-start", data=b"[") as response:
            assert response.status == 400
    finally:
        for task in answering:
            task.cancel()
        await asyncio.gather(*answering, return_exceptions=True)
        for station in stations:
            await station.close()


async def test_remote_start_counts_silence_as_timeout(running: Running) -> None:
    station = await running.station("CP-1")
    try:
        await running.connected(1)
        body = {"count": 1, "idTag": "REMOTE1", "timeout": 0.2}
        status, report = await running.post("/remote-start", body)
        assert status == 200
        assert report == {
            "count": 1,
            "answered": 0,
            "p50Ms": None,
            "p99Ms": None,
            "maxMs": None,
            "statuses": {"Timeout": 1},
        }
        call = await station.next_call()
        assert call[3] == {"idTag": "REMOTE1"}  # no connectorId asked, none sent
    finally:
        await station.close()


async def test_remote_start_to_a_station_that_leaves(running: Running) -> None:
    station = await running.station("CP-1")
    await running.connected(1)
    body = {"count": 1, "idTag": "REMOTE1", "timeout": WAIT}
    request = asyncio.create_task(running.post("/remote-start", body))
    try:
        await station.next_call()
        await station.close()
        status, report = await request
    finally:
        request.cancel()
    assert (status, report["answered"], report["statuses"]) == (200, 0, {"Disconnected": 1})
    assert running.core._waiting == {}  # nothing left behind for the gone connection


async def test_remote_stop_all_stops_every_open_transaction(running: Running) -> None:
    station = await running.station("CP-1")
    try:
        first = (await station.result("StartTransaction", start_payload(1)))["transactionId"]
        second = (await station.result("StartTransaction", start_payload(2)))["transactionId"]
        request = asyncio.create_task(running.post("/remote-stop-all", {"timeout": WAIT}))
        asked = set()
        for _ in range(2):
            call = await station.next_call()
            assert call[2] == "RemoteStopTransaction"
            asked.add(call[3]["transactionId"])
            await station.reply(call[1], {"status": "Accepted"})
        status, report = await request
        assert asked == {first, second}
        assert (status, report) == (200, {"count": 2, "statuses": {"Accepted": 2}})
    finally:
        await station.close()


async def test_a_charging_profile_goes_to_every_connected_station(running: Running) -> None:
    """A load test's profile on every station: each gets the same SetChargingProfile, and the
    answers are counted by status."""
    stations = [await running.station(f"CP-{i}") for i in (1, 2)]
    profile = {"chargingProfileId": 1, "stackLevel": 0}
    body = {"connectorId": 0, "csChargingProfiles": profile, "timeout": WAIT}
    try:
        request = asyncio.create_task(running.post("/charging-profile-all", body))
        for station, answer in zip(stations, ("Accepted", "Rejected"), strict=True):
            call = await station.next_call()
            assert call[2:] == [
                "SetChargingProfile",
                {"connectorId": 0, "csChargingProfiles": profile},
            ]
            await station.reply(call[1], {"status": answer})
        result = await request
        assert result == (200, {"count": 2, "statuses": {"Accepted": 1, "Rejected": 1}})
        status, report = await running.post("/charging-profile-all", {"connectorId": -1})
        assert status == 400 and "connectorId >= 0" in report["error"]
    finally:
        for station in stations:
            await station.close()


# ---------------------------------------------------------------------------------- the command


def test_options() -> None:
    args = build_parser().parse_args(
        ["--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--heartbeat-interval", "30"]
    )
    assert (args.listen, args.api, args.heartbeat_interval) == (
        ("127.0.0.1", 0),
        ("127.0.0.1", 0),
        30,
    )
    assert (args.boot, args.transport, args.loop) == ("accept", "auto", "auto")
    assert args.max_connections is None
    assert build_parser().parse_args(["--max-connections", "5"]).max_connections == 5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--max-connections", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--boot", "maybe"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--heartbeat-interval", "-1"])


def test_main_refuses_a_transport_that_is_not_installed(capsys: pytest.CaptureFixture[str]) -> None:
    if picows_available():
        pytest.skip("picows is installed")
    assert main(["--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--transport", "picows"]) == 1
    assert "needs the picows package" in capsys.readouterr().err


def test_the_flags_are_those_of_the_csms_command() -> None:
    """`ocpp-station csms-minimal` takes `ocpp-station csms`'s flags for what both do."""
    from ocpp_station.cli import build_parser as top

    full = top().parse_args(["csms", "--boot", "pending", "--heartbeat-interval", "9"])
    minimal = top().parse_args(["csms-minimal", "--boot", "pending", "--heartbeat-interval", "9"])
    for name in ("listen", "api", "boot", "heartbeat_interval"):
        assert getattr(full, name) == getattr(minimal, name), name


async def test_the_command_prints_its_addresses_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_station.csms.minimal",
        "--listen",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        "--boot",
        "reject",
        "--heartbeat-interval",
        "7",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            csms_line = (await process.stdout.readline()).decode().strip()
            api_line = (await process.stdout.readline()).decode().strip()
        assert csms_line.startswith("csms: ws://127.0.0.1:"), csms_line
        assert api_line.startswith("api: http://127.0.0.1:"), api_line
        station = await RawStation.connect(csms_line.removeprefix("csms: ") + "/CP-1")
        try:
            boot = await station.result("BootNotification", BOOT)
            assert (boot["status"], boot["interval"]) == ("Rejected", 7)
        finally:
            await station.close()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http:
            async with http.get(api_line.removeprefix("api: ") + "/stats") as response:
                stats = await response.json()
        assert (stats["messagesTotal"], stats["booted"]) == (1, 0)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
