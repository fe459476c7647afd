"""The central system's HTTP API: stations, sessions, and requests sent to a station."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms import CentralSystem, CsmsStore
from ocpp_station.csms.api import CsmsApi
from ocpp_station.csms.tags import TagInfo
from tests.unit.test_csms_support import BOOT, WAIT, RawStation

STAMP = "2026-01-01T12:00:00.000Z"


class Client:
    def __init__(self, api: CsmsApi, http: aiohttp.ClientSession) -> None:
        self.api = api
        self.http = http

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.api.url + path, **kwargs) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    async def get(self, path: str) -> Any:
        status, body = await self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    async def call(self, identity: str, body: Any) -> tuple[int, Any]:
        return await self.request("POST", f"/api/stations/{identity}/call", json=body)


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    async with CentralSystem(store=CsmsStore()) as central:
        yield central


@contextlib.asynccontextmanager
async def serving(csms: CentralSystem) -> AsyncIterator[Client]:
    """The central system's API on a free port, and a client of it."""
    async with (
        CsmsApi(csms) as api,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http,
    ):
        yield Client(api, http)


@pytest.fixture
async def client(csms: CentralSystem) -> AsyncIterator[Client]:
    async with serving(csms) as served:
        yield served


async def booted(csms: CentralSystem, identity: str = "CP-1") -> RawStation:
    raw = await RawStation.connect(f"{csms.url}/{identity}")
    await raw.result("BootNotification", BOOT)
    for connector_id in (0, 1):
        status = {"connectorId": connector_id, "errorCode": "NoError", "status": "Available"}
        await raw.result("StatusNotification", status)
    return raw


async def session_of(raw: RawStation, connector_id: int = 1, meter_start: int = 100) -> int:
    begin = {
        "connectorId": connector_id,
        "idTag": "TAG1",
        "meterStart": meter_start,
        "timestamp": STAMP,
    }
    return (await raw.result("StartTransaction", begin))["transactionId"]


async def stop_session(raw: RawStation, transaction_id: int, meter_stop: int = 600) -> None:
    end = {"transactionId": transaction_id, "meterStop": meter_stop, "timestamp": STAMP}
    await raw.result("StopTransaction", {**end, "reason": "Remote"})


# ------------------------------------------------------------------------------------ serving


async def test_url_and_port(client: Client) -> None:
    assert client.api.port > 0
    assert client.api.url == f"http://127.0.0.1:{client.api.port}"


def test_the_api_needs_a_store() -> None:
    with pytest.raises(ValueError, match="store"):
        CsmsApi(CentralSystem())
    store = CsmsStore()
    assert CsmsApi(CentralSystem(), store).store is store


async def test_unknown_paths_and_methods_answer_json_errors(client: Client) -> None:
    status, body = await client.request("GET", "/api/nothing")
    assert status == 404 and body["error"]
    status, body = await client.request("DELETE", "/api/stations")
    assert status == 405 and body["error"]


# ----------------------------------------------------------------------------------- stations


async def test_stations_list_connected_boot_info_and_statuses(
    csms: CentralSystem, client: Client
) -> None:
    assert await client.get("/api/stations") == []
    raw = await booted(csms)
    second = await RawStation.connect(f"{csms.url}/CP-2")
    await csms.wait_for_station("CP-2")
    stations = await client.get("/api/stations")
    assert [s["id"] for s in stations] == ["CP-1", "CP-2"]
    first = stations[0]
    assert first["connected"] is True
    assert first["registration"] == "Accepted"
    assert first["boot"] == BOOT
    assert first["bootCount"] == 1
    assert first["lastBoot"] and first["firstSeen"] and first["lastConnected"]
    assert first["lastDisconnected"] is None
    assert [(s["connectorId"], s["status"], s["errorCode"]) for s in first["statuses"]] == [
        (0, "Available", "NoError"),
        (1, "Available", "NoError"),
    ]
    assert all(s["receivedAt"].endswith("Z") for s in first["statuses"])
    assert stations[1]["boot"] is None and stations[1]["statuses"] == []
    assert await client.get("/api/stations/CP-1") == first

    await raw.close()
    async with asyncio.timeout(WAIT):
        while (await client.get("/api/stations/CP-1"))["connected"]:
            await asyncio.sleep(0.01)
    station = await client.get("/api/stations/CP-1")
    assert station["lastDisconnected"] is not None
    assert station["boot"] == BOOT
    await second.close()


