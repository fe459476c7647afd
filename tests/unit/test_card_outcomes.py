"""What a presented card did, as the reader (and POST /api/rfid) learns it: each outcome of
Sessions._card with the fields that go with it, on a virtual clock."""

from __future__ import annotations

from typing import Any

from ocpp_station.station.transactions import Sessions
from tests.unit.harness import Harness


async def present(h: Harness, id_tag: str, connector_id: int | None = None) -> dict[str, Any]:
    work = h.hw.present_card(id_tag, connector_id)
    assert work is not None
    await h.settle()
    outcome: dict[str, Any] = await work
    return outcome


def refuse(h: Harness, *tags: str, status: str = "Blocked") -> None:
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": status if p["idTag"] in tags else "Accepted"}
    }


async def booted() -> Harness:
    h = Harness(2)
    await h.boot()
    return h


async def test_a_card_then_the_cable_then_the_same_card() -> None:
    h = await booted()
    assert await present(h, "A") == {
        "outcome": "waitingForCable",
        "status": "Accepted",
        "connectorId": 1,
    }
    h.hw.plug(1)
    await h.settle()
    tx = h.connector(1).transaction
    assert tx is not None and tx.transaction_id == 100
    assert await present(h, "A") == {"outcome": "stopped", "connectorId": 1, "transactionId": 100}
    assert h.csms.of("StopTransaction")[0]["reason"] == "Local"


async def test_the_cable_first_starts_at_once() -> None:
    h = await booted()
    h.hw.plug(2)
    await h.settle()
    assert await present(h, "B", 2) == {
        "outcome": "started",
        "status": "Accepted",
        "connectorId": 2,
    }
    assert h.connector(2).transaction is not None


async def test_the_card_again_before_the_cable_ends_that_usage() -> None:
    h = await booted()
    await present(h, "A", 2)
    assert await present(h, "A") == {"outcome": "ended", "connectorId": 2}
    assert h.connector(2).authorization is None and h.connector(2).status == "Available"


async def test_a_refused_card_carries_its_status() -> None:
    h = await booted()
    refuse(h, "X", status="Expired")
    assert await present(h, "X") == {"outcome": "rejected", "status": "Expired"}
    assert all(c.authorization is None for c in h.station.cp)


async def test_a_card_of_the_same_group_stops_the_session() -> None:
    h = await booted()
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FAMILY"}
    }
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 7,
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FAMILY"},
    }
    h.hw.plug(1)
    await present(h, "PARENT", 1)
    assert await present(h, "CHILD") == {"outcome": "stopped", "connectorId": 1, "transactionId": 7}


async def test_nowhere_to_start() -> None:
    h = await booted()
    for cid, tag in ((1, "A"), (2, "B")):
        h.hw.plug(cid)
        await present(h, tag, cid)
    outcome = await present(h, "C")
    assert outcome == {
        "outcome": "noConnector",
        "status": "Accepted",
        "reason": "connector 1 has a transaction; connector 2 has a transaction",
    }
    named = await present(h, "C", 1)
    assert named["outcome"] == "noConnector" and named["reason"] == "connector 1 has a transaction"


async def test_not_accepted_by_the_central_system_the_card_is_ignored() -> None:
    h = Harness(2)
    h.csms.answer_boot("Pending", 60)
    h.connect()
    await h.settle()
    assert await present(h, "A") == {
        "outcome": "ignored",
        "reason": "the central system has not accepted it",
    }
    assert h.csms.of("Authorize") == []


async def test_a_station_shutting_down_refuses_cards() -> None:
    h = await booted()
    h.service(Sessions).close("the station is shutting down")
    assert await present(h, "A") == {"outcome": "refused", "reason": "the station is shutting down"}
    assert h.csms.of("Authorize") == []


async def test_a_shutdown_during_the_authorize_refuses_the_card() -> None:
    h = await booted()
    sessions = h.service(Sessions)

    def authorize_then_close(payload: dict[str, Any]) -> dict[str, Any]:
        sessions.close("reset under way")
        return {"idTagInfo": {"status": "Accepted"}}

    h.csms.responders["Authorize"] = authorize_then_close
    assert await present(h, "A") == {"outcome": "refused", "reason": "reset under way"}


async def test_a_lock_that_fails_at_the_start() -> None:
    """Picked, authorized, but the session cannot begin (the socket's lock jams, §4.9 TC_024):
    the card started nothing, and the answer says why."""
    h = Harness(2, fixed_cable=False)
    await h.boot()
    h.hw.set_lock_failure(1, True)
    h.hw.plug(1)
    await h.settle()
    outcome = await present(h, "A", 1)
    assert h.connector(1).transaction is None
    assert outcome == {
        "outcome": "noConnector",
        "status": "Accepted",
        "connectorId": 1,
        "reason": "connector 1 is faulted (ConnectorLockFailure)",
    }
