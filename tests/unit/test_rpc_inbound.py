"""RpcEndpoint, inbound side: routing CALLs, every CALLERROR path, after hooks, observers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ocpp_station.rpc import (
    NotSupported,
    Router,
    RpcEndpoint,
    SecurityError,
    encode_call,
    encode_result,
    schemas,
)

TIMEOUT = 2.0

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}


class Wire:
    """A fake transport: records every frame the endpoint sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.fail = False

    async def send(self, data: bytes) -> None:
        if self.fail:
            raise ConnectionResetError("socket closed")
        assert isinstance(data, bytes)
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


def accept(_: dict[str, Any]) -> dict[str, Any]:
    return {"status": "Accepted"}


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def router() -> Router:
    router = Router()
    router.route("RemoteStartTransaction", accept)
    router.route("ChangeAvailability", accept)
    router.route("MeterValues", lambda _: {})
    router.route("SetChargingProfile", accept)
    router.route("ReserveNow", accept)
    router.route("ClearCache", accept)
    return router


@pytest.fixture
def endpoint(wire: Wire, router: Router) -> RpcEndpoint:
    return RpcEndpoint(wire.send, router)


async def answer_to(endpoint: RpcEndpoint, wire: Wire, data: bytes | str) -> list[Any]:
    """Feed one frame and return the single frame sent in reply."""
    before = len(wire.sent)
    await endpoint.feed(data)
    assert len(wire.sent) == before + 1, wire.frames[before:]
    return wire.frames[-1]


# ------------------------------------------------------------------------------- happy paths


