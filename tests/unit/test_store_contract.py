"""Every kind of station store answers alike: the SQLite file, the memory-only store and a
station's share of a fleet file are driven through the same random operations and must read
back the same state at every step."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.storage.fleet import FleetDatabase
from ocpp_station.storage.journal import StoredTransaction
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.storage.store import StationStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _readout(store: Any) -> dict[str, Any]:
    return {
        "config": store.load_config(),
        "availability": store.load_availability(),
        "cache": store.cache_all(),
        "cached": store.cache_get("tag1"),
        "transactions": store.tx_all(),
        "samples": {tx.local_id: store.tx_samples(tx.local_id) for tx in store.tx_all()},
        "pending": [(m.action, m.payload, m.local_id, m.attempts) for m in store.outbox_pending()],
        "given_up": [(m.action, m.payload, m.local_id) for m in store.outbox_given_up()],
        "kv": store.kv_get("simulator"),
        "records": {kind: store.records(kind) for kind in KINDS},
        "record": store.record_get("list", "tag1"),
    }


KINDS = ("list", "reservations")


def _operations(rng: random.Random) -> list[Callable[[Any, list[int]], Any]]:
    """Operations on a store; `seqs` is the outbox sequence numbers each store handed out."""
    local = [0]

    def config(s: Any, seqs: list[int]) -> None:
        s.save_config(rng.choice(["A", "B", "C"]), str(rng.randint(0, 9)))

    def availability(s: Any, seqs: list[int]) -> None:
        s.save_availability(rng.randint(0, 3), rng.random() < 0.5)

    def cache(s: Any, seqs: list[int]) -> None:
        tag = rng.choice(["Tag1", "TAG1", "tag2", "T3"])
        if rng.random() < 0.7:
            when = T0 + timedelta(seconds=rng.randint(0, 100))
            s.cache_put(tag, rng.choice(["Accepted", "Blocked"]), None, None, updated_at=when)
        elif rng.random() < 0.8:
            s.cache_delete(tag)
        else:
            s.cache_clear()

    def start(s: Any, seqs: list[int]) -> None:
        local[0] += 1
        # Every field of a transaction varies: each must read back alike.
        tx = StoredTransaction(
            local[0], rng.randint(1, 3), "TAG", rng.choice([None, "GROUP"]), 100, "t0",
            rng.choice([None, 7]), rng.random() < 0.5, rng.choice([None, 3]), rng.random() < 0.5,
            1.0, "t0", False,
        )  # fmt: skip
        with s.atomic():
            s.tx_insert(tx)
            seqs.append(s.outbox_add("StartTransaction", {"n": local[0]}, local[0], "t0"))

    def update(s: Any, seqs: list[int]) -> None:
        if not local[0]:
            return
        if rng.random() < 0.5:
            s.tx_update(rng.randint(1, local[0]), last_meter_wh=rng.random(), ended=True)
        else:
            s.tx_update(
                rng.randint(1, local[0]),
                transaction_id=rng.randint(1, 99),
                start_failed=rng.random() < 0.5,
                energy_suspended=rng.random() < 0.5,
            )

    def sample(s: Any, seqs: list[int]) -> None:
        if local[0]:
            s.tx_add_sample(rng.randint(1, local[0]), {"v": rng.randint(0, 99)})

    def deliver(s: Any, seqs: list[int]) -> None:
        if seqs:
            s.outbox_delivered(seqs.pop(0))

    def attempt(s: Any, seqs: list[int]) -> None:
        if seqs:
            s.outbox_attempted(seqs[0], rng.randint(1, 3))

    def give_up(s: Any, seqs: list[int]) -> None:
        if seqs:
            s.outbox_give_up(seqs.pop(0))

    def forget(s: Any, seqs: list[int]) -> int:
        return int(s.tx_forget_finished())

    def counter(s: Any, seqs: list[int]) -> int:
        return int(s.next_counter(rng.choice(["transaction", "message"])))

    def kv(s: Any, seqs: list[int]) -> None:
        s.kv_put("simulator", f"state-{rng.randint(0, 9)}")

    def record(s: Any, seqs: list[int]) -> None:
        kind = rng.choice(KINDS)
        key = rng.choice(["tag1", "Tag1", "tag2", "b", "a", "ü"])
        roll = rng.random()
        if roll < 0.6:
            value = rng.choice([{"status": "Accepted", "n": rng.randint(0, 9)}, [1, "x"], 7, None])
            with s.atomic():
                s.record_put(kind, key, value)
        elif roll < 0.9:
            s.record_delete(kind, key)
        else:
            s.records_clear(kind)

    return [config, availability, cache, start, update, sample, deliver, attempt, give_up,
            forget, counter, kv, record, record]  # fmt: skip


def _memory(tmp_path: Path) -> Any:
    return MemoryStore()


def _fleet_share(tmp_path: Path) -> Any:
    database = FleetDatabase(tmp_path / "fleet.db")
    other = database.station("CP-2")  # a neighbour's rows must never show through
    other.save_config("A", "neighbour")
    other.cache_put("TAG1", "Blocked", None, None)
    other.outbox_add("StartTransaction", {"n": 0}, 1, "t0")
    other.record_put("list", "tag1", {"status": "Blocked"})
    return database.station("CP-1")


@pytest.mark.parametrize("make", [_memory, _fleet_share], ids=["memory", "fleet-share"])
@pytest.mark.parametrize("seed", range(5))
def test_the_store_answers_like_the_file(seed: int, make: Any, tmp_path: Path) -> None:
    stores = [StationStore(None), make(tmp_path)]
    # One generator per store, re-seeded alike at every step: the same choices for both.
    rngs = [random.Random(), random.Random()]
    operations = [_operations(rng) for rng in rngs]
    seqs: list[list[int]] = [[], []]
    for step in range(400):
        results = []
        for i, store in enumerate(stores):
            rngs[i].seed(seed * 10_000 + step)
            op = rngs[i].choice(operations[i])
            results.append(op(store, seqs[i]))
        assert results[0] == results[1], f"step {step}"
        assert _readout(stores[0]) == _readout(stores[1]), f"step {step}"


@pytest.mark.parametrize("make", [_memory, _fleet_share], ids=["memory", "fleet-share"])
def test_counters_count_from_one_per_name(make: Any, tmp_path: Path) -> None:
    store = make(tmp_path)
    assert [store.next_counter("a") for _ in range(3)] == [1, 2, 3]
    assert store.next_counter("b") == 1


def test_payloads_come_back_as_copies() -> None:
    store = MemoryStore()
    payload = {"meterValue": [{"v": 1}]}
    store.outbox_add("MeterValues", payload, None, "t0")
    payload["meterValue"].append({"v": 2})
    [message] = store.outbox_pending()
    assert message.payload == {"meterValue": [{"v": 1}]}
    message.payload["x"] = 1
    assert store.outbox_pending()[0].payload == {"meterValue": [{"v": 1}]}


@pytest.mark.parametrize("make", [_memory, _fleet_share], ids=["memory", "fleet-share"])
def test_an_unknown_field_is_refused_as_by_the_file(make: Any, tmp_path: Path) -> None:
    for store in (StationStore(None), make(tmp_path)):
        with pytest.raises(ValueError, match="not updatable"):
            store.tx_update(1, connector_id=2)


@pytest.mark.parametrize("make", [_memory, _fleet_share], ids=["memory", "fleet-share"])
def test_records_come_back_as_copies_in_key_order(make: Any, tmp_path: Path) -> None:
    for store in (StationStore(None), make(tmp_path)):
        value = {"entries": [1, 2]}
        store.record_put("k", "b", value)
        store.record_put("k", "a", "first")
        value["entries"].append(3)
        assert store.records("k") == {"a": "first", "b": {"entries": [1, 2]}}
        assert list(store.records("k")) == ["a", "b"]
        store.record_get("k", "b")["entries"].append(4)
        assert store.record_get("k", "b") == {"entries": [1, 2]}
        assert store.record_get("k", "missing") is None
        assert store.records("other") == {}


def test_records_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    with StationStore(path) as store:
        store.record_put("reservations", "7", {"connectorId": 1, "idTag": "A"})
    with StationStore(path) as store:
        assert store.records("reservations") == {"7": {"connectorId": 1, "idTag": "A"}}
