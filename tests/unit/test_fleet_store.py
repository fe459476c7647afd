"""The fleet's state file (storage/fleet.py), driven directly: one SQLite file for every station
of a fleet, each station seeing only its own rows, durable across the death of the process.

tests/unit/test_store_contract.py checks that a station's share answers like a station's own
file; these are the rules only the fleet's file has (its durability level, its errors, one
file shared by many stations) and the round trips the contract's random operations leave
loose.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocpp_station.storage.fleet import MIGRATIONS, FleetDatabase, FleetStorageError
from ocpp_station.storage.journal import StoredTransaction
from ocpp_station.storage.store import COUNTER_BLOCK

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "fleet.db"


# -- the file ---------------------------------------------------------------------------------


def test_the_fleet_file_is_a_wal_file_synced_normally(path: Path) -> None:
    """Durability (module docstring): WAL with synchronous=NORMAL, so that a commit survives
    the death of the process without an fsync per commit of every station."""
    database = FleetDatabase(path)
    assert database.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    database.close()


def test_a_commit_survives_the_process_without_close(path: Path) -> None:
    """What a station wrote is in the file once the call returns: a fleet killed (SIGKILL,
    never closing anything) finds it when it starts again."""
    killed = FleetDatabase(path)
    killed.station("CP-1").save_config("HeartbeatInterval", "45")
    killed.station("CP-1").save_availability(2, False)
    again = FleetDatabase(path)
    assert again.station("CP-1").load_config() == {"HeartbeatInterval": "45"}
    assert again.station("CP-1").load_availability() == {2: False}
    again.close()
    killed.close()


def test_a_fleet_file_from_a_newer_version_is_refused_naming_it(path: Path) -> None:
    """sqlite.py: a file with a schema newer than this version knows is refused, not guessed
    at; the reason names the fleet's state file."""
    FleetDatabase(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(FleetStorageError) as refused:
        FleetDatabase(path)
    assert str(refused.value) == (
        f"the fleet's state file has schema version 99; this version knows {len(MIGRATIONS)}"
    )


def test_a_fleet_file_that_cannot_be_created_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A folder that cannot be made (a file stands in its place) is the fleet's storage error,
    one line: the path and the system's reason."""
    (tmp_path / "taken").write_text("a file, not a folder")
    path = tmp_path / "taken" / "state" / "fleet.db"
    with pytest.raises(OSError) as system:
        path.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(FleetStorageError) as refused:
        FleetDatabase(path)
    assert str(refused.value) == f"{path}: {system.value.strerror}"


# -- counters ---------------------------------------------------------------------------------


def test_counters_count_from_one_per_name_and_per_station(path: Path) -> None:
    """CounterStore: 1, 2, 3, ... per name; each station of the fleet has its own."""
    database = FleetDatabase(path)
    one, two = database.station("CP-1"), database.station("CP-2")
    assert [one.next_counter("transaction") for _ in range(3)] == [1, 2, 3]
    assert one.next_counter("message") == 1
    assert two.next_counter("transaction") == 1
    assert one.next_counter("transaction") == 4
    database.close()


def test_counter_values_run_on_without_a_gap_across_reserved_blocks(path: Path) -> None:
    """Values are reserved in the file a block at a time (as StationStore does): every value
    of a block is handed out before the next block is reserved, and the file always holds the
    end of the block in use."""
    database = FleetDatabase(path)
    share = database.station("CP-1")
    count = 2 * COUNTER_BLOCK + 1
    assert [share.next_counter("c") for _ in range(count)] == list(range(1, count + 1))
    assert share.kv_get("c") == 3 * COUNTER_BLOCK
    database.close()


def test_counter_values_are_never_repeated_after_the_process_dies(path: Path) -> None:
    """CounterStore: never repeated across restarts. A fleet killed mid-block resumes after the
    block it had reserved (skipping at most the rest of it)."""
    killed = FleetDatabase(path)
    before = killed.station("CP-1")
    handed_out = [before.next_counter("c") for _ in range(7)]
    again = FleetDatabase(path)
    share = again.station("CP-1")
    assert handed_out == list(range(1, 8))
    assert [share.next_counter("c") for _ in range(2)] == [COUNTER_BLOCK + 1, COUNTER_BLOCK + 2]
    assert again.station("CP-2").next_counter("c") == 1
    again.close()
    killed.close()


def test_two_shares_of_one_station_never_hand_out_the_same_value(path: Path) -> None:
    """CounterStore: never repeated, even by two shares of one station open at once (each
    reserves its own blocks in the file)."""
    database = FleetDatabase(path)
    one, two = database.station("CP-1"), database.station("CP-1")
    values = [share.next_counter("c") for _ in range(5) for share in (one, two)]
    assert len(set(values)) == len(values)
    database.close()


# -- authorization cache ----------------------------------------------------------------------


def test_a_cached_entry_is_found_by_its_tag_in_any_case_for_its_station_only(
    path: Path,
) -> None:
    """§3.5.2 and §7.28 (IdToken is case-insensitive): an entry is found by its tag written in
    any case and reads back whole; another station's cache does not have it."""
    database = FleetDatabase(path)
    one, two = database.station("CP-1"), database.station("CP-2")
    one.cache_put("AbCd1234", "Accepted", "2030-01-01T00:00:00.000Z", "PARENT", updated_at=T0)
    assert one.cache_get("ABCD1234") == {
        "id_tag": "abcd1234",
        "status": "Accepted",
        "expiry_date": "2030-01-01T00:00:00.000Z",
        "parent_id_tag": "PARENT",
        "updated_at": "2026-01-01T10:00:00.000Z",
    }
    assert one.cache_get("unknown") is None
    assert two.cache_get("abcd1234") is None
    two.cache_put("abcd1234", "Blocked", None, None, updated_at=T0)
    entry = one.cache_get("abcd1234")
    assert entry is not None and entry["status"] == "Accepted"
    database.close()


# -- transactions and the outbox --------------------------------------------------------------


def test_a_transaction_reads_back_with_every_field_as_written(path: Path) -> None:
    """Digest §3.4: everything a StopTransaction after a power cut needs reads back as it was
    written: ids, the parent idTag, the reservation, and the flags as booleans."""
    database = FleetDatabase(path)
    share = database.station("CP-1")
    tx = StoredTransaction(
        local_id=3,
        connector_id=2,
        id_tag="TAG1",
        parent_id_tag="GROUP",
        meter_start=1200,
        start_time="2026-01-01T10:00:00.000Z",
        transaction_id=17,
        start_failed=True,
        reservation_id=5,
        energy_suspended=True,
        last_meter_wh=1234.5,
        last_meter_time="2026-01-01T10:05:00.000Z",
        ended=False,
    )
    share.tx_insert(tx)
    assert share.tx_all() == [tx]
    share.tx_update(3, start_failed=False, energy_suspended=False, ended=True, transaction_id=18)
    [updated] = FleetDatabase(path).station("CP-1").tx_all()
    assert (updated.start_failed, updated.energy_suspended, updated.ended) == (False, False, True)
    assert all(type(flag) is bool for flag in (updated.start_failed, updated.ended))
    assert updated.transaction_id == 18
    assert database.station("CP-2").tx_all() == []
    database.close()


def test_outbox_messages_come_back_with_the_sequence_number_they_were_given(path: Path) -> None:
    """The sender names a queued message by the number outbox_add gave it (attempted,
    delivered, given up): the outbox gives each message back with that number, in order."""
    database = FleetDatabase(path)
    one, two = database.station("CP-1"), database.station("CP-2")
    first = one.outbox_add("StartTransaction", {"n": 1}, 1, "t0")
    two.outbox_add("StartTransaction", {"n": 0}, 1, "t0")  # the fleet numbers all stations
    second = one.outbox_add("MeterValues", {"n": 2}, 1, "t1")
    third = one.outbox_add("StopTransaction", {"n": 3}, 1, "t2")
    assert [m.seq for m in one.outbox_pending()] == [first, second, third]
    one.outbox_give_up(second)
    assert [(m.seq, m.action) for m in one.outbox_given_up()] == [(second, "MeterValues")]
    assert [m.seq for m in one.outbox_pending()] == [first, third]
    database.close()