async def test_sync_handler_is_answered_inline(endpoint: RpcEndpoint, wire: Wire) -> None:
    seen: list[dict[str, Any]] = []

    def handler(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        return {"status": "Accepted"}

    router = Router()
    router.route("RemoteStartTransaction", handler)
    endpoint = RpcEndpoint(wire.send, router)
    tasks_before = asyncio.all_tasks()
    await endpoint.feed(
        encode_call("m1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "AB"})
    )
    # answered before feed() returned, and no task was made for it
    assert wire.frames == [[3, "m1", {"status": "Accepted"}]]
    assert asyncio.all_tasks() == tasks_before
    # the handler got the wire's dict, camelCase keys untouched
    assert seen == [{"connectorId": 1, "idTag": "AB"}]


async def test_async_handler_runs_in_its_own_task(wire: Wire) -> None:
    release = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"status": "Rejected"}

    router = Router()
    router.route("RemoteStartTransaction", handler)
    endpoint = RpcEndpoint(wire.send, router)
    # feed() returns although the handler is still waiting: the reader never waits on it
    await asyncio.wait_for(
        endpoint.feed(encode_call("m1", "RemoteStartTransaction", {"idTag": "AB"})), TIMEOUT
    )
    assert wire.sent == []
    release.set()
    await until(lambda: wire.sent)
    assert wire.frames == [[3, "m1", {"status": "Rejected"}]]


async def test_null_payload_is_taken_as_empty(endpoint: RpcEndpoint, wire: Wire) -> None:
    assert await answer_to(endpoint, wire, b'[2,"m1","ClearCache",null]') == [
        3,
        "m1",
        {"status": "Accepted"},
    ]


# ------------------------------------------------------------------------- CALLERROR paths


async def test_malformed_json_with_readable_id(endpoint: RpcEndpoint, wire: Wire) -> None:
    frame = await answer_to(endpoint, wire, b'[2,"m1","RemoteStartTransaction",{"idTag": }]')
    assert frame[:3] == [4, "m1", "FormationViolation"]
    assert isinstance(frame[3], str) and frame[4] == {}


async def test_malformed_json_without_id_sends_nothing(endpoint: RpcEndpoint, wire: Wire) -> None:
    for data in (b"{{{", b"[2, ", b"", b"null", b"[]", b'{"id": "m1"}'):
        await endpoint.feed(data)
    assert wire.sent == []


async def test_wrong_array_length(endpoint: RpcEndpoint, wire: Wire) -> None:
    frame = await answer_to(endpoint, wire, b'[2,"m1","RemoteStartTransaction"]')
    assert frame[:3] == [4, "m1", "FormationViolation"]
    frame = await answer_to(endpoint, wire, b'[2,"m2","ClearCache",{},{}]')
    assert frame[:3] == [4, "m2", "FormationViolation"]


async def test_wrong_element_types(endpoint: RpcEndpoint, wire: Wire) -> None:
    frame = await answer_to(endpoint, wire, b'[2,"m1",17,{}]')
    assert frame[:3] == [4, "m1", "FormationViolation"]
    frame = await answer_to(endpoint, wire, b'[2,"m2","ClearCache",[]]')
    assert frame[:3] == [4, "m2", "FormationViolation"]
    # an id that is a number is echoed as its digits; one that is neither cannot be answered
    frame = await answer_to(endpoint, wire, b'[2,42,"ClearCache",{}]')
    assert frame[:3] == [4, "42", "FormationViolation"]
    await endpoint.feed(b'[2,null,"ClearCache",{}]')
    await endpoint.feed(b'[2,{"id":1},"ClearCache",{}]')
    assert len(wire.sent) == 3


async def test_unknown_message_type_is_ignored(
    endpoint: RpcEndpoint, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ocpp_station.rpc"):
        await endpoint.feed(b'[5,"m1","RemoteStartTransaction",{"idTag":"A"}]')
        await endpoint.feed(b'[0,"m2"]')
    assert wire.sent == []
    assert "unknown MessageTypeId" in caplog.text


async def test_id_longer_than_36_characters(endpoint: RpcEndpoint, wire: Wire) -> None:
    long_id = "i" * 37
    frame = await answer_to(endpoint, wire, encode_call(long_id, "ClearCache", {}))
    assert frame[:3] == [4, long_id, "FormationViolation"]
    assert (await answer_to(endpoint, wire, encode_call("i" * 36, "ClearCache", {})))[0] == 3


async def test_unknown_action_is_not_implemented(endpoint: RpcEndpoint, wire: Wire) -> None:
    frame = await answer_to(endpoint, wire, encode_call("m1", "FlyToTheMoon", {}))
    assert frame[:3] == [4, "m1", "NotImplemented"]
    # case matters: action names are case-sensitive (OCPP-J 1.6 §4.2.1)
    frame = await answer_to(endpoint, wire, encode_call("m2", "clearCache", {}))
    assert frame[:3] == [4, "m2", "NotImplemented"]


async def test_known_action_without_handler_is_not_supported(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    frame = await answer_to(
        endpoint, wire, encode_call("m1", "SendLocalList", {"listVersion": 1, "updateType": "Full"})
    )
    assert frame[:3] == [4, "m1", "NotSupported"]
    # even when the payload would be invalid: support is checked first ([E] 3.39)
    frame = await answer_to(endpoint, wire, encode_call("m2", "GetCompositeSchedule", {"x": 1}))
    assert frame[:3] == [4, "m2", "NotSupported"]


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("RemoteStartTransaction", {"connectorId": 1}, "ProtocolError"),
        ("RemoteStartTransaction", {"idTag": 7}, "TypeConstraintViolation"),
        (
            "ChangeAvailability",
            {"connectorId": 1, "type": "Sideways"},
            "PropertyConstraintViolation",
        ),
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingProfilePurpose": "Nope"}},
            "PropertyConstraintViolation",
        ),
        ("RemoteStartTransaction", {"idTag": "A", "colour": "red"}, "FormationViolation"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        ("RemoteStartTransaction", {"idTag": "x" * 21}, "PropertyConstraintViolation"),
    ],
)
async def test_schema_failures_get_their_1_6_code(
    endpoint: RpcEndpoint, wire: Wire, action: str, payload: dict[str, Any], code: str
) -> None:
    frame = await answer_to(endpoint, wire, encode_call("m1", action, payload))
    assert frame[:3] == [4, "m1", code]
    assert isinstance(frame[3], str) and frame[3]
    assert isinstance(frame[4], dict)


async def test_timestamps_lenient_by_default_strict_on_request(wire: Wire, router: Router) -> None:
    reserve = {
        "connectorId": 1,
        "expiryDate": "2024-05-01T10:00:00",
        "idTag": "A",
        "reservationId": 3,
    }
    lenient = RpcEndpoint(wire.send, router)
    assert (await answer_to(lenient, wire, encode_call("m1", "ReserveNow", reserve)))[0] == 3
    strict = RpcEndpoint(wire.send, router, lenient_timestamps=False)
    frame = await answer_to(strict, wire, encode_call("m2", "ReserveNow", reserve))
    assert frame[:3] == [4, "m2", "PropertyConstraintViolation"]


async def test_handler_raising_ocpp_error(wire: Wire) -> None:
    def refuse(_: dict[str, Any]) -> dict[str, Any]:
        raise SecurityError("not before BootNotification is Accepted", {"state": "Pending"})

    async def refuse_later(_: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        raise NotSupported("no smart charging")

    router = Router()
    router.route("ClearCache", refuse)
    router.route("SetChargingProfile", refuse_later)
    endpoint = RpcEndpoint(wire.send, router)
    frame = await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {}))
    assert frame == [
        4,
        "m1",
        "SecurityError",
        "not before BootNotification is Accepted",
        {"state": "Pending"},
    ]
    await endpoint.feed(
        encode_call("m2", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})
    )
    await until(lambda: len(wire.sent) == 2)
    assert wire.frames[1] == [4, "m2", "NotSupported", "no smart charging", {}]


