"""storage.sqlite: the opening, migrations and transactions both stores share."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ocpp_station.csms.store import CsmsStore, CsmsStoreError
from ocpp_station.storage.sqlite import open_database, schema_version, transaction
from ocpp_station.storage.store import StationStore, StoreError


class Unusable(RuntimeError):
    pass


TABLE_A = (1, ("CREATE TABLE a (x INTEGER)",))
TABLE_B = (2, ("CREATE TABLE b (y INTEGER)", "INSERT INTO b (y) VALUES (1)"))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "file.sqlite"


def tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def test_a_file_is_wal_with_full_sync_and_gets_its_folder(path: Path) -> None:
    db = open_database(path, [TABLE_A], error=Unusable)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.isolation_level is None  # autocommit: single statements commit at once
        assert schema_version(db) == 1
        assert tables(db) == {"schema_version", "a"}
    finally:
        db.close()


@pytest.mark.parametrize(
    ("level", "number"), [("off", 0), ("normal", 1), ("Full", 2), ("extra", 3)]
)
def test_the_synchronous_level_can_be_chosen_and_must_exist(
    path: Path, level: str, number: int
) -> None:
    db = open_database(path, [TABLE_A], error=Unusable, synchronous=level)
    try:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == number
    finally:
        db.close()
    with pytest.raises(ValueError, match="synchronous"):
        open_database(path, [TABLE_A], error=Unusable, synchronous="FULL; DROP TABLE a")


@pytest.mark.parametrize("where", [None, ":memory:"])
def test_in_memory(where: str | None) -> None:
    db = open_database(where, [TABLE_A, TABLE_B], error=Unusable)
    try:
        assert schema_version(db) == 2
        assert db.execute("SELECT y FROM b").fetchall() == [(1,)]
    finally:
        db.close()


def test_migrations_apply_once_and_in_order(path: Path) -> None:
    open_database(path, [TABLE_A], error=Unusable).close()
    db = open_database(path, [TABLE_A, TABLE_B], error=Unusable)
    db.close()
    db = open_database(path, [TABLE_A, TABLE_B], error=Unusable)
    try:
        assert schema_version(db) == 2
        assert db.execute("SELECT y FROM b").fetchall() == [(1,)]  # not inserted twice
    finally:
        db.close()


def test_each_migration_is_its_own_transaction(path: Path) -> None:
    broken = (2, ("CREATE TABLE b (y INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(Unusable, match="syntax error"):
        open_database(path, [TABLE_A, broken], error=Unusable)
    db = sqlite3.connect(path)
    try:
        # Migration 1 stays; nothing of the failed migration 2 is left behind.
        assert schema_version(db) == 1
        assert tables(db) == {"schema_version", "a"}
    finally:
        db.close()


def test_a_newer_schema_is_refused_and_left_alone(path: Path) -> None:
    open_database(path, [TABLE_A, TABLE_B], error=Unusable).close()
    with pytest.raises(Unusable, match="the file has schema version 2; this version knows 1"):
        open_database(path, [TABLE_A], error=Unusable, what="the file")
    with pytest.raises(Unusable) as raised:
        open_database(path, [TABLE_A], error=Unusable)
    assert str(raised.value) == "the database has schema version 2; this version knows 1"
    db = sqlite3.connect(path)
    try:
        assert schema_version(db) == 2
    finally:
        db.close()


@pytest.mark.parametrize("numbers", [(1, 3), (2,), (2, 1), (1, 1)])
def test_migrations_must_be_numbered_from_one(path: Path, numbers: tuple[int, ...]) -> None:
    with pytest.raises(ValueError) as raised:
        open_database(path, [(n, ()) for n in numbers], error=Unusable)
    assert str(raised.value) == "migrations must be numbered 1, 2, 3, ... in order"
    assert not path.exists()  # refused before anything was opened


def test_not_a_database_is_the_callers_error(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"plain text, not an SQLite file at all " * 100)
    with pytest.raises(Unusable, match="not a database"):
        open_database(path, [TABLE_A], error=Unusable)


def test_a_folder_in_place_of_the_file_is_the_callers_error(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(Unusable):
        open_database(path, [TABLE_A], error=Unusable)


def test_a_nested_transaction_joins_the_outer_one() -> None:
    db = open_database(None, [TABLE_A], error=Unusable)
    try:
        with pytest.raises(KeyError), transaction(db):
            db.execute("INSERT INTO a (x) VALUES (1)")
            with transaction(db):
                db.execute("INSERT INTO a (x) VALUES (2)")
            raise KeyError("the outer block fails after the inner one ended")
        assert db.execute("SELECT COUNT(*) FROM a").fetchone()[0] == 0
        with transaction(db):
            db.execute("INSERT INTO a (x) VALUES (3)")
            with transaction(db):
                db.execute("INSERT INTO a (x) VALUES (4)")
            assert db.in_transaction  # the inner block did not commit on its own
        assert not db.in_transaction
        assert [r[0] for r in db.execute("SELECT x FROM a ORDER BY x")] == [3, 4]
    finally:
        db.close()


def test_both_stores_raise_their_own_error_through_the_helper(tmp_path: Path) -> None:
    station = tmp_path / "station.db"
    csms = tmp_path / "csms.db"
    # A schema one version newer than each store knows.
    with StationStore(station) as store:
        store._db.execute("UPDATE schema_version SET version = version + 1")
        newer = store.schema_version
    with CsmsStore(csms) as central:
        central._db.execute("UPDATE schema_version SET version = version + 1")
        central_newer = central.schema_version
    with pytest.raises(StoreError, match=f"the state file has schema version {newer}"):
        StationStore(station)
    with pytest.raises(CsmsStoreError, match=f"the database has schema version {central_newer}"):
        CsmsStore(csms)
