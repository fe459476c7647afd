"""A hostile central system: every request a central system can send, with valid, invalid and
boundary payloads, against a station in the middle of a session.

For every CALL the station must answer once, with a CALLRESULT that is valid by the 1.6 schema
or a CALLERROR with the code OCPP-J §4.2.3 names for what was wrong (never InternalError: that
is a crash), keep answering afterwards, make no transition the §4.9 table forbids, and lose no
transaction message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_station.rpc import RpcEndpoint
from ocpp_station.rpc.actions import ALL_ACTIONS, CS_TO_CP_ACTIONS
from ocpp_station.rpc.errors import OcppError
from ocpp_station.rpc.schemas import validate_request, validate_response
from tests.ocpp_strategies import payloads
from tests.unit.harness import Harness

ACTIONS = sorted(CS_TO_CP_ACTIONS)
# The 1.6 CALLERROR codes (OCPP-J §4.2.3), InternalError left out: no input may crash a handler.
ACCEPTABLE_ERRORS = {
    "NotImplemented",
    "NotSupported",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
EXAMPLES = 100


# Any JSON value, a little nested, with awkward strings and numbers.
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "x" * 600, "Ünïcødé ✓ 🚗", "\u0000", "2026-13-45T99:99:99Z", "-1"])
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def hostile_payload(draw: st.DrawFn, action: str) -> Any:
    """A payload for `action`: valid by its schema, or one of the ways central systems get one
    wrong."""
    base: Any = draw(payloads(action))
    how = draw(
        st.sampled_from(
            ["valid", "valid", "drop", "extra", "retype", "enum", "huge", "whole", "nested"]
        )
    )
    if how == "valid" or not isinstance(base, dict):
        return base
    keys = sorted(base)
    if how == "drop" and keys:
        base.pop(draw(st.sampled_from(keys)))
    elif how == "extra":
        base[draw(st.text(min_size=1, max_size=20))] = draw(JSON)
    elif how == "retype" and keys:
        base[draw(st.sampled_from(keys))] = draw(JSON)
    elif how == "enum" and keys:
        base[draw(st.sampled_from(keys))] = draw(st.sampled_from(["Maybe", "accepted", "", "💥"]))
    elif how == "huge" and keys:
        base[draw(st.sampled_from(keys))] = draw(
            st.sampled_from([2**63, -(2**63), 1e308, -1e308, "y" * 10_000, 2**31, -1])
        )
    elif how == "whole":
        return draw(JSON)
    elif how == "nested" and keys:
        value: Any = draw(LEAVES)
        for _ in range(draw(st.integers(min_value=5, max_value=60))):
            value = {"k": [value]}
        base[draw(st.sampled_from(keys))] = value
    return base


class Station:
    """A booted station with a transaction running on connector 1, and a central-system end
    that feeds it raw CALLs and collects its answers."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.answers: list[list[Any]] = []

        async def send(data: bytes) -> None:
            self.answers.append(orjson.loads(data))

        self.endpoint = RpcEndpoint(send, h.station.router())

    async def call(self, message_id: str, action: str, payload: Any) -> list[list[Any]]:
        before = len(self.answers)
        # The standard library's encoder: it writes integers of any size, as a CSMS may.
        await self.endpoint.feed(json.dumps([2, message_id, action, payload]))
        await self.h.settle(80)
        return [a for a in self.answers[before:] if a[1] == message_id]


@contextmanager
def running_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


async def _booted_in_session() -> Station:
    h = Harness()
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    assert h.status(1) == "Charging"
    return Station(h)


def _expected_error(action: str, payload: Any) -> str | None:
    """The CALLERROR code the payload itself calls for, or None when it is valid."""
    if action not in ALL_ACTIONS:
        return "NotImplemented"
    try:
        validate_request(action, payload)
    except OcppError as exc:
        return exc.code
    return None


async def _check_one(action: str, payload: Any) -> None:
    station = await _booted_in_session()
    h = station.h
    try:
        answers = await station.call("hostile-1", action, payload)
        assert len(answers) == 1, f"{action}: {len(answers)} answers to one CALL"
        [answer] = answers
        if payload is None:
            payload = {}  # a null payload is read as an empty one (rpc.frames)
        expected: str | None
        if not isinstance(payload, dict):
            expected = "FormationViolation"  # [J] 4.2.1: the frame itself is malformed
        elif action in h.station.handlers():
            expected = _expected_error(action, payload)
        else:  # not routed: a 1.6 action of a profile not installed, or no 1.6 action at all
            expected = "NotSupported" if action in ALL_ACTIONS else "NotImplemented"
        if answer[0] == 3:
            assert expected is None, f"{action} answered although the payload is {expected}"
            validate_response(action, answer[2], lenient_timestamps=False)
        else:
            assert answer[0] == 4, answer
            code = answer[2]
            assert code in ACCEPTABLE_ERRORS, f"{action}: {code} {answer[3]}"
            if expected is not None:
                assert code == expected, f"{action}: {code}, the payload calls for {expected}"
        # Still answering, still consistent.
        again = await station.call("hostile-2", "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert [a[0] for a in again] == [3]
        assert h.station.status.illegal_transitions == []
        _nothing_lost(h)
    finally:
        await h.close()


def _nothing_lost(h: Harness) -> None:
    """Every transaction the central system heard of still runs or has its StopTransaction
    sent or queued; nothing was given up."""
    assert h.station.sender.given_up == []
    started = {p["idTag"] for p in h.csms.of("StartTransaction")}
    assert started == {"TAG1"}
    running = {c.transaction.local_id for c in h.station.cp if c.transaction is not None}
    queued_stops = [m for m in h.station.sender.queue if m.action == "StopTransaction"]
    stops = len(h.csms.of("StopTransaction")) + len(queued_stops)
    assert len(running) + stops == 1, (running, stops)


@pytest.mark.parametrize("action", ACTIONS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(data=st.data())
def test_every_request_gets_one_right_answer(action: str, data: st.DataObject) -> None:
    payload = data.draw(hostile_payload(action), label="payload")
    with running_loop() as loop:
        loop.run_until_complete(_check_one(action, payload))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(action=st.text(min_size=1, max_size=30), payload=JSON)
def test_unknown_actions_are_not_implemented(action: str, payload: Any) -> None:
    with running_loop() as loop:
        loop.run_until_complete(_check_one(action, payload))


@st.composite
def hostile_calls(draw: st.DrawFn) -> list[tuple[str, Any]]:
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=2, max_size=8))
    return [(action, draw(hostile_payload(action))) for action in actions]


async def _check_sequence(calls: list[tuple[str, Any]]) -> None:
    station = await _booted_in_session()
    h = station.h
    try:
        for n, (action, payload) in enumerate(calls):
            answers = await station.call(f"seq-{n}", action, payload)
            assert len(answers) == 1 and answers[0][0] in (3, 4), (action, answers)
            if answers[0][0] == 4:
                assert answers[0][2] in ACCEPTABLE_ERRORS, (action, answers[0])
            await h.run_for(30, step=5)  # what the requests started runs on
        again = await station.call("seq-end", "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert [a[0] for a in again] == [3]
        assert h.station.status.illegal_transitions == []
        assert h.station.sender.given_up == []
    finally:
        await h.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(calls=hostile_calls())
def test_a_series_of_requests_leaves_the_station_whole(calls: list[tuple[str, Any]]) -> None:
    with running_loop() as loop:
        loop.run_until_complete(_check_sequence(calls))