async def test_handler_raising_anything_else_is_internal_error(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("x" * 1000)

    async def broken_later(_: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("relay stuck")

    router = Router()
    router.route("ClearCache", broken)
    router.route("RemoteStartTransaction", broken_later)
    endpoint = RpcEndpoint(wire.send, router)
    with caplog.at_level(logging.ERROR, logger="ocpp_station.rpc"):
        frame = await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {}))
        await endpoint.feed(encode_call("m2", "RemoteStartTransaction", {"idTag": "A"}))
        await until(lambda: len(wire.sent) == 2)
    assert frame[:3] == [4, "m1", "InternalError"]
    assert frame[3].startswith("KeyError") and len(frame[3]) <= 255
    assert wire.frames[1][:3] == [4, "m2", "InternalError"]
    assert "relay stuck" in wire.frames[1][3]
    # logged with the traceback
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.exc_info[0] for r in tracebacks] == [KeyError, RuntimeError]


async def test_handler_returning_no_dict_is_internal_error(wire: Wire) -> None:
    router = Router()
    router.route("ClearCache", lambda _: None)  # type: ignore[arg-type,return-value]
    endpoint = RpcEndpoint(wire.send, router)
    frame = await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {}))
    assert frame[:3] == [4, "m1", "InternalError"]


async def test_call_with_id_still_being_processed_is_protocol_error(wire: Wire) -> None:
    release = asyncio.Event()

    async def slow(_: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"status": "Accepted"}

    router = Router()
    router.route("ClearCache", slow)
    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(encode_call("same", "ClearCache", {}))
    frame = await answer_to(endpoint, wire, encode_call("same", "ClearCache", {}))
    assert frame[:3] == [4, "same", "ProtocolError"]
    release.set()
    await until(lambda: len(wire.sent) == 2)
    assert wire.frames[1] == [3, "same", {"status": "Accepted"}]
    # once answered, the id may come again ([JE] 2025-04: a retry may reuse the id)
    await endpoint.feed(encode_call("same", "ClearCache", {}))
    await until(lambda: len(wire.sent) == 3)
    assert wire.frames[2] == [3, "same", {"status": "Accepted"}]


