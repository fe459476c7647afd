"""GetConfigurationMaxKeys ([S] 5.8, 9.1.9; TC_019): the station states its limit, and answers
every key asked for even beyond it.

5.8 lets a station limit the keys of one request, but GetConfiguration.conf has no status to
refuse with and 5.8 SHALL return every requested key, known or unknown. Central systems'
onboarding scripts ask for 25-40 keys at once; refusing them with a CALLERROR (as this station
once did) broke them for a MAY. So the limit is advertised, and a longer request is answered.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ocpp_station.profiles import INSTALLED
from ocpp_station.rpc import RpcEndpoint, encode_call
from ocpp_station.station.config_keys import KEYS
from tests.unit.harness import Harness

# Readable Core keys of the reference charger, more than its GetConfigurationMaxKeys (20).
READABLE = [n for n, d in KEYS.items() if d.profile == "Core" and not d.write_only]


async def booted() -> Harness:
    h = Harness()
    await h.boot()
    return h


async def test_the_reference_limit_is_advertised() -> None:
    h = await booted()
    assert h.config.get_int("GetConfigurationMaxKeys") == 20  # the product spec's value
    answer = await h.request("GetConfiguration", {"key": ["GetConfigurationMaxKeys"]})
    assert answer["configurationKey"] == [
        {"key": "GetConfigurationMaxKeys", "readonly": True, "value": "20"}
    ]
    await h.close()


async def test_every_key_beyond_the_limit_is_answered_in_order() -> None:
    h = await booted()
    limit = h.config.get_int("GetConfigurationMaxKeys")
    assert len(READABLE) > limit + 5
    wanted = READABLE[: limit + 5]
    answer = await h.request("GetConfiguration", {"key": wanted})
    assert [e["key"] for e in answer["configurationKey"]] == wanted
    assert all("value" in e for e in answer["configurationKey"])
    assert "unknownKey" not in answer
    await h.close()


async def test_unknown_and_repeated_keys_are_answered_once() -> None:
    h = await booted()
    wanted = ["NoSuchKey", "HeartbeatInterval", "heartbeatinterval", "NoSuchKey", "Other"]
    answer = await h.request("GetConfiguration", {"key": wanted * 10})
    assert [e["key"] for e in answer["configurationKey"]] == ["HeartbeatInterval"]
    assert answer["unknownKey"] == ["NoSuchKey", "Other"]
    await h.close()


@pytest.mark.parametrize("request_payload", [{}, {"key": []}])
async def test_get_all_lists_every_readable_key(request_payload: dict[str, Any]) -> None:
    # [S] 5.8: without keys the station SHALL return all of them, however many there are.
    h = await booted()
    answer = await h.request("GetConfiguration", request_payload)
    package_keys = {k.name for p in INSTALLED for k in p.keys if not k.write_only}
    assert {e["key"] for e in answer["configurationKey"]} == set(READABLE) | package_keys
    await h.close()


async def test_on_the_wire_a_long_request_gets_its_callresult() -> None:
    h = await booted()
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    endpoint = RpcEndpoint(send, h.station.router())
    await endpoint.feed(encode_call("g1", "GetConfiguration", {"key": READABLE[:30]}))
    frame = orjson.loads(sent[-1])
    assert frame[:2] == [3, "g1"] and len(frame[2]["configurationKey"]) == 30
    await h.close()