async def test_an_unknown_station_is_404(client: Client) -> None:
    status, body = await client.request("GET", "/api/stations/CP-9")
    assert status == 404
    assert "CP-9" in body["error"]


# ----------------------------------------------------------------------------------- sessions


async def test_sessions_open_and_finished(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    first = await session_of(raw)
    second = await session_of(raw, connector_id=2, meter_start=7)
    await stop_session(raw, first)
    page = await client.get("/api/sessions")
    assert page["next"] is None
    sessions = page["sessions"]
    assert [s["id"] for s in sessions] == [first, second]
    assert sessions[0] == {
        "id": first,
        "station": "CP-1",
        "connectorId": 1,
        "idTag": "TAG1",
        "idTagInfo": {"status": "Accepted"},
        "reservationId": None,
        "meterStart": 100,
        "startTime": STAMP,
        "open": False,
        "meterStop": 600,
        "stopTime": STAMP,
        "reason": "Remote",
        "stopIdTag": None,
        "energyWh": 500,
    }
    assert sessions[1]["open"] is True and sessions[1]["meterStop"] is None
    assert sessions[1]["energyWh"] is None
    open_ids = [s["id"] for s in (await client.get("/api/sessions?open=true"))["sessions"]]
    assert open_ids == [second]
    done = [s["id"] for s in (await client.get("/api/sessions?open=0"))["sessions"]]
    assert done == [first]
    await raw.close()


async def test_sessions_by_station_and_in_pages(csms: CentralSystem, client: Client) -> None:
    one = await booted(csms, "CP-1")
    two = await booted(csms, "CP-2")
    ids = [await session_of(one if n % 2 else two) for n in range(5)]
    of_two = await client.get("/api/sessions?station=CP-2")
    assert [s["id"] for s in of_two["sessions"]] == ids[0::2]
    assert (await client.get("/api/sessions?station=CP-9")) == {"sessions": [], "next": None}
    seen: list[int] = []
    after = 0
    for _ in range(5):
        page = await client.get(f"/api/sessions?limit=2&after={after}")
        seen += [s["id"] for s in page["sessions"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == ids
    exact = await client.get("/api/sessions?limit=5")
    assert len(exact["sessions"]) == 5 and exact["next"] is None
    await one.close()
    await two.close()


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=x", "after=-1", "after=1.5", "open=maybe"],
)
async def test_bad_session_queries_are_422(client: Client, query: str) -> None:
    status, body = await client.request("GET", f"/api/sessions?{query}")
    assert status == 422
    assert query.split("=")[0] in body["error"]


async def test_a_session_with_its_meter_values(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    transaction_id = await session_of(raw)
    sample = {"timestamp": STAMP, "sampledValue": [{"value": "150", "unit": "Wh"}]}
    await raw.result(
        "MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [sample]}
    )
    await raw.result("MeterValues", {"connectorId": 1, "meterValue": [sample]})  # no session
    end = {"timestamp": STAMP, "sampledValue": [{"value": "600", "context": "Transaction.End"}]}
    await raw.result(
        "StopTransaction",
        {
            "transactionId": transaction_id,
            "meterStop": 600,
            "timestamp": STAMP,
            "transactionData": [end],
        },
    )
    session = await client.get(f"/api/sessions/{transaction_id}")
    assert session["id"] == transaction_id and session["reason"] == "Local"
    values = session["meterValues"]
    assert [(v["sampledValue"], v["connectorId"], v["source"]) for v in values] == [
        (sample["sampledValue"], 1, "MeterValues"),
        (end["sampledValue"], None, "StopTransaction"),
    ]
    assert all(v["timestamp"] == STAMP and v["receivedAt"] for v in values)
    listed = (await client.get("/api/sessions"))["sessions"][0]
    assert "meterValues" not in listed
    await raw.close()


@pytest.mark.parametrize("which", ["99", "x"])
async def test_an_unknown_session_is_404(client: Client, which: str) -> None:
    status, body = await client.request("GET", f"/api/sessions/{which}")
    assert status == 404 and body["error"]


# -------------------------------------------------------------------------------------- calls


async def answer_next(raw: RawStation, payload: dict[str, Any]) -> list[Any]:
    """Answer the next CALL the station gets with `payload`; return that CALL."""
    call = await raw.next_call()
    await raw.reply(call[1], payload)
    return call


@pytest.mark.parametrize(
    ("action", "payload", "answer"),
    [
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}, {"configurationKey": []}),
        ("ClearCache", {}, {"status": "Accepted"}),
        (
            "ReserveNow",
            {"connectorId": 1, "expiryDate": STAMP, "idTag": "TAG1", "reservationId": 3},
            {"status": "Accepted"},
        ),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Accepted"}),
        ("GetLocalListVersion", {}, {"listVersion": 2}),
        (
            "GetInstalledCertificateIds",
            {"certificateType": "CentralSystemRootCertificate"},
            {"status": "NotFound"},
        ),
        ("DataTransfer", {"vendorId": "com.example"}, {"status": "UnknownVendorId"}),
    ],
)
async def test_any_central_system_request_goes_to_the_station(
    csms: CentralSystem, client: Client, action: str, payload: dict[str, Any], answer: Any
) -> None:
    raw = await booted(csms)
    request = asyncio.create_task(client.call("CP-1", {"action": action, "payload": payload}))
    call = await answer_next(raw, answer)
    assert call[2:] == [action, payload]
    assert await request == (200, answer)
    await raw.close()


async def test_a_payload_may_be_left_out_when_the_request_has_no_fields(
    csms: CentralSystem, client: Client
) -> None:
    raw = await booted(csms)
    request = asyncio.create_task(client.call("CP-1", {"action": "ClearCache"}))
    call = await answer_next(raw, {"status": "Rejected"})
    assert call[2:] == ["ClearCache", {}]
    assert await request == (200, {"status": "Rejected"})
    await raw.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"action": "Bogus", "payload": {}}, "unknown action"),
        ({"action": "BootNotification", "payload": BOOT}, "unknown action"),
        ({"action": 3}, "action"),
        ({"payload": {}}, "action"),
        ({"action": "Reset", "payload": {"type": "Sideways"}}, "Reset.req"),
        ({"action": "Reset", "payload": {}}, "Reset.req"),
        ({"action": "Reset", "payload": [1]}, "payload"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "timeout": 0}, "timeout"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "timeout": "5"}, "timeout"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "extra": 1}, "extra"),
        (["Reset"], "JSON object"),
    ],
)
async def test_bad_call_bodies_are_422(
    csms: CentralSystem, client: Client, body: Any, words: str
) -> None:
    raw = await booted(csms)
    status, answer = await client.call("CP-1", body)
    assert status == 422
    assert words in answer["error"]
    assert raw.calls.empty()  # nothing was sent
    await raw.close()


