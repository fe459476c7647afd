"""What the central system keeps in SQLite: stations, their sessions and the meter values.

A station's row holds its last BootNotification, our answer to it and the last
StatusNotification of each connector; a session is one transaction from StartTransaction to
StopTransaction; every MeterValue received (in MeterValues.req, or in the transactionData of
StopTransaction.req) is one row.

Writes happen before the answer to the station's CALL is sent: a StopTransaction.conf tells the
station it may forget the transaction ([S] 3.7), so the session must be on disk first. A file
store is WAL with `synchronous=FULL` for that reason. Without a path everything stays in memory
(tests, the central system embedded in `ocpp-station run`). The schema carries a version and
grows by numbered migrations applied in order at open, each in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ocpp_station.storage.sqlite import open_database, schema_version, transaction
from ocpp_station.timefmt import iso, parse

# Migration n brings the schema from version n - 1 to n. Never edit a released one: add one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            "CREATE TABLE stations ("
            " identity TEXT PRIMARY KEY, boot TEXT, boot_count INTEGER NOT NULL DEFAULT 0,"
            " registration TEXT, first_seen TEXT NOT NULL, last_boot TEXT,"
            " last_heartbeat TEXT, last_connected TEXT, last_disconnected TEXT)",
            # The last StatusNotification.req of each connector (0 = the charge point).
            "CREATE TABLE statuses ("
            " identity TEXT NOT NULL, connector_id INTEGER NOT NULL, status TEXT NOT NULL,"
            " error_code TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,"
            " PRIMARY KEY (identity, connector_id))",
            # The transaction id we handed out is the session's id: unique across stations.
            "CREATE TABLE sessions ("
            " transaction_id INTEGER PRIMARY KEY, identity TEXT NOT NULL,"
            " connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL, id_tag_info TEXT NOT NULL,"
            " reservation_id INTEGER, meter_start INTEGER NOT NULL, start_time TEXT NOT NULL,"
            " meter_stop INTEGER, stop_time TEXT, stop_reason TEXT, stop_id_tag TEXT,"
            " started_at TEXT NOT NULL, stopped_at TEXT)",
            "CREATE INDEX sessions_by_station ON sessions (identity, transaction_id)",
            "CREATE INDEX sessions_open ON sessions (transaction_id) WHERE stop_time IS NULL",
            "CREATE TABLE meter_values ("
            " seq INTEGER PRIMARY KEY, identity TEXT NOT NULL, connector_id INTEGER,"
            " transaction_id INTEGER, timestamp TEXT NOT NULL, sampled_value TEXT NOT NULL,"
            " source TEXT NOT NULL, received_at TEXT NOT NULL)",
            "CREATE INDEX meter_values_by_transaction ON meter_values (transaction_id, seq)",
            # StopTransaction.req for a transaction id this store never handed out.
            "CREATE TABLE unmatched_stops ("
            " seq INTEGER PRIMARY KEY, identity TEXT NOT NULL, transaction_id INTEGER NOT NULL,"
            " payload TEXT NOT NULL, received_at TEXT NOT NULL)",
        ),
    ),
    (
        2,
        (
            # Every ReserveNow we sent, with the station's answer; `ended` says how an accepted
            # one ended (Cancelled, Used by `transaction_id`), NULL while it holds or lapsed.
            "CREATE TABLE reservations ("
            " identity TEXT NOT NULL, reservation_id INTEGER NOT NULL,"
            " connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL, parent_id_tag TEXT,"
            " expiry_date TEXT NOT NULL, answer TEXT NOT NULL, created_at TEXT NOT NULL,"
            " ended TEXT, ended_at TEXT, transaction_id INTEGER,"
            " PRIMARY KEY (identity, reservation_id))",
        ),
    ),
)

SOURCE_METER_VALUES = "MeterValues"
SOURCE_STOP_TRANSACTION = "StopTransaction"


class CsmsStoreError(RuntimeError):
    """The database cannot be used (written by a newer version, or not a database)."""


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """The last StatusNotification.req of one connector."""

    connector_id: int
    status: str
    error_code: str
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredStation:
    identity: str
    boot: dict[str, Any] | None
    """The last BootNotification.req payload."""
    boot_count: int
    registration: str | None
    """The status of our last BootNotification.conf."""
    first_seen: datetime
    last_boot: datetime | None
    last_heartbeat: datetime | None
    last_connected: datetime | None
    last_disconnected: datetime | None
    statuses: tuple[StoredStatus, ...]
    """By connector id."""


@dataclass(frozen=True, slots=True)
class StoredReservation:
    """A ReserveNow we sent and what became of it."""

    identity: str
    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    answer: str
    """The station's ReserveNow.conf status."""
    created_at: datetime
    ended: str | None
    """Cancelled or Used (by `transaction_id`); None while it holds, or lapsed."""
    ended_at: datetime | None
    transaction_id: int | None

    def state(self, now: datetime) -> str:
        """Refused (not Accepted), Used, Cancelled, Expired or Held."""
        if self.answer != "Accepted":
            return "Refused"
        if self.ended is not None:
            return self.ended
        return "Expired" if self.expiry_date <= now else "Held"


