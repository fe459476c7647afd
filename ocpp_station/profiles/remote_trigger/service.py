"""TriggerMessage (§5.17): the answer first, then the message (sent from the after hook).

Each message the station can be asked for has a source: whether it accepts the connectorId of
the request, and how it sends. The Core's four are built in; a profile that owns another
message (Firmware Management: DiagnosticsStatusNotification, FirmwareStatusNotification) adds
its source with `add_source`. A message without a source is NotImplemented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.station.boot import BootService
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.metering import Metering

ConnectorScope = Callable[[int | None], bool]
"""Whether a source can answer for this connectorId (None: none given)."""


@dataclass(frozen=True, slots=True)
class TriggerSource:
    accepts: ConnectorScope
    """False: Rejected (a connectorId that means nothing for the message, or a state in which
    the station will not send it)."""
    send: Callable[[int | None], None]


def any_connector(connector_id: int | None) -> bool:
    """For a message about the whole station the connectorId is ignored (§5.17)."""
    return True


class TriggerService(Service):
    __slots__ = ("_sources", "boot", "ctx", "metering")

    def __init__(self, ctx: StationContext, boot: BootService, metering: Metering) -> None:
        self.ctx = ctx
        self.boot = boot
        self.metering = metering
        self._sources: dict[str, TriggerSource] = {
            "BootNotification": TriggerSource(self._boot_allowed, self._boot),
            "Heartbeat": TriggerSource(any_connector, self._heartbeat),
            "StatusNotification": TriggerSource(self._status_scope, self._status),
            "MeterValues": TriggerSource(self._meter_scope, self._meter_values),
        }

    def add_source(self, message: str, source: TriggerSource) -> None:
        """Let the station be asked for `message` (a profile that owns it calls this)."""
        self._sources[message] = source

    def source(self, message: str) -> TriggerSource | None:
        """How `message` is sent when triggered (ExtendedTriggerMessage shares them)."""
        return self._sources.get(message)

    @handles("TriggerMessage")
    def trigger(self, request: Payload) -> Payload:
        source = self._sources.get(request["requestedMessage"])
        if source is None:
            return {"status": "NotImplemented"}
        return {"status": "Accepted" if source.accepts(request.get("connectorId")) else "Rejected"}

    @after("TriggerMessage")
    def triggered(self, request: Payload, response: Payload) -> None:
        # §5.17: the TriggerMessage.conf SHALL go before the requested message.
        if response["status"] == "Accepted":
            self._sources[request["requestedMessage"]].send(request.get("connectorId"))

    # -- the Core's messages -------------------------------------------------------------------
    def _boot_allowed(self, connector_id: int | None) -> bool:
        # Decided (and the boot started) when answering: once accepted, refused ([E] 3.35).
        return not self.boot.accepted

    def _boot(self, connector_id: int | None) -> None:
        self.boot.trigger_boot()

    def _heartbeat(self, connector_id: int | None) -> None:
        self.boot.trigger_heartbeat()

    def _status_scope(self, connector_id: int | None) -> bool:
        # 0 is the station itself (§5.17); none means the station and every connector.
        return connector_id is None or 0 <= connector_id <= len(self.ctx.cp)

    def _status(self, connector_id: int | None) -> None:
        self.ctx.status.report_now(connector_id, triggered=True)

    def _meter_scope(self, connector_id: int | None) -> bool:
        # Connector 0 would be a main meter of the whole station, which this one does not have.
        return connector_id is None or 1 <= connector_id <= len(self.ctx.cp)

    def _meter_values(self, connector_id: int | None) -> None:
        ids = range(1, len(self.ctx.cp) + 1) if connector_id is None else [connector_id]
        for cid in ids:
            self.metering.send_triggered(cid)
