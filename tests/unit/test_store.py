"""StationStore: SQLite state that survives restarts and power cuts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocpp_station.storage import StationStore, StoreError
from ocpp_station.storage.store import MIGRATIONS

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "station.sqlite"


def table_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


# --- opening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [None, ":memory:"])
def test_in_memory_store_works(where: str | None) -> None:
    with StationStore(where) as store:
        store.save_config("HeartbeatInterval", "60")
        assert store.load_config() == {"HeartbeatInterval": "60"}
        assert store.schema_version == len(MIGRATIONS)


def test_file_store_uses_wal_and_full_sync(path: Path) -> None:
    with StationStore(path) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert table_names(path) >= {"schema_version", "config", "availability", "kv", "auth_cache"}


def test_missing_folders_are_created(tmp_path: Path) -> None:
    with StationStore(tmp_path / "a" / "b" / "state.sqlite") as store:
        store.save_availability(1, False)
    assert (tmp_path / "a" / "b" / "state.sqlite").exists()


def test_a_file_that_is_not_a_database_is_a_store_error(path: Path) -> None:
    path.write_bytes(b"this is not sqlite, just text that is long enough" * 100)
    with pytest.raises(StoreError):
        StationStore(path)


def test_counter_block_must_be_positive() -> None:
    with pytest.raises(ValueError):
        StationStore(None, counter_block=0)


# --- configuration and availability ------------------------------------------------------------


def test_config_round_trip_and_overwrite(path: Path) -> None:
    with StationStore(path) as store:
        store.save_config("HeartbeatInterval", "60")
        store.save_config("HeartbeatInterval", "90")
        store.save_config("LocalPreAuthorize", "true")
    with StationStore(path) as store:
        assert store.load_config() == {"HeartbeatInterval": "90", "LocalPreAuthorize": "true"}


def test_a_commit_survives_without_close(path: Path) -> None:
    # A power cut: the process never closes the store.
    crashed = StationStore(path)
    crashed.save_config("HeartbeatInterval", "45")
    crashed.save_availability(2, False)
    with StationStore(path) as store:
        assert store.load_config() == {"HeartbeatInterval": "45"}
        assert store.load_availability() == {2: False}
    crashed.close()


def test_availability_round_trip(path: Path) -> None:
    with StationStore(path) as store:
        assert store.load_availability() == {}
        store.save_availability(0, False)
        store.save_availability(1, False)
        store.save_availability(1, True)
    with StationStore(path) as store:
        availability = store.load_availability()
    assert availability == {0: False, 1: True}
    assert all(type(value) is bool for value in availability.values())


# --- counters --------------------------------------------------------------------------------


def test_counter_counts_from_one() -> None:
    with StationStore(None) as store:
        assert [store.next_counter("message-id") for _ in range(5)] == [1, 2, 3, 4, 5]
        assert store.next_counter("other") == 1


def test_counter_values_are_unique_across_reopen(path: Path) -> None:
    seen: list[int] = []
    for _ in range(4):
        with StationStore(path, counter_block=3) as store:
            seen.extend(store.next_counter("message-id") for _ in range(5))
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)


def test_counter_after_a_crash_skips_at_most_one_block(path: Path) -> None:
    crashed = StationStore(path, counter_block=1000)
    handed_out = [crashed.next_counter("message-id") for _ in range(7)]
    with StationStore(path, counter_block=1000) as store:
        after = store.next_counter("message-id")
    assert after > max(handed_out)
    assert after == 1001
    crashed.close()


def test_counter_reserves_in_blocks(path: Path) -> None:
    with StationStore(path, counter_block=10) as store:
        for _ in range(25):
            store.next_counter("message-id")
        reserved = store._db.execute("SELECT value FROM kv WHERE name = 'message-id'").fetchone()
    assert reserved == (30,)


def test_two_open_stores_never_share_a_value(path: Path) -> None:
    with StationStore(path, counter_block=4) as one, StationStore(path, counter_block=4) as two:
        values = [store.next_counter("c") for _ in range(10) for store in (one, two)]
    assert len(set(values)) == len(values)


# --- authorization cache ---------------------------------------------------------------------


def test_cache_is_case_insensitive(path: Path) -> None:
    with StationStore(path) as store:
        store.cache_put("AbCd1234", "Accepted", "2030-01-01T00:00:00.000Z", "PARENT", updated_at=T0)
        entry = store.cache_get("abcd1234")
        assert entry is not None
        assert entry["status"] == "Accepted"
        assert entry["expiry_date"] == "2030-01-01T00:00:00.000Z"
        assert entry["parent_id_tag"] == "PARENT"
        assert entry["updated_at"] == "2024-05-01T10:00:00.000Z"
        store.cache_put("ABCD1234", "Blocked", None, None, updated_at=T0)
        assert len(store.cache_all()) == 1
    with StationStore(path) as store:
        entry = store.cache_get("aBcD1234")
        assert entry is not None
        assert (entry["status"], entry["expiry_date"], entry["parent_id_tag"]) == (
            "Blocked",
            None,
            None,
        )


def test_cache_unknown_tag_is_none() -> None:
    with StationStore(None) as store:
        assert store.cache_get("NOPE") is None


def test_cache_all_oldest_first_delete_and_clear() -> None:
    with StationStore(None) as store:
        store.cache_put("NEW", "Accepted", None, None, updated_at=T0 + timedelta(minutes=5))
        store.cache_put("OLD", "Invalid", None, None, updated_at=T0)
        store.cache_put("MID", "Accepted", None, None, updated_at=T0 + timedelta(minutes=1))
        assert [entry["id_tag"] for entry in store.cache_all()] == ["old", "mid", "new"]
        store.cache_delete("Mid")
        assert [entry["id_tag"] for entry in store.cache_all()] == ["old", "new"]
        store.cache_clear()
        assert store.cache_all() == []


def test_cache_put_stamps_the_time_when_not_given() -> None:
    with StationStore(None) as store:
        store.cache_put("TAG", "Accepted", None, None)
        entry = store.cache_get("tag")
    assert entry is not None
    stamped = datetime.fromisoformat(entry["updated_at"].replace("Z", "+00:00"))
    assert stamped.tzinfo is not None


# --- migrations ------------------------------------------------------------------------------


def test_existing_file_is_migrated_forward_keeping_its_data(path: Path) -> None:
    with StationStore(path, migrations=MIGRATIONS[:1]) as store:
        store.save_config("HeartbeatInterval", "60")
        store.cache_put("TAG", "Accepted", None, None, updated_at=T0)
        assert store.schema_version == 1
    with StationStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load_config() == {"HeartbeatInterval": "60"}
        assert store.cache_get("tag") is not None
    assert {"transactions", "outbox"} <= table_names(path)


def test_a_custom_migration_applies_once(path: Path) -> None:
    with StationStore(path, migrations=MIGRATIONS[:1]) as store:
        store.save_config("HeartbeatInterval", "60")
    version_2 = (
        *MIGRATIONS[:1],
        (
            2,
            (
                "CREATE TABLE extra (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL)",
                "ALTER TABLE config ADD COLUMN changed_at TEXT",
                "UPDATE config SET changed_at = 'before version 2'",
            ),
        ),
    )
    with StationStore(path, migrations=version_2) as store:
        assert store.schema_version == 2
        assert store.load_config() == {"HeartbeatInterval": "60"}
        row = store._db.execute("SELECT changed_at FROM config").fetchone()
        assert row == ("before version 2",)
    assert "extra" in table_names(path)
    # Opening again applies nothing twice.
    with StationStore(path, migrations=version_2) as store:
        assert store.schema_version == 2


def test_an_empty_sqlite_file_is_version_zero_and_gets_every_migration(path: Path) -> None:
    sqlite3.connect(path).close()
    with StationStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        store.save_config("HeartbeatInterval", "60")


def test_a_failing_migration_changes_nothing(path: Path) -> None:
    with StationStore(path):
        pass
    broken = (
        *MIGRATIONS,
        (len(MIGRATIONS) + 1, ("CREATE TABLE half_done (x)", "THIS IS NOT SQL")),
    )
    with pytest.raises(StoreError, match="syntax error"):
        StationStore(path, migrations=broken)
    assert "half_done" not in table_names(path)
    with StationStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    newer = (*MIGRATIONS, (len(MIGRATIONS) + 1, ("CREATE TABLE future (x)",)))
    with StationStore(path, migrations=newer):
        pass
    with pytest.raises(StoreError, match=f"schema version {len(MIGRATIONS) + 1}"):
        StationStore(path)


def test_migrations_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError, match="numbered"):
        StationStore(None, migrations=((1, ()), (3, ())))
