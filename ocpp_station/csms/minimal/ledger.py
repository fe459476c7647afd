"""The transaction ledger of the minimal central system: proof that no message was lost.

Per station it keeps the transactions still open (with their MeterValues count) and counters;
a stopped transaction leaves only its counts and, for a few recent ones, the key that lets a
repeated StartTransaction or StopTransaction be recognised. Memory is therefore O(stations +
open transactions), whatever the number of messages.
"""

from __future__ import annotations

from collections import deque
from typing import Any

# How many stopped transactions per station still recognise a repeated Start or Stop. A station
# repeats a message whose answer it lost before it sends the next transaction message ([J] 4.1.1:
# one CALL at a time), so the last few are all a repeat can refer to.
RECENT_STOPPED = 4

StartKey = tuple[int, str, str]  # (connectorId, idTag, timestamp) as the station sent them


class OpenTransaction:
    """A transaction answered by StartTransaction.conf and not yet stopped."""

    __slots__ = ("connector_id", "id_tag", "meter_values", "timestamp", "transaction_id")

    def __init__(self, transaction_id: int, connector_id: int, id_tag: str, timestamp: str) -> None:
        self.transaction_id = transaction_id
        self.connector_id = connector_id
        self.id_tag = id_tag
        self.timestamp = timestamp
        self.meter_values = 0  # MeterValues.req carrying this transactionId

    @property
    def key(self) -> StartKey:
        return (self.connector_id, self.id_tag, self.timestamp)

    def as_json(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id,
            "connectorId": self.connector_id,
            "idTag": self.id_tag,
            "timestamp": self.timestamp,
            "meterValues": self.meter_values,
        }


class StationLedger:
    """One station's account: open transactions and what happened to the others."""

    __slots__ = (
        "booted",
        "duplicate_stops",
        "duplicates",
        "identity",
        "meter_values",
        "open",
        "recent",
        "started",
        "stopped",
        "unknown_meter_values",
        "unknown_stops",
    )

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.booted = False  # answered Accepted to a BootNotification at least once
        self.open: dict[int, OpenTransaction] = {}
        self.recent: deque[tuple[StartKey, int]] = deque(maxlen=RECENT_STOPPED)
        self.started = 0  # distinct transactionIds handed out
        self.stopped = 0
        self.duplicates = 0  # StartTransactions repeating one already answered
        self.duplicate_stops = 0  # StopTransactions repeating one of the recent stops
        self.unknown_stops = 0
        self.meter_values = 0  # MeterValues.req with a transactionId known to this station
        self.unknown_meter_values = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "booted": self.booted,
            "started": self.started,
            "stopped": self.stopped,
            "open": [tx.as_json() for tx in self.open.values()],
            "duplicates": self.duplicates,
            "duplicateStops": self.duplicate_stops,
            "unknownStops": self.unknown_stops,
            "meterValues": self.meter_values,
            "unknownMeterValues": self.unknown_meter_values,
        }


class Ledger:
    """Every station's account plus running totals, so that reading them costs O(1)."""

    def __init__(self, first_transaction_id: int = 1) -> None:
        if first_transaction_id < 1:
            raise ValueError(f"transaction ids start at 1 or more, got {first_transaction_id}")
        self.stations: dict[str, StationLedger] = {}
        self._next_id = first_transaction_id
        self.booted = 0
        self.started = 0
        self.stopped = 0
        self.duplicates = 0
        self.duplicate_stops = 0
        self.unknown_stops = 0
        self.meter_values = 0
        self.unknown_meter_values = 0

    def station(self, identity: str) -> StationLedger:
        account = self.stations.get(identity)
        if account is None:
            account = self.stations[identity] = StationLedger(identity)
        return account

    def boot_accepted(self, account: StationLedger) -> None:
        if not account.booted:
            account.booted = True
            self.booted += 1

    def start(self, account: StationLedger, connector_id: int, id_tag: str, timestamp: str) -> int:
        """The transactionId for this StartTransaction: a new one, or the one already given
        for the same (connector, idTag, timestamp), which is then counted as a duplicate."""
        for tx in account.open.values():
            if (
                tx.timestamp == timestamp
                and tx.connector_id == connector_id
                and tx.id_tag == id_tag
            ):
                return self._duplicate(account, tx.transaction_id)
        key = (connector_id, id_tag, timestamp)
        for recent_key, transaction_id in account.recent:
            if recent_key == key:
                return self._duplicate(account, transaction_id)
        transaction_id = self._next_id
        self._next_id += 1
        account.open[transaction_id] = OpenTransaction(
            transaction_id, connector_id, id_tag, timestamp
        )
        account.started += 1
        self.started += 1
        return transaction_id

    def _duplicate(self, account: StationLedger, transaction_id: int) -> int:
        account.duplicates += 1
        self.duplicates += 1
        return transaction_id

    def stop(self, account: StationLedger, transaction_id: int) -> bool:
        """Close a transaction of this station; False (and counted) when it is not open."""
        tx = account.open.pop(transaction_id, None)
        if tx is None:
            if any(stopped_id == transaction_id for _, stopped_id in account.recent):
                account.duplicate_stops += 1
                self.duplicate_stops += 1
            else:
                account.unknown_stops += 1
                self.unknown_stops += 1
            return False
        account.stopped += 1
        self.stopped += 1
        account.recent.append((tx.key, transaction_id))
        return True

    def meter_value(self, account: StationLedger, transaction_id: int) -> bool:
        """Count a MeterValues.req of a transaction; False (and counted) when it is not open."""
        tx = account.open.get(transaction_id)
        if tx is None:
            account.unknown_meter_values += 1
            self.unknown_meter_values += 1
            return False
        tx.meter_values += 1
        account.meter_values += 1
        self.meter_values += 1
        return True

    @property
    def open(self) -> int:
        return self.started - self.stopped

    def totals(self) -> dict[str, int]:
        return {
            "booted": self.booted,
            "started": self.started,
            "open": self.open,
            "stopped": self.stopped,
            "duplicates": self.duplicates,
            "duplicateStops": self.duplicate_stops,
            "unknownStops": self.unknown_stops,
            "meterValues": self.meter_values,
            "unknownMeterValues": self.unknown_meter_values,
        }