async def test_invalid_response_of_ours_is_internal_error_when_validating_outbound(
    wire: Wire,
) -> None:
    router = Router()
    router.route("ClearCache", lambda _: {"status": "Maybe"})
    endpoint = RpcEndpoint(wire.send, router, validate_outbound=True)
    frame = await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {}))
    assert frame[:3] == [4, "m1", "InternalError"]
    # without outbound validation the handler's answer goes out as it is
    endpoint = RpcEndpoint(wire.send, router)
    assert await answer_to(endpoint, wire, encode_call("m2", "ClearCache", {})) == [
        3,
        "m2",
        {"status": "Maybe"},
    ]


async def test_unencodable_response_is_internal_error(wire: Wire) -> None:
    router = Router()
    router.route("ClearCache", lambda _: {"status": {1, 2}})
    endpoint = RpcEndpoint(wire.send, router)
    frame = await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {}))
    assert frame[:3] == [4, "m1", "InternalError"]


async def test_answers_for_unknown_ids_are_ignored(endpoint: RpcEndpoint, wire: Wire) -> None:
    await endpoint.feed(encode_result("nobody", {"status": "Accepted"}))
    await endpoint.feed(b'[4,"nobody","GenericError","",{}]')
    await endpoint.feed(b'[3,"nobody"]')
    assert wire.sent == []
    assert not endpoint.busy


async def test_send_failure_while_answering_does_not_raise(
    endpoint: RpcEndpoint, wire: Wire
) -> None:
    wire.fail = True
    await endpoint.feed(encode_call("m1", "ClearCache", {}))
    await endpoint.feed(b'[2,"m2","ClearCache"]')
    assert wire.sent == []


async def test_frames_after_connection_loss_are_dropped(endpoint: RpcEndpoint, wire: Wire) -> None:
    endpoint.connection_lost()
    await endpoint.feed(encode_call("m1", "ClearCache", {}))
    assert wire.sent == []


# -------------------------------------------------------------------- after hooks, observer