@pytest.mark.parametrize("data", ["", "{not json"])
async def test_a_call_without_a_json_body_is_422(client: Client, data: str) -> None:
    status, body = await client.request("POST", "/api/stations/CP-1/call", data=data)
    assert status == 422 and body["error"]


async def test_a_timestamp_without_zone_is_not_sent(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    payload = {"connectorId": 1, "expiryDate": "2026-01-01T12:00", "idTag": "T", "reservationId": 1}
    status, body = await client.call("CP-1", {"action": "ReserveNow", "payload": payload})
    assert status == 422 and "ReserveNow.req" in body["error"]
    await raw.close()


async def test_a_station_not_connected_is_409(csms: CentralSystem, client: Client) -> None:
    status, body = await client.call("CP-1", {"action": "ClearCache", "payload": {}})
    assert status == 409 and "not connected" in body["error"]
    raw = await booted(csms)
    await raw.close()
    async with asyncio.timeout(WAIT):
        while "CP-1" in csms.stations:
            await asyncio.sleep(0.01)
    status, body = await client.call("CP-1", {"action": "ClearCache", "payload": {}})
    assert status == 409


async def test_a_callerror_is_502_with_its_code(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    request = asyncio.create_task(
        client.call("CP-1", {"action": "SetChargingProfile", "payload": _PROFILE})
    )
    call = await raw.next_call()
    await raw.ws.send(
        f'[4, "{call[1]}", "NotSupported", "no smart charging", {{"why": "hardware"}}]'
    )
    status, body = await request
    assert status == 502
    assert body["code"] == "NotSupported"
    assert body["description"] == "no smart charging"
    assert body["details"] == {"why": "hardware"}
    assert "NotSupported" in body["error"]
    await raw.close()


async def test_an_answer_failing_its_schema_is_502(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    request = asyncio.create_task(client.call("CP-1", {"action": "ClearCache", "payload": {}}))
    await answer_next(raw, {"status": "Maybe"})
    status, body = await request
    assert status == 502
    assert "invalid" in body["error"] and "code" not in body
    await raw.close()


async def test_no_answer_in_time_is_504(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    status, body = await client.call(
        "CP-1", {"action": "ClearCache", "payload": {}, "timeout": 0.2}
    )
    assert status == 504 and "0.2 s" in body["error"]
    assert (await raw.next_call())[2] == "ClearCache"
    await raw.close()


async def test_a_station_leaving_before_it_answers_is_409(
    csms: CentralSystem, client: Client
) -> None:
    raw = await booted(csms)
    request = asyncio.create_task(client.call("CP-1", {"action": "ClearCache", "payload": {}}))
    await raw.next_call()
    await raw.close()
    status, body = await request
    assert status == 409 and "disconnected" in body["error"]


_PROFILE = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        },
    },
}


# ------------------------------------------------------------------ local list and trigger


@pytest.fixture
async def tagged() -> AsyncIterator[CentralSystem]:
    tags = {
        "TAG-B": TagInfo("Blocked"),
        "TAG-A": TagInfo("Accepted", parent_id_tag="FLEET"),
    }
    async with CentralSystem(store=CsmsStore(), tags=tags) as central:
        yield central


@pytest.fixture
async def tagged_client(tagged: CentralSystem) -> AsyncIterator[Client]:
    async with serving(tagged) as served:
        yield served


async def test_the_local_list_is_the_central_systems_tags_one_version_up(
    tagged: CentralSystem, tagged_client: Client
) -> None:
    raw = await booted(tagged)
    request = asyncio.create_task(tagged_client.request("POST", "/api/stations/CP-1/local-list"))
    asked = await answer_next(raw, {"listVersion": 6})
    assert asked[2:] == ["GetLocalListVersion", {}]
    sent = await answer_next(raw, {"status": "Accepted"})
    assert sent[2:] == [
        "SendLocalList",
        {
            "listVersion": 7,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "TAG-A", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}},
                {"idTag": "TAG-B", "idTagInfo": {"status": "Blocked"}},
            ],
        },
    ]
    assert await request == (200, {"status": "Accepted", "listVersion": 7, "entries": 2})
    await raw.close()


