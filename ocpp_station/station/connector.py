"""The state of one connector and of the transaction running on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp_station.clock import Timer
from ocpp_station.station.status import AVAILABLE, WARNINGS


@dataclass(slots=True)
class Authorization:
    """An idTag accepted for a connector that has no transaction yet (waiting for the plug)."""

    id_tag: str
    parent_id_tag: str | None
    remote: bool


@dataclass(slots=True)
class Transaction:
    local_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    meter_start: int
    start_time: datetime
    # The central system's id, known once StartTransaction.conf arrives (digest §3.3).
    transaction_id: int | None = None
    # StartTransaction was given up after all attempts: follow-ups carry -1 ([E] 3.18).
    start_failed: bool = False
    reservation_id: int | None = None
    # Energy stopped by the EVSE: non-Accepted idTagInfo with StopTransactionOnInvalidId=false.
    energy_suspended: bool = False
    invalid_at_wh: float | None = None
    # meterValue elements collected for StopTransaction.transactionData.
    stop_data: list[dict[str, Any]] = field(default_factory=list)
    sample_timer: Timer | None = None
    # Watches MaxEnergyOnInvalidId while the transaction runs on an invalidated idTag.
    energy_timer: Timer | None = None
    ended: bool = False

    @property
    def wire_id(self) -> int | None:
        """The transactionId to put in a follow-up message, or None while still unknown."""
        if self.transaction_id is not None:
            return self.transaction_id
        return -1 if self.start_failed else None


@dataclass(slots=True)
class Connector:
    connector_id: int
    operative: bool = True
    fault: tuple[str, str | None] | None = None
    # A condition that is reported but lets charging go on (§4.9: EVCommunicationError).
    warning: tuple[str, str | None] | None = None
    # The lock did not engage at a session start (TC_024): a fault the station itself saw,
    # shown as `fault` until the cable is taken away (see Sessions.cable_unplugged).
    lock_failed: bool = False
    plugged: bool = False
    ev_drawing: bool = False
    authorization: Authorization | None = None
    transaction: Transaction | None = None
    # A session ended and the user still has to act (unplug): §4.9 Finishing.
    finishing: bool = False
    status: str = AVAILABLE
    error_code: str = "NoError"
    info: str | None = None
    timeout_timer: Timer | None = None

    def sense_fault(self, active: tuple[str, str | None] | None) -> None:
        """What the hardware reports as active: a fault, or a warning (§4.9)."""
        if active is not None and active[0] in WARNINGS:
            self.fault, self.warning = None, active
        else:
            self.fault, self.warning = active, None

    def cancel_timeout(self) -> None:
        if self.timeout_timer is not None:
            self.timeout_timer.cancel()
            self.timeout_timer = None