@dataclass(frozen=True, slots=True)
class StoredSession:
    """One transaction; its id is the transactionId we handed out."""

    transaction_id: int
    identity: str
    connector_id: int
    id_tag: str
    id_tag_info: dict[str, Any]
    """The IdTagInfo of our StartTransaction.conf."""
    reservation_id: int | None
    meter_start: int
    start_time: datetime
    """The station's timestamp of StartTransaction.req."""
    meter_stop: int | None
    stop_time: datetime | None
    stop_reason: str | None
    stop_id_tag: str | None

    @property
    def open(self) -> bool:
        return self.stop_time is None

    @property
    def energy_wh(self) -> int | None:
        """meterStop - meterStart, once stopped."""
        return None if self.meter_stop is None else self.meter_stop - self.meter_start


@dataclass(frozen=True, slots=True)
class StoredMeterValue:
    seq: int
    identity: str
    connector_id: int | None
    """None for the transactionData of a StopTransaction.req."""
    transaction_id: int | None
    timestamp: str
    sampled_value: list[dict[str, Any]]
    source: str
    """MeterValues or StopTransaction (its transactionData)."""
    received_at: datetime


@dataclass(frozen=True, slots=True)
class UnmatchedStop:
    identity: str
    transaction_id: int
    payload: dict[str, Any]
    received_at: datetime


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse(text)


def _station_time(text: Any, fallback: datetime) -> str:
    """A timestamp the station sent, normalised; one we cannot read becomes `fallback`."""
    if isinstance(text, str):
        try:
            return iso(parse(text))
        except ValueError:
            pass
    return iso(fallback)


