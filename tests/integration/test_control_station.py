"""The control API of a running station against a real central system on 127.0.0.1: what a
card did (POST /api/rfid), a key changed at the charger, the link dropped, and the events the
web page follows (GET /api/events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.clock import VirtualClock
from ocpp_station.control.api import ControlApi
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.tags import TagInfo
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.runtime import StationOptions, StationRuntime, load_vendor_handlers

WAIT = 10.0
TAGS = {"GOOD": TagInfo(), "OTHER": TagInfo(), "BLOCKED": TagInfo(status="Blocked")}


@asynccontextmanager
async def station(
    tmp_path: Path, **changes: Any
) -> AsyncIterator[tuple[CentralSystem, StationRuntime, str]]:
    async with CentralSystem(tags=TAGS, accept_unknown_tags=False) as csms:
        chosen = StationOptions(csms_url=csms.url, state_dir=tmp_path / "state", **changes)
        rt = StationRuntime(chosen)
        rt.shutdown_grace = 0.2
        task = asyncio.create_task(rt.run())
        api = ControlApi(rt)
        await api.start("127.0.0.1", 0)
        try:
            session = await csms.wait_for_station("CP-1", timeout=WAIT)
            await session.expect("BootNotification")
            async with asyncio.timeout(WAIT):
                while rt.station.snapshot(True)["registration"] != "Accepted":
                    await asyncio.sleep(0.02)
            yield csms, rt, api.url
        finally:
            await api.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rt.stop()


async def post(url: str, body: Any = None, method: str = "POST") -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, json=body) as answer:
            return answer.status, await answer.json()


async def card(base: str, id_tag: str, connector_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"idTag": id_tag}
    if connector_id is not None:
        body["connectorId"] = connector_id
    status, answer = await post(f"{base}/api/rfid", body)
    assert status == 200, answer
    return answer


async def test_the_answer_says_what_the_card_did(tmp_path: Path) -> None:
    async with station(tmp_path) as (_, rt, base):
        # No cable yet: accepted, waiting for one (the connector it waits on is named).
        answer = await card(base, "GOOD")
        assert answer["card"] == {
            "outcome": "waitingForCable",
            "status": "Accepted",
            "connectorId": 1,
        }
        assert answer["id"] == "CP-1"  # without connectorId: the whole station
        # The same card again, still without a cable: that usage ends.
        assert (await card(base, "GOOD"))["card"] == {"outcome": "ended", "connectorId": 1}
        # The central system refuses the card: its idTagInfo status.
        assert (await card(base, "BLOCKED", 1))["card"] == {
            "outcome": "rejected",
            "status": "Blocked",
        }
        # Plugged in, then a card at that connector: the session starts.
        await post(f"{base}/api/connectors/2/plug")
        answer = await card(base, "OTHER", 2)
        assert answer["card"] == {"outcome": "started", "status": "Accepted", "connectorId": 2}
        assert answer["id"] == 2 and answer["status"] == "Charging"  # the connector's view
        async with asyncio.timeout(WAIT):
            while rt.station.cp.connector(2).transaction.transaction_id is None:
                await asyncio.sleep(0.02)
        tx = rt.station.cp.connector(2).transaction
        assert tx is not None
        # The card that started it stops it, without an Authorize.
        assert (await card(base, "OTHER"))["card"] == {
            "outcome": "stopped",
            "connectorId": 2,
            "transactionId": tx.transaction_id,
        }
        # Every connector busy or waiting for someone else: nothing can start for this card.
        await post(f"{base}/api/connectors/1/plug")
        await card(base, "GOOD", 1)
        answer = await card(base, "OTHER", 1)
        assert answer["card"]["outcome"] == "noConnector"
        assert answer["card"]["reason"] == "connector 1 has a transaction"
        # A card id the reader cannot have read: 422.
        status, error = await post(f"{base}/api/rfid", {"idTag": "bad\ttag"})
        assert status == 422 and "printable ASCII" in error["error"]


async def test_a_key_changed_at_the_charger(tmp_path: Path) -> None:
    async with station(tmp_path) as (_, rt, base):
        ok = await post(f"{base}/api/config/heartbeatinterval", {"value": "45"}, "PUT")
        assert ok == (
            200,
            {"key": "HeartbeatInterval", "value": "45", "readonly": False, "status": "Accepted"},
        )
        assert rt.config.get_int("HeartbeatInterval") == 45
        assert await post(f"{base}/api/config/HeartbeatInterval", {"value": "x"}, "PUT") == (
            422,
            {"error": "HeartbeatInterval: 'x' is not an integer"},
        )
        assert await post(f"{base}/api/config/NumberOfConnectors", {"value": "3"}, "PUT") == (
            409,
            {"error": "NumberOfConnectors is read-only"},
        )
        assert await post(f"{base}/api/config/NoSuchKey", {"value": "1"}, "PUT") == (
            404,
            {"error": "NoSuchKey is not a configuration key of this station"},
        )
        assert (await post(f"{base}/api/config/HeartbeatInterval", {"v": "1"}, "PUT"))[0] == 422
        assert rt.config.get_int("HeartbeatInterval") == 45
        # A key that needs a reboot says so, and keeps its running value until then.
        answer = await post(f"{base}/api/config/ConnectorPhaseRotation", {"value": "1.RST"}, "PUT")
        assert answer[0] == 200 and answer[1]["status"] in ("Accepted", "RebootRequired")


async def test_the_link_drops_and_comes_back(tmp_path: Path) -> None:
    async with station(tmp_path) as (csms, rt, base):
        first = csms.stations["CP-1"]
        status, view = await post(f"{base}/api/link/drop")
        assert status == 200 and view["id"] == "CP-1"
        async with asyncio.timeout(WAIT):
            while csms.stations.get("CP-1") is first or not rt.connected:
                await asyncio.sleep(0.02)
        # No reboot: a new connection only (one BootNotification in all).
        sent = [m["frame"] for m in rt.messages.after(0) if m["direction"] == "out"]
        assert [f[2] for f in sent if f[0] == 2].count("BootNotification") == 1


async def test_the_page_events(tmp_path: Path) -> None:
    async with station(tmp_path) as (_, rt, base):
        events: list[tuple[str, Any]] = []
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/events") as stream:
                assert stream.headers["Content-Type"] == "text/event-stream"

                async def read_until(done: Any) -> None:
                    kind = ""
                    async with asyncio.timeout(WAIT):
                        async for raw in stream.content:
                            line = raw.decode().rstrip("\n")
                            if line.startswith("event: "):
                                kind = line[7:]
                            elif line.startswith("data: "):
                                events.append((kind, json.loads(line[6:])))
                                if done():
                                    return

                # At once: the frames so far, the status, the power history, the keys.
                await read_until(lambda: any(k == "config" for k, _ in events))
                kinds = [k for k, _ in events]
                assert {"frame", "status", "history", "config"} <= set(kinds)
                first_frame = next(d for k, d in events if k == "frame")
                assert first_frame["seq"] == 1 and first_frame["frame"][2] == "BootNotification"
                status = next(d for k, d in events if k == "status")
                assert status["powered"] is True and status["registration"] == "Accepted"
                # A plug: its StatusNotification and the new status, pushed.
                await post(f"{base}/api/connectors/1/plug")
                await read_until(
                    lambda: any(
                        k == "status" and d["connectors"][1]["status"] == "Preparing"
                        for k, d in events
                    )
                )
                assert any(
                    k == "frame" and d["frame"][2:3] == ["StatusNotification"]
                    and d["frame"][3]["status"] == "Preparing"
                    for k, d in events
                )  # fmt: skip
                # A key changed by the central system: the keys again.
                before = sum(k == "config" for k, _ in events)
                rt.config.change("HeartbeatInterval", "33")
                await read_until(lambda: sum(k == "config" for k, _ in events) > before)
                keys = [d for k, d in events if k == "config"][-1]
                assert {"key": "HeartbeatInterval", "value": "33", "readonly": False} in keys


def broken_handlers(hardware: Any) -> dict[str, Any]:
    """A charger maker's handler with a mistake: a status 1.6 does not have."""
    return {"acme": lambda message_id, data: ("Fine", None)}


