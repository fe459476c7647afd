"""GetConfigurationMaxKeys is honoured ([S] 5.8, 9.1.9; TC_019): more keys is a CALLERROR."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from ocpp_station import profiles
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.rpc import Router, RpcEndpoint, encode_call
from ocpp_station.rpc.errors import OccurenceConstraintViolation
from ocpp_station.station.boot import BootInfo
from ocpp_station.station.config import Configuration
from ocpp_station.station.config_keys import KEYS
from ocpp_station.station.config_requests import ConfigRequests
from ocpp_station.station.station import Station
from ocpp_station.storage.store import StationStore
from tests.unit.harness import Harness

# Readable Core keys of the reference charger, more than its GetConfigurationMaxKeys (20).
READABLE = [n for n, d in KEYS.items() if d.profile == "Core" and not d.write_only]


async def booted() -> Harness:
    h = Harness()
    await h.boot()
    return h


async def test_exactly_max_keys_are_all_answered() -> None:
    h = await booted()
    limit = h.config.get_int("GetConfigurationMaxKeys")
    assert limit == 20  # the reference charger's factory value (product spec)
    wanted = READABLE[:limit]
    answer = await h.request("GetConfiguration", {"key": wanted})
    assert [e["key"] for e in answer["configurationKey"]] == wanted
    assert "unknownKey" not in answer
    await h.close()


async def test_one_key_over_the_limit_is_refused_whole() -> None:
    h = await booted()
    limit = h.config.get_int("GetConfigurationMaxKeys")
    assert len(READABLE) > limit
    with pytest.raises(OccurenceConstraintViolation, match=f"{limit + 1} keys requested"):
        await h.request("GetConfiguration", {"key": READABLE[: limit + 1]})
    await h.close()


async def test_unknown_and_repeated_keys_count_as_requested() -> None:
    # The limit is on the keys in the request PDU (9.1.9), whatever they name.
    h = await booted()
    limit = h.config.get_int("GetConfigurationMaxKeys")
    answer = await h.request("GetConfiguration", {"key": ["NoSuchKey"] * limit})
    assert answer == {"configurationKey": [], "unknownKey": ["NoSuchKey"]}
    with pytest.raises(OccurenceConstraintViolation):
        await h.request("GetConfiguration", {"key": ["HeartbeatInterval"] * (limit + 1)})
    await h.close()


@pytest.mark.parametrize("request_payload", [{}, {"key": []}])
async def test_get_all_is_not_limited(request_payload: dict[str, Any]) -> None:
    # [S] 5.8: without keys the station SHALL return all of them, however many there are.
    h = await booted()
    answer = await h.request("GetConfiguration", request_payload)
    assert len(answer["configurationKey"]) > h.config.get_int("GetConfigurationMaxKeys")
    await h.close()


async def test_the_limit_follows_the_configured_value() -> None:
    # A maker's other value: the key is read-only, so it comes from the key table.
    clock = VirtualClock()
    hardware = Simulator(clock, 2, seed=7)
    store = StationStore(None)
    table = {
        **KEYS,
        "GetConfigurationMaxKeys": replace(KEYS["GetConfigurationMaxKeys"], default="2"),
    }
    config = Configuration(
        profiles=profiles.names(),
        connectors=2,
        measurands=hardware.measurands,
        store=store,
        table=table,
    )
    station = Station(
        identity="CP-T",
        clock=clock,
        hardware=hardware,
        config=config,
        store=store,
        info=BootInfo("Vendor", "Model", "SN1", "1.0.0"),
    )
    handler = station.service(ConfigRequests).get_configuration
    assert len(handler({"key": READABLE[:2]})["configurationKey"]) == 2
    with pytest.raises(OccurenceConstraintViolation, match="GetConfigurationMaxKeys is 2"):
        handler({"key": READABLE[:3]})
    await station.close()
    store.close()


async def test_on_the_wire_it_is_a_callerror_occurence_constraint_violation() -> None:
    h = await booted()
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    router = Router()
    for action, (handler, after) in h.station.handlers().items():
        router.route(action, handler, after)
    endpoint = RpcEndpoint(send, router)
    await endpoint.feed(encode_call("g1", "GetConfiguration", {"key": READABLE[:21]}))
    frame = orjson.loads(sent[-1])
    # [J] 4.2.3, with the 1.6 spelling that [JE] 5.1 keeps.
    assert frame[:3] == [4, "g1", "OccurenceConstraintViolation"]
    assert "GetConfigurationMaxKeys" in frame[3]
    await endpoint.feed(encode_call("g2", "GetConfiguration", {"key": READABLE[:20]}))
    frame = orjson.loads(sent[-1])
    assert frame[0] == 3 and len(frame[2]["configurationKey"]) == 20
    await h.close()