class CsmsStore:
    """The central system's SQLite database."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        migrations: Sequence[tuple[int, Sequence[str]]] = MIGRATIONS,
    ) -> None:
        """`path` None or ":memory:" keeps everything in memory."""
        file = None if path is None or str(path) == ":memory:" else Path(path)
        self.path = file
        # WAL, synchronous=FULL, numbered migrations: the shared opening of storage.sqlite.
        self._db = open_database(path, migrations, error=CsmsStoreError, what="the database")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CsmsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

    def _transaction(self) -> AbstractContextManager[None]:
        """All statements inside commit together or not at all; a nested block joins the outer
        one (storage.sqlite.transaction)."""
        return transaction(self._db)

    # --- what happens on a connection --------------------------------------------------------

    def _touch(self, identity: str, now: datetime) -> None:
        self._db.execute(
            "INSERT INTO stations (identity, first_seen) VALUES (?, ?)"
            " ON CONFLICT (identity) DO NOTHING",
            (identity, iso(now)),
        )

    def connected(self, identity: str, now: datetime) -> None:
        with self._transaction():
            self._touch(identity, now)
            self._db.execute(
                "UPDATE stations SET last_connected = ? WHERE identity = ?", (iso(now), identity)
            )

    def disconnected(self, identity: str, now: datetime) -> None:
        with self._transaction():
            self._touch(identity, now)
            self._db.execute(
                "UPDATE stations SET last_disconnected = ? WHERE identity = ?",
                (iso(now), identity),
            )

    def on_request(
        self, identity: str, action: str, payload: dict[str, Any], now: datetime
    ) -> None:
        """Keep what a validated CALL from the station says, before it is answered."""
        if action == "BootNotification":
            with self._transaction():
                self._touch(identity, now)
                self._db.execute(
                    "UPDATE stations SET boot = ?, boot_count = boot_count + 1, last_boot = ?"
                    " WHERE identity = ?",
                    (_json(payload), iso(now), identity),
                )
        elif action == "Heartbeat":
            with self._transaction():
                self._touch(identity, now)
                self._db.execute(
                    "UPDATE stations SET last_heartbeat = ? WHERE identity = ?",
                    (iso(now), identity),
                )
        elif action == "StatusNotification":
            with self._transaction():
                self._touch(identity, now)
                self._db.execute(
                    "INSERT INTO statuses"
                    " (identity, connector_id, status, error_code, payload, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (identity, connector_id) DO UPDATE"
                    " SET status = excluded.status, error_code = excluded.error_code,"
                    " payload = excluded.payload, received_at = excluded.received_at",
                    (
                        identity,
                        payload["connectorId"],
                        payload["status"],
                        payload["errorCode"],
                        _json(payload),
                        iso(now),
                    ),
                )
        elif action == "MeterValues":
            with self._transaction():
                self._touch(identity, now)
                self._add_meter_values(
                    identity,
                    payload["connectorId"],
                    payload.get("transactionId"),
                    payload["meterValue"],
                    SOURCE_METER_VALUES,
                    now,
                )
        elif action == "StopTransaction":
            with self._transaction():
                self._touch(identity, now)
                self._stop(identity, payload, now)

    def on_answer(
        self,
        identity: str,
        action: str,
        payload: dict[str, Any],
        response: dict[str, Any],
        now: datetime,
    ) -> None:
        """Keep what our answer to a CALL decided, before it is sent."""
        if action == "BootNotification":
            with self._transaction():
                self._touch(identity, now)
                self._db.execute(
                    "UPDATE stations SET registration = ? WHERE identity = ?",
                    (response.get("status"), identity),
                )
        elif action == "StartTransaction":
            transaction_id = response.get("transactionId")
            if isinstance(transaction_id, bool) or not isinstance(transaction_id, int):
                return
            with self._transaction():
                self._touch(identity, now)
                reservation_id = payload.get("reservationId")
                if reservation_id is not None:
                    # §5.13: the StartTransaction that carries it ends the reservation.
                    self._db.execute(
                        "UPDATE reservations SET ended = 'Used', ended_at = ?,"
                        " transaction_id = ? WHERE identity = ? AND reservation_id = ?",
                        (iso(now), transaction_id, identity, reservation_id),
                    )
                # A transaction id answered twice (a scripted answer reusing one) describes
                # the latest transaction: the station now knows that one by this id.
                self._db.execute(
                    "INSERT OR REPLACE INTO sessions (transaction_id, identity, connector_id,"
                    " id_tag, id_tag_info, reservation_id, meter_start, start_time, started_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        transaction_id,
                        identity,
                        payload["connectorId"],
                        payload["idTag"],
                        _json(response.get("idTagInfo", {})),
                        payload.get("reservationId"),
                        payload["meterStart"],
                        _station_time(payload["timestamp"], now),
                        iso(now),
                    ),
                )

    def _add_meter_values(
        self,
        identity: str,
        connector_id: int | None,
        transaction_id: int | None,
        meter_values: list[dict[str, Any]],
        source: str,
        now: datetime,
    ) -> None:
        received = iso(now)
        self._db.executemany(
            "INSERT INTO meter_values (identity, connector_id, transaction_id, timestamp,"
            " sampled_value, source, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    identity,
                    connector_id,
                    transaction_id,
                    _station_time(value["timestamp"], now),
                    _json(value["sampledValue"]),
                    source,
                    received,
                )
                for value in meter_values
            ],
        )

    def _stop(self, identity: str, payload: dict[str, Any], now: datetime) -> None:
        transaction_id = payload["transactionId"]
        row = self._db.execute(
            "SELECT identity, stop_time FROM sessions WHERE transaction_id = ?", (transaction_id,)
        ).fetchone()
        if row is None or row[0] != identity:
            self._db.execute(
                "INSERT INTO unmatched_stops (identity, transaction_id, payload, received_at)"
                " VALUES (?, ?, ?, ?)",
                (identity, transaction_id, _json(payload), iso(now)),
            )
            return
        if row[1] is not None:
            return  # a retransmission ([S] 3.7: the station retries until it gets an answer)
        self._db.execute(
            "UPDATE sessions SET meter_stop = ?, stop_time = ?, stop_reason = ?,"
            " stop_id_tag = ?, stopped_at = ? WHERE transaction_id = ?",
            (
                payload["meterStop"],
                _station_time(payload["timestamp"], now),
                payload.get("reason", "Local"),  # [S] 6.49: an absent reason means Local
                payload.get("idTag"),
                iso(now),
                transaction_id,
            ),
        )
        self._add_meter_values(
            identity,
            None,
            transaction_id,
            payload.get("transactionData", []),
            SOURCE_STOP_TRANSACTION,
            now,
        )

    # --- reading -----------------------------------------------------------------------------

    # --- reservations we made ------------------------------------------------------------------

    def reserved(self, identity: str, payload: dict[str, Any], answer: str, now: datetime) -> None:
        """A ReserveNow.req we sent and the station's answer. The same id again replaces the
        reservation (§5.13), here as on the station."""
        with self._transaction():
            self._touch(identity, now)
            self._db.execute(
                "INSERT OR REPLACE INTO reservations (identity, reservation_id, connector_id,"
                " id_tag, parent_id_tag, expiry_date, answer, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    identity,
                    payload["reservationId"],
                    payload["connectorId"],
                    payload["idTag"],
                    payload.get("parentIdTag"),
                    iso(parse(payload["expiryDate"])),
                    answer,
                    iso(now),
                ),
            )

    def cancelled(self, identity: str, reservation_id: int, now: datetime) -> None:
        """The station accepted our CancelReservation."""
        with self._transaction():
            self._db.execute(
                "UPDATE reservations SET ended = 'Cancelled', ended_at = ?"
                " WHERE identity = ? AND reservation_id = ? AND ended IS NULL",
                (iso(now), identity, reservation_id),
            )

    def next_reservation_id(self) -> int:
        row = self._db.execute("SELECT MAX(reservation_id) FROM reservations").fetchone()
        return int(row[0]) + 1 if row[0] is not None else 1

    def reservations(self, station: str | None = None) -> list[StoredReservation]:
        """The reservations we made (of one station), newest first."""
        query = f"SELECT {_RESERVATION_COLUMNS} FROM reservations"
        values: tuple[Any, ...] = ()
        if station is not None:
            query += " WHERE identity = ?"
            values = (station,)
        rows = self._db.execute(query + " ORDER BY created_at DESC, reservation_id DESC", values)
        return [_reservation(row) for row in rows]

    def last_transaction_id(self) -> int:
        """The highest transaction id handed out (0 for none): new ones continue after it."""
        row = self._db.execute("SELECT MAX(transaction_id) FROM sessions").fetchone()
        return int(row[0]) if row[0] is not None else 0

    def stations(self) -> list[StoredStation]:
        """Every station ever seen, by identity."""
        statuses: dict[str, list[StoredStatus]] = {}
        for row in self._db.execute(
            "SELECT identity, connector_id, status, error_code, payload, received_at"
            " FROM statuses ORDER BY identity, connector_id"
        ):
            statuses.setdefault(row[0], []).append(_status(row[1:]))
        rows = self._db.execute(f"SELECT {_STATION_COLUMNS} FROM stations ORDER BY identity")
        return [_station(row, statuses.get(row[0], [])) for row in rows]

    def station(self, identity: str) -> StoredStation | None:
        row = self._db.execute(
            f"SELECT {_STATION_COLUMNS} FROM stations WHERE identity = ?", (identity,)
        ).fetchone()
        if row is None:
            return None
        statuses = [
            _status(status)
            for status in self._db.execute(
                "SELECT connector_id, status, error_code, payload, received_at FROM statuses"
                " WHERE identity = ? ORDER BY connector_id",
                (identity,),
            )
        ]
        return _station(row, statuses)

    def sessions(
        self,
        *,
        station: str | None = None,
        is_open: bool | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[StoredSession]:
        """Sessions with an id above `after`, in id order, at most `limit` of them."""
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        where = ["transaction_id > ?"]
        values: list[Any] = [after]
        if station is not None:
            where.append("identity = ?")
            values.append(station)
        if is_open is True:
            where.append("stop_time IS NULL")
        elif is_open is False:
            where.append("stop_time IS NOT NULL")
        values.append(limit)
        rows = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(where)}"
            " ORDER BY transaction_id LIMIT ?",
            values,
        )
        return [_session(row) for row in rows]

    def session(self, transaction_id: int) -> StoredSession | None:
        row = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE transaction_id = ?", (transaction_id,)
        ).fetchone()
        return None if row is None else _session(row)

    def meter_values(self, transaction_id: int) -> list[StoredMeterValue]:
        """The meter values received for a transaction, in arrival order."""
        rows = self._db.execute(
            "SELECT seq, identity, connector_id, transaction_id, timestamp, sampled_value,"
            " source, received_at FROM meter_values WHERE transaction_id = ? ORDER BY seq",
            (transaction_id,),
        )
        return [
            StoredMeterValue(
                seq=row[0],
                identity=row[1],
                connector_id=row[2],
                transaction_id=row[3],
                timestamp=row[4],
                sampled_value=orjson.loads(row[5]),
                source=row[6],
                received_at=parse(row[7]),
            )
            for row in rows
        ]

    def unmatched_stops(self, identity: str | None = None) -> list[UnmatchedStop]:
        """StopTransaction.req for transaction ids this store does not know, in arrival order."""
        query = "SELECT identity, transaction_id, payload, received_at FROM unmatched_stops"
        values: tuple[Any, ...] = ()
        if identity is not None:
            query += " WHERE identity = ?"
            values = (identity,)
        rows = self._db.execute(query + " ORDER BY seq", values)
        return [UnmatchedStop(row[0], row[1], orjson.loads(row[2]), parse(row[3])) for row in rows]


_STATION_COLUMNS = (
    "identity, boot, boot_count, registration, first_seen, last_boot, last_heartbeat,"
    " last_connected, last_disconnected"
)
_SESSION_COLUMNS = (
    "transaction_id, identity, connector_id, id_tag, id_tag_info, reservation_id, meter_start,"
    " start_time, meter_stop, stop_time, stop_reason, stop_id_tag"
)


_RESERVATION_COLUMNS = (
    "identity, reservation_id, connector_id, id_tag, parent_id_tag, expiry_date, answer,"
    " created_at, ended, ended_at, transaction_id"
)


def _reservation(row: Sequence[Any]) -> StoredReservation:
    return StoredReservation(
        identity=row[0],
        reservation_id=row[1],
        connector_id=row[2],
        id_tag=row[3],
        parent_id_tag=row[4],
        expiry_date=parse(row[5]),
        answer=row[6],
        created_at=parse(row[7]),
        ended=row[8],
        ended_at=_time(row[9]),
        transaction_id=row[10],
    )


def _status(row: Sequence[Any]) -> StoredStatus:
    return StoredStatus(row[0], row[1], row[2], orjson.loads(row[3]), parse(row[4]))


def _station(row: Sequence[Any], statuses: list[StoredStatus]) -> StoredStation:
    return StoredStation(
        identity=row[0],
        boot=None if row[1] is None else orjson.loads(row[1]),
        boot_count=row[2],
        registration=row[3],
        first_seen=parse(row[4]),
        last_boot=_time(row[5]),
        last_heartbeat=_time(row[6]),
        last_connected=_time(row[7]),
        last_disconnected=_time(row[8]),
        statuses=tuple(statuses),
    )


def _session(row: Sequence[Any]) -> StoredSession:
    return StoredSession(
        transaction_id=row[0],
        identity=row[1],
        connector_id=row[2],
        id_tag=row[3],
        id_tag_info=orjson.loads(row[4]),
        reservation_id=row[5],
        meter_start=row[6],
        start_time=parse(row[7]),
        meter_stop=row[8],
        stop_time=_time(row[9]),
        stop_reason=row[10],
        stop_id_tag=row[11],
    )
