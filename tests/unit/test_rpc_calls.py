"""RpcEndpoint, outbound side: one outstanding CALL, FIFO, answers, timeouts, connection loss."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ocpp_station.rpc import (
    CallErrorReceived,
    ConnectionLost,
    FormationViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    Router,
    RpcEndpoint,
    RpcTimeout,
    TypeConstraintViolation,
    encode_call,
    encode_error,
    encode_result,
)

TIMEOUT = 2.0
BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
BOOT_OK = {"status": "Accepted", "currentTime": "2024-05-01T10:00:00.000Z", "interval": 300}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}


class Wire:
    """A fake transport: records every frame the endpoint sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.fail = False

    async def send(self, data: bytes) -> None:
        if self.fail:
            raise ConnectionResetError("socket closed")
        self.sent.append(data)

    @property
    def frames(self) -> list[list[Any]]:
        return [orjson.loads(data) for data in self.sent]


async def until(predicate: Callable[[], Any]) -> None:
    """Let the loop run until predicate() holds; bounded by a number of loop turns."""
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"c{next(numbers)}"


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def endpoint(wire: Wire) -> RpcEndpoint:
    return RpcEndpoint(wire.send, Router(), next_id=counter(), response_timeout=TIMEOUT)


def start(coro: Any) -> asyncio.Task[Any]:
    return asyncio.ensure_future(coro)


async def test_call_returns_the_validated_result(endpoint: RpcEndpoint, wire: Wire) -> None:
    task = start(endpoint.call("BootNotification", BOOT))
    await until(lambda: wire.sent)
    assert wire.frames == [[2, "c1", "BootNotification", BOOT]]
    assert endpoint.busy
    await endpoint.feed(encode_result("c1", BOOT_OK))
    assert await asyncio.wait_for(task, TIMEOUT) == BOOT_OK
    assert not endpoint.busy


async def test_default_ids_are_uuid4_strings(wire: Wire) -> None:
    endpoint = RpcEndpoint(wire.send, Router())
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    message_id = wire.frames[0][1]
    assert len(message_id) == 36 and message_id.count("-") == 4
    await endpoint.feed(encode_result(message_id, {"currentTime": "2024-05-01T10:00:00Z"}))
    await asyncio.wait_for(task, TIMEOUT)


async def test_three_concurrent_calls_go_out_one_at_a_time_in_order(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    tasks = [
        start(endpoint.call("StatusNotification", {**STATUS, "connectorId": n})) for n in (1, 2, 3)
    ]
    for n in (1, 2, 3):
        await until(lambda n=n: len(wire.sent) == n)  # type: ignore[misc]
        # OCPP-J 1.6 §4.1.1: the next CALL only after the previous one was answered
        await asyncio.sleep(0)
        assert len(wire.sent) == n
        frame = wire.frames[-1]
        assert frame[:3] == [2, f"c{n}", "StatusNotification"]
        assert frame[3]["connectorId"] == n
        await endpoint.feed(encode_result(f"c{n}", {}))
    assert await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT) == [{}, {}, {}]


async def test_inbound_call_answered_while_ours_is_outstanding(wire: Wire) -> None:
    router = Router()
    endpoint = RpcEndpoint(wire.send, router, next_id=counter(), response_timeout=TIMEOUT)

    async def remote_start(payload: dict[str, Any]) -> dict[str, Any]:
        # the handler itself makes a CALL of ours: it must queue behind the outstanding one,
        # while the reader keeps feeding frames (no deadlock)
        await endpoint.call("StatusNotification", STATUS)
        return {"status": "Accepted"}

    router.route("RemoteStartTransaction", remote_start)
    boot = start(endpoint.call("BootNotification", BOOT))
    await until(lambda: len(wire.sent) == 1)
    # the CALLs cross on the wire (OCPP-J 1.6 §4.1.1 NOTE)
    await asyncio.wait_for(
        endpoint.feed(encode_call("s1", "RemoteStartTransaction", {"idTag": "A"})), TIMEOUT
    )
    await asyncio.sleep(0)
    assert len(wire.sent) == 1  # StatusNotification waits for BootNotification's answer
    await endpoint.feed(encode_result("c1", BOOT_OK))
    assert await asyncio.wait_for(boot, TIMEOUT) == BOOT_OK
    await until(lambda: len(wire.sent) == 2)
    assert wire.frames[1] == [2, "c2", "StatusNotification", STATUS]
    await endpoint.feed(encode_result("c2", {}))
    await until(lambda: len(wire.sent) == 3)
    assert wire.frames[2] == [3, "s1", {"status": "Accepted"}]


