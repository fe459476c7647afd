"""The Station as a composition: the control API's status as interface.md gives it, the
router with every handler and after hook, reactions to any key, and the count of failed
tasks."""

from __future__ import annotations

import asyncio

from tests.unit.harness import Harness


async def test_the_status_view_has_the_contracted_shape() -> None:
    h = Harness()
    await h.boot()
    h.hw.raise_fault(0, "OtherError")
    await h.plug(2)
    view = h.station.snapshot(True)
    assert list(view) == [
        "id",
        "connected",
        "registration",
        "securityProfile",  # the security extensions' (interface: more fields freely)
        "connectors",
        "queuedMessages",
    ]
    assert view["securityProfile"] == 0
    assert (view["id"], view["connected"], view["queuedMessages"]) == ("CP-T", True, 0)
    zero, one, two = view["connectors"]
    assert zero == {
        "id": 0,
        "status": "Faulted",
        "errorCode": "OtherError",
        "reservation": None,
        "limitW": None,
    }
    assert {k: one[k] for k in ("id", "status", "errorCode", "plugged", "limitW")} == {
        "id": 1,
        "status": "Available",
        "errorCode": "NoError",
        "plugged": False,
        "limitW": None,
    }
    assert (two["status"], two["plugged"]) == ("Preparing", True)
    assert h.station.snapshot(False)["connected"] is False
    await h.close()


async def test_the_router_has_every_handler_with_its_after_hook() -> None:
    h = Harness()
    await h.boot()
    router = h.station.router()
    assert router.actions == frozenset(h.station.handlers())
    assert router._after["RemoteStartTransaction"] is not None  # the start follows the answer
    assert set(router._after) == {a for a, (_, hook) in h.station.handlers().items() if hook}
    assert h.station.admit("Heartbeat") is True
    await h.close()


async def test_a_key_nothing_reacts_to_changes_quietly() -> None:
    h = Harness()
    await h.boot()
    assert h.station.config.change("BlinkRepeat", "5") == "Accepted"
    await h.close()


async def test_each_failed_task_is_counted_once_and_a_cancelled_one_not() -> None:
    h = Harness()
    await h.boot()

    async def fail() -> None:
        raise RuntimeError("a bug")

    async def wait() -> None:
        await asyncio.sleep(3600)

    for _ in range(2):
        h.station.spawn(fail())
    waiting = h.station.spawn(wait())
    await h.settle()
    waiting.cancel()
    await h.settle()
    assert h.station.task_failures == 2
    h.station.task_failures = 0  # counted as wanted: let close() pass
    await h.close()


async def test_a_connector_entry_names_its_transaction_or_the_waiting_tag() -> None:
    h = Harness()
    await h.boot()
    await h.plug(1)
    await h.card("TAG1", 1)  # charging
    await h.card("TAG2", 2)  # waiting for its cable
    _, one, two = h.station.snapshot(True)["connectors"]
    assert (one["transactionId"], one["idTag"]) == (100, "TAG1")
    assert (two["transactionId"], two["idTag"]) == (None, "TAG2")
    await h.card("TAG2", 2)  # withdrawn (B1)
    _, _, two = h.station.snapshot(True)["connectors"]
    assert (two["transactionId"], two["idTag"]) == (None, None)
    await h.close()