async def test_after_hook_runs_after_the_result_was_sent(wire: Wire) -> None:
    seen: list[tuple[dict[str, Any], dict[str, Any], int]] = []
    router = Router()

    @router.on("RemoteStartTransaction")
    def start(payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    @router.after("RemoteStartTransaction")
    def started(request: dict[str, Any], response: dict[str, Any]) -> None:
        seen.append((request, response, len(wire.sent)))

    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(encode_call("m1", "RemoteStartTransaction", {"idTag": "A"}))
    # sync hook: inline, and the CALLRESULT was already on the wire when it ran
    assert seen == [({"idTag": "A"}, {"status": "Accepted"}, 1)]


async def test_async_after_hook_runs_as_a_task_after_an_async_handler(wire: Wire) -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def handler(_: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    async def hook(request: dict[str, Any], response: dict[str, Any]) -> None:
        await release.wait()
        seen.append(len(wire.sent))

    router = Router()
    router.route("ClearCache", handler, after=hook)
    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(encode_call("m1", "ClearCache", {}))
    await until(lambda: wire.sent)
    assert seen == []  # the hook waits in its own task; nothing blocks on it
    release.set()
    await until(lambda: seen)
    assert seen == [1]


async def test_after_hook_not_run_when_no_result_was_sent(wire: Wire) -> None:
    ran: list[object] = []

    def refuse(_: dict[str, Any]) -> dict[str, Any]:
        raise NotSupported()

    router = Router()
    router.route("ClearCache", refuse, after=lambda req, resp: ran.append(req))
    router.route("ChangeAvailability", accept, after=lambda req, resp: ran.append(req))
    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(encode_call("m1", "ClearCache", {}))
    await endpoint.feed(encode_call("m2", "ChangeAvailability", {"connectorId": 1}))  # invalid
    wire.fail = True
    await endpoint.feed(
        encode_call("m3", "ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    )
    assert ran == []


async def test_failing_after_hook_is_logged_not_raised(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(request: dict[str, Any], response: dict[str, Any]) -> None:
        raise RuntimeError("hook broke")

    router = Router()
    router.route("ClearCache", accept, after=hook)
    endpoint = RpcEndpoint(wire.send, router)
    with caplog.at_level(logging.ERROR, logger="ocpp_station.rpc"):
        await endpoint.feed(encode_call("m1", "ClearCache", {}))
    assert wire.frames == [[3, "m1", {"status": "Accepted"}]]
    assert "hook broke" in caplog.text


async def test_on_frame_sees_inbound_and_outbound_frames(wire: Wire, router: Router) -> None:
    log: list[tuple[str, list[Any]]] = []
    endpoint = RpcEndpoint(wire.send, router, on_frame=lambda d, f: log.append((d, f)))
    await endpoint.feed(encode_call("m1", "ClearCache", {}))
    await endpoint.feed(encode_call("m2", "FlyToTheMoon", {}))
    await endpoint.feed(b'[2,"m3","ClearCache"')
    assert log == [
        ("in", [2, "m1", "ClearCache", {}]),
        ("out", [3, "m1", {"status": "Accepted"}]),
        ("in", [2, "m2", "FlyToTheMoon", {}]),
        ("out", [4, "m2", "NotImplemented", "FlyToTheMoon is not an OCPP 1.6 action", {}]),
        ("out", [4, "m3", "FormationViolation", "malformed JSON", {}]),
    ]


async def test_failing_observer_does_not_break_the_connection(wire: Wire, router: Router) -> None:
    def observer(direction: str, frame: list[Any]) -> None:
        raise RuntimeError("observer broke")

    endpoint = RpcEndpoint(wire.send, router, on_frame=observer)
    assert await answer_to(endpoint, wire, encode_call("m1", "ClearCache", {})) == [
        3,
        "m1",
        {"status": "Accepted"},
    ]


# ------------------------------------------------------------------------- router, sharing


def test_router_rejects_bad_registrations() -> None:
    router = Router()
    with pytest.raises(ValueError, match=r"not an OCPP 1\.6 action"):
        router.route("FlyToTheMoon", accept)
    with pytest.raises(ValueError, match=r"not an OCPP 1\.6 action"):
        router.after("FlyToTheMoon")
    with pytest.raises(ValueError, match=r"not an OCPP 1\.6 action"):
        router.on("FlyToTheMoon")
    with pytest.raises(TypeError):
        router.route("ClearCache", "accept")  # type: ignore[arg-type]
    router.route("ClearCache", accept)
    with pytest.raises(ValueError, match="already registered"):
        router.route("ClearCache", accept)
    router.after("ClearCache")(lambda req, resp: None)
    with pytest.raises(ValueError, match="already registered"):
        router.after("ClearCache")(lambda req, resp: None)
    assert router.actions == {"ClearCache"}


def test_endpoint_rejects_a_non_positive_timeout(wire: Wire) -> None:
    with pytest.raises(ValueError):
        RpcEndpoint(wire.send, Router(), response_timeout=0)


async def test_many_endpoints_share_one_compiled_validator(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[object] = []
    real = schemas.compile_schema

    def counting(definition: dict[str, Any], **kwargs: Any) -> Any:
        compiled.append(definition)
        return real(definition, **kwargs)

    monkeypatch.setattr(schemas, "compile_schema", counting)
    schemas.clear_cache()
    try:
        wires = [Wire() for _ in range(50)]
        for n, w in enumerate(wires):
            endpoint = RpcEndpoint(w.send, router)
            await endpoint.feed(encode_call(f"m{n}", "RemoteStartTransaction", {"idTag": "A"}))
            assert w.frames == [[3, f"m{n}", {"status": "Accepted"}]]
        assert len(compiled) == 1
    finally:
        schemas.clear_cache()


# ---------------------------------------------------------------------------- the inbound gate
OPERATIVE = {"connectorId": 0, "type": "Operative"}


async def test_a_closed_gate_answers_nothing_not_even_a_malformed_call(wire: Wire) -> None:
    handled: list[dict[str, Any]] = []
    router = Router(gate=lambda action: False)

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        handled.append(payload)
        return {"status": "Accepted"}

    router.route("ChangeAvailability", handle)
    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(
        encode_call("1", "ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    )
    await endpoint.feed('[2, "2", "ChangeAvailability", {"connectorId": "zero"}]')
    await endpoint.feed('[2, "3", "ChangeAvailability"]')
    await endpoint.feed(encode_call("4", "NoSuchAction", {}))
    await asyncio.sleep(0)
    assert wire.sent == [] and handled == []


async def test_the_gate_answer_stands_for_the_handler_and_its_after_hook(wire: Wire) -> None:
    calls: list[str] = []
    seen: list[str | None] = []

    def gate(action: str | None) -> bool | dict[str, Any]:
        seen.append(action)
        return {"status": "Rejected"} if action == "RemoteStartTransaction" else True

    router = Router(gate=gate)

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        calls.append("handler")
        return {"status": "Accepted"}

    router.route("RemoteStartTransaction", handle, lambda req, resp: calls.append("after"))
    router.route("ChangeAvailability", accept, lambda req, resp: calls.append("after"))
    endpoint = RpcEndpoint(wire.send, router)
    await endpoint.feed(encode_call("1", "RemoteStartTransaction", {"idTag": "T"}))
    await endpoint.feed(encode_call("2", "RemoteStartTransaction", {"idTag": 5}))
    await endpoint.feed(
        encode_call("3", "ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    )
    await until(lambda: len(wire.sent) == 3)
    first, second, third = wire.frames
    assert first == [3, "1", {"status": "Rejected"}]
    assert second[0] == 4 and second[2] == "TypeConstraintViolation"  # still validated first
    assert third == [3, "3", {"status": "Accepted"}]
    assert calls == ["after"]  # the handler and its hook ran only where the gate let it through
    assert seen == ["RemoteStartTransaction", "RemoteStartTransaction", "ChangeAvailability"]


# ------------------------------------------------------------- the words of the errors it gives


@pytest.mark.parametrize("result", ["text", None, 5])
async def test_a_handler_answering_no_object_is_an_internal_error_saying_so(
    wire: Wire, result: object
) -> None:
    async def slow(payload: dict[str, Any]) -> object:
        return result

    def quick(payload: dict[str, Any]) -> object:
        return result

    for name, handler in (("m1", quick), ("m2", slow)):
        router = Router()
        router.route("Reset", handler)  # type: ignore[arg-type]
        endpoint = RpcEndpoint(wire.send, router)
        await endpoint.feed(encode_call(name, "Reset", {"type": "Soft"}))
        await until(lambda sent=name: any(f[1] == sent for f in wire.frames))  # type: ignore[misc]
        [frame] = [f for f in wire.frames if f[1] == name]
        kind = type(result).__name__
        assert frame == [4, name, "InternalError", f"handler returned {kind}, not an object", {}]


async def test_timeouts_must_be_positive_and_say_so(wire: Wire, router: Router) -> None:
    with pytest.raises(ValueError) as refused:
        RpcEndpoint(wire.send, router, response_timeout=0)
    assert str(refused.value) == "response_timeout must be positive, got 0"
    endpoint = RpcEndpoint(wire.send, router)
    for bad in (0, -1.0):
        with pytest.raises(ValueError) as refused:
            endpoint.set_response_timeout(bad)
        assert str(refused.value) == f"response_timeout must be positive, got {bad!r}"
    endpoint.set_response_timeout(0.5)  # below a second is fine
    with pytest.raises(ValueError) as refused:
        await endpoint.call("Heartbeat", {}, timeout=0)
    assert str(refused.value) == "timeout must be positive, got 0"
