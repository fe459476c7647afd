"""The station's outside interface (interface.md) and its handling of bad input at the edges:
the command line, the HTTP control API, and bad frames from the central system (OCPP-J 4.2.3).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import StationSession
from tests.integration.conftest import StationProcess, boot

TAG = "CONTRACT-TAG"
PROCESS_TIMEOUT = 20.0
CONSOLE_SCRIPT = Path(sys.executable).parent / "ocpp-station"


# ---------------------------------------------------------------------------- helpers


async def spawn(*args: str, log: Path | None = None) -> asyncio.subprocess.Process:
    """A process with its stdout piped; stderr piped too, or (for a process that keeps running
    and logging) written to `log` so that a full pipe never blocks it."""
    if log is None:
        return await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )


async def finish(
    proc: asyncio.subprocess.Process, timeout: float = PROCESS_TIMEOUT
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a process that should end by itself."""
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"the process was still running after {timeout:g} s")
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def read_line(proc: asyncio.subprocess.Process, pattern: str) -> re.Match[str]:
    """The first stdout line matching `pattern` (the lines before it are skipped)."""
    assert proc.stdout is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                pytest.fail(f"the process ended without a line matching {pattern!r}")
            found = re.fullmatch(pattern, line.strip())
            if found is not None:
                return found


