"""Starting again after a power cut or a kill: the store says what the world was.

- Messages still in the outbox go first, in their order, before anything new (digest §3.1).
- A transaction that was running when the power went is never resumed: it ends with
  StopTransaction reason PowerLoss, its last known meter value and that value's time, queued
  behind the BootNotification like every other queued message (digest §3.4, TC_032_2).
- A cable still in the EV after that puts its connector in Finishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ocpp_station import timefmt
from ocpp_station.station.connector import Transaction
from ocpp_station.station.sender import QueuedMessage
from ocpp_station.station.service import Service
from ocpp_station.storage.interface import OutboxReader, TransactionStore
from ocpp_station.storage.journal import StoredTransaction

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.transactions import Sessions


class JournalReader(TransactionStore, OutboxReader, Protocol):
    """What recovery reads: the transactions and the outbox as the last run left them."""


log = logging.getLogger("ocpp_station.station")


def _transaction(stored: StoredTransaction, samples: list[dict[str, Any]]) -> Transaction:
    return Transaction(
        local_id=stored.local_id,
        connector_id=stored.connector_id,
        id_tag=stored.id_tag,
        parent_id_tag=stored.parent_id_tag,
        meter_start=stored.meter_start,
        start_time=timefmt.parse(stored.start_time),
        transaction_id=stored.transaction_id,
        start_failed=stored.start_failed,
        reservation_id=stored.reservation_id,
        energy_suspended=stored.energy_suspended,
        stop_data=samples,
        ended=stored.ended,
    )


class Recovery(Service):
    """Runs at a cold start only: a reboot inside the process has nothing to recover (its
    transactions were stopped and its queue is still in memory)."""

    __slots__ = ("ctx", "sessions", "store")

    def __init__(self, ctx: StationContext, sessions: Sessions, store: JournalReader) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.store = store

    def on_power_up(self, cold: bool) -> None:
        if cold:
            recover(self.ctx, self.sessions, self.store)


def recover(ctx: StationContext, sessions: Sessions, store: JournalReader) -> None:
    stored = store.tx_all()
    transactions = {s.local_id: _transaction(s, store.tx_samples(s.local_id)) for s in stored}

    messages: list[QueuedMessage] = []
    for row in store.outbox_pending():
        tx = transactions.get(row.local_id) if row.local_id is not None else None
        message = QueuedMessage(
            0, row.action, row.payload, tx, attempts=row.attempts, stored=row.seq
        )
        if row.action == "StartTransaction" and tx is not None:
            message.on_result = _bind_start(sessions, tx)
            message.on_give_up = _bind_give_up(sessions, tx)
        elif row.action == "StopTransaction":
            message.on_result = _bind_stop(sessions, row.payload.get("idTag"))
        messages.append(message)
    ctx.sender.restore(messages)

    for record in stored:
        tx = transactions[record.local_id]
        if tx.ended:
            continue
        if not ctx.cp.has_connector(tx.connector_id):
            log.error(
                "transaction %d was on connector %d, which no longer exists",
                tx.local_id,
                tx.connector_id,
            )
        end = _end_sample(ctx, record)
        if end is not None:
            tx.stop_data.append(end)
        sessions.enqueue_stop(
            tx, "PowerLoss", tx.id_tag, record.last_meter_wh, record.last_meter_time
        )
        log.warning(
            "transaction %s on connector %d was running at power loss: stopped (PowerLoss)",
            tx.transaction_id if tx.transaction_id is not None else f"local {tx.local_id}",
            tx.connector_id,
        )
        if ctx.cp.has_connector(tx.connector_id):
            connector = ctx.cp.connector(tx.connector_id)
            connector.finishing = connector.plugged
    store.tx_forget_finished()
    if messages:
        log.info("%d transaction messages queued from before the restart", len(messages))


def _end_sample(ctx: StationContext, record: StoredTransaction) -> dict[str, Any] | None:
    """Transaction.End from the last known register ([E] 3.14), when it is a stop measurand."""
    if "Energy.Active.Import.Register" not in ctx.config.get_list("StopTxnSampledData"):
        return None
    return {
        "timestamp": record.last_meter_time,
        "sampledValue": [
            {
                "value": f"{record.last_meter_wh:.0f}",
                "context": "Transaction.End",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
                "location": "Outlet",
            }
        ],
    }


def _bind_start(sessions: Sessions, tx: Transaction) -> Callable[[dict[str, Any]], None]:
    return lambda answer: sessions.start_answered(tx, answer)


def _bind_give_up(sessions: Sessions, tx: Transaction) -> Callable[[], None]:
    return lambda: sessions.start_given_up(tx)


def _bind_stop(sessions: Sessions, id_tag: str | None) -> Callable[[dict[str, Any]], None]:
    return lambda answer: sessions.stop_answered(id_tag, answer)
