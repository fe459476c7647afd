"""What the central system remembers of each station, across its connections.

A station's record outlives any one WebSocket connection: a transaction started before the
station went offline is stopped after it came back, on another connection ([S] 3.7:
transaction-related messages are delivered as soon as possible, possibly late).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp_station.timefmt import parse


@dataclass(slots=True)
class Transaction:
    """One transaction as the central system saw it."""

    transaction_id: int
    identity: str
    connector_id: int
    id_tag: str
    meter_start: int
    start_time: datetime
    id_tag_info: dict[str, Any]
    reservation_id: int | None = None
    meter_values: list[dict[str, Any]] = field(default_factory=list)
    """MeterValue objects received in MeterValues.req for this transaction, in order."""
    meter_stop: int | None = None
    stop_time: datetime | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    transaction_data: list[dict[str, Any]] = field(default_factory=list)
    """The transactionData of StopTransaction.req."""

    @property
    def ended(self) -> bool:
        return self.stop_time is not None

    @property
    def energy_wh(self) -> int | None:
        """meterStop - meterStart, once stopped."""
        return None if self.meter_stop is None else self.meter_stop - self.meter_start


@dataclass(slots=True)
class StationRecord:
    """The central system's view of one station (by identity)."""

    identity: str
    boot: dict[str, Any] | None = None
    """The last BootNotification.req payload."""
    boot_count: int = 0
    registration: str | None = None
    """The status of our last BootNotification.conf (Accepted, Pending, Rejected)."""
    last_heartbeat: datetime | None = None
    connectors: dict[int, dict[str, Any]] = field(default_factory=dict)
    """The last StatusNotification.req payload per connectorId (0 = the charge point)."""
    open_transactions: dict[int, Transaction] = field(default_factory=dict)
    finished_transactions: list[Transaction] = field(default_factory=list)
    unmatched_stops: list[dict[str, Any]] = field(default_factory=list)
    """StopTransaction.req payloads for transaction ids we never gave out."""
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    log_status: str | None = None
    signed_firmware_status: str | None = None
    security_events: list[dict[str, Any]] = field(default_factory=list)

    def status(self, connector_id: int) -> str | None:
        """The last reported status of a connector, or None."""
        notification = self.connectors.get(connector_id)
        return None if notification is None else notification["status"]

    def transaction(self, transaction_id: int) -> Transaction | None:
        """An open or finished transaction of this station."""
        found = self.open_transactions.get(transaction_id)
        if found is not None:
            return found
        for finished in self.finished_transactions:
            if finished.transaction_id == transaction_id:
                return finished
        return None

    # ------------------------------------------------------------------ updates

    def on_request(
        self, action: str, payload: dict[str, Any], now: datetime, log: logging.Logger
    ) -> None:
        """Take note of a validated CALL from the station, before it is answered."""
        if action == "BootNotification":
            self.boot = payload
            self.boot_count += 1
        elif action == "Heartbeat":
            self.last_heartbeat = now
        elif action == "StatusNotification":
            self.connectors[payload["connectorId"]] = payload
        elif action == "MeterValues":
            transaction_id = payload.get("transactionId")
            if transaction_id is not None:
                open_tx = self.open_transactions.get(transaction_id)
                if open_tx is not None:
                    open_tx.meter_values.extend(payload["meterValue"])
                else:
                    log.warning(
                        "%s: MeterValues for transaction %s, which is not open",
                        self.identity,
                        transaction_id,
                    )
        elif action == "StopTransaction":
            self._stop(payload, log)
        elif action == "FirmwareStatusNotification":
            self.firmware_status = payload["status"]
        elif action == "DiagnosticsStatusNotification":
            self.diagnostics_status = payload["status"]
        elif action == "LogStatusNotification":
            self.log_status = payload["status"]
        elif action == "SignedFirmwareStatusNotification":
            self.signed_firmware_status = payload["status"]
        elif action == "SecurityEventNotification":
            self.security_events.append(payload)

    def on_answer(
        self, action: str, payload: dict[str, Any], response: dict[str, Any], now: datetime
    ) -> None:
        """Take note of our answer to a CALL, before it is sent."""
        if action == "BootNotification":
            self.registration = response.get("status")
        elif action == "StartTransaction":
            transaction_id = response.get("transactionId")
            if not isinstance(transaction_id, int):
                return
            self.open_transactions[transaction_id] = Transaction(
                transaction_id=transaction_id,
                identity=self.identity,
                connector_id=payload["connectorId"],
                id_tag=payload["idTag"],
                meter_start=payload["meterStart"],
                start_time=_timestamp(payload["timestamp"], now),
                id_tag_info=response.get("idTagInfo", {}),
                reservation_id=payload.get("reservationId"),
            )

    def _stop(self, payload: dict[str, Any], log: logging.Logger) -> None:
        transaction_id = payload["transactionId"]
        transaction = self.open_transactions.pop(transaction_id, None)
        if transaction is None:
            if self.transaction(transaction_id) is not None:
                # A retransmission ([S] 3.7: the station retries until it gets an answer).
                log.info("%s: transaction %s stopped again", self.identity, transaction_id)
            else:
                log.warning(
                    "%s: StopTransaction for unknown transaction %s", self.identity, transaction_id
                )
                self.unmatched_stops.append(payload)
            return
        transaction.meter_stop = payload["meterStop"]
        transaction.stop_time = _timestamp(payload["timestamp"], transaction.start_time)
        transaction.stop_reason = payload.get("reason", "Local")  # [S] 4.10: absent = Local
        transaction.stop_id_tag = payload.get("idTag")
        transaction.transaction_data = payload.get("transactionData", [])
        self.finished_transactions.append(transaction)


def _timestamp(text: str, fallback: datetime) -> datetime:
    try:
        return parse(text)
    except ValueError:
        return fallback
