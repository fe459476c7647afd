"""The control API's gate and limits over real HTTP on 127.0.0.1: Host and Origin checks, the
JSON content type, the token, and bodies too large or nested too deep (4xx, never a 500)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ocpp_station.control.api import MAX_DEPTH, ControlApi
from ocpp_station.control.gate import MAX_BODY, TOKEN_COOKIE, Gate, is_loopback
from ocpp_station.runtime import StationOptions, StationRuntime

TOKEN = "t0ken-of-sixteen-or-more"


@pytest.fixture
async def runtime() -> AsyncIterator[StationRuntime]:
    # Never connected: the API's gate does not need a central system.
    rt = StationRuntime(StationOptions(csms_url="ws://127.0.0.1:9"))
    yield rt
    await rt.stop()


async def serve(rt: StationRuntime, gate: Gate) -> ControlApi:
    api = ControlApi(rt, gate=gate)
    await api.start("127.0.0.1", 0)
    return api


async def ask(
    api: ControlApi, method: str, path: str, *, data: bytes | None = None, **headers: str
) -> tuple[int, Any]:
    """The answer's status and JSON; header names with "-" are given with "_" here."""
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method, api.url + path, data=data, headers=headers, allow_redirects=False
        ) as answer:
            return answer.status, await answer.json(content_type=None)


JSON = {"Content_Type": "application/json"}


async def test_a_name_other_than_localhost_is_refused(runtime: StationRuntime) -> None:
    api = await serve(runtime, Gate())
    try:
        assert (await ask(api, "GET", "/api/status", Host="rebound.example"))[0] == 403
        status, body = await ask(api, "GET", "/api/status", Host="rebound.example:8180")
        assert (status, body["error"]) == (
            403,
            "this API answers to localhost only, not to the name 'rebound.example:8180'",
        )
        for host in (f"127.0.0.1:{api.port}", "localhost", f"[::1]:{api.port}", "a.localhost"):
            assert (await ask(api, "GET", "/api/status", Host=host))[0] == 200, host
    finally:
        await api.stop()


async def test_changes_from_another_origin_are_refused(runtime: StationRuntime) -> None:
    api = await serve(runtime, Gate())
    host = f"127.0.0.1:{api.port}"
    try:
        status, body = await ask(api, "POST", "/api/connectors/1/plug", Origin="http://evil.test")
        assert (status, body) == (
            403,
            {"error": "a request from the page of another site (http://evil.test) is refused"},
        )
        refused = await ask(api, "POST", "/api/connectors/1/plug", Sec_Fetch_Site="cross-site")
        assert refused[0] == 403
        assert (await ask(api, "POST", "/api/connectors/1/plug", Origin="null"))[0] == 403
        # Reading is not a change: another origin's page cannot read the answer (no CORS).
        assert (await ask(api, "GET", "/api/status", Origin="http://evil.test"))[0] == 200
        assert not runtime.station.cp.connector(1).plugged
        same = await ask(
            api, "POST", "/api/connectors/1/plug",
            Origin=f"http://{host}", Sec_Fetch_Site="same-origin",
        )  # fmt: skip
        assert same[0] == 200 and same[1]["plugged"] is True
    finally:
        await api.stop()


async def test_a_body_must_be_declared_json(runtime: StationRuntime) -> None:
    api = await serve(runtime, Gate())
    body = json.dumps({"idTag": "TAG1"}).encode()
    try:
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            status, answer = await ask(api, "POST", "/api/rfid", data=body, Content_Type=kind)
            assert (status, answer) == (
                415,
                {"error": "a request body must be JSON (Content-Type: application/json)"},
            ), kind
        status, answer = await ask(api, "POST", "/api/rfid", data=body, **JSON)
        # Offline, and no list knows the card: Invalid (§3.5.2).
        assert status == 200 and answer["card"] == {"outcome": "rejected", "status": "Invalid"}
        # A change without a body needs no type.
        assert (await ask(api, "POST", "/api/connectors/2/plug"))[0] == 200
    finally:
        await api.stop()


async def test_too_large_or_too_deep_is_a_4xx(runtime: StationRuntime) -> None:
    api = await serve(runtime, Gate())
    try:
        big = json.dumps({"idTag": "x" * MAX_BODY}).encode()
        assert await ask(api, "POST", "/api/rfid", data=big, **JSON) == (
            413,
            {"error": f"the body is larger than {MAX_BODY} bytes"},
        )
        deep = ('{"a":' + "[" * 20_000 + "]" * 20_000 + "}").encode()
        too_deep = {"error": f"the body nests deeper than {MAX_DEPTH} levels"}
        assert await ask(api, "POST", "/api/rfid", data=deep, **JSON) == (422, too_deep)
        just = ('{"a":' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}").encode()
        status, answer = await ask(api, "POST", "/api/rfid", data=just, **JSON)
        assert (status, answer["error"]) == (
            422,
            "idTag must be a string of 1 to 20 characters (CiString20)",
        )
        one_more = ('{"a":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}").encode()
        assert await ask(api, "POST", "/api/rfid", data=one_more, **JSON) == (422, too_deep)
    finally:
        await api.stop()


async def test_the_token(runtime: StationRuntime) -> None:
    api = await serve(runtime, Gate(token=TOKEN))
    try:
        status, body = await ask(api, "GET", "/api/status")
        assert status == 401 and "Authorization: Bearer TOKEN" in body["error"]
        assert (await ask(api, "GET", "/api/status", Authorization="Bearer wrong-token-0000"))[
            0
        ] == 401
        assert (await ask(api, "GET", "/api/status", Authorization=f"Bearer {TOKEN}"))[0] == 200
        assert (await ask(api, "GET", "/api/status", Cookie=f"{TOKEN_COOKIE}={TOKEN}"))[0] == 200
        # ?token= opens the page only, and leaves the cookie for the page's own requests.
        assert (await ask(api, "GET", f"/api/status?token={TOKEN}"))[0] == 401
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api.url}/?token={TOKEN}") as page:
                assert page.status == 200
                cookie = page.cookies[TOKEN_COOKIE]
                assert cookie.value == TOKEN
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert (await ask(api, "GET", "/?token=nope"))[0] == 401
    finally:
        await api.stop()


def test_off_loopback_a_token_is_made(capsys: pytest.CaptureFixture[str]) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7")
    assert not is_loopback("charger.example")
    local = Gate.for_address("127.0.0.1", None)
    assert (local.token, local.generated, local.loopback) == (None, False, True)
    wide = Gate.for_address("0.0.0.0", None)
    assert wide.generated and wide.token is not None and len(wide.token) >= 16
    assert not wide.loopback  # any Host: the token is the guard
    chosen = Gate.for_address("0.0.0.0", TOKEN)
    assert (chosen.token, chosen.generated) == (TOKEN, False)
    assert Gate.for_address("0.0.0.0", None).token != wide.token
    # The operator learns a token made for them (the line after `control: URL`), never one
    # they chose.
    wide.announce()
    chosen.announce()
    local.announce()
    assert capsys.readouterr().out == f"control-token: {wide.token}\n"


async def test_a_fault_of_ours_is_a_sentence_not_a_trace(
    runtime: StationRuntime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: object) -> list[tuple[str, str | None, bool]]:
        raise RuntimeError("the key table is gone")

    monkeypatch.setattr(type(runtime.config), "entries", broken)
    api = await serve(runtime, Gate())
    try:
        assert await ask(api, "GET", "/api/config") == (
            500,
            {"error": "the station could not do it (an internal error; see its log)"},
        )
    finally:
        await api.stop()
    assert "the key table is gone" in caplog.text  # the log has it, for whoever must fix it