async def test_sync_inbound_call_answered_while_ours_is_outstanding(wire: Wire) -> None:
    router = Router()
    router.route("ClearCache", lambda _: {"status": "Accepted"})
    endpoint = RpcEndpoint(wire.send, router, next_id=counter(), response_timeout=TIMEOUT)
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    await endpoint.feed(encode_call("s1", "ClearCache", {}))
    assert wire.frames[1] == [3, "s1", {"status": "Accepted"}]
    assert endpoint.busy
    await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T10:00:00Z"}))
    await asyncio.wait_for(task, TIMEOUT)


async def test_result_with_unknown_id_is_ignored(endpoint: RpcEndpoint, wire: Wire) -> None:
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    await endpoint.feed(encode_result("someone-else", {"currentTime": "2024-05-01T10:00:00Z"}))
    await endpoint.feed(encode_error("someone-else", "GenericError", "", {}))
    await asyncio.sleep(0)
    assert not task.done() and endpoint.busy
    await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T11:00:00Z"}))
    assert await asyncio.wait_for(task, TIMEOUT) == {"currentTime": "2024-05-01T11:00:00Z"}


async def test_timeout_raises_and_the_next_queued_call_proceeds(wire: Wire) -> None:
    endpoint = RpcEndpoint(wire.send, Router(), next_id=counter(), response_timeout=0.05)
    first = start(endpoint.call("Heartbeat", {}))
    second = start(endpoint.call("StatusNotification", STATUS))
    with pytest.raises(RpcTimeout) as info:
        await asyncio.wait_for(first, TIMEOUT)
    assert info.value.action == "Heartbeat"
    await until(lambda: len(wire.sent) == 2)
    assert wire.frames[1][:3] == [2, "c2", "StatusNotification"]
    # a late answer to the timed-out CALL is not taken for the new one
    await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T10:00:00Z"}))
    await asyncio.sleep(0)
    assert not second.done()
    await endpoint.feed(encode_result("c2", {}))
    assert await asyncio.wait_for(second, TIMEOUT) == {}


async def test_per_call_timeout(endpoint: RpcEndpoint, wire: Wire) -> None:
    with pytest.raises(RpcTimeout) as info:
        await asyncio.wait_for(endpoint.call("Heartbeat", {}, timeout=0.01), TIMEOUT)
    assert info.value.timeout == 0.01
    assert not endpoint.busy
    with pytest.raises(ValueError):
        await endpoint.call("Heartbeat", {}, timeout=0)


async def test_connection_lost_fails_outstanding_and_waiting_calls(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    tasks = [start(endpoint.call("Heartbeat", {})) for _ in range(3)]
    await until(lambda: wire.sent)
    endpoint.connection_lost()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
    assert [type(r) for r in results] == [ConnectionLost] * 3
    assert len(wire.sent) == 1  # the waiting ones were never sent
    assert not endpoint.busy
    with pytest.raises(ConnectionLost):
        await endpoint.call("Heartbeat", {})


async def test_send_failure_is_connection_lost(endpoint: RpcEndpoint, wire: Wire) -> None:
    wire.fail = True
    with pytest.raises(ConnectionLost) as info:
        await asyncio.wait_for(endpoint.call("Heartbeat", {}), TIMEOUT)
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert not endpoint.busy


async def test_callerror_received(endpoint: RpcEndpoint, wire: Wire) -> None:
    task = start(
        endpoint.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "2024-05-01T10:00:00Z"},
        )
    )
    await until(lambda: wire.sent)
    await endpoint.feed(b'[4,"c1","SecurityError","not accepted yet",{"hint":"boot first"}]')
    with pytest.raises(CallErrorReceived) as info:
        await asyncio.wait_for(task, TIMEOUT)
    err = info.value
    assert (err.action, err.code, err.description, err.details) == (
        "StartTransaction",
        "SecurityError",
        "not accepted yet",
        {"hint": "boot first"},
    )


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ({"status": "Accepted", "currentTime": "2024-05-01T10:00:00Z"}, ProtocolError),
        ({**BOOT_OK, "status": "Maybe"}, PropertyConstraintViolation),
        ({**BOOT_OK, "interval": "300"}, TypeConstraintViolation),
        ({**BOOT_OK, "extra": True}, FormationViolation),
    ],
)
async def test_invalid_result_raises_its_ocpp_error(
    endpoint: RpcEndpoint, wire: Wire, result: dict[str, Any], error: type[OcppError]
) -> None:
    task = start(endpoint.call("BootNotification", BOOT))
    await until(lambda: wire.sent)
    await endpoint.feed(encode_result("c1", result))
    with pytest.raises(OcppError) as info:
        await asyncio.wait_for(task, TIMEOUT)
    assert type(info.value) is error
    assert not endpoint.busy


