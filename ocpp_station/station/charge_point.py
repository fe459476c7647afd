"""The charge point as a whole: its connectors, and the state of connector 0 (the station)."""

from __future__ import annotations

from collections.abc import Iterator

from ocpp_station.station.connector import Connector
from ocpp_station.station.status import AVAILABLE


class ChargePoint:
    """Connectors 1..N, and what belongs to the station itself (§4.9: connector 0 is the charge
    point): whether it is operative, its fault and the status last derived for it."""

    __slots__ = ("connectors", "fault", "operative", "status")

    def __init__(self, connector_ids: Iterator[int] | list[int]) -> None:
        self.connectors = [Connector(connector_id) for connector_id in connector_ids]
        self.operative = True
        self.fault: tuple[str, str | None] | None = None
        self.status = AVAILABLE

    def __iter__(self) -> Iterator[Connector]:
        return iter(self.connectors)

    def __len__(self) -> int:
        return len(self.connectors)

    def has_connector(self, connector_id: int) -> bool:
        return 1 <= connector_id <= len(self.connectors)

    def connector(self, connector_id: int) -> Connector:
        return self.connectors[connector_id - 1]

    def by_transaction(self, transaction_id: int) -> Connector | None:
        """The connector whose running transaction has this central-system id."""
        for c in self.connectors:
            if c.transaction is not None and c.transaction.transaction_id == transaction_id:
                return c
        return None

    @property
    def error(self) -> tuple[str, str | None]:
        """Connector 0's (errorCode, info)."""
        return self.fault if self.fault is not None else ("NoError", None)
