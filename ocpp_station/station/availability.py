"""ChangeAvailability (§5.2): operative state per connector and for the station (connector 0).

The state persists across reboots and power loss (TC_013, TC_014, TC_034). A change that would
interrupt a running transaction is Scheduled: the connector's state is stored at once and the
status follows when the transaction ends (the derived status never shows a running
transaction as Unavailable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocpp_station.station.station import Station


class Availability:
    def __init__(self, station: Station) -> None:
        self.st = station

    def change(self, request: dict[str, Any]) -> dict[str, Any]:
        connector_id = request["connectorId"]
        operative = request["type"] == "Operative"
        if connector_id != 0 and not self.st.has_connector(connector_id):
            return {"status": "Rejected"}
        if connector_id == 0:
            affected = list(self.st.connectors)
            was = self.st.operative
            self.st.operative = operative
            self.st.store.save_availability(0, operative)
            changed_effect = was != operative
        else:
            c = self.st.connector(connector_id)
            affected = [c]
            changed_effect = c.operative != operative
            c.operative = operative
            self.st.store.save_availability(connector_id, operative)
        scheduled = changed_effect and any(c.transaction is not None for c in affected)
        self.st.update_station_status()
        for c in affected:
            self.st.update_status(c)
        return {"status": "Scheduled" if scheduled else "Accepted"}