async def test_malformed_answer_to_our_call_is_formation_violation(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    await endpoint.feed(b'[3,"c1",{"currentTime": ')
    with pytest.raises(FormationViolation):
        await asyncio.wait_for(task, TIMEOUT)
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: len(wire.sent) == 2)
    await endpoint.feed(b'[4,"c2","GenericError"]')
    with pytest.raises(FormationViolation):
        await asyncio.wait_for(task, TIMEOUT)
    assert len(wire.sent) == 2  # no CALLERROR is ever sent for an answer


async def test_result_timestamps_follow_the_leniency_setting(wire: Wire) -> None:
    for lenient, ok in ((True, True), (False, False)):
        endpoint = RpcEndpoint(wire.send, Router(), next_id=counter(), lenient_timestamps=lenient)
        task = start(endpoint.call("Heartbeat", {}))
        await until(lambda: len(wire.sent) == 1)
        wire.sent.clear()
        await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T10:00:00"}))
        if ok:
            assert await asyncio.wait_for(task, TIMEOUT) == {"currentTime": "2024-05-01T10:00:00"}
        else:
            with pytest.raises(PropertyConstraintViolation):
                await asyncio.wait_for(task, TIMEOUT)


async def test_outbound_validation_refuses_our_own_bad_call(wire: Wire) -> None:
    endpoint = RpcEndpoint(wire.send, Router(), validate_outbound=True)
    with pytest.raises(ProtocolError):
        await endpoint.call("BootNotification", {"chargePointVendor": "V"})
    # strict on what we send: a timestamp without zone is refused
    with pytest.raises(PropertyConstraintViolation):
        await endpoint.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "2024-05-01T10:00:00"},
        )
    assert wire.sent == []


async def test_actions_outside_1_6_can_be_sent_and_are_not_validated(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    # a conformance tool sends such CALLs on purpose to see NotImplemented come back
    task = start(endpoint.call("FlyToTheMoon", {"x": 1}))
    await until(lambda: wire.sent)
    await endpoint.feed(encode_error("c1", "NotImplemented", "", {}))
    with pytest.raises(CallErrorReceived) as info:
        await asyncio.wait_for(task, TIMEOUT)
    assert info.value.code == "NotImplemented"


async def test_cancelled_caller_frees_the_line(endpoint: RpcEndpoint, wire: Wire) -> None:
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not endpoint.busy
    nxt = start(endpoint.call("Heartbeat", {}))
    await until(lambda: len(wire.sent) == 2)
    await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T10:00:00Z"}))  # late
    await endpoint.feed(encode_result("c2", {"currentTime": "2024-05-01T10:00:01Z"}))
    assert await asyncio.wait_for(nxt, TIMEOUT) == {"currentTime": "2024-05-01T10:00:01Z"}


async def test_on_frame_sees_our_calls(wire: Wire) -> None:
    log: list[tuple[str, list[Any]]] = []
    endpoint = RpcEndpoint(
        wire.send, Router(), next_id=counter(), on_frame=lambda d, f: log.append((d, f))
    )
    task = start(endpoint.call("Heartbeat", {}))
    await until(lambda: wire.sent)
    await endpoint.feed(encode_result("c1", {"currentTime": "2024-05-01T10:00:00Z"}))
    await asyncio.wait_for(task, TIMEOUT)
    assert log == [
        ("out", [2, "c1", "Heartbeat", {}]),
        ("in", [3, "c1", {"currentTime": "2024-05-01T10:00:00Z"}]),
    ]
