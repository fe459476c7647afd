"""Running transactions and the outbox of transaction messages, in the station's SQLite file.

"Nothing lost": a transaction message is in the outbox before anything depends on it having
been sent, and a transaction's row holds what a power-loss recovery needs (digest §3.4: id or
local id, idTag, connector, meterStart, start time and the last meter value). Rows leave only
when the central system has answered (outbox) or when nothing queued refers to them any more
(transactions). What the station gives up after all attempts stays, marked given up.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

JOURNAL_MIGRATION: tuple[str, ...] = (
    "CREATE TABLE transactions ("
    " local_id INTEGER PRIMARY KEY, connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL,"
    " parent_id_tag TEXT, meter_start INTEGER NOT NULL, start_time TEXT NOT NULL,"
    " transaction_id INTEGER, start_failed INTEGER NOT NULL DEFAULT 0,"
    " reservation_id INTEGER, energy_suspended INTEGER NOT NULL DEFAULT 0,"
    " last_meter_wh REAL NOT NULL, last_meter_time TEXT NOT NULL,"
    " ended INTEGER NOT NULL DEFAULT 0)",
    # transactionData collected for StopTransaction, appended sample by sample.
    "CREATE TABLE transaction_samples ("
    " local_id INTEGER NOT NULL, seq INTEGER NOT NULL, meter_value TEXT NOT NULL,"
    " PRIMARY KEY (local_id, seq))",
    "CREATE TABLE outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, payload TEXT NOT NULL,"
    " local_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
    " given_up INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)",
    "CREATE INDEX outbox_pending ON outbox (given_up, seq)",
)


@dataclass(slots=True)
class StoredTransaction:
    local_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    meter_start: int
    start_time: str
    transaction_id: int | None
    start_failed: bool
    reservation_id: int | None
    energy_suspended: bool
    last_meter_wh: float
    last_meter_time: str
    ended: bool


@dataclass(slots=True)
class StoredMessage:
    seq: int
    action: str
    payload: dict[str, Any]
    local_id: int | None
    attempts: int


_TX_FIELDS = {
    "transaction_id",
    "parent_id_tag",
    "start_failed",
    "energy_suspended",
    "last_meter_wh",
    "last_meter_time",
    "ended",
}


def updatable(fields: dict[str, Any]) -> None:
    """Refuse a transaction update naming a field that never changes after the start."""
    unknown = set(fields) - _TX_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")


class JournalTables:
    """Transactions and outbox; mixed into StationStore, which owns the connection."""

    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def atomic(self) -> AbstractContextManager[None]:
        """Several writes that must land together (a stop and its StopTransaction)."""
        return self._transaction()

    # -- transactions -------------------------------------------------------------------------
    def tx_insert(self, tx: StoredTransaction) -> None:
        self._db.execute(
            "INSERT INTO transactions (local_id, connector_id, id_tag, parent_id_tag,"
            " meter_start, start_time, transaction_id, start_failed, reservation_id,"
            " energy_suspended, last_meter_wh, last_meter_time, ended)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tx.local_id,
                tx.connector_id,
                tx.id_tag,
                tx.parent_id_tag,
                tx.meter_start,
                tx.start_time,
                tx.transaction_id,
                int(tx.start_failed),
                tx.reservation_id,
                int(tx.energy_suspended),
                tx.last_meter_wh,
                tx.last_meter_time,
                int(tx.ended),
            ),
        )

    def tx_update(self, local_id: int, **fields: Any) -> None:
        updatable(fields)
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        self._db.execute(
            f"UPDATE transactions SET {columns} WHERE local_id = ?", (*values, local_id)
        )

    def tx_add_sample(self, local_id: int, meter_value: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO transaction_samples (local_id, seq, meter_value) VALUES (?,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transaction_samples WHERE local_id = ?), ?)",
            (local_id, local_id, orjson.dumps(meter_value).decode()),
        )

    def tx_samples(self, local_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT meter_value FROM transaction_samples WHERE local_id = ? ORDER BY seq",
            (local_id,),
        ).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def tx_all(self) -> list[StoredTransaction]:
        rows = self._db.execute(
            "SELECT local_id, connector_id, id_tag, parent_id_tag, meter_start, start_time,"
            " transaction_id, start_failed, reservation_id, energy_suspended, last_meter_wh,"
            " last_meter_time, ended FROM transactions ORDER BY local_id"
        ).fetchall()
        return [
            StoredTransaction(
                local_id=r[0],
                connector_id=r[1],
                id_tag=r[2],
                parent_id_tag=r[3],
                meter_start=r[4],
                start_time=r[5],
                transaction_id=r[6],
                start_failed=bool(r[7]),
                reservation_id=r[8],
                energy_suspended=bool(r[9]),
                last_meter_wh=r[10],
                last_meter_time=r[11],
                ended=bool(r[12]),
            )
            for r in rows
        ]

    def tx_forget_finished(self) -> int:
        """Drop ended transactions no queued message refers to any more."""
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM transactions WHERE ended = 1 AND local_id NOT IN"
                " (SELECT local_id FROM outbox WHERE local_id IS NOT NULL AND given_up = 0)"
            )
            self._db.execute(
                "DELETE FROM transaction_samples WHERE local_id NOT IN"
                " (SELECT local_id FROM transactions)"
            )
        return cursor.rowcount

    # -- outbox -------------------------------------------------------------------------------
    def outbox_add(
        self, action: str, payload: dict[str, Any], local_id: int | None, created_at: str
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO outbox (action, payload, local_id, created_at) VALUES (?, ?, ?, ?)",
            (action, orjson.dumps(payload).decode(), local_id, created_at),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def outbox_attempted(self, seq: int, attempts: int) -> None:
        self._db.execute("UPDATE outbox SET attempts = ? WHERE seq = ?", (attempts, seq))

    def outbox_delivered(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def outbox_give_up(self, seq: int) -> None:
        self._db.execute("UPDATE outbox SET given_up = 1 WHERE seq = ?", (seq,))

    def outbox_pending(self) -> list[StoredMessage]:
        rows = self._db.execute(
            "SELECT seq, action, payload, local_id, attempts FROM outbox"
            " WHERE given_up = 0 ORDER BY seq"
        ).fetchall()
        return [
            StoredMessage(
                seq=r[0], action=r[1], payload=orjson.loads(r[2]), local_id=r[3], attempts=r[4]
            )
            for r in rows
        ]

    def outbox_given_up(self) -> list[StoredMessage]:
        rows = self._db.execute(
            "SELECT seq, action, payload, local_id, attempts FROM outbox"
            " WHERE given_up = 1 ORDER BY seq"
        ).fetchall()
        return [
            StoredMessage(
                seq=r[0], action=r[1], payload=orjson.loads(r[2]), local_id=r[3], attempts=r[4]
            )
            for r in rows
        ]

    # -- small named documents ----------------------------------------------------------------
    def kv_get(self, name: str) -> Any:
        row = self._db.execute("SELECT value FROM kv WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def kv_put(self, name: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO kv (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
