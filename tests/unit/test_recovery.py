"""Power loss and restarts: the outbox and running transactions survive (digest §3.4)."""

from __future__ import annotations

from pathlib import Path

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.rpc.errors import CallErrorReceived
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
    assert h2.station.sender.queued == 1  # the StopTransaction, waiting for the boot
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
    assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
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
    assert h2.station.sender.queued == 1  # only the PowerLoss stop, with transactionId -1
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