async def terminate(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM, and the exit code (SIGKILL if it does not go)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the process did not exit on SIGTERM")
    assert proc.returncode is not None
    return proc.returncode


async def raw_request(
    station: StationProcess, method: str, path: str, data: str | None = None
) -> tuple[int, Any]:
    """A request with a body sent as it is (for bodies that are not JSON)."""
    assert station.http is not None
    headers = {"Content-Type": "application/json"}
    async with station.http.request(
        method, station.control + path, data=data, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


def assert_error(status: int, body: Any, expected: int) -> None:
    """An error answer of the control API: the status and a body {"error": "<sentence>"}."""
    assert status == expected, (status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"].strip(), body


async def wait_registration(station: StationProcess, value: str, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while (await station.status())["registration"] != value:
            await asyncio.sleep(0.05)


async def http_status(url: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url + "/api/status") as response,
    ):
        assert response.status == 200
        return await response.json()


async def wait_accepted(control: str) -> dict[str, Any]:
    async with asyncio.timeout(PROCESS_TIMEOUT):
        while True:
            snapshot = await http_status(control)
            if snapshot["registration"] == "Accepted" and snapshot["connected"] is True:
                return snapshot
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------- command line

BAD_ARGUMENTS = {
    "unknown option": ["--no-such-option"],
    "control without port": ["--control", "nowhere"],
    "control port out of range": ["--control", "127.0.0.1:70000"],
    "config value out of range": ["--config", "MeterValueSampleInterval=-1"],
    "config value of the wrong type": ["--config", "HeartbeatInterval=often"],
    "unknown config key": ["--config", "NoSuchKey=1"],
    "config without a value": ["--config", "HeartbeatInterval"],
    "config of a read-only key": ["--config", "GetConfigurationMaxKeys=5"],
    "csms not a websocket url": ["--csms", "http://127.0.0.1:9"],
    "csms without a host": ["--csms", "ws://"],
    "csms port out of range": ["--csms", "ws://127.0.0.1:99999"],
    "no connectors": ["--connectors", "0"],
    "empty password": ["--password", ""],
    "vendor too long": ["--vendor", "V" * 21],
}


@pytest.mark.parametrize("args", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
async def test_bad_arguments_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    """Bad command-line arguments: exit code 2 and a one-line reason on stderr; nothing starts.

    The case's own options come last so that they win over the harmless defaults before them.
    """
    proc = await spawn(
        sys.executable,
        "-m",
        "ocpp_station",
        "run",
        "--state-dir",
        str(tmp_path / "state"),
        "--control",
        "127.0.0.1:0",
        "--csms",
        "ws://127.0.0.1:9",
        *args,
    )
    code, out, err = await finish(proc, timeout=10)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert "control:" not in out


async def test_sigterm_exits_0(csms: CentralSystem, make_station) -> None:
    """`ocpp-station run` ends with exit code 0 on SIGTERM, after stopping its session
    (PowerLoss) and delivering the StopTransaction."""
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    await station.rfid("SIGTERM-TAG", 1)
    await session.expect("StartTransaction", {"connectorId": 1})
    assert await station.stop() == 0
    stop = await session.expect("StopTransaction", {"reason": "PowerLoss"}, timeout=1)
    assert stop.payload["idTag"] == "SIGTERM-TAG"
    assert "shutting down" in station.log_text()


async def test_csms_command_prints_its_address(tmp_path: Path) -> None:
    """`ocpp-station csms --listen 127.0.0.1:0` prints `csms: ws://HOST:PORT` with the port it
    got; a station connects to that address and is accepted; SIGTERM ends it with 0."""
    assert CONSOLE_SCRIPT.exists(), "the ocpp-station console script is not installed"
    csms_proc = await spawn(
        str(CONSOLE_SCRIPT),
        "csms",
        "--listen",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        log=tmp_path / "csms.log",
    )
    station_proc: asyncio.subprocess.Process | None = None
    try:
        found = await read_line(csms_proc, r"csms: (ws://127\.0\.0\.1:(\d+))")
        url, port = found.group(1), int(found.group(2))
        assert port != 0
        station_proc = await spawn(
            str(CONSOLE_SCRIPT),
            "run",
            "--csms",
            url,
            "--control",
            "127.0.0.1:0",
            "--state-dir",
            str(tmp_path / "state"),
            log=tmp_path / "station.log",
        )
        control = (await read_line(station_proc, r"control: (http://\S+)")).group(1)
        await wait_accepted(control)
        assert await terminate(station_proc) == 0
        assert await terminate(csms_proc) == 0
    finally:
        for proc in (station_proc, csms_proc):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_run_without_csms_starts_the_embedded_one(tmp_path: Path) -> None:
    """`ocpp-station run` without --csms prints `control: http://...` and `csms: ws://...`
    and the station is accepted by the central system it started."""
    proc = await spawn(
        str(CONSOLE_SCRIPT),
        "run",
        "--control",
        "127.0.0.1:0",
        "--state-dir",
        str(tmp_path / "state"),
        log=tmp_path / "station.log",
    )
    try:
        control = (await read_line(proc, r"control: (http://127\.0\.0\.1:\d+)")).group(1)
        await read_line(proc, r"csms: ws://127\.0\.0\.1:\d+")
        # The state folder is named, so a newcomer knows what --reset would clear.
        await read_line(proc, "state: " + re.escape(str(tmp_path / "state")))
        await wait_accepted(control)
        assert await terminate(proc) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_password_sends_basic_auth(make_station) -> None:
    """`--password` sends HTTP Basic authentication (security profile 1: user = identity); a
    central system that demands that password accepts the station, and the password is never
    read back over OCPP ([W] 7.2: AuthorizationKey is write-only)."""
    password = "contract-password-0123"
    central = CentralSystem("127.0.0.1", 0, heartbeat_interval=60, passwords={"CP-1": password})
    await central.start()
    try:
        station = await make_station("--password", password, url=central.url)
        session = await boot(central, station)
        assert (await station.status())["registration"] == "Accepted"
        everything = await session.call("GetConfiguration", {})
        values = [entry.get("value") for entry in everything["configurationKey"]]
        assert password not in values
        asked = await session.call("GetConfiguration", {"key": ["AuthorizationKey"]})
        assert password not in [entry.get("value") for entry in asked["configurationKey"]]
    finally:
        await central.stop()


async def test_csms_url_with_id_placeholder(csms: CentralSystem, make_station) -> None:
    """A --csms URL holding `{id}` gets the identity there instead of appended (interface.md):
    with a query after the placeholder, appending would give the central system another path."""
    station = await make_station(url=f"{csms.url}/ocpp/{{id}}?site=7")
    session = await boot(csms, station)
    request = session.connection.request
    assert request is not None and request.path == "/ocpp/CP-1?site=7"


# ---------------------------------------------------------------------------- control API


def check_connector_shape(entry: dict[str, Any], connector_id: int) -> None:
    assert entry["id"] == connector_id
    assert isinstance(entry["status"], str) and isinstance(entry["errorCode"], str)
    if connector_id == 0:
        return
    assert isinstance(entry["plugged"], bool)
    assert isinstance(entry["energyWh"], int | float) and not isinstance(entry["energyWh"], bool)
    assert isinstance(entry["powerW"], int | float) and not isinstance(entry["powerW"], bool)
    assert entry.get("transactionId") is None or isinstance(entry["transactionId"], int)
    assert entry.get("idTag") is None or isinstance(entry["idTag"], str)


async def test_status_shape(csms: CentralSystem, make_station) -> None:
    """GET /api/status: the keys and types interface.md shows, idle and while charging."""
    station = await make_station()
    await boot(csms, station)
    snapshot = await station.status()
    assert snapshot["id"] == "CP-1"
    assert snapshot["connected"] is True
    assert snapshot["registration"] == "Accepted"
    assert isinstance(snapshot["queuedMessages"], int)
    assert [c["id"] for c in snapshot["connectors"]] == [0, 1, 2]
    for connector_id, entry in enumerate(snapshot["connectors"]):
        check_connector_shape(entry, connector_id)
    assert snapshot["connectors"][1]["plugged"] is False

    plugged = await station.plug(1)
    assert plugged["id"] == 1 and plugged["plugged"] is True  # the new status of connector 1
    await station.rfid(TAG, 1)
    await station.wait_status(1, "Charging")
    tx = next(iter(csms.record("CP-1").open_transactions.values()))
    async with asyncio.timeout(10):
        while (entry := await station.connector(1))["transactionId"] is None:
            await asyncio.sleep(0.05)
    check_connector_shape(entry, 1)
    assert (entry["status"], entry["errorCode"]) == ("Charging", "NoError")
    assert (entry["transactionId"], entry["idTag"]) == (tx.transaction_id, TAG)
    assert entry["energyWh"] >= 0 and entry["powerW"] > 0


async def test_registration_values(make_station) -> None:
    """`registration` goes None (never answered) -> Pending -> Rejected -> Accepted, as the
    central system answers the BootNotifications (retry interval shrunk to 1 s)."""
    central = CentralSystem("127.0.0.1", 0, heartbeat_interval=1, boot_status="Pending")
    await central.start()
    try:
        central.accepting = False
        station = await make_station(url=central.url)
        snapshot = await station.status()
        assert (snapshot["registration"], snapshot["connected"]) == ("None", False)
        central.accepting = True
        await wait_registration(station, "Pending")
        central.boot_status = "Rejected"
        await wait_registration(station, "Rejected")
        central.boot_status = "Accepted"
        await wait_registration(station, "Accepted")
    finally:
        await central.stop()


async def test_control_api_errors(csms: CentralSystem, make_station) -> None:
    """404 for an unknown connector, 409 for an action that makes no sense now, 422 for a
    malformed body; every error body is {"error": "<sentence>"}; the station goes on."""
    station: StationProcess = await make_station()
    await boot(csms, station)

    for path in ("/api/connectors/3/plug", "/api/connectors/abc/unplug"):
        assert_error(*await station.request("POST", path), 404)
    assert_error(*await station.request("POST", "/api/connectors/3/fault", {"errorCode": "X"}), 404)

    await station.plug(1)
    assert_error(*await station.request("POST", "/api/connectors/1/plug"), 409)
    assert_error(*await station.request("POST", "/api/connectors/2/unplug"), 409)

    assert_error(*await raw_request(station, "POST", "/api/rfid", '{"idTag": '), 422)
    assert_error(*await station.request("POST", "/api/rfid", {}), 422)
    assert_error(*await station.request("POST", "/api/rfid", {"idTag": 17}), 422)
    assert_error(*await station.request("POST", "/api/rfid", {"idTag": "X" * 21}), 422)
    assert_error(*await station.request("POST", "/api/rfid", [TAG]), 422)
    assert_error(*await station.request("POST", "/api/rfid", {"idTag": TAG, "connectorId": 7}), 404)
    fault = "/api/connectors/2/fault"
    assert_error(*await raw_request(station, "POST", fault, "{not json"), 422)
    assert_error(*await station.request("POST", fault, {}), 422)
    assert_error(*await station.request("POST", fault, {"errorCode": "NoSuchError"}), 422)

    snapshot = await station.status()
    assert [c["status"] for c in snapshot["connectors"]] == ["Available", "Preparing", "Available"]
    assert snapshot["connected"] is True


async def test_config_entries(csms: CentralSystem, make_station) -> None:
    """GET /api/config: every key as {"key", "value", "readonly"}, agreeing with what the
    central system reads with GetConfiguration (after a change, too)."""
    station = await make_station("--config", "ConnectionTimeOut=45")
    session = await boot(csms, station)
    answer = await session.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "33"})
    assert answer == {"status": "Accepted"}
    code, entries = await station.request("GET", "/api/config")
    assert code == 200 and isinstance(entries, list)
    for entry in entries:
        assert set(entry) >= {"key", "value", "readonly"}, entry
        assert isinstance(entry["key"], str) and isinstance(entry["readonly"], bool)
    local = {entry["key"]: entry for entry in entries}
    remote = (await session.call("GetConfiguration", {}))["configurationKey"]
    for entry in remote:
        assert entry["key"] in local, entry
        mine = local[entry["key"]]
        assert (mine["value"], mine["readonly"]) == (entry.get("value"), entry["readonly"])
    assert local["HeartbeatInterval"]["value"] == "33"
    assert local["ConnectionTimeOut"]["value"] == "45"


async def test_messages_after(csms: CentralSystem, make_station) -> None:
    """GET /api/messages?after=N: the frames sent and received after sequence number N, as
    {"seq", "time", "direction", "frame"} in order."""
    station = await make_station()
    session = await boot(csms, station)
    code, before = await station.request("GET", "/api/messages?after=0")
    assert code == 200 and before
    seqs = [entry["seq"] for entry in before]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and min(seqs) > 0
    assert before[0]["direction"] == "out" and before[0]["frame"][2] == "BootNotification"
    last = seqs[-1]

    await session.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
    code, after = await station.request("GET", f"/api/messages?after={last}")
    assert code == 200
    assert all(entry["seq"] > last for entry in after), after
    for entry in after:
        assert set(entry) >= {"seq", "time", "direction", "frame"}, entry
        assert entry["direction"] in ("in", "out") and isinstance(entry["frame"], list)
        assert isinstance(entry["time"], int | float | str)
    calls = [
        e for e in after if e["direction"] == "in" and e["frame"][:3:2] == [2, "GetConfiguration"]
    ]
    assert len(calls) == 1, after
    message_id = calls[0]["frame"][1]
    answers = [e for e in after if e["direction"] == "out" and e["frame"][:2] == [3, message_id]]
    assert len(answers) == 1 and answers[0]["seq"] > calls[0]["seq"], after
    code, none = await station.request("GET", f"/api/messages?after={after[-1]['seq']}")
    assert code == 200 and none == []


# ---------------------------------------------------------------------------- bad frames

# An action of each optional profile, with a valid payload, that a station without the profile
# must answer NotSupported (OCPP-J 4.2.3: "requested Action is recognized but not supported").
# Local Auth List Management is left out: GetLocalListVersion may also answer -1 there.
PROFILE_ACTIONS = {
    "Reservation": (
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": "2030-01-01T00:00:00Z",
            "idTag": TAG,
            "reservationId": 1,
        },
    ),
    "SmartCharging": ("ClearChargingProfile", {}),
    "RemoteTrigger": ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    "FirmwareManagement": ("GetDiagnostics", {"location": "ftp://diagnostics.invalid/"}),
}


async def call_error(session: StationSession, message_id: str, data: str) -> str:
    """The errorCode of the CALLERROR the station answers `data` with."""
    answer = await session.call_raw(data, message_id, timeout=5)
    assert answer[0] == 4, answer
    assert len(answer) == 5 and isinstance(answer[3], str) and isinstance(answer[4], dict), answer
    return str(answer[2])


def call(message_id: str, action: str, payload: Any) -> str:
    return orjson.dumps([2, message_id, action, payload]).decode()


async def test_bad_frames_get_the_ocpp_j_error(csms: CentralSystem, make_station) -> None:
    """Bad CALLs from the central system get the CALLERROR OCPP-J 4.2.3 names, and the station
    keeps running: a normal request is answered afterwards and nothing was acted upon."""
    station = await make_station()
    session = await boot(csms, station)
    mark = session.cursor()

    assert await call_error(session, "bad-1", '[2, "bad-1", "Heartbeat", {"a": ') == (
        "FormationViolation"
    )
    assert await call_error(session, "bad-2", call("bad-2", "FlyToTheMoon", {})) == (
        "NotImplemented"
    )
    entry = await session.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    declared = entry["configurationKey"][0]["value"].split(",")
    for number, (profile, (action, payload)) in enumerate(PROFILE_ACTIONS.items()):
        if profile in declared:
            continue
        message_id = f"profile-{number}"
        code = await call_error(session, message_id, call(message_id, action, payload))
        assert code == "NotSupported", (action, code)
    cases = {
        "ProtocolError": {"connectorId": 1},  # required "type" missing
        "TypeConstraintViolation": {"connectorId": "1", "type": "Operative"},
        "PropertyConstraintViolation": {"connectorId": 1, "type": "Sideways"},
        "FormationViolation": {"connectorId": 1, "type": "Inoperative", "colour": "red"},
    }
    for number, (expected, payload) in enumerate(cases.items()):
        message_id = f"availability-{number}"
        code = await call_error(
            session, message_id, call(message_id, "ChangeAvailability", payload)
        )
        assert code == expected, (payload, code)
    # A payload that is not an object does not conform to the PDU structure.
    code = await call_error(session, "array-1", call("array-1", "ChangeAvailability", [1]))
    assert code == "FormationViolation"
    # A key longer than its CiString50 is an invalid value.
    long_key = {"key": "K" * 51, "value": "1"}
    code = await call_error(session, "long-1", call("long-1", "ChangeConfiguration", long_key))
    assert code == "PropertyConstraintViolation"
    # Not even a frame: nothing to answer, and nothing breaks.
    await session.send_raw("this is not OCPP")

    answer = await session.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert answer["configurationKey"][0]["key"] == "HeartbeatInterval"
    # The rejected ChangeAvailability (Inoperative with an extra property) changed nothing.
    await session.expect_none("StatusNotification", within=0.5, after=mark)
    snapshot = await station.status()
    assert snapshot["connected"] is True
    assert [c["status"] for c in snapshot["connectors"]] == ["Available"] * 3
    assert station.proc is not None and station.proc.returncode is None
    assert not session.closed.is_set()
