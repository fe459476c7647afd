"""CsmsStore: the central system's SQLite database, alone and wired into the CentralSystem."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.csms import CentralSystem, CsmsStore, CsmsStoreError
from ocpp_station.csms.store import MIGRATIONS
from tests.unit.test_csms_support import BOOT, WAIT, RawStation

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-01-01T12:00:00.000Z"
NEXT = len(MIGRATIONS) + 1  # the number a new migration would take


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "csms.sqlite"


@pytest.fixture
def store() -> CsmsStore:
    return CsmsStore()


def start(
    store: CsmsStore,
    transaction_id: int,
    identity: str = "CP-1",
    connector_id: int = 1,
    meter_start: int = 100,
    now: datetime = T0,
    **extra: Any,
) -> None:
    payload = {
        "connectorId": connector_id,
        "idTag": "TAG1",
        "meterStart": meter_start,
        "timestamp": STAMP,
        **extra,
    }
    store.on_request(identity, "StartTransaction", payload, now)
    answer = {"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}}
    store.on_answer(identity, "StartTransaction", payload, answer, now)


def stop(
    store: CsmsStore, transaction_id: int, identity: str = "CP-1", **extra: Any
) -> dict[str, Any]:
    payload = {
        "transactionId": transaction_id,
        "meterStop": 600,
        "timestamp": "2026-01-01T13:00:00Z",
        **extra,
    }
    store.on_request(identity, "StopTransaction", payload, T0 + timedelta(hours=1))
    return payload


def meter_values(store: CsmsStore, transaction_id: int | None, value: str, **extra: Any) -> None:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": STAMP, "sampledValue": [{"value": value}]}],
        **extra,
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    store.on_request("CP-1", "MeterValues", payload, T0)


# --- opening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [None, ":memory:"])
def test_in_memory_store(where: str | None) -> None:
    with CsmsStore(where) as store:
        assert store.path is None
        assert store.schema_version == len(MIGRATIONS)
        assert store.stations() == []


def test_file_store_uses_wal_and_full_sync(path: Path) -> None:
    with CsmsStore(path) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert tables >= {"schema_version", "stations", "statuses", "sessions", "meter_values"}


def test_missing_folders_are_created(tmp_path: Path) -> None:
    with CsmsStore(tmp_path / "a" / "b" / "csms.sqlite") as store:
        store.connected("CP-1", T0)
    assert (tmp_path / "a" / "b" / "csms.sqlite").exists()


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    path.write_bytes(b"not a database, only text long enough to be looked at" * 100)
    with pytest.raises(CsmsStoreError):
        CsmsStore(path)


def test_everything_survives_a_reopen(path: Path) -> None:
    with CsmsStore(path) as store:
        store.on_request("CP-1", "BootNotification", BOOT, T0)
        start(store, 7)
        meter_values(store, 7, "150")
    with CsmsStore(path) as store:
        station = store.station("CP-1")
        assert station is not None and station.boot == BOOT
        assert [s.transaction_id for s in store.sessions()] == [7]
        assert [v.sampled_value for v in store.meter_values(7)] == [[{"value": "150"}]]
        assert store.last_transaction_id() == 7


# --- migrations ------------------------------------------------------------------------------


def test_a_new_migration_applies_once_and_keeps_the_data(path: Path) -> None:
    with CsmsStore(path) as store:
        store.connected("CP-1", T0)
    version_n = (*MIGRATIONS, (NEXT, ("ALTER TABLE stations ADD COLUMN note TEXT",)))
    with CsmsStore(path, migrations=version_n) as store:
        assert store.schema_version == NEXT
        assert store.station("CP-1") is not None
        store._db.execute("UPDATE stations SET note = 'x'")
    # Opening again does not apply it twice (ALTER TABLE would fail on the existing column).
    with CsmsStore(path, migrations=version_n) as store:
        assert store.schema_version == NEXT


def test_a_first_version_database_gains_the_reservations_and_keeps_its_sessions(
    path: Path,
) -> None:
    with CsmsStore(path, migrations=MIGRATIONS[:1]) as store:
        start(store, 5)
    with CsmsStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert [s.transaction_id for s in store.sessions()] == [5]
        assert store.reservations() == [] and store.next_reservation_id() == 1


def test_a_failing_migration_changes_nothing(path: Path) -> None:
    with CsmsStore(path):
        pass
    broken = (*MIGRATIONS, (NEXT, ("CREATE TABLE extra (x)", "THIS IS NOT SQL")))
    with pytest.raises(CsmsStoreError):
        CsmsStore(path, migrations=broken)
    with CsmsStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        names = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in names


def test_a_database_from_a_newer_version_is_refused(path: Path) -> None:
    newer = (*MIGRATIONS, (NEXT, ("CREATE TABLE extra (x)",)))
    with CsmsStore(path, migrations=newer):
        pass
    with pytest.raises(CsmsStoreError, match=f"schema version {NEXT}"):
        CsmsStore(path)


def test_migrations_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError):
        CsmsStore(None, migrations=((1, ()), (3, ())))


# --- stations --------------------------------------------------------------------------------


def test_station_boot_registration_and_connections(store: CsmsStore) -> None:
    store.connected("CP-1", T0)
    store.on_request("CP-1", "BootNotification", BOOT, T0 + timedelta(seconds=1))
    store.on_answer("CP-1", "BootNotification", BOOT, {"status": "Pending"}, T0)
    booted = {**BOOT, "firmwareVersion": "2.0"}
    store.on_request("CP-1", "BootNotification", booted, T0 + timedelta(seconds=2))
    store.on_answer("CP-1", "BootNotification", booted, {"status": "Accepted"}, T0)
    store.on_request("CP-1", "Heartbeat", {}, T0 + timedelta(seconds=3))
    store.disconnected("CP-1", T0 + timedelta(seconds=4))
    station = store.station("CP-1")
    assert station is not None
    assert station.boot == booted
    assert station.boot_count == 2
    assert station.registration == "Accepted"
    assert station.first_seen == T0
    assert station.last_connected == T0
    assert station.last_boot == T0 + timedelta(seconds=2)
    assert station.last_heartbeat == T0 + timedelta(seconds=3)
    assert station.last_disconnected == T0 + timedelta(seconds=4)
    assert store.station("CP-2") is None


def test_the_last_status_of_each_connector_is_kept(store: CsmsStore) -> None:
    for connector_id, status in ((1, "Preparing"), (0, "Available"), (1, "Charging")):
        payload = {"connectorId": connector_id, "errorCode": "NoError", "status": status}
        store.on_request("CP-1", "StatusNotification", payload, T0)
    fault = {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted", "info": "x"}
    store.on_request("CP-1", "StatusNotification", fault, T0)
    station = store.station("CP-1")
    assert station is not None
    assert [(s.connector_id, s.status, s.error_code) for s in station.statuses] == [
        (0, "Available", "NoError"),
        (1, "Charging", "NoError"),
        (2, "Faulted", "GroundFailure"),
    ]
    assert station.statuses[2].payload == fault
    assert station.statuses[2].received_at == T0


def test_stations_are_listed_by_identity_with_their_own_statuses(store: CsmsStore) -> None:
    for identity in ("CP-B", "CP-A"):
        payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        store.on_request(identity, "StatusNotification", payload, T0)
    store.connected("CP-C", T0)
    listed = store.stations()
    assert [s.identity for s in listed] == ["CP-A", "CP-B", "CP-C"]
    assert [len(s.statuses) for s in listed] == [1, 1, 0]
    assert listed[2].boot is None and listed[2].registration is None


# --- sessions --------------------------------------------------------------------------------


def test_a_session_from_start_to_stop(store: CsmsStore) -> None:
    start(store, 1, reservationId=4)
    session = store.session(1)
    assert session is not None and session.open
    assert (session.identity, session.connector_id, session.id_tag) == ("CP-1", 1, "TAG1")
    assert session.id_tag_info == {"status": "Accepted"}
    assert session.reservation_id == 4
    assert session.meter_start == 100
    assert session.start_time == T0
    assert session.energy_wh is None
    stop(store, 1, idTag="TAG1", reason="EVDisconnected")
    session = store.session(1)
    assert session is not None and not session.open
    assert session.meter_stop == 600
    assert session.energy_wh == 500
    assert session.stop_time == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)
    assert session.stop_reason == "EVDisconnected"
    assert session.stop_id_tag == "TAG1"


def test_a_stop_without_reason_is_local(store: CsmsStore) -> None:
    start(store, 1)
    stop(store, 1)
    session = store.session(1)
    assert session is not None and session.stop_reason == "Local"
    assert session.stop_id_tag is None


def test_a_timestamp_without_zone_is_utc_and_a_broken_one_is_the_arrival_time() -> None:
    store = CsmsStore()
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T08:00"}
    store.on_answer("CP-1", "StartTransaction", payload, {"transactionId": 1}, T0)
    payload = {**payload, "timestamp": "yesterday"}
    store.on_answer("CP-1", "StartTransaction", payload, {"transactionId": 2}, T0)
    first, second = store.sessions()
    assert first.start_time == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert second.start_time == T0
    assert first.id_tag_info == {}


def test_a_start_answered_without_transaction_id_is_no_session(store: CsmsStore) -> None:
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": STAMP}
    store.on_answer("CP-1", "StartTransaction", payload, {"idTagInfo": {"status": "Invalid"}}, T0)
    store.on_answer("CP-1", "StartTransaction", payload, {"transactionId": True}, T0)
    assert store.sessions() == []
    assert store.last_transaction_id() == 0


def test_a_retransmitted_stop_changes_nothing(store: CsmsStore) -> None:
    start(store, 1)
    data = [{"timestamp": STAMP, "sampledValue": [{"value": "600"}]}]
    stop(store, 1, reason="Local", transactionData=data)
    stop(store, 1, reason="Other", meterStop=999, transactionData=data)
    session = store.session(1)
    assert session is not None
    assert (session.meter_stop, session.stop_reason) == (600, "Local")
    assert len(store.meter_values(1)) == 1
    assert store.unmatched_stops() == []


def test_stops_for_unknown_transactions_are_kept_apart(store: CsmsStore) -> None:
    start(store, 1, identity="CP-1")
    other = stop(store, 1, identity="CP-2")  # not the transaction CP-2 was given
    unknown = stop(store, 99)
    session = store.session(1)
    assert session is not None and session.open
    assert [(u.identity, u.transaction_id, u.payload) for u in store.unmatched_stops()] == [
        ("CP-2", 1, other),
        ("CP-1", 99, unknown),
    ]
    assert [u.transaction_id for u in store.unmatched_stops("CP-1")] == [99]
    assert store.session(99) is None


def test_meter_values_of_a_session_in_arrival_order(store: CsmsStore) -> None:
    start(store, 1)
    start(store, 2, connector_id=2)
    meter_values(store, 1, "150")
    meter_values(store, 2, "900", connectorId=2)
    meter_values(store, None, "1")  # outside any transaction: kept, in no session
    meter_values(store, 1, "200")
    data = [
        {"timestamp": "2026-01-01T12:59:00+01:00", "sampledValue": [{"value": "590"}]},
        {"timestamp": STAMP, "sampledValue": [{"value": "600", "context": "Transaction.End"}]},
    ]
    stop(store, 1, transactionData=data)
    values = store.meter_values(1)
    assert [v.sampled_value[0]["value"] for v in values] == ["150", "200", "590", "600"]
    assert [v.source for v in values] == [
        "MeterValues",
        "MeterValues",
        "StopTransaction",
        "StopTransaction",
    ]
    assert [v.connector_id for v in values] == [1, 1, None, None]
    assert values[2].timestamp == "2026-01-01T11:59:00.000Z"
    assert values[0].received_at == T0
    assert [v.sampled_value[0]["value"] for v in store.meter_values(2)] == ["900"]
    rows = store._db.execute("SELECT COUNT(*) FROM meter_values").fetchone()[0]
    assert rows == 6


def test_sessions_filtered_and_paged(store: CsmsStore) -> None:
    for transaction_id in range(1, 8):
        start(store, transaction_id, identity="CP-1" if transaction_id % 2 else "CP-2")
    for transaction_id in (1, 2, 5):
        stop(store, transaction_id, identity="CP-1" if transaction_id % 2 else "CP-2")

    def ids(**query: Any) -> list[int]:
        return [s.transaction_id for s in store.sessions(**query)]

    assert ids() == [1, 2, 3, 4, 5, 6, 7]
    assert ids(station="CP-1") == [1, 3, 5, 7]
    assert ids(station="CP-9") == []
    assert ids(is_open=True) == [3, 4, 6, 7]
    assert ids(is_open=False) == [1, 2, 5]
    assert ids(station="CP-1", is_open=True) == [3, 7]
    assert ids(limit=3) == [1, 2, 3]
    assert ids(after=3, limit=3) == [4, 5, 6]
    assert ids(after=6, limit=3) == [7]
    assert ids(after=3, is_open=True, limit=1) == [4]
    with pytest.raises(ValueError):
        store.sessions(limit=0)


# --- wired into the central system -----------------------------------------------------------


async def test_the_central_system_stores_what_stations_send() -> None:
    store = CsmsStore()
    async with CentralSystem(store=store, tags={}) as csms:
        raw = await RawStation.connect(f"{csms.url}/CP-1")
        await raw.result("BootNotification", BOOT)
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}
        await raw.result("StatusNotification", status)
        started = await raw.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG1", "meterStart": 10, "timestamp": STAMP},
        )
        transaction_id = started["transactionId"]
        await raw.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [{"timestamp": STAMP, "sampledValue": [{"value": "20"}]}],
            },
        )
        await raw.result(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": 30, "timestamp": STAMP},
        )
        station = store.station("CP-1")
        assert station is not None
        assert station.boot == BOOT and station.registration == "Accepted"
        assert station.last_connected is not None and station.last_disconnected is None
        assert [s.payload for s in station.statuses] == [status]
        session = store.session(transaction_id)
        assert session is not None and session.energy_wh == 20
        assert session.id_tag_info == {"status": "Accepted"}
        assert [v.sampled_value for v in store.meter_values(transaction_id)] == [[{"value": "20"}]]
        await raw.close()
        async with asyncio.timeout(WAIT):
            while store.station("CP-1").last_disconnected is None:
                await asyncio.sleep(0.01)


async def test_transaction_ids_continue_after_a_restart(path: Path) -> None:
    begin = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": STAMP}
    given: list[int] = []
    for _ in range(2):
        with CsmsStore(path) as store:
            async with CentralSystem(store=store) as csms:
                raw = await RawStation.connect(f"{csms.url}/CP-1")
                for _ in range(2):
                    given.append((await raw.result("StartTransaction", begin))["transactionId"])
                await raw.close()
    assert given == [1, 2, 3, 4]


async def test_a_scripted_asynchronous_answer_is_stored_too() -> None:
    store = CsmsStore()
    async with CentralSystem(store=store) as csms:
        raw = await RawStation.connect(f"{csms.url}/CP-1")
        await raw.result("BootNotification", BOOT)
        session = await csms.wait_for_station("CP-1")

        async def answer(payload: dict[str, Any]) -> dict[str, Any]:
            return {"transactionId": 500, "idTagInfo": {"status": "Blocked"}}

        session.set_handler("StartTransaction", answer)
        begin = {"connectorId": 2, "idTag": "TAG9", "meterStart": 0, "timestamp": STAMP}
        assert (await raw.result("StartTransaction", begin))["transactionId"] == 500
        stored = store.session(500)
        assert stored is not None and stored.id_tag_info == {"status": "Blocked"}
        await raw.close()


async def test_a_failing_store_answers_internal_error_so_the_station_retries() -> None:
    store = CsmsStore()
    async with CentralSystem(store=store) as csms:
        raw = await RawStation.connect(f"{csms.url}/CP-1")
        store._db.execute("DROP TABLE sessions")
        frame = await raw.call(
            "StopTransaction", {"transactionId": 1, "meterStop": 30, "timestamp": STAMP}
        )
        assert frame[0] == 4 and frame[2] == "InternalError"
        await raw.close()


async def test_finished_transactions_in_memory_can_be_bounded() -> None:
    async with CentralSystem(max_finished_transactions=2) as csms:
        raw = await RawStation.connect(f"{csms.url}/CP-1")
        begin = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": STAMP}
        for _ in range(8):
            transaction_id = (await raw.result("StartTransaction", begin))["transactionId"]
            end = {"transactionId": transaction_id, "meterStop": 1, "timestamp": STAMP}
            await raw.result("StopTransaction", end)
        finished = csms.records["CP-1"].finished_transactions
        assert 2 <= len(finished) <= 4
        assert finished[-1].transaction_id == 8
        await raw.close()
    with pytest.raises(ValueError):
        CentralSystem(max_finished_transactions=-1)


# --- reservations ----------------------------------------------------------------------------


def reservation(reservation_id: int, connector_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "connectorId": connector_id,
        "expiryDate": "2026-01-01T12:30:00Z",
        "idTag": "TAG1",
        "reservationId": reservation_id,
        **extra,
    }


def test_a_reservation_held_used_cancelled_refused_or_expired(store: CsmsStore) -> None:
    assert store.next_reservation_id() == 1
    store.reserved("CP-1", reservation(1, parentIdTag="P"), "Accepted", T0)
    store.reserved("CP-1", reservation(2, 2), "Accepted", T0)
    store.reserved("CP-1", reservation(3), "Occupied", T0)
    store.reserved("CP-2", reservation(1, 0), "Accepted", T0)  # ids are per station
    assert store.next_reservation_id() == 4
    start(store, 9, reservationId=1)  # §5.13: the start that carries it ends it
    store.cancelled("CP-1", 2, T0)
    by_key = {(r.identity, r.reservation_id): r for r in store.reservations()}
    assert by_key["CP-1", 1].state(T0) == "Used" and by_key["CP-1", 1].transaction_id == 9
    assert by_key["CP-1", 1].parent_id_tag == "P"
    assert by_key["CP-1", 2].state(T0) == "Cancelled"
    assert by_key["CP-1", 3].state(T0) == "Refused"
    assert by_key["CP-2", 1].state(T0) == "Held"
    assert by_key["CP-2", 1].state(datetime(2026, 1, 1, 12, 30, tzinfo=UTC)) == "Expired"
    assert [r.reservation_id for r in store.reservations("CP-2")] == [1]
    # The same id again replaces the reservation, as on the station.
    store.reserved("CP-2", reservation(1, 2, idTag="NEW"), "Accepted", T0)
    [again] = store.reservations("CP-2")
    assert (again.connector_id, again.id_tag, again.ended) == (2, "NEW", None)
