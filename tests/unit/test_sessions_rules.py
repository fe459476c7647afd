"""Sessions, rule by rule: where a remote start without a connector goes, how long it waits,
what the journal keeps of a transaction, the give-up and the group from the central system,
and what a stop does to the energy and to those listening."""

from __future__ import annotations

from ocpp_station.rpc.errors import CallErrorReceived
from ocpp_station.station.connector import Connector, Transaction
from tests.unit.test_station_sessions import booted


async def test_a_remote_start_naming_no_connector_takes_the_one_waiting_with_a_cable() -> None:
    h = await booted(config={"AuthorizeRemoteTxRequests": "false"})
    await h.plug(2)
    await h.request("RemoteStartTransaction", {"idTag": "R1"})
    starts = h.csms.of("StartTransaction")
    assert [(p["connectorId"], p["idTag"]) for p in starts] == [(2, "R1")]
    await h.close()


async def test_a_remote_start_naming_no_connector_waits_connection_timeout_at_most() -> None:
    h = await booted(config={"AuthorizeRemoteTxRequests": "false", "ConnectionTimeOut": "30"})
    await h.request("RemoteStartTransaction", {"idTag": "R1"})
    await h.run_for(31)
    await h.plug(1)
    assert h.csms.of("StartTransaction") == []  # expired: the plug starts nothing
    await h.close()


async def test_the_journal_keeps_what_a_restart_needs_of_a_transaction() -> None:
    h = await booted()
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}
    }
    await h.plug(1)
    await h.card("TAG", 1)
    [row] = h.store.tx_all()
    tx = h.connector(1).transaction
    assert tx is not None
    assert (row.local_id, row.connector_id, row.id_tag, row.parent_id_tag) == (
        tx.local_id,
        1,
        "TAG",
        "FLEET",
    )
    assert (row.start_failed, row.energy_suspended, row.ended) == (False, False, False)
    assert row.transaction_id == tx.transaction_id == 100
    await h.close()


async def test_the_group_from_start_transaction_conf_is_kept_and_stored() -> None:
    h = await booted(config={"AuthorizeRemoteTxRequests": "false"})
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 9,
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"},
    }
    await h.plug(1)
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    tx = h.connector(1).transaction
    assert tx is not None and tx.parent_id_tag == "FLEET"  # §3.10: the central system says
    [row] = h.store.tx_all()
    assert (row.transaction_id, row.parent_id_tag) == (9, "FLEET")
    await h.close()


async def test_a_given_up_start_is_marked_in_the_journal() -> None:
    h = await booted()
    h.csms.responders["StartTransaction"] = lambda p: CallErrorReceived(
        "StartTransaction", "InternalError", "down", {}
    )
    await h.plug(1)
    await h.card("TAG", 1)
    tx = h.connector(1).transaction
    assert tx is not None and tx.start_failed and tx.wire_id == -1
    [row] = h.store.tx_all()
    assert row.start_failed is True
    await h.close()


async def test_a_stop_withdraws_the_energy_and_tells_the_listeners() -> None:
    h = await booted()
    ended: list[tuple[int, int | None, str]] = []

    def listener(c: Connector, tx: Transaction, reason: str) -> None:
        ended.append((c.connector_id, tx.transaction_id, reason))

    h.station.events.transaction_ended.connect(listener)
    await h.plug(1)
    await h.card("TAG", 1)
    assert h.hw.connector(1)._offered
    await h.card("TAG", 1)
    assert not h.hw.connector(1)._offered
    assert ended == [(1, 100, "Local")]
    [stop] = h.csms.of("StopTransaction")
    assert (stop["transactionId"], stop["idTag"], stop["reason"]) == (100, "TAG", "Local")
    assert h.status(1) == "Finishing" and h.connector(1).finishing
    await h.close()


async def test_an_invalid_tag_without_stop_suspends_the_energy_and_the_journal_knows() -> None:
    h = await booted(config={"StopTransactionOnInvalidId": "false"})
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Invalid"},
    }
    await h.plug(1)
    await h.card("TAG", 1)
    assert h.status(1) == "SuspendedEVSE" and not h.hw.connector(1)._offered
    [row] = h.store.tx_all()
    assert row.energy_suspended is True  # a restart keeps it suspended
    await h.close()
