"""The reference for bench_rpc_cpu: the `ocpp` package's own v16 ChargePoint, fed by hand.

Handlers are registered with `@on` as that library's users write them; the connection is a stub
whose `send` does nothing, so only the library's own processing is measured: parse, schema
validation (in its thread pool), camelCase conversion, dispatch, answer, encode.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus


class NullConnection:
    """A connection that swallows what is sent and remembers the last frame."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.count = 0

    async def send(self, message: str) -> None:
        self.last = message
        self.count += 1

    async def recv(self) -> str:  # pragma: no cover - route_message is fed directly
        raise RuntimeError("the benchmark feeds route_message directly")


class ReferenceChargePoint(ChargePoint):
    """Trivial handlers for the two benchmarked actions."""

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **kwargs: Any) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[Any], **kwargs: Any
    ) -> call_result.MeterValues:
        return call_result.MeterValues()


def reference_charge_point() -> tuple[ReferenceChargePoint, NullConnection]:
    connection = NullConnection()
    return ReferenceChargePoint("CP-BENCH", connection), connection
