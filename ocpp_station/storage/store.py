"""The station's persistent state in one SQLite file.

Configuration values, connector availability, small counters and the authorization cache:
everything the station must still know after a reset or a power cut (1.6 §3.5.2 and [E] 3.4
for the cache, digest §2.8 for availability, [JE] 2025-04 for message-id uniqueness).

The journal is WAL with `synchronous=FULL`: a commit is on disk before the call returns, so a
value acknowledged to the central system survives a power loss. The schema carries a version
and grows by numbered migrations applied in order at open, each in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ocpp_station import timefmt
from ocpp_station.storage.journal import JOURNAL_MIGRATION, JournalTables
from ocpp_station.storage.records import RECORDS_MIGRATION, RecordTables
from ocpp_station.storage.sqlite import open_database, schema_version, transaction

# Migration n brings the schema from version n - 1 to n. Never edit a released one: add one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            "CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE availability ("
            " connector_id INTEGER PRIMARY KEY, operative INTEGER NOT NULL)",
            # Small named values such as counters; untyped so a counter stays an integer.
            "CREATE TABLE kv (name TEXT PRIMARY KEY, value NOT NULL)",
            # id_tag holds the normalised tag (see normalize_id_tag).
            "CREATE TABLE auth_cache ("
            " id_tag TEXT PRIMARY KEY, status TEXT NOT NULL, expiry_date TEXT,"
            " parent_id_tag TEXT, updated_at TEXT NOT NULL)",
        ),
    ),
    (2, JOURNAL_MIGRATION),
    (3, RECORDS_MIGRATION),
)

COUNTER_BLOCK = 1000


class StoreError(RuntimeError):
    """The state file cannot be used (written by a newer version, or not a database)."""


def normalize_id_tag(id_tag: str) -> str:
    """The form an idTag is stored and looked up in: IdToken is case-insensitive (1.6 §7.28)."""
    return id_tag.casefold()


class StationStore(JournalTables, RecordTables):
    """SQLite-backed state of one station; implements the Configuration's ConfigStore."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        migrations: Sequence[tuple[int, Sequence[str]]] = MIGRATIONS,
        counter_block: int = COUNTER_BLOCK,
    ) -> None:
        """`path` None or ":memory:" keeps everything in memory (tests, throwaway stations).

        `counter_block` is how many counter values are reserved in the file at once: a restart
        skips at most that many, and a value is never handed out twice.
        """
        if counter_block < 1:
            raise ValueError("counter_block must be at least 1")
        # WAL, synchronous=FULL, numbered migrations: the shared opening of storage.sqlite.
        self._db = open_database(path, migrations, error=StoreError, what="the state file")
        self.durable = path is not None and str(path) != ":memory:"
        self._counter_block = counter_block
        self._counters: dict[str, list[int]] = {}  # name -> [next value, last reserved value]

    # --- schema ------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

    def _transaction(self) -> AbstractContextManager[None]:
        """All statements inside commit together or not at all; a nested block joins the outer
        one (storage.sqlite.transaction)."""
        return transaction(self._db)

    # --- configuration -----------------------------------------------------------------------

    def load_config(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM config").fetchall())

    def save_config(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO config (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- availability ------------------------------------------------------------------------

    def load_availability(self) -> dict[int, bool]:
        """Connector id (0 = the station) -> operative, for connectors ever changed."""
        rows = self._db.execute("SELECT connector_id, operative FROM availability").fetchall()
        return {int(connector): bool(operative) for connector, operative in rows}

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self._db.execute(
            "INSERT INTO availability (connector_id, operative) VALUES (?, ?)"
            " ON CONFLICT (connector_id) DO UPDATE SET operative = excluded.operative",
            (connector_id, 1 if operative else 0),
        )

    # --- counters ----------------------------------------------------------------------------

    def next_counter(self, name: str) -> int:
        """The next value (1, 2, 3, ...) of a persistent counter, never repeated across restarts.

        Values are reserved in the file a block at a time and handed out from memory, so most
        calls touch no disk; a restart resumes after the last reserved block.
        """
        state = self._counters.get(name)
        if state is None or state[0] > state[1]:
            state = self._reserve(name)
        value = state[0]
        state[0] = value + 1
        return value

    def _reserve(self, name: str) -> list[int]:
        with self._transaction():
            row = self._db.execute("SELECT value FROM kv WHERE name = ?", (name,)).fetchone()
            reserved = int(row[0]) if row is not None else 0
            limit = reserved + self._counter_block
            self._db.execute(
                "INSERT INTO kv (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, limit),
            )
        state = [reserved + 1, limit]
        self._counters[name] = state
        return state

    # --- authorization cache -----------------------------------------------------------------

    def cache_get(self, id_tag: str) -> dict[str, Any] | None:
        """The cached entry for a tag, any letter case; None when not cached."""
        row = self._db.execute(
            "SELECT id_tag, status, expiry_date, parent_id_tag, updated_at"
            " FROM auth_cache WHERE id_tag = ?",
            (normalize_id_tag(id_tag),),
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
        """Store the latest IdTagInfo of a tag. `updated_at` (default: now) orders eviction."""
        when = timefmt.iso(updated_at if updated_at is not None else datetime.now(UTC))
        self._db.execute(
            "INSERT INTO auth_cache (id_tag, status, expiry_date, parent_id_tag, updated_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status,"
            " expiry_date = excluded.expiry_date, parent_id_tag = excluded.parent_id_tag,"
            " updated_at = excluded.updated_at",
            (normalize_id_tag(id_tag), status, expiry_date, parent_id_tag, when),
        )

    def cache_delete(self, id_tag: str) -> None:
        """Drop one tag (eviction when the cache is full)."""
        self._db.execute("DELETE FROM auth_cache WHERE id_tag = ?", (normalize_id_tag(id_tag),))

    def cache_clear(self) -> None:
        self._db.execute("DELETE FROM auth_cache")

    def cache_all(self) -> list[dict[str, Any]]:
        """Every cached entry, least recently updated first."""
        rows = self._db.execute(
            "SELECT id_tag, status, expiry_date, parent_id_tag, updated_at"
            " FROM auth_cache ORDER BY updated_at, id_tag"
        ).fetchall()
        return [cache_entry(row) for row in rows]

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StationStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def cache_entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row (id_tag, status, expiry_date, parent_id_tag, updated_at) as the cache's dict."""
    id_tag, status, expiry_date, parent_id_tag, updated_at = row
    return {
        "id_tag": id_tag,
        "status": status,
        "expiry_date": expiry_date,
        "parent_id_tag": parent_id_tag,
        "updated_at": updated_at,
    }