async def test_a_differential_list_of_chosen_tags_deletes_the_unknown_ones(
    tagged: CentralSystem, tagged_client: Client
) -> None:
    raw = await booted(tagged)
    body = {"updateType": "Differential", "listVersion": 3, "tags": ["tag-b", "GONE"]}
    request = asyncio.create_task(
        tagged_client.request("POST", "/api/stations/CP-1/local-list", json=body)
    )
    sent = await answer_next(raw, {"status": "VersionMismatch"})
    assert sent[3]["localAuthorizationList"] == [
        {"idTag": "tag-b", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "GONE"},
    ]
    assert await request == (200, {"status": "VersionMismatch", "listVersion": 3, "entries": 2})
    await raw.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"tags": "TAG-A"}, "tags must be a list"),
        ({"updateType": "Sometimes", "listVersion": 1}, "not a valid SendLocalList.req"),
        ({"entries": [{"idTag": 5}], "listVersion": 1}, "not a valid SendLocalList.req"),
    ],
)
async def test_a_bad_local_list_request_is_422_and_sends_nothing(
    tagged: CentralSystem, tagged_client: Client, body: dict[str, Any], words: str
) -> None:
    raw = await booted(tagged)
    status, answer = await tagged_client.request("POST", "/api/stations/CP-1/local-list", json=body)
    assert status == 422 and words in answer["error"]
    assert raw.calls.empty()
    await raw.close()


