"""The fuzz target: any bytes, as one text frame from a central system, into a station.

Shared by the coverage-guided fuzzer (fuzz_frames.py, `make fuzz`) and the replay of its corpus
in `make test` (tests/unit/test_fuzz_corpus.py). For every input the station must not raise,
must answer a CALL whose id can be read exactly once (a CALLRESULT or a CALLERROR, §4.2.3 of
OCPP-J), must never answer anything else, and must make no transition §4.9 forbids.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ocpp_station.rpc import RpcEndpoint
from tests.unit.harness import Harness

# A station is rebuilt after this many inputs: long enough for state to build up between
# frames (a session, a reset, a change of availability), short enough to stay fast.
INPUTS_PER_STATION = 500


class Violation(AssertionError):
    """The station broke a rule for an input."""


def readable_call_id(data: bytes) -> str | None:
    """The id of the CALL `data` is, when a JSON parser can read one."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if (
        isinstance(frame, list)
        and len(frame) >= 2
        and type(frame[0]) is int
        and frame[0] == 2
        and isinstance(frame[1], str)
    ):
        return frame[1]
    return None


class FrameTarget:
    """One event loop and a station that lives for INPUTS_PER_STATION inputs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.harness: Harness | None = None
        self.endpoint: RpcEndpoint | None = None
        self.answers: list[Any] = []
        self.inputs = 0
        self.calls_answered = 0

    def _fresh(self) -> None:
        self.close_station()

        async def build() -> tuple[Harness, RpcEndpoint]:
            h = Harness()
            await h.boot()
            await h.plug(1)
            await h.card("FUZZ")

            async def send(data: bytes) -> None:
                self.answers.append(orjson.loads(data))

            return h, RpcEndpoint(send, h.station.router())

        self.harness, self.endpoint = self.loop.run_until_complete(build())

    def close_station(self) -> None:
        if self.harness is not None:
            self.loop.run_until_complete(self.harness.close())
            self.harness = self.endpoint = None

    def close(self) -> None:
        self.close_station()
        self.loop.close()

    def feed(self, data: bytes) -> None:
        """One input; raises Violation when the station breaks a rule."""
        if self.harness is None or self.inputs % INPUTS_PER_STATION == 0:
            self._fresh()
        self.inputs += 1
        h, endpoint = self.harness, self.endpoint
        assert h is not None and endpoint is not None
        self.answers.clear()

        async def one() -> None:
            await endpoint.feed(data)
            await h.run_for(2, step=0.5)  # what the request set going runs on

        self.loop.run_until_complete(one())
        call_id = readable_call_id(data)
        answered = [a for a in self.answers if a[0] in (3, 4)]
        if call_id is not None:
            mine = [a for a in answered if a[1] == call_id]
            if len(mine) != 1:
                raise Violation(f"CALL {call_id!r} got {len(mine)} answers: {self.answers}")
            self.calls_answered += 1
        strays = [a for a in answered if call_id is None or a[1] != call_id]
        # An unparsable frame may still carry a readable id (rpc.frames._scan_head): one
        # CALLERROR for it, never more, and never a CALLRESULT.
        if len(strays) > 1 or any(a[0] == 3 for a in strays):
            raise Violation(f"answers to no readable CALL: {strays}")
        if h.station.status.illegal_transitions:
            raise Violation(f"illegal transitions: {h.station.status.illegal_transitions}")
