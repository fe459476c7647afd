"""The transaction-message queue: order, retries, offline (§4.2, digest §3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ocpp_station.rpc.errors import CallErrorReceived, RpcTimeout
from tests.unit.harness import Harness
from tests.unit.test_station_sessions import booted


async def test_transaction_messages_wait_offline_and_keep_order() -> None:
    h = await booted(config={"MeterValueSampleInterval": "10"})
    await h.plug(1)
    h.disconnect()
    h.station.config.change("AllowOfflineTxForUnknownId", "true")
    await h.card("TAG1")
    await h.run_for(25)
    await h.card("TAG1")
    assert h.station.sender.queued == 4  # Start, 2 MeterValues, Stop
    h.csms.clear()
    h.connect()
    await h.settle()
    tx_actions = [a for a in h.csms.actions() if a != "StatusNotification"]
    assert tx_actions == ["StartTransaction", "MeterValues", "MeterValues", "StopTransaction"]
    ids = {p["transactionId"] for p in h.csms.of("MeterValues") + h.csms.of("StopTransaction")}
    assert ids == {100}  # TC_039: the follow-ups carry the id the Start got
    await h.close()


async def test_callerror_is_retried_with_growing_interval() -> None:
    h = await booted(
        config={"TransactionMessageAttempts": "3", "TransactionMessageRetryInterval": "10"}
    )
    answers: Iterator[dict[str, Any] | BaseException] = iter(
        [
            CallErrorReceived("StartTransaction", "InternalError", "", {}),
            CallErrorReceived("StartTransaction", "InternalError", "", {}),
            {"transactionId": 9, "idTagInfo": {"status": "Accepted"}},
        ]
    )
    h.csms.responders["StartTransaction"] = lambda p: next(answers)
    await h.plug(1)
    await h.card("TAG1")
    assert h.csms.actions().count("StartTransaction") == 1
    await h.run_for(9)
    assert h.csms.actions().count("StartTransaction") == 1
    await h.run_for(2)  # 10 s after the first: RetryInterval x 1
    assert h.csms.actions().count("StartTransaction") == 2
    await h.run_for(18)  # the next waits RetryInterval x 2 = 20 s, not less
    assert h.csms.actions().count("StartTransaction") == 2
    await h.run_for(2)
    assert h.csms.actions().count("StartTransaction") == 3
    assert h.connector(1).transaction.transaction_id == 9
    await h.close()


async def test_a_time_out_is_no_attempt_and_the_message_goes_again() -> None:
    h = await booted(config={"TransactionMessageRetryInterval": "100"})  # one attempt only
    answers: Iterator[dict[str, Any] | BaseException] = iter(
        [
            RpcTimeout("StopTransaction", 30),
            RpcTimeout("StopTransaction", 30),
            {"idTagInfo": {"status": "Accepted"}},
        ]
    )
    await h.plug(1)
    await h.card("TAG1")
    h.csms.responders["StopTransaction"] = lambda p: next(answers)
    await h.card("TAG1")
    await h.run_for(3)
    assert h.csms.actions().count("StopTransaction") == 3  # again after 1 s, not 100 s
    assert h.station.sender.queued == 0 and h.station.sender.given_up == []
    await h.close()


async def test_given_up_start_makes_follow_ups_use_minus_one() -> None:
    h = await booted()  # TransactionMessageAttempts=1: no retry
    h.csms.responders["StartTransaction"] = lambda p: CallErrorReceived(
        "StartTransaction", "InternalError", "", {}
    )
    await h.plug(1)
    await h.card("TAG1")
    await h.card("TAG1")
    assert h.csms.of("StopTransaction")[0]["transactionId"] == -1  # [E] 3.18
    assert len(h.station.sender.given_up) == 1
    await h.close()


async def test_nothing_but_boot_before_accepted() -> None:
    h = Harness()
    h.csms.answer_boot("Pending", 60)
    await h.boot()
    await h.plug(1)
    await h.run_for(30)
    assert h.csms.actions() == ["BootNotification"]
    await h.close()