async def test_the_local_list_of_a_station_not_connected_is_409(tagged_client: Client) -> None:
    status, body = await tagged_client.request("POST", "/api/stations/CP-9/local-list")
    assert status == 409 and "not connected" in body["error"]


async def test_trigger_sends_trigger_message(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    body = {"requestedMessage": "StatusNotification", "connectorId": 1}
    request = asyncio.create_task(client.request("POST", "/api/stations/CP-1/trigger", json=body))
    sent = await answer_next(raw, {"status": "Accepted"})
    assert sent[2:] == ["TriggerMessage", body]
    assert await request == (200, {"status": "Accepted"})
    status, answer = await client.request(
        "POST", "/api/stations/CP-1/trigger", json={"requestedMessage": "Teleport"}
    )
    assert status == 422 and "TriggerMessage.req" in answer["error"]
    status, answer = await client.request(
        "POST", "/api/stations/CP-1/trigger", json={"requestedMessage": "Heartbeat", "x": 1}
    )
    assert status == 422 and "unknown fields: x" in answer["error"]
    assert raw.calls.empty()
    await raw.close()


# ------------------------------------------------------------------------------ reservations


async def test_reserve_cancel_and_the_reservations_the_central_system_keeps(
    csms: CentralSystem, client: Client
) -> None:
    raw = await booted(csms)
    body = {"connectorId": 1, "idTag": "TAG1", "parentIdTag": "FLEET"}
    request = asyncio.create_task(client.request("POST", "/api/stations/CP-1/reserve", json=body))
    sent = await answer_next(raw, {"status": "Accepted"})
    assert sent[2] == "ReserveNow" and sent[3]["reservationId"] == 1
    expiry = sent[3]["expiryDate"]
    assert await request == (200, {"status": "Accepted", "reservationId": 1, "expiryDate": expiry})
    # The next one takes the next id; the station's refusal is kept as such.
    body = {"connectorId": 2, "idTag": "TAG2", "expiryDate": "2030-01-01T00:00:00Z"}
    request = asyncio.create_task(client.request("POST", "/api/stations/CP-1/reserve", json=body))
    sent = await answer_next(raw, {"status": "Occupied"})
    assert sent[3] == {**body, "reservationId": 2}
    assert (await request)[1]["status"] == "Occupied"
    # Reservation 1 used by a session: its StartTransaction carries the id (§5.13).
    begin = {"connectorId": 1, "idTag": "TAG1", "meterStart": 5, "timestamp": STAMP}
    transaction_id = (await raw.result("StartTransaction", {**begin, "reservationId": 1}))[
        "transactionId"
    ]
    listed = await client.get("/api/reservations?station=CP-1")
    assert [(r["id"], r["state"], r["answer"]) for r in listed] == [
        (2, "Refused", "Occupied"),
        (1, "Used", "Accepted"),
    ]
    assert listed[1]["transactionId"] == transaction_id and listed[1]["parentIdTag"] == "FLEET"
    assert (await client.get(f"/api/sessions/{transaction_id}"))["reservationId"] == 1
    # Cancel: through its route or a plain call, recorded only when Accepted.
    body = {"connectorId": 0, "idTag": "TAG3", "reservationId": 40}
    request = asyncio.create_task(client.request("POST", "/api/stations/CP-1/reserve", json=body))
    await answer_next(raw, {"status": "Accepted"})
    await request
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/cancel-reservation", json={"reservationId": 40})
    )
    sent = await answer_next(raw, {"status": "Accepted"})
    assert sent[2:] == ["CancelReservation", {"reservationId": 40}]
    assert await request == (200, {"status": "Accepted"})
    states = {r["id"]: r["state"] for r in await client.get("/api/reservations")}
    assert states == {40: "Cancelled", 2: "Refused", 1: "Used"}
    assert await client.get("/api/reservations?station=CP-9") == []
    await raw.close()


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("reserve", {"connectorId": 1}, "not a valid ReserveNow.req"),
        ("reserve", {"connectorId": 1, "idTag": "T", "expiryDate": "soon"}, "ReserveNow.req"),
        ("reserve", {"connectorId": 1, "idTag": "T", "when": 1}, "unknown fields: when"),
        ("cancel-reservation", {}, '{"reservationId": N}'),
        ("cancel-reservation", {"reservationId": "x"}, "CancelReservation.req"),
    ],
)
async def test_bad_reservation_requests_are_422_and_send_nothing(
    csms: CentralSystem, client: Client, path: str, body: dict[str, Any], words: str
) -> None:
    await refused_422(csms, client, path, body, words)


