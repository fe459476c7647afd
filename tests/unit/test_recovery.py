"""Power loss and restarts: the outbox and running transactions survive (digest §3.4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.rpc.errors import CallErrorReceived
from ocpp_station.station.recovery import _transaction
from ocpp_station.storage.journal import StoredTransaction
from ocpp_station.storage.store import StationStore
from tests.unit.harness import Harness


def restart(old: Harness, path: Path, **kwargs: object) -> Harness:
    """A new station on the same state file and physical world, as after a power cut."""
    snapshot = old.hw.snapshot()
    clock = VirtualClock(old.clock.now())
    hardware = Simulator(clock, len(old.hw.connectors), seed=7)
    hardware.restore(snapshot)
    return Harness(store=StationStore(path), hardware=hardware, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_running_transaction_ends_with_power_loss_after_boot(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    h = Harness(store=StationStore(path), config={"MeterValueSampleInterval": "10"})
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(25)
    last_sample = h.csms.of("MeterValues")[-1]["meterValue"][0]
    # The power goes: nothing is stopped, nothing is flushed.
    h2 = restart(h, path)
    # The StopTransaction waiting for the boot, and the StartupOfTheDevice security event.
    assert h2.station.sender.queued == 2
    await h2.boot()
    # [E] 3.22: the statuses right after the boot, then the queued history.
    assert h2.csms.actions()[:5] == ["BootNotification"] + ["StatusNotification"] * 3 + [
        "StopTransaction"
    ]
    stop = h2.csms.of("StopTransaction")[0]
    assert stop["reason"] == "PowerLoss" and stop["idTag"] == "TAG1"
    assert stop["transactionId"] == 100
    assert stop["timestamp"] == last_sample["timestamp"]
    assert stop["meterStop"] == round(float(last_sample["sampledValue"][0]["value"]))
    contexts = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
    assert contexts[0] == "Transaction.Begin"
    # [E] 3.14: the end is the last register reading known, with its time.
    assert stop["transactionData"][-1] == {
        "timestamp": last_sample["timestamp"],
        "sampledValue": [
            {
                "value": f"{float(last_sample['sampledValue'][0]['value']):.0f}",
                "context": "Transaction.End",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
                "location": "Outlet",
            }
        ],
    }
    # The cable is still in the EV: Finishing (TC_032_2), connector 0 Available.
    statuses = {p["connectorId"]: p["status"] for p in h2.csms.of("StatusNotification")}
    assert statuses == {0: "Available", 1: "Finishing", 2: "Available"}
    assert h2.store.tx_all() == []  # answered: nothing left to recover
    await h2.close()


async def test_offline_session_is_delivered_after_restart_with_mapped_id(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    h = Harness(
        store=StationStore(path),
        config={"MeterValueSampleInterval": "10", "AllowOfflineTxForUnknownId": "true"},
    )
    await h.boot()
    h.disconnect()
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(15)
    await h.card("TAG1")  # stopped locally while offline
    assert h.station.sender.queued == 3
    h2 = restart(h, path)
    h2.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 555,
        "idTagInfo": {"status": "Accepted"},
    }
    await h2.boot()
    tx_messages = [
        (a, p)
        for a, p in h2.csms.sent
        if a in ("StartTransaction", "MeterValues", "StopTransaction")
    ]
    assert [a for a, _ in tx_messages] == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert tx_messages[1][1]["transactionId"] == 555
    assert tx_messages[2][1]["transactionId"] == 555  # TC_039: the id the Start got
    assert tx_messages[2][1]["reason"] == "Local"
    await h2.close()


async def test_given_up_message_is_kept_in_the_store(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    h = Harness(store=StationStore(path))
    await h.boot()
    h.csms.responders["StartTransaction"] = lambda p: CallErrorReceived(
        "StartTransaction", "InternalError", "down", {}
    )
    await h.plug(1)
    await h.card("TAG1")
    kept = h.store.outbox_given_up()
    assert [m.action for m in kept] == ["StartTransaction"]
    assert kept[0].payload["idTag"] == "TAG1"
    h2 = restart(h, path)
    assert h2.store.outbox_given_up()[0].action == "StartTransaction"
    # The PowerLoss stop, with transactionId -1, and the StartupOfTheDevice security event.
    assert h2.station.sender.queued == 2
    await h2.boot()
    assert h2.csms.of("StopTransaction")[0]["transactionId"] == -1
    await h2.close()


async def test_finishing_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    h = Harness(store=StationStore(path))
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    await h.card("TAG1")
    assert h.status(1) == "Finishing"
    h2 = restart(h, path)
    await h2.boot()
    statuses = {p["connectorId"]: p["status"] for p in h2.csms.of("StatusNotification")}
    assert statuses[1] == "Finishing"
    await h2.unplug(1)
    assert h2.status(1) == "Available"
    await h2.close()


async def test_controlled_power_down_stops_with_power_loss(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    h = Harness(store=StationStore(path))
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    task = h.station.spawn(h.station.power_down(5))
    await h.settle()
    assert task.done()
    stop = h.csms.of("StopTransaction")[0]
    assert stop["reason"] == "PowerLoss"
    assert h.station.sender.queued == 0
    await h.close()


async def test_transaction_rows_are_forgotten_once_answered(tmp_path: Path) -> None:
    h = Harness(store=StationStore(tmp_path / "station.db"))
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    assert len(h.store.tx_all()) == 1
    await h.card("TAG1")
    assert h.store.tx_all() == []
    assert h.store.outbox_pending() == []
    await h.close()


def test_a_stored_transaction_comes_back_with_every_field() -> None:
    stored = StoredTransaction(
        local_id=7,
        connector_id=2,
        id_tag="TAG",
        parent_id_tag="FLEET",
        meter_start=1234,
        start_time="2026-01-01T12:00:00.000Z",
        transaction_id=None,
        start_failed=True,
        reservation_id=42,
        energy_suspended=True,
        last_meter_wh=2000.0,
        last_meter_time="2026-01-01T12:30:00.000Z",
        ended=False,
    )
    samples = [{"timestamp": "2026-01-01T12:10:00.000Z", "sampledValue": []}]
    tx = _transaction(stored, samples)
    assert (tx.local_id, tx.connector_id, tx.id_tag, tx.parent_id_tag) == (7, 2, "TAG", "FLEET")
    assert (tx.meter_start, tx.start_time) == (1234, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert (tx.transaction_id, tx.start_failed, tx.wire_id) == (None, True, -1)
    assert (tx.reservation_id, tx.energy_suspended, tx.ended) == (42, True, False)
    assert tx.stop_data == samples


async def test_after_a_restart_a_message_keeps_its_attempts_and_leaves_once_answered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "station.db"
    config = {"TransactionMessageAttempts": "3", "TransactionMessageRetryInterval": "1"}
    h = Harness(store=StationStore(path), config=config)
    await h.boot()
    h.csms.responders["StartTransaction"] = lambda p: CallErrorReceived(
        "StartTransaction", "InternalError", "down", {}
    )
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(1.5)  # attempts 1 and 2 failed
    assert h.csms.actions().count("StartTransaction") == 2
    h2 = restart(h, path, config=config)
    h2.csms.responders["StartTransaction"] = lambda p: CallErrorReceived(
        "StartTransaction", "InternalError", "down", {}
    )
    await h2.boot()
    await h2.run_for(5)
    # One attempt was left: then given up, and the PowerLoss stop carries -1 ([E] 3.18).
    assert h2.csms.actions().count("StartTransaction") == 1
    assert [p["transactionId"] for p in h2.csms.of("StopTransaction")] == [-1]
    await h2.close()
    h2.store.close()
    h3 = restart(h2, path)
    assert h3.station.sender.queued == 1  # its StartupOfTheDevice: the answered stop is gone
    await h3.close()


async def test_a_stop_answered_after_a_restart_updates_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    config = {"AuthorizationCacheEnabled": "true"}
    h = Harness(store=StationStore(path), config=config)
    await h.boot()
    await h.plug(1)
    await h.card("TAG1", 1)
    h.disconnect()
    await h.card("TAG1", 1)  # stopped offline: the StopTransaction waits in the outbox
    h2 = restart(h, path, config=config)
    h2.csms.responders["StopTransaction"] = lambda p: {"idTagInfo": {"status": "Blocked"}}
    await h2.boot()
    assert [p["reason"] for p in h2.csms.of("StopTransaction")] == ["Local"]
    cached = h2.store.cache_get("TAG1")
    assert cached is not None and cached["status"] == "Blocked"  # §3.5.2: the stop's answer
    await h2.close()