async def test_datatransfer_handlers_plugged_in(tmp_path: Path) -> None:
    plugins = [
        "ocpp_station.hardware.vendor_echo:handlers",
        "tests.integration.test_control_station:broken_handlers",
    ]
    async with station(tmp_path, datatransfer=plugins) as (csms, rt, _):
        session = csms.stations["CP-1"]
        echo = {"vendorId": "ocpp-station.echo", "messageId": "echo", "data": "<b>hi</b>"}
        assert await session.call("DataTransfer", echo) == {
            "status": "Accepted",
            "data": "<b>hi</b>",
        }
        meter = await session.call(
            "DataTransfer", {"vendorId": "ocpp-station.echo", "messageId": "meter"}
        )
        registers = json.loads(meter["data"])
        assert meter["status"] == "Accepted" and set(registers) == {"1", "2"}
        assert registers["1"] == round(rt.hardware.connectors[0].read_meter().energy_wh, 1)
        asked = {"vendorId": "ocpp-station.echo", "messageId": "what"}
        assert await session.call("DataTransfer", asked) == {"status": "UnknownMessageId"}
        assert await session.call("DataTransfer", {"vendorId": "acme"}) == {"status": "Rejected"}
        assert await session.call("DataTransfer", {"vendorId": "nobody"}) == {
            "status": "UnknownVendorId"
        }


def not_handlers(hardware: Any) -> list[str]:
    return ["acme"]


def test_a_plugin_that_is_not_one_is_refused_at_start() -> None:
    hw = Simulator(VirtualClock())
    with pytest.raises(ValueError, match="must be MODULE:FACTORY"):
        load_vendor_handlers("no_colon", hw)
    with pytest.raises(ValueError, match=r"cannot import no\.such\.module"):
        load_vendor_handlers("no.such.module:handlers", hw)
    with pytest.raises(ValueError, match="has no callable nothing"):
        load_vendor_handlers("ocpp_station.hardware.vendor_echo:nothing", hw)
    with pytest.raises(ValueError, match=r"must return \{vendorId: handler\}"):
        load_vendor_handlers("tests.integration.test_control_station:not_handlers", hw)