async def refused_422(
    csms: CentralSystem, client: Client, path: str, body: dict[str, Any], words: str
) -> None:
    """POST `body` to a station route: 422 naming `words`, and nothing sent to the station."""
    raw = await booted(csms)
    status, answer = await client.request("POST", f"/api/stations/CP-1/{path}", json=body)
    assert status == 422 and words in answer["error"], answer
    assert raw.calls.empty()
    await raw.close()


# ------------------------------------------------------------------------------ smart charging


async def test_set_clear_and_query_charging_profiles(csms: CentralSystem, client: Client) -> None:
    """The short form becomes an Absolute profile starting now, ids counting up; a full
    SetChargingProfile payload goes as given; clear and composite are the station's answers."""
    raw = await booted(csms)
    body = {"connectorId": 1, "periods": [[0, 16], [600, 8]], "duration": 3600}
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/charging-profile", json=body)
    )
    sent = await answer_next(raw, {"status": "Accepted"})
    profile = sent[3]["csChargingProfiles"]
    assert sent[2] == "SetChargingProfile" and sent[3]["connectorId"] == 1
    assert (profile["chargingProfileId"], profile["chargingProfilePurpose"]) == (
        1,
        "TxDefaultProfile",
    )
    assert (
        profile["chargingProfileKind"] == "Absolute"
        and "startSchedule" in profile["chargingSchedule"]
    )
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 600, "limit": 8},
    ]
    assert profile["chargingSchedule"]["duration"] == 3600
    assert await request == (200, {"status": "Accepted", "request": sent[3]})
    body = {"connectorId": 0, "limit": 40000, "unit": "W"}
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/charging-profile", json=body)
    )
    sent = await answer_next(raw, {"status": "Rejected"})
    profile = sent[3]["csChargingProfiles"]
    assert (profile["chargingProfileId"], profile["chargingProfilePurpose"]) == (
        2,
        "ChargePointMaxProfile",
    )
    assert (await request)[1]["status"] == "Rejected"
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/clear-charging-profile", json={"id": 1})
    )
    sent = await answer_next(raw, {"status": "Accepted"})
    assert sent[2:] == ["ClearChargingProfile", {"id": 1}]
    assert await request == (200, {"status": "Accepted"})
    request = asyncio.create_task(
        client.request("GET", "/api/stations/CP-1/composite-schedule?connectorId=1&unit=W")
    )
    answer = {"status": "Rejected"}
    sent = await answer_next(raw, answer)
    assert sent[2:] == [
        "GetCompositeSchedule",
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
    ]
    assert await request == (200, answer)
    await raw.close()


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("charging-profile", {"connectorId": 1}, 'either "limit" or "periods"'),
        ("charging-profile", {"connectorId": 1, "limit": 5, "periods": []}, "either"),
        ("charging-profile", {"connectorId": 1, "periods": [5]}, "[startPeriod, limit] pairs"),
        ("charging-profile", {"connectorId": 1, "limit": 5, "unit": "V"}, "SetChargingProfile.req"),
        ("charging-profile", {"connectorId": 1, "limit": 5, "x": 1}, "unknown fields: x"),
        ("charging-profile", {"csChargingProfiles": {}, "y": 2}, "unknown fields: y"),
        ("clear-charging-profile", {"id": "one"}, "ClearChargingProfile.req"),
    ],
)
async def test_bad_charging_profile_requests_are_422_and_send_nothing(
    csms: CentralSystem, client: Client, path: str, body: dict[str, Any], words: str
) -> None:
    await refused_422(csms, client, path, body, words)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("", "connectorId is required"),
        ("connectorId=x", "whole numbers"),
        ("connectorId=1&z=1", "unknown"),
    ],
)
async def test_bad_composite_queries_are_422(
    csms: CentralSystem, client: Client, query: str, words: str
) -> None:
    raw = await booted(csms)
    status, answer = await client.request("GET", f"/api/stations/CP-1/composite-schedule?{query}")
    assert status == 422 and words in answer["error"], answer
    assert raw.calls.empty()
    await raw.close()


