"""A reservation and who may use it (OCPP 1.6 §5.13, §6.37)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp_station import timefmt
from ocpp_station.station.authorization import same_tag
from ocpp_station.station.connector import Authorization


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: int
    connector_id: int  # 0: any connector of the station
    id_tag: str
    parent_id_tag: str | None
    expiry: datetime

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> Reservation:
        return cls(
            reservation_id=request["reservationId"],
            connector_id=request["connectorId"],
            id_tag=request["idTag"],
            parent_id_tag=request.get("parentIdTag"),
            expiry=timefmt.parse(request["expiryDate"]),
        )

    @classmethod
    def from_record(cls, reservation_id: int, value: dict[str, Any]) -> Reservation:
        return cls(
            reservation_id=reservation_id,
            connector_id=int(value["connectorId"]),
            id_tag=str(value["idTag"]),
            parent_id_tag=value.get("parentIdTag"),
            expiry=timefmt.parse(value["expiryDate"]),
        )

    def record(self) -> dict[str, Any]:
        return {
            "connectorId": self.connector_id,
            "idTag": self.id_tag,
            "parentIdTag": self.parent_id_tag,
            "expiryDate": timefmt.iso(self.expiry),
        }

    def view(self) -> dict[str, Any]:
        """The control API's `reservation` of a connector (interface: reservationId, idTag,
        expiryDate)."""
        return {
            "reservationId": self.reservation_id,
            "idTag": self.id_tag,
            "expiryDate": timefmt.iso(self.expiry),
        }

    def admits(self, auth: Authorization) -> bool:
        """§5.13: charging is refused "except when the incoming idTag or the parent idTag match
        the idTag or parent idTag of the reservation": any of the four pairs."""
        mine = (self.id_tag, self.parent_id_tag)
        theirs = (auth.id_tag, auth.parent_id_tag)
        return any(same_tag(a, b) for a in mine for b in theirs)
