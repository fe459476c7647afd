"""Every station of a fleet in one SQLite file: the station store's tables with a `station`
column, one connection for the whole process.

Why one file: a file per station costs a connection per station (about 225 KB each, measured
for an in-memory one, plus three file descriptors with WAL), which ten thousand stations cannot
afford; one connection costs one page cache.

Durability: WAL with synchronous=NORMAL. A commit is in the operating system's hands when the
call returns, so it survives the death of the process (SIGKILL, the way a fleet's power loss is
simulated) but not of the machine. `synchronous=FULL`, as the single station uses, would fsync
every commit of every station on the event loop that serves all of them.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ocpp_station import timefmt
from ocpp_station.storage.journal import StoredMessage, StoredTransaction, updatable
from ocpp_station.storage.records import encode
from ocpp_station.storage.sqlite import Migration, open_database, transaction
from ocpp_station.storage.store import COUNTER_BLOCK, cache_entry, normalize_id_tag

# Migration n brings the schema from version n - 1 to n. Never edit a released one: add one.
SCHEMA: tuple[str, ...] = (
    "CREATE TABLE config (station TEXT, key TEXT, value TEXT NOT NULL,"
    " PRIMARY KEY (station, key)) WITHOUT ROWID",
    "CREATE TABLE availability (station TEXT, connector_id INTEGER, operative INTEGER NOT NULL,"
    " PRIMARY KEY (station, connector_id)) WITHOUT ROWID",
    "CREATE TABLE kv (station TEXT, name TEXT, value NOT NULL,"
    " PRIMARY KEY (station, name)) WITHOUT ROWID",
    "CREATE TABLE auth_cache (station TEXT, id_tag TEXT, status TEXT NOT NULL,"
    " expiry_date TEXT, parent_id_tag TEXT, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (station, id_tag)) WITHOUT ROWID",
    "CREATE TABLE transactions (station TEXT, local_id INTEGER, connector_id INTEGER NOT NULL,"
    " id_tag TEXT NOT NULL, parent_id_tag TEXT, meter_start INTEGER NOT NULL,"
    " start_time TEXT NOT NULL, transaction_id INTEGER, start_failed INTEGER NOT NULL,"
    " reservation_id INTEGER, energy_suspended INTEGER NOT NULL, last_meter_wh REAL NOT NULL,"
    " last_meter_time TEXT NOT NULL, ended INTEGER NOT NULL,"
    " PRIMARY KEY (station, local_id)) WITHOUT ROWID",
    "CREATE TABLE transaction_samples (station TEXT, local_id INTEGER, seq INTEGER,"
    " meter_value TEXT NOT NULL, PRIMARY KEY (station, local_id, seq)) WITHOUT ROWID",
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL,"
    " action TEXT NOT NULL, payload TEXT NOT NULL, local_id INTEGER,"
    " attempts INTEGER NOT NULL DEFAULT 0, given_up INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX outbox_station ON outbox (station, given_up, seq)",
)
MIGRATIONS: tuple[Migration, ...] = (
    (1, SCHEMA),
    (
        2,
        (
            "CREATE TABLE records (station TEXT, kind TEXT, key TEXT, value TEXT NOT NULL,"
            " PRIMARY KEY (station, kind, key)) WITHOUT ROWID",
        ),
    ),
)
_TX_COLUMNS = (
    "local_id, connector_id, id_tag, parent_id_tag, meter_start, start_time, transaction_id,"
    " start_failed, reservation_id, energy_suspended, last_meter_wh, last_meter_time, ended"
)


@functools.cache
def _upsert(table: str, column: str, names: tuple[str, ...]) -> str:
    """INSERT ... ON CONFLICT UPDATE of one station's row, built once per shape: it runs at
    every kv, config and cache write of every station."""
    marks = ", ".join("?" for _ in names)
    updates = ", ".join(f"{n} = excluded.{n}" for n in names)
    return (
        f"INSERT INTO {table} (station, {column}, {', '.join(names)}) VALUES (?, ?, {marks})"
        f" ON CONFLICT (station, {column}) DO UPDATE SET {updates}"
    )


class FleetStorageError(RuntimeError):
    """The fleet's state file cannot be used."""


