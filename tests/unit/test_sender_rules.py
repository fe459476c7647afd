"""The Sender on its own, with a scripted central system: the order of what leaves, what a
connection loss, a time-out and a CALLERROR each do, and what the outbox keeps (§4.2, §4.7,
digest §3, [E] 3.18, [JE] 3.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_station.clock import VirtualClock
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, RpcTimeout
from ocpp_station.station.connector import Transaction
from ocpp_station.station.sender import TIMEOUT_RESEND, NotConnected, QueuedMessage, Sender
from ocpp_station.storage.memory import MemoryStore

Answer = dict[str, Any] | BaseException


def _empty(payload: dict[str, Any]) -> Answer:
    return {}


class Central:
    """Records each CALL; answers with what `answers[action]` gives (a dict, or an exception
    to raise), `{}` by default."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Callable[[dict[str, Any]], Answer]] = {}

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((action, dict(payload)))
        answer = self.answers.get(action, _empty)(payload)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]


class Setup:
    def __init__(self, attempts: int = 1, interval: int = 10, journal: bool = False) -> None:
        self.clock = VirtualClock()
        self.store = MemoryStore() if journal else None
        self.sender = Sender(self.clock, lambda: attempts, lambda: interval, self.store)
        self.central = Central()

    def online(self, accepted: bool = True) -> None:
        self.sender.connected(self.central)
        self.sender.set_accepted(accepted)

    async def settle(self) -> None:
        for _ in range(30):
            await asyncio.sleep(0)

    async def run_for(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            self.clock.advance(0.1)
            await self.settle()


def transaction(local_id: int = 1) -> Transaction:
    return Transaction(local_id, 1, "TAG", None, 0, datetime(2026, 1, 1, tzinfo=UTC))


def explode(result: dict[str, Any]) -> None:
    raise RuntimeError("a hook that breaks")


def call_error() -> CallErrorReceived:
    return CallErrorReceived("StartTransaction", "InternalError", "", {})


async def test_the_reasons_a_message_cannot_go() -> None:
    s = Setup()
    with pytest.raises(NotConnected, match=r"^offline$"):
        await s.sender.request("Authorize", {"idTag": "T"})
    with pytest.raises(NotConnected, match=r"^not connected$"):
        await s.sender.call_now("BootNotification", {})
    assert s.sender.notify("StatusNotification", {}) is False
    s.online(accepted=False)
    with pytest.raises(NotConnected, match=r"^not accepted yet$"):
        await s.sender.request("Authorize", {"idTag": "T"})
    assert s.sender.notify("StatusNotification", {}) is False
    assert await s.sender.call_now("BootNotification", {"x": 1}) == {}
    assert s.central.calls == [("BootNotification", {"x": 1})]
    assert not s.sender.accepted and s.sender.online and not s.sender.open


async def test_a_connection_loss_fails_every_waiting_request_of_both_lanes() -> None:
    s = Setup()
    s.online()  # the worker is not started: both requests wait
    urgent = asyncio.ensure_future(s.sender.request("Authorize", {"idTag": "T"}))
    plain = asyncio.ensure_future(s.sender.request("StatusNotification", {"connectorId": 1}))
    assert s.sender.notify("StatusNotification", {"connectorId": 2})  # nobody waits on it
    await s.settle()
    s.sender.disconnected()
    for request in (urgent, plain):
        with pytest.raises(NotConnected, match=r"^connection lost$"):
            await request
    assert not s.sender.online
    s.sender.start()
    await s.settle()
    assert s.central.calls == []  # nothing left over to send on the next connection
    await s.sender.stop()


async def test_a_refused_registration_fails_waiting_requests_too() -> None:
    s = Setup()
    s.online()
    waiting = asyncio.ensure_future(s.sender.request("Heartbeat", {}))
    await s.settle()
    s.sender.set_accepted(False)
    with pytest.raises(NotConnected, match=r"^connection lost$"):
        await waiting
    assert s.sender.online and not s.sender.accepted


async def test_requests_someone_waits_on_overtake_the_backlog_statuses_do_not() -> None:
    """§3.7: Authorize, Heartbeat and DataTransfer go ahead of queued transaction messages;
    a status keeps its place behind them."""
    s = Setup()
    s.online()
    s.sender.enqueue("StartTransaction", {"connectorId": 1}, transaction())
    assert s.sender.notify("StatusNotification", {"connectorId": 1}) is True
    heartbeat = asyncio.ensure_future(s.sender.request("Heartbeat", {}))
    await s.settle()  # the request is in its lane
    assert s.sender.notify("DataTransfer", {"vendorId": "v"}) is True
    s.sender.start()
    await s.settle()
    assert s.central.actions() == [
        "Heartbeat",
        "DataTransfer",
        "StartTransaction",
        "StatusNotification",
    ]
    assert await heartbeat == {}
    await s.sender.stop()


async def test_a_request_other_than_the_overtaking_ones_waits_its_turn() -> None:
    s = Setup()
    s.online()
    s.sender.enqueue("StopTransaction", {"transactionId": 1}, None)
    status = asyncio.ensure_future(s.sender.request("StatusNotification", {"connectorId": 1}))
    await s.settle()
    s.sender.start()
    assert await status == {}
    assert s.central.actions() == ["StopTransaction", "StatusNotification"]
    # Stopped and started again: the worker goes on.
    await s.sender.stop()
    s.sender.start()
    s.sender.notify("Heartbeat", {})
    await s.settle()
    assert s.central.actions()[-1] == "Heartbeat"
    await s.sender.stop()


async def test_while_pending_only_triggered_messages_go_and_their_answers_come_back() -> None:
    s = Setup()
    s.online(accepted=False)
    answers: list[dict[str, Any]] = []
    s.central.answers["Heartbeat"] = lambda p: {"currentTime": "2026-01-01T00:00:00Z"}
    assert s.sender.notify("Heartbeat", {}) is False  # not asked for: held to the gate
    assert s.sender.notify("Heartbeat", {}, on_result=answers.append, triggered=True) is True
    s.sender.start()
    await s.settle()
    assert s.central.actions() == ["Heartbeat"]
    assert answers == [{"currentTime": "2026-01-01T00:00:00Z"}]
    s.sender.disconnected()
    assert s.sender.notify("Heartbeat", {}, triggered=True) is False  # offline: dropped
    await s.sender.stop()


async def test_without_a_journal_the_answer_reaches_its_hook() -> None:
    s = Setup(journal=False)
    s.online()
    results: list[dict[str, Any]] = []
    s.central.answers["StartTransaction"] = lambda p: {"transactionId": 4}
    s.sender.enqueue("StartTransaction", {}, transaction(), on_result=results.append)
    s.sender.start()
    await s.settle()
    assert results == [{"transactionId": 4}] and s.sender.delivered == 1
    await s.sender.stop()


async def test_statuses_sent_first_lead_even_the_urgent_lane() -> None:
    s = Setup()
    s.online()
    s.sender.enqueue("StopTransaction", {"transactionId": 5}, None)
    s.sender.notify("Authorize", {"idTag": "T"})
    s.sender.notify("StatusNotification", {"connectorId": 0}, first=True)
    s.sender.notify("StatusNotification", {"connectorId": 1}, first=True)
    s.sender.notify("StatusNotification", {"connectorId": 2})
    s.sender.start()
    await s.settle()
    assert s.central.calls == [
        ("StatusNotification", {"connectorId": 0}),
        ("StatusNotification", {"connectorId": 1}),
        ("Authorize", {"idTag": "T"}),
        ("StopTransaction", {"transactionId": 5}),
        ("StatusNotification", {"connectorId": 2}),
    ]
    await s.sender.stop()


async def test_on_result_gets_the_answer_and_only_an_answer() -> None:
    s = Setup()
    s.online()
    results: list[dict[str, Any]] = []
    s.central.answers["DataTransfer"] = lambda p: (
        {"status": "Accepted"} if p["vendorId"] == "ok" else call_error()
    )
    s.sender.notify("DataTransfer", {"vendorId": "ok"}, on_result=results.append)
    s.sender.notify("DataTransfer", {"vendorId": "no"}, on_result=results.append)
    s.sender.notify("StatusNotification", {}, first=True, on_result=results.append)
    s.sender.start()
    await s.settle()
    assert results == [{}, {"status": "Accepted"}]
    # A hook that raises does not stop the worker.
    s.sender.notify("Heartbeat", {}, on_result=explode)
    s.sender.notify("StatusNotification", {"connectorId": 1})
    await s.settle()
    assert s.central.actions()[-2:] == ["Heartbeat", "StatusNotification"]
    await s.sender.stop()


async def test_a_request_gets_its_callerror() -> None:
    s = Setup()
    s.online()
    error = call_error()
    s.central.answers["Authorize"] = lambda p: error
    s.sender.start()
    with pytest.raises(CallErrorReceived) as raised:
        await s.sender.request("Authorize", {"idTag": "T"})
    assert raised.value is error
    await s.sender.stop()


async def test_follow_ups_carry_the_central_id_or_minus_one_after_a_give_up() -> None:
    s = Setup(attempts=1, journal=True)
    s.online()
    given_up: list[str] = []
    started = transaction(1)
    s.central.answers["StartTransaction"] = lambda p: call_error()
    s.sender.enqueue(
        "StartTransaction", {"connectorId": 1}, started, on_give_up=lambda: given_up.append("start")
    )
    s.sender.enqueue("MeterValues", {"connectorId": 1}, started)
    second = transaction(2)
    second.transaction_id = 77
    s.sender.enqueue("StopTransaction", {"meterStop": 5}, second)
    s.sender.start()
    await s.settle()
    assert s.central.calls == [
        ("StartTransaction", {"connectorId": 1}),  # no transactionId put into a start
        ("MeterValues", {"connectorId": 1, "transactionId": -1}),  # [E] 3.18
        ("StopTransaction", {"meterStop": 5, "transactionId": 77}),
    ]
    assert given_up == ["start"]
    assert [m.action for m in s.sender.given_up] == ["StartTransaction"]
    assert s.sender.delivered == 2 and s.sender.queued == 0
    assert s.store is not None
    # The given-up start stays in the store, never dropped; the delivered ones are gone.
    assert [m.action for m in s.store.outbox_given_up()] == ["StartTransaction"]
    assert s.store.outbox_given_up()[0].attempts == 1
    assert s.store.outbox_pending() == []
    await s.sender.stop()


async def test_each_callerror_is_an_attempt_written_to_the_outbox() -> None:
    s = Setup(attempts=3, interval=10, journal=True)
    s.online()
    s.central.answers["StopTransaction"] = lambda p: call_error()
    message = s.sender.enqueue("StopTransaction", {"transactionId": 3}, None)
    assert s.store is not None
    [stored] = s.store.outbox_pending()
    assert (stored.action, stored.payload, stored.local_id) == (
        "StopTransaction",
        {"transactionId": 3},
        None,
    )
    s.sender.start()
    await s.settle()
    assert message.attempts == 1 and s.store.outbox_pending()[0].attempts == 1
    assert message.not_before == pytest.approx(s.clock.monotonic() + 10)
    await s.run_for(10)
    assert message.attempts == 2 and s.store.outbox_pending()[0].attempts == 2
    await s.run_for(20.5)
    assert message.attempts == 3
    assert s.store.outbox_pending() == [] and len(s.store.outbox_given_up()) == 1
    assert s.sender.given_up == [message] and s.sender.delivered == 0
    await s.sender.stop()


async def test_the_outbox_row_names_the_transaction() -> None:
    s = Setup(journal=True)
    s.sender.enqueue("StartTransaction", {"connectorId": 1}, transaction(local_id=42))
    assert s.store is not None
    assert [m.local_id for m in s.store.outbox_pending()] == [42]


async def test_a_time_out_resends_after_a_pause_without_counting_an_attempt() -> None:
    s = Setup(attempts=1, journal=True)
    s.online()
    answers: list[Answer] = [RpcTimeout("StopTransaction", 30), {"idTagInfo": {}}]
    s.central.answers["StopTransaction"] = lambda p: answers.pop(0)
    message = s.sender.enqueue("StopTransaction", {"transactionId": 3}, None)
    s.sender.start()
    await s.settle()
    assert s.central.actions() == ["StopTransaction"]
    assert message.attempts == 0
    assert message.not_before == pytest.approx(s.clock.monotonic() + TIMEOUT_RESEND)
    await s.run_for(TIMEOUT_RESEND - 0.2)
    assert s.central.actions() == ["StopTransaction"]  # not at once
    await s.run_for(0.3)
    assert s.central.actions() == ["StopTransaction", "StopTransaction"]
    assert s.sender.delivered == 1 and s.sender.given_up == []
    assert s.store is not None and s.store.outbox_pending() == []
    await s.sender.stop()


async def test_a_connection_lost_mid_send_keeps_the_message_for_the_next_connection() -> None:
    s = Setup(attempts=1)
    s.online()
    s.central.answers["StartTransaction"] = lambda p: ConnectionLost("gone")
    message = s.sender.enqueue("StartTransaction", {"connectorId": 1}, transaction())
    s.sender.start()
    await s.settle()
    # Sent once, not again and again on a connection that is going: it is dropped at once.
    assert s.central.actions() == ["StartTransaction"]
    assert not s.sender.online and message.attempts == 0 and s.sender.queued == 1
    s.central.answers.clear()
    s.online()
    await s.settle()
    assert s.central.actions() == ["StartTransaction", "StartTransaction"]
    assert s.sender.queued == 0 and s.sender.delivered == 1
    await s.sender.stop()


async def test_answers_update_the_transaction_before_the_next_message_goes() -> None:
    s = Setup(journal=True)
    s.online()
    started = transaction()

    def answered(result: dict[str, Any]) -> None:
        started.transaction_id = result["transactionId"]

    s.central.answers["StartTransaction"] = lambda p: {"transactionId": 9}
    s.sender.enqueue("StartTransaction", {}, started, on_result=answered)
    s.sender.enqueue("StopTransaction", {}, started, on_result=explode)
    s.sender.start()
    await s.settle()
    assert s.central.calls[1] == ("StopTransaction", {"transactionId": 9})
    assert s.sender.delivered == 2  # a hook that raises does not undo the delivery
    await s.sender.stop()


async def test_restored_messages_go_before_new_ones_and_drain_waits_for_them() -> None:
    s = Setup()
    s.sender.restore([QueuedMessage(0, "StopTransaction", {"n": 1}, None)])
    s.online()
    s.sender.notify("StatusNotification", {"n": 2})  # made after the restored message
    s.sender.enqueue("MeterValues", {"n": 3}, None)
    assert s.sender.queued == 2
    s.sender.start()
    draining = asyncio.ensure_future(s.sender.drain(5))
    await s.settle()
    assert await draining is True
    assert [p for _, p in s.central.calls] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert await s.sender.drain(5) is True  # nothing queued: at once
    await s.sender.stop()


async def test_drain_gives_up_after_its_time() -> None:
    s = Setup()
    s.sender.enqueue("StopTransaction", {}, None)  # offline: it stays
    draining = asyncio.ensure_future(s.sender.drain(3))
    await s.run_for(2.5)
    assert not draining.done()
    await s.run_for(1)
    assert await draining is False