# ------------------------------------------------------------------------------ firmware, files


async def test_update_firmware_from_the_own_depot_and_the_statuses_heard(
    csms: CentralSystem, client: Client
) -> None:
    """Without a location the station fetches this API's firmware-<version>.bin, an image of
    that version; the last FirmwareStatusNotification shows on the station."""
    raw = await booted(csms)
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/update-firmware", json={"version": "2.1.0"})
    )
    sent = await answer_next(raw, {})
    location = sent[3]["location"]
    assert sent[2] == "UpdateFirmware" and location == f"{client.api.url}/files/firmware-2.1.0.bin"
    status, body = await request
    assert status == 200 and body == {"location": location, "retrieveDate": sent[3]["retrieveDate"]}
    async with client.http.get(location) as response:
        image = await response.read()
    assert image.startswith(b"version: 2.1.0\n")
    await raw.result("FirmwareStatusNotification", {"status": "Downloading"})
    await raw.result("DiagnosticsStatusNotification", {"status": "Uploading"})
    station = await client.get("/api/stations/CP-1")
    assert (station["firmwareStatus"], station["diagnosticsStatus"]) == ("Downloading", "Uploading")
    # A plain connection without a password (no security profile).
    assert station["security"] == {
        "tls": False,
        "tlsVersion": None,
        "basicUser": None,
        "clientCN": None,
        "clientO": None,
    }
    status, body = await client.request(
        "POST", "/api/stations/CP-1/update-firmware", json={"version": "../etc"}
    )
    assert status == 422 and "version must be" in body["error"]
    status, body = await client.request(
        "POST", "/api/stations/CP-1/update-firmware", json={"when": 1}
    )
    assert status == 422 and "unknown fields: when" in body["error"]
    await raw.close()


async def test_get_diagnostics_into_the_own_depot(csms: CentralSystem, client: Client) -> None:
    """The station uploads to this API's /diagnostics/ (PUT, or a POSTed form); every upload
    is listed and can be fetched back."""
    raw = await booted(csms)
    request = asyncio.create_task(
        client.request("POST", "/api/stations/CP-1/get-diagnostics", json={"retries": 1})
    )
    sent = await answer_next(raw, {"fileName": "diag.zip"})
    assert sent[2:] == [
        "GetDiagnostics",
        {"location": f"{client.api.url}/diagnostics/", "retries": 1},
    ]
    assert await request == (
        200,
        {"fileName": "diag.zip", "location": f"{client.api.url}/diagnostics/"},
    )
    base = client.api.url
    async with client.http.put(f"{base}/diagnostics/diag.zip", data=b"PK-one") as response:
        assert response.status == 201
    form = aiohttp.FormData()
    form.add_field("file", b"PK-two", filename="two.zip")
    async with client.http.post(f"{base}/diagnostics/two.zip", data=form) as response:
        assert response.status == 201
    listed = await client.get("/api/diagnostics")
    assert [(d["name"], d["size"], d["method"]) for d in listed] == [
        ("diag.zip", 6, "PUT"),
        ("two.zip", 6, "POST"),
    ]
    async with client.http.get(f"{base}/api/diagnostics/two.zip") as response:
        assert await response.read() == b"PK-two"
    status, body = await client.request("GET", "/api/diagnostics/none.zip")
    assert status == 404 and "none.zip" in body["error"]
    async with client.http.get(f"{base}/files/unknown.bin") as response:
        assert response.status == 404
    async with client.http.put(f"{base}/files/own.bin", data=b"mine") as response:
        assert response.status == 201
    async with client.http.get(f"{base}/files/own.bin") as response:
        assert await response.read() == b"mine"
    assert client.api.files.downloads == ["own.bin"]
    await raw.close()


