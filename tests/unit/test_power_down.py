"""A controlled shutdown (SIGTERM, Station.power_down) starts no new session in its grace time.

Sessions stop with reason PowerLoss and the outbox drains for up to the grace time; a session
begun meanwhile would be cut off at once, so a RemoteStartTransaction is Rejected, a card is
refused with a log line, and an idTag accepted earlier starts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ocpp_station.station.transactions import Sessions
from tests.unit.harness import Harness
from tests.unit.test_station_sessions import booted

Payload = dict[str, Any]
GRACE = 5.0


class Held:
    """Keeps the central system's answers to one action until released."""

    def __init__(self, h: Harness, action: str) -> None:
        self.h = h
        self.action = action
        self.waiting: list[tuple[Payload, asyncio.Future[Payload]]] = []
        plain = h.csms.call

        async def call(action: str, payload: Payload) -> Payload:
            if action != self.action:
                return await plain(action, payload)
            h.csms.sent.append((action, payload))
            future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
            self.waiting.append((payload, future))
            return await future

        h.csms.call = call  # type: ignore[method-assign]

    async def release(self, answer: Payload | None = None) -> None:
        for payload, future in self.waiting:
            future.set_result(answer or self.h.csms.default(self.action, payload))
        self.waiting.clear()
        await self.h.settle()


async def charging_then_power_down(h: Harness) -> tuple[Held, asyncio.Task[None]]:
    """Connector 1 charging; the shutdown begins and waits for its StopTransaction answer."""
    await h.plug(1)
    await h.card("TAG1", 1)
    assert h.status(1) == "Charging"
    stops = Held(h, "StopTransaction")
    task = h.station.spawn(h.station.power_down(GRACE))
    await h.settle()
    assert not task.done()  # in the grace time: the StopTransaction is not answered yet
    assert [p["reason"] for p, _ in stops.waiting] == ["PowerLoss"]
    return stops, task


def starts(h: Harness) -> list[Payload]:
    return h.csms.of("StartTransaction")


async def test_remote_start_is_rejected_in_the_grace_time() -> None:
    h = await booted()
    stops, task = await charging_then_power_down(h)
    await h.plug(2)
    for request in ({"idTag": "R2", "connectorId": 2}, {"idTag": "R2"}):
        assert (await h.request("RemoteStartTransaction", request)) == {"status": "Rejected"}
    await h.run_for(1)
    assert len(starts(h)) == 1  # only the session that was stopped
    await stops.release()
    assert task.done()
    await h.close()


async def test_a_card_is_refused_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    h = await booted()
    _, task = await charging_then_power_down(h)
    await h.plug(2)
    h.csms.clear()
    with caplog.at_level(logging.INFO, logger="ocpp_station.station"):
        await h.card("TAG2", 2)
        await h.card("TAG3")
    assert "Authorize" not in h.csms.actions()  # not even asked: nothing could start
    assert starts(h) == []
    refused = [r.getMessage() for r in caplog.records if "shutting down" in r.getMessage()]
    assert refused == [
        "card TAG2 refused: the station is shutting down",
        "card TAG3 refused: the station is shutting down",
    ]
    await h.run_for(GRACE + 1)
    assert task.done()  # the grace time ends the wait even without an answer
    assert starts(h) == []
    await h.close()


async def test_a_card_waiting_for_the_plug_starts_nothing() -> None:
    h = await booted()
    await h.card("TAG2", 2)  # identification first: connector 2 waits for the cable
    assert h.status(2) == "Preparing"
    stops, _ = await charging_then_power_down(h)
    await h.plug(2)
    assert len(starts(h)) == 1
    assert h.connector(2).transaction is None
    await stops.release()
    await h.close()


async def test_a_remote_start_without_connector_accepted_before_starts_nothing() -> None:
    h = await booted()
    answer = await h.request("RemoteStartTransaction", {"idTag": "R9"})
    assert answer == {"status": "Accepted"}
    stops, _ = await charging_then_power_down(h)
    await h.plug(2)
    assert len(starts(h)) == 1
    assert h.connector(2).transaction is None
    await stops.release()
    await h.close()


@pytest.mark.parametrize("by", ["card", "remote"])
async def test_an_authorize_answered_after_the_shutdown_began_starts_nothing(
    by: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = await booted()
    await h.plug(2)
    authorize = Held(h, "Authorize")
    if by == "card":
        await h.card("TAG2", 2)
        expected = "card TAG2 refused: the station is shutting down"
    else:
        await h.request("RemoteStartTransaction", {"idTag": "TAG2", "connectorId": 2})
        expected = "remote start for TAG2 dropped: the station is shutting down"
    assert len(authorize.waiting) == 1  # the Authorize is out
    task = h.station.spawn(h.station.power_down(GRACE))
    with caplog.at_level(logging.INFO, logger="ocpp_station.station"):
        await authorize.release()
    assert task.done()
    assert starts(h) == []
    assert h.connector(2).transaction is None
    assert expected in [r.getMessage() for r in caplog.records]
    await h.close()


async def test_power_down_sets_the_refusal_before_stopping_the_sessions() -> None:
    h = await booted()
    assert h.service(Sessions).closed is None
    assert (await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})) == {
        "status": "Accepted"
    }
    await h.station.power_down(GRACE)
    assert h.service(Sessions).closed == "the station is shutting down"
    assert (await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 2})) == {
        "status": "Rejected"
    }
    await h.close()


async def test_offline_the_shutdown_waits_for_a_reconnection_only_when_asked() -> None:
    # A charger's UPS does not wait for a central system that is away...
    h = await booted()
    await h.plug(1)
    await h.card("TAG1", 1)
    h.disconnect()
    await h.station.power_down(GRACE)
    assert h.station.sender.queued == 1 and h.csms.of("StopTransaction") == []
    await h.close()

    # ...but a store that dies with the process (a memory-only fleet) waits for the connection
    # to come back within the grace time, and the StopTransaction goes out.
    h = await booted()
    await h.plug(1)
    await h.card("TAG1", 1)
    h.disconnect()
    task = h.station.spawn(h.station.power_down(GRACE, wait_offline=True))
    await h.run_for(2)
    assert not task.done() and h.csms.of("StopTransaction") == []
    h.connect()
    await h.settle()
    assert task.done() and h.station.sender.queued == 0
    assert [p["reason"] for p in h.csms.of("StopTransaction")] == ["PowerLoss"]
    await h.close()
