"""ChangeAvailability (§5.2): operative state per connector and for the station (connector 0).

The state persists across reboots and power loss (TC_013, TC_014, TC_034). A change that would
interrupt a running transaction is Scheduled: the connector's state is stored at once and the
status follows when the transaction ends (the derived status never shows a running
transaction as Unavailable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocpp_station.station.connector import Authorization, Connector
from ocpp_station.station.service import Payload, Service, handles
from ocpp_station.storage.interface import AvailabilityStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.transactions import Sessions


class Availability(Service):
    __slots__ = ("ctx", "sessions", "store")

    def __init__(self, ctx: StationContext, sessions: Sessions, store: AvailabilityStore) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.store = store

    def on_power_up(self, cold: bool) -> None:
        stored = self.store.load_availability()
        cp = self.ctx.cp
        cp.operative = stored.get(0, True)
        for c in cp:
            c.operative = stored.get(c.connector_id, True)

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        if not self.ctx.cp.operative:
            return "the station is unavailable"
        if not c.operative:
            return f"connector {c.connector_id} is unavailable"
        return None

    @handles("ChangeAvailability")
    def change(self, request: Payload) -> Payload:
        cp = self.ctx.cp
        connector_id = request["connectorId"]
        operative = request["type"] == "Operative"
        if connector_id != 0 and not cp.has_connector(connector_id):
            return {"status": "Rejected"}
        # §5.2: connectorId 0 applies to the charge point and all connectors.
        affected = list(cp) if connector_id == 0 else [cp.connector(connector_id)]
        # Scheduled only where a running transaction keeps a connector from becoming
        # unavailable now (§5.2); it becomes so when the transaction ends.
        scheduled = not operative and any(
            c.transaction is not None and c.operative and cp.operative for c in affected
        )
        if not operative:
            for c in affected:
                self.sessions.end_waiting(c)
        with self.store.atomic():
            if connector_id == 0:
                cp.operative = operative
                self.store.save_availability(0, operative)
            for c in affected:
                c.operative = operative
                self.store.save_availability(c.connector_id, operative)
        status = self.ctx.status
        status.update_station()
        for c in affected:
            status.update(c)
        return {"status": "Scheduled" if scheduled else "Accepted"}