# ------------------------------------------------------------------------------ settings and tags


async def test_the_boot_answer_changes_while_it_runs(csms: CentralSystem, client: Client) -> None:
    """Pending, then Accepted, through the API: what a station's Pending handling is tested
    with."""
    assert await client.get("/api/settings") == {
        "bootStatus": "Accepted",
        "heartbeatInterval": 20,
        "acceptUnknownTags": True,
    }
    status, body = await client.request(
        "POST", "/api/settings", json={"bootStatus": "Pending", "heartbeatInterval": 30}
    )
    assert status == 200 and body["bootStatus"] == "Pending" and body["heartbeatInterval"] == 30
    raw = await RawStation.connect(f"{csms.url}/CP-P")
    assert (await raw.result("BootNotification", BOOT))["status"] == "Pending"
    await client.request("POST", "/api/settings", json={"bootStatus": "Accepted"})
    answer = await raw.result("BootNotification", BOOT)
    assert (answer["status"], answer["interval"]) == ("Accepted", 30)
    await raw.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"bootStatus": "Maybe"}, "bootStatus must be"),
        ({"heartbeatInterval": -1}, "heartbeatInterval must be"),
        ({"heartbeatInterval": True}, "heartbeatInterval must be"),
        ({"acceptUnknownTags": "yes"}, "acceptUnknownTags must be"),
        ({"bootStatus": "Pending", "volume": 11}, "unknown fields: volume"),
    ],
)
async def test_bad_settings_are_422_and_change_nothing(
    client: Client, body: dict[str, Any], words: str
) -> None:
    status, answer = await client.request("POST", "/api/settings", json=body)
    assert status == 422 and words in answer["error"], answer
    assert (await client.get("/api/settings"))["bootStatus"] == "Accepted"


async def test_the_tag_list_changes_while_it_runs(csms: CentralSystem, client: Client) -> None:
    raw = await booted(csms)
    status, body = await client.request(
        "PUT",
        "/api/tags/CARD-9",
        json={"status": "Blocked", "parentIdTag": "FLEET", "expiryDate": "2030-01-01T00:00:00Z"},
    )
    assert status == 200 and body == {
        "CARD-9": {
            "status": "Blocked",
            "parentIdTag": "FLEET",
            "expiryDate": "2030-01-01T00:00:00.000Z",
        }
    }
    answer = await raw.result("Authorize", {"idTag": "card-9"})  # idTags ignore case
    assert answer["idTagInfo"]["status"] == "Blocked"
    status, _ = await client.request("PUT", "/api/tags/card-9", json={})  # replaces, Accepted
    assert await client.get("/api/tags") == {"card-9": {"status": "Accepted"}}
    status, body = await client.request("PUT", "/api/tags/X", json={"status": "Bad"})
    assert status == 422 and "status" in body["error"]
    status, body = await client.request("DELETE", "/api/tags/CARD-9")
    assert status == 200 and body == {"deleted": "card-9"}
    status, body = await client.request("DELETE", "/api/tags/CARD-9")
    assert status == 404
    await client.request("POST", "/api/settings", json={"acceptUnknownTags": False})
    answer = await raw.result("Authorize", {"idTag": "card-9"})
    assert answer["idTagInfo"]["status"] == "Invalid"
    await raw.close()
