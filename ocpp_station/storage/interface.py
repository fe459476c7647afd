"""What the station needs of a store, domain by domain, whichever store keeps it: a SQLite file
(StationStore), a station's share of a fleet database (FleetDatabase.station) or memory only
(MemoryStore).

Each consumer names the small protocol it uses in its constructor (the configuration takes a
ConfigStore, the sender a Journal); StateStore is all of them, what the three stores implement.
A profile's own state (a local list, reservations, charging profiles) is kept as records
(RecordStore): written once, on top of that one primitive, it works in every store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from ocpp_station.storage.journal import StoredMessage, StoredTransaction


class Atomic(Protocol):
    def atomic(self) -> AbstractContextManager[None]:
        """Writes inside the block land together or not at all; a nested block joins."""
        ...


class ConfigStore(Protocol):
    def load_config(self) -> dict[str, str]: ...
    def save_config(self, key: str, value: str) -> None: ...


class AvailabilityStore(Atomic, Protocol):
    def load_availability(self) -> dict[int, bool]:
        """Connector id (0 = the station) -> operative, for connectors ever changed."""
        ...

    def save_availability(self, connector_id: int, operative: bool) -> None: ...


class CounterStore(Protocol):
    def next_counter(self, name: str) -> int:
        """1, 2, 3, ... per name, never repeated across restarts."""
        ...


class CacheStore(Protocol):
    """The authorization cache (§3.5.2), keyed by the normalised idTag."""

    def cache_get(self, id_tag: str) -> dict[str, Any] | None: ...
    def cache_put(
        self,
        id_tag: str,
        status: str,
        expiry_date: str | None,
        parent_id_tag: str | None,
        *,
        updated_at: datetime | None = None,
    ) -> None: ...
    def cache_delete(self, id_tag: str) -> None: ...
    def cache_clear(self) -> None: ...
    def cache_all(self) -> list[dict[str, Any]]: ...


class TransactionStore(Atomic, CounterStore, Protocol):
    """Running transactions and what their StopTransaction will carry."""

    def tx_insert(self, tx: StoredTransaction) -> None: ...
    def tx_update(self, local_id: int, **fields: Any) -> None: ...
    def tx_add_sample(self, local_id: int, meter_value: dict[str, Any]) -> None: ...
    def tx_samples(self, local_id: int) -> list[dict[str, Any]]: ...
    def tx_all(self) -> list[StoredTransaction]: ...
    def tx_forget_finished(self) -> int: ...


class Journal(Atomic, Protocol):
    """Where queued messages live until answered (the outbox)."""

    def outbox_add(
        self, action: str, payload: dict[str, Any], local_id: int | None, created_at: str
    ) -> int: ...
    def outbox_attempted(self, seq: int, attempts: int) -> None: ...
    def outbox_delivered(self, seq: int) -> None: ...
    def outbox_give_up(self, seq: int) -> None: ...


class OutboxReader(Protocol):
    def outbox_pending(self) -> list[StoredMessage]: ...
    def outbox_given_up(self) -> list[StoredMessage]: ...


class KeyValueStore(Protocol):
    """Small named values (the simulator's state, a connector left in Finishing)."""

    def kv_get(self, name: str) -> Any: ...
    def kv_put(self, name: str, value: Any) -> None: ...


class RecordStore(Atomic, Protocol):
    """Records of JSON values, keyed by (kind, key): the state of a profile.

    A kind is one collection (say "local_list"); a key identifies one record in it. Values are
    whatever orjson encodes; what comes back is a fresh copy.
    """

    def record_put(self, kind: str, key: str, value: Any) -> None: ...
    def record_get(self, kind: str, key: str) -> Any:
        """The value, or None when there is no such record."""
        ...

    def record_delete(self, kind: str, key: str) -> None: ...
    def records(self, kind: str) -> dict[str, Any]:
        """Every record of a kind, key -> value, in key order."""
        ...

    def records_clear(self, kind: str) -> None: ...


class StateStore(
    ConfigStore,
    AvailabilityStore,
    CacheStore,
    TransactionStore,
    Journal,
    OutboxReader,
    KeyValueStore,
    RecordStore,
    Protocol,
):
    """Everything a station keeps."""

    @property
    def durable(self) -> bool:
        """What is written survives the process (a file), not only the station object."""
        ...

    def close(self) -> None: ...
