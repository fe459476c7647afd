"""Records: a profile's state as JSON values keyed by (kind, key), in the station's SQLite file.

One primitive for every profile (a local list, reservations, charging profiles, firmware
state): a profile writes its store once on top of `RecordStore` (storage.interface) and it
works in the station's file, a fleet's file and memory alike.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

RECORDS_MIGRATION: tuple[str, ...] = (
    "CREATE TABLE records (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (kind, key)) WITHOUT ROWID",
)


def encode(value: Any) -> str:
    return orjson.dumps(value).decode()


class RecordTables:
    """The records table; mixed into StationStore, which owns the connection."""

    _db: sqlite3.Connection

    def record_put(self, kind: str, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO records (kind, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
            (kind, key, encode(value)),
        )

    def record_get(self, kind: str, key: str) -> Any:
        row = self._db.execute(
            "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else orjson.loads(row[0])

    def record_delete(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def records(self, kind: str) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT key, value FROM records WHERE kind = ? ORDER BY key", (kind,)
        ).fetchall()
        return {key: orjson.loads(value) for key, value in rows}

    def records_clear(self, kind: str) -> None:
        self._db.execute("DELETE FROM records WHERE kind = ?", (kind,))