class FleetDatabase:
    """The fleet's state file; `station(identity)` gives one station's share of it."""

    def __init__(self, path: Path) -> None:
        try:
            self.db = open_database(
                path,
                MIGRATIONS,
                error=FleetStorageError,
                what="the fleet's state file",
                synchronous="NORMAL",
            )
        except OSError as exc:
            raise FleetStorageError(f"{path}: {exc.strerror or exc}") from None

    def station(self, identity: str) -> StationShare:
        return StationShare(self, identity)

    def close(self) -> None:
        self.db.close()


class StationShare:
    """One station's rows of the fleet file; the StateStore interface."""

    __slots__ = ("_counters", "_db", "_s")

    durable = True  # the fleet's file (synchronous=NORMAL: it survives the process)

    def __init__(self, database: FleetDatabase, identity: str) -> None:
        self._db = database.db
        self._s = identity
        self._counters: dict[str, list[int]] = {}

    def atomic(self) -> AbstractContextManager[None]:
        return transaction(self._db)

    def _put(self, table: str, column: str, key: Any, fields: dict[str, Any]) -> None:
        self._db.execute(_upsert(table, column, tuple(fields)), (self._s, key, *fields.values()))

    # -- configuration, availability, counters ---------------------------------------------------
    def load_config(self) -> dict[str, str]:
        rows = self._db.execute("SELECT key, value FROM config WHERE station = ?", (self._s,))
        return dict(rows.fetchall())

    def save_config(self, key: str, value: str) -> None:
        self._put("config", "key", key, {"value": value})

    def load_availability(self) -> dict[int, bool]:
        rows = self._db.execute(
            "SELECT connector_id, operative FROM availability WHERE station = ?", (self._s,)
        ).fetchall()
        return {int(c): bool(o) for c, o in rows}

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self._put("availability", "connector_id", connector_id, {"operative": int(operative)})

    def next_counter(self, name: str) -> int:
        # Reserved a block at a time, as StationStore does: most calls touch no disk.
        state = self._counters.get(name)
        if state is None or state[0] > state[1]:
            with self.atomic():
                reserved = int(self.kv_get(name) or 0)
                self.kv_put(name, reserved + COUNTER_BLOCK)
            state = self._counters[name] = [reserved + 1, reserved + COUNTER_BLOCK]
        value = state[0]
        state[0] = value + 1
        return value

    # -- authorization cache ---------------------------------------------------------------------
    def cache_get(self, id_tag: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT id_tag, status, expiry_date, parent_id_tag, updated_at FROM auth_cache"
            " WHERE station = ? AND id_tag = ?",
            (self._s, normalize_id_tag(id_tag)),
        ).fetchone()
        return None if row is None else cache_entry(row)

    def cache_put(
        self,
        id_tag: str,
        status: str,
        expiry_date: str | None,
        parent_id_tag: str | None,
        *,
        updated_at: datetime | None = None,
    ) -> None:
        when = timefmt.iso(updated_at if updated_at is not None else datetime.now(UTC))
        fields = {
            "status": status,
            "expiry_date": expiry_date,
            "parent_id_tag": parent_id_tag,
            "updated_at": when,
        }
        self._put("auth_cache", "id_tag", normalize_id_tag(id_tag), fields)

    def cache_delete(self, id_tag: str) -> None:
        self._db.execute(
            "DELETE FROM auth_cache WHERE station = ? AND id_tag = ?",
            (self._s, normalize_id_tag(id_tag)),
        )

    def cache_clear(self) -> None:
        self._db.execute("DELETE FROM auth_cache WHERE station = ?", (self._s,))

    def cache_all(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id_tag, status, expiry_date, parent_id_tag, updated_at FROM auth_cache"
            " WHERE station = ? ORDER BY updated_at, id_tag",
            (self._s,),
        ).fetchall()
        return [cache_entry(r) for r in rows]

    # -- transactions ----------------------------------------------------------------------------
    def tx_insert(self, tx: StoredTransaction) -> None:
        self._db.execute(
            f"INSERT INTO transactions (station, {_TX_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._s, tx.local_id, tx.connector_id, tx.id_tag, tx.parent_id_tag,
                tx.meter_start, tx.start_time, tx.transaction_id, int(tx.start_failed),
                tx.reservation_id, int(tx.energy_suspended), tx.last_meter_wh,
                tx.last_meter_time, int(tx.ended),
            ),
        )  # fmt: skip

    def tx_update(self, local_id: int, **fields: Any) -> None:
        updatable(fields)
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        self._db.execute(
            f"UPDATE transactions SET {columns} WHERE station = ? AND local_id = ?",
            (*values, self._s, local_id),
        )

    def tx_add_sample(self, local_id: int, meter_value: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO transaction_samples (station, local_id, seq, meter_value) VALUES"
            " (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM transaction_samples"
            " WHERE station = ? AND local_id = ?), ?)",
            (self._s, local_id, self._s, local_id, orjson.dumps(meter_value).decode()),
        )

    def tx_samples(self, local_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT meter_value FROM transaction_samples WHERE station = ? AND local_id = ?"
            " ORDER BY seq",
            (self._s, local_id),
        ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def tx_all(self) -> list[StoredTransaction]:
        rows = self._db.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station = ? ORDER BY local_id",
            (self._s,),
        ).fetchall()
        return [
            StoredTransaction(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], bool(r[9]), r[10],
                r[11], bool(r[12]),
            )
            for r in rows
        ]  # fmt: skip

    def tx_forget_finished(self) -> int:
        with self.atomic():
            cursor = self._db.execute(
                "DELETE FROM transactions WHERE station = ?1 AND ended = 1 AND local_id NOT IN"
                " (SELECT local_id FROM outbox WHERE station = ?1 AND local_id IS NOT NULL"
                " AND given_up = 0)",
                (self._s,),
            )
            self._db.execute(
                "DELETE FROM transaction_samples WHERE station = ?1 AND local_id NOT IN"
                " (SELECT local_id FROM transactions WHERE station = ?1)",
                (self._s,),
            )
        return cursor.rowcount

    # -- outbox ----------------------------------------------------------------------------------
    def outbox_add(
        self, action: str, payload: dict[str, Any], local_id: int | None, created_at: str
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO outbox (station, action, payload, local_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self._s, action, orjson.dumps(payload).decode(), local_id, created_at),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def outbox_attempted(self, seq: int, attempts: int) -> None:
        self._db.execute(
            "UPDATE outbox SET attempts = ? WHERE seq = ? AND station = ?", (attempts, seq, self._s)
        )

    def outbox_delivered(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq = ? AND station = ?", (seq, self._s))

    def outbox_give_up(self, seq: int) -> None:
        self._db.execute(
            "UPDATE outbox SET given_up = 1 WHERE seq = ? AND station = ?", (seq, self._s)
        )

    def _outbox(self, given_up: int) -> list[StoredMessage]:
        rows = self._db.execute(
            "SELECT seq, action, payload, local_id, attempts FROM outbox"
            " WHERE station = ? AND given_up = ? ORDER BY seq",
            (self._s, given_up),
        ).fetchall()
        return [StoredMessage(r[0], r[1], orjson.loads(r[2]), r[3], r[4]) for r in rows]

    def outbox_pending(self) -> list[StoredMessage]:
        return self._outbox(0)

    def outbox_given_up(self) -> list[StoredMessage]:
        return self._outbox(1)

    # -- small named documents -------------------------------------------------------------------
    def kv_get(self, name: str) -> Any:
        row = self._db.execute(
            "SELECT value FROM kv WHERE station = ? AND name = ?", (self._s, name)
        ).fetchone()
        return None if row is None else row[0]

    def kv_put(self, name: str, value: Any) -> None:
        self._put("kv", "name", name, {"value": value})

    # -- records ---------------------------------------------------------------------------------
    def record_put(self, kind: str, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO records (station, kind, key, value) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (station, kind, key) DO UPDATE SET value = excluded.value",
            (self._s, kind, key, encode(value)),
        )

    def record_get(self, kind: str, key: str) -> Any:
        row = self._db.execute(
            "SELECT value FROM records WHERE station = ? AND kind = ? AND key = ?",
            (self._s, kind, key),
        ).fetchone()
        return None if row is None else orjson.loads(row[0])

    def record_delete(self, kind: str, key: str) -> None:
        self._db.execute(
            "DELETE FROM records WHERE station = ? AND kind = ? AND key = ?", (self._s, kind, key)
        )

    def records(self, kind: str) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT key, value FROM records WHERE station = ? AND kind = ? ORDER BY key",
            (self._s, kind),
        ).fetchall()
        return {key: orjson.loads(value) for key, value in rows}

    def records_clear(self, kind: str) -> None:
        self._db.execute("DELETE FROM records WHERE station = ? AND kind = ?", (self._s, kind))

    def close(self) -> None:
        """The connection is the fleet's: it closes with the FleetDatabase."""
