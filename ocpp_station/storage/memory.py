"""A station's state kept in memory only: the StationStore interface without a file.

For simulated stations whose tester does not need durability (a fleet of thousands): an
in-memory SQLite database costs about 225 KB per connection, these dictionaries a few KB. The
store still outlives the station object that uses it, so a power loss simulated inside the
process (a new station on the same store) recovers exactly as from a file.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from ocpp_station import timefmt
from ocpp_station.storage.journal import StoredMessage, StoredTransaction, updatable
from ocpp_station.storage.records import encode
from ocpp_station.storage.store import normalize_id_tag


class MemoryStore:
    """Everything a StationStore holds, in dictionaries; same methods, same answers."""

    schema_version = 0
    durable = False

    def __init__(self) -> None:
        self._config: dict[str, str] = {}
        self._availability: dict[int, bool] = {}
        self._kv: dict[str, Any] = {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._transactions: dict[int, StoredTransaction] = {}
        self._samples: dict[int, list[str]] = {}
        # seq -> [action, payload as JSON, local_id, attempts, given_up]; dicts keep insertion
        # order, which is seq order because seq only grows. Payloads are kept as JSON text, as in
        # the file: what comes back is a copy, and text is smaller than the objects (and than
        # orjson's bytes, which keep a 4 KB buffer each).
        self._outbox: dict[int, list[Any]] = {}
        self._outbox_seq = itertools.count(1)
        # kind -> key -> value as JSON text (a copy on every read, as from the file).
        self._records: dict[str, dict[str, str]] = {}

    # -- configuration, availability, counters -------------------------------------------------
    def load_config(self) -> dict[str, str]:
        return dict(self._config)

    def save_config(self, key: str, value: str) -> None:
        self._config[key] = value

    def load_availability(self) -> dict[int, bool]:
        return dict(self._availability)

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self._availability[connector_id] = operative

    def next_counter(self, name: str) -> int:
        value = int(self._kv.get(name, 0)) + 1
        self._kv[name] = value
        return value

    # -- authorization cache ------------------------------------------------------------------
    def cache_get(self, id_tag: str) -> dict[str, Any] | None:
        entry = self._cache.get(normalize_id_tag(id_tag))
        return None if entry is None else dict(entry)

    def cache_put(
        self,
        id_tag: str,
        status: str,
        expiry_date: str | None,
        parent_id_tag: str | None,
        *,
        updated_at: datetime | None = None,
    ) -> None:
        key = normalize_id_tag(id_tag)
        self._cache[key] = {
            "id_tag": key,
            "status": status,
            "expiry_date": expiry_date,
            "parent_id_tag": parent_id_tag,
            "updated_at": timefmt.iso(updated_at if updated_at is not None else datetime.now(UTC)),
        }

    def cache_delete(self, id_tag: str) -> None:
        self._cache.pop(normalize_id_tag(id_tag), None)

    def cache_clear(self) -> None:
        self._cache.clear()

    def cache_all(self) -> list[dict[str, Any]]:
        entries = sorted(self._cache.values(), key=lambda e: (e["updated_at"], e["id_tag"]))
        return [dict(e) for e in entries]

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        # One thread, no I/O: the writes inside a block cannot be seen half done.
        yield

    def tx_insert(self, tx: StoredTransaction) -> None:
        if tx.local_id in self._transactions:
            raise ValueError(f"transaction {tx.local_id} is already stored")
        self._transactions[tx.local_id] = copy.copy(tx)

    def tx_update(self, local_id: int, **fields: Any) -> None:
        updatable(fields)
        tx = self._transactions.get(local_id)
        if tx is not None:
            for name, value in fields.items():
                setattr(tx, name, value)

    def tx_add_sample(self, local_id: int, meter_value: dict[str, Any]) -> None:
        self._samples.setdefault(local_id, []).append(orjson.dumps(meter_value).decode())

    def tx_samples(self, local_id: int) -> list[dict[str, Any]]:
        return [orjson.loads(raw) for raw in self._samples.get(local_id, ())]

    def tx_all(self) -> list[StoredTransaction]:
        return [copy.copy(self._transactions[k]) for k in sorted(self._transactions)]

    def tx_forget_finished(self) -> int:
        referred = {m[2] for m in self._outbox.values() if m[2] is not None and not m[4]}
        gone = [k for k, tx in self._transactions.items() if tx.ended and k not in referred]
        for local_id in gone:
            del self._transactions[local_id]
            self._samples.pop(local_id, None)
        return len(gone)

    # -- outbox -------------------------------------------------------------------------------
    def outbox_add(
        self, action: str, payload: dict[str, Any], local_id: int | None, created_at: str
    ) -> int:
        seq = next(self._outbox_seq)
        self._outbox[seq] = [action, orjson.dumps(payload).decode(), local_id, 0, False]
        return seq

    def outbox_attempted(self, seq: int, attempts: int) -> None:
        if seq in self._outbox:
            self._outbox[seq][3] = attempts

    def outbox_delivered(self, seq: int) -> None:
        self._outbox.pop(seq, None)

    def outbox_give_up(self, seq: int) -> None:
        if seq in self._outbox:
            self._outbox[seq][4] = True

    def _messages(self, given_up: bool) -> list[StoredMessage]:
        return [
            StoredMessage(
                seq=seq, action=m[0], payload=orjson.loads(m[1]), local_id=m[2], attempts=m[3]
            )
            for seq, m in self._outbox.items()
            if m[4] is given_up
        ]

    def outbox_pending(self) -> list[StoredMessage]:
        return self._messages(False)

    def outbox_given_up(self) -> list[StoredMessage]:
        return self._messages(True)

    # -- small named documents ----------------------------------------------------------------
    def kv_get(self, name: str) -> Any:
        return self._kv.get(name)

    def kv_put(self, name: str, value: Any) -> None:
        self._kv[name] = value

    # -- records ------------------------------------------------------------------------------
    def record_put(self, kind: str, key: str, value: Any) -> None:
        self._records.setdefault(kind, {})[key] = encode(value)

    def record_get(self, kind: str, key: str) -> Any:
        raw = self._records.get(kind, {}).get(key)
        return None if raw is None else orjson.loads(raw)

    def record_delete(self, kind: str, key: str) -> None:
        self._records.get(kind, {}).pop(key, None)

    def records(self, kind: str) -> dict[str, Any]:
        stored = self._records.get(kind, {})
        return {key: orjson.loads(stored[key]) for key in sorted(stored)}

    def records_clear(self, kind: str) -> None:
        self._records.pop(kind, None)

    def close(self) -> None:
        """Nothing to release; the contents stay readable (a power loss keeps the store)."""
