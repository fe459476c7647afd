"""Everything the station sends, in order: direct messages and the transaction-message queue.

Rules (OCPP 1.6 §4.2, digest §3):
- Nothing but BootNotification goes out before the central system accepted the station.
- Transaction-related messages (StartTransaction, StopTransaction, transaction MeterValues) are
  queued and delivered in order; being offline is not a failed attempt. A CALLERROR or a
  missing answer is: retry up to TransactionMessageAttempts, waiting
  TransactionMessageRetryInterval x attempts between tries (§9.1.39/40, [JE] 3.3).
- Other messages (StatusNotification, Heartbeat, Authorize, DataTransfer) are not queued across
  an outage: they fail at once while offline.
- Direct messages and queued ones leave in the order they were created, except that a
  transaction message waiting for its retry does not hold up the others.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ocpp_station import timefmt
from ocpp_station.clock import Clock, Timer
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.station.connector import Transaction
from ocpp_station.station.timers import sleep
from ocpp_station.storage.interface import Journal

log = logging.getLogger("ocpp_station.station")


class Outbound(Protocol):
    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]: ...


# Requests someone waits on (a driver at the charger): they go ahead of the transaction
# messages an outage left queued (§3.7 lets a station do so "so that customers are not kept
# waiting"); statuses and transaction messages keep their order.
OVERTAKING = frozenset({"Authorize", "Heartbeat", "DataTransfer"})
# The pause before a transaction message that got no answer is sent again.
TIMEOUT_RESEND = 1.0


class NotConnected(ConnectionLost):
    """The message cannot go now: no connection, or the station is not accepted yet."""


ResultHook = Callable[[dict[str, Any]], None]
FailHook = Callable[[], None]


@dataclass(slots=True)
class _Direct:
    seq: int
    action: str
    payload: dict[str, Any]
    future: asyncio.Future[dict[str, Any]] | None
    on_result: ResultHook | None = None


@dataclass(slots=True)
class QueuedMessage:
    seq: int
    action: str
    payload: dict[str, Any]
    transaction: Transaction | None
    on_result: ResultHook | None = None
    on_give_up: FailHook | None = None
    attempts: int = 0
    not_before: float = 0.0
    # Row of this message in the store's outbox; None for a station without a journal.
    stored: int | None = None


class Sender:
    def __init__(
        self,
        clock: Clock,
        attempts: Callable[[], int],
        retry_interval: Callable[[], int],
        journal: Journal | None = None,
    ) -> None:
        self._clock = clock
        self._journal = journal
        self._attempts = attempts
        self._retry_interval = retry_interval
        self._seq = itertools.count(1)
        self._direct: deque[_Direct] = deque()
        self._first = 0  # how many `first` items lead the direct deque
        # Requests someone waits on at the charger: ahead of the transaction backlog (§3.7).
        self._urgent: deque[_Direct] = deque()
        # Messages the central system asked for while it has not accepted us (TriggerMessage
        # during Pending, §4.2): the one exception to the registration gate.
        self._triggered: deque[_Direct] = deque()
        self.queue: deque[QueuedMessage] = deque()
        self._outbound: Outbound | None = None
        self._accepted = False
        self._wake = asyncio.Event()
        self._emptied = asyncio.Event()
        self._retry_timer: Timer | None = None
        self._worker: asyncio.Task[None] | None = None
        self.given_up: list[QueuedMessage] = []
        self.delivered = 0
        self._done = 0  # messages that left the queue: answered or given up
        # _done when a connection began with messages waiting, for the log line.
        self._backlog_from: int | None = None

    # -- the connection and the registration gate -------------------------------------------
    @property
    def online(self) -> bool:
        return self._outbound is not None

    @property
    def accepted(self) -> bool:
        """The central system accepted the station (§4.2); it may be offline now."""
        return self._accepted

    @property
    def open(self) -> bool:
        """Messages other than BootNotification may go."""
        return self._outbound is not None and self._accepted

    def connected(self, outbound: Outbound) -> None:
        self._outbound = outbound
        self._backlog_from = self._done if self.queue else None
        self._kick()

    def disconnected(self) -> None:
        self._outbound = None
        self._fail_direct()

    def set_accepted(self, accepted: bool) -> None:
        self._accepted = accepted
        if accepted:
            self._kick()
        else:
            self._fail_direct()

    async def call_now(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send past the gate: BootNotification, and nothing else."""
        outbound = self._outbound
        if outbound is None:
            raise NotConnected("not connected")
        return await outbound.call(action, payload)

    # -- direct messages ---------------------------------------------------------------------
    async def request(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send now (in order) and wait for the answer; NotConnected while offline."""
        if not self.open:
            raise NotConnected("offline" if self._outbound is None else "not accepted yet")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        item = _Direct(next(self._seq), action, payload, future)
        (self._urgent if action in OVERTAKING else self._direct).append(item)
        self._kick()
        return await future

    def notify(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        first: bool = False,
        on_result: ResultHook | None = None,
        triggered: bool = False,
    ) -> bool:
        """Send without waiting for the answer; dropped (False) while offline.

        `first`: ahead of everything waiting, queued transaction messages included (the
        statuses owed right after a boot or a reconnect describe the present; the queue is
        history). `on_result` is called with the CALLRESULT, and only then: not when the
        message is dropped, refused with a CALLERROR or left unanswered. `triggered`: the
        central system asked for it (TriggerMessage): before the station is accepted it goes
        all the same, past the registration gate (§4.2); once accepted, in its usual lane.
        """
        if triggered and self.online and not self._accepted:
            self._triggered.append(_Direct(next(self._seq), action, payload, None, on_result))
            self._kick()
            return True
        if not self.open:
            return False
        if first:
            self._direct.insert(self._first, _Direct(-1, action, payload, None, on_result))
            self._first += 1
        else:
            item = _Direct(next(self._seq), action, payload, None, on_result)
            (self._urgent if action in OVERTAKING else self._direct).append(item)
        self._kick()
        return True

    # -- transaction messages ----------------------------------------------------------------
    def enqueue(
        self,
        action: str,
        payload: dict[str, Any],
        transaction: Transaction | None,
        on_result: ResultHook | None = None,
        on_give_up: FailHook | None = None,
    ) -> QueuedMessage:
        message = QueuedMessage(
            next(self._seq), action, payload, transaction, on_result, on_give_up
        )
        if self._journal is not None:
            # Durable before anything depends on it having been sent (digest §3.1).
            message.stored = self._journal.outbox_add(
                action,
                payload,
                transaction.local_id if transaction is not None else None,
                timefmt.iso(self._clock.now()),
            )
        self.queue.append(message)
        self._emptied.clear()
        self._kick()
        return message

    def restore(self, messages: list[QueuedMessage]) -> None:
        """Messages found in the journal at start, oldest first: they go before anything new."""
        for message in messages:
            message.seq = next(self._seq)
            self.queue.append(message)
        if self.queue:
            self._emptied.clear()
            self._kick()

    @property
    def queued(self) -> int:
        return len(self.queue)

    async def drain(self, seconds: float) -> bool:
        """Wait until the transaction queue is empty, at most `seconds` of station time."""
        if not self.queue:
            return True
        emptied = asyncio.ensure_future(self._emptied.wait())
        timer = asyncio.ensure_future(sleep(self._clock, seconds))
        try:
            await asyncio.wait({emptied, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            emptied.cancel()
            timer.cancel()
        return not self.queue

    # -- the worker --------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="sender")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._retry_timer is not None:
            self._retry_timer.cancel()

    def _kick(self) -> None:
        self._wake.set()

    def _fail_direct(self) -> None:
        self._first = 0
        self._triggered.clear()  # nobody waits on these: notifications, not requests
        while self._urgent or self._direct:
            item = self._urgent.popleft() if self._urgent else self._direct.popleft()
            if item.future is not None and not item.future.done():
                item.future.set_exception(NotConnected("connection lost"))

    def _next(self) -> _Direct | QueuedMessage | None:
        if self._triggered and self._outbound is not None:
            return self._triggered[0]
        if not self.open:
            return None
        if self._first:
            return self._direct[0]  # the statuses owed after a boot or reconnect lead
        if self._urgent:
            return self._urgent[0]
        direct = self._direct[0] if self._direct else None
        queued = self.queue[0] if self.queue else None
        if queued is not None and queued.not_before > self._clock.monotonic():
            self._arm_retry(queued.not_before)
            queued = None
        if direct is None:
            return queued
        if queued is None or direct.seq < queued.seq:
            return direct
        return queued

    def _arm_retry(self, when: float) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        self._retry_timer = self._clock.call_later(when - self._clock.monotonic(), self._kick)

    async def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            if isinstance(item, _Direct):
                await self._send_direct(item)
            else:
                await self._send_queued(item)

    async def _send_direct(self, item: _Direct) -> None:
        if self._triggered and self._triggered[0] is item:
            self._triggered.popleft()
        elif self._urgent and self._urgent[0] is item:
            self._urgent.popleft()
        else:
            self._direct.popleft()
        if item.seq < 0:
            self._first -= 1
        outbound = self._outbound
        try:
            if outbound is None:
                raise NotConnected("connection lost")
            result = await outbound.call(item.action, item.payload)
        except (CallErrorReceived, RpcTimeout, ConnectionLost, OcppError) as exc:
            if item.future is not None and not item.future.done():
                item.future.set_exception(exc)
            elif item.future is None:
                log.info("%s not delivered: %s", item.action, _describe(exc))
            return
        if item.future is not None and not item.future.done():
            item.future.set_result(result)
        elif item.on_result is not None:
            try:
                item.on_result(result)
            except Exception:
                log.exception("handling the answer to %s failed", item.action)

    async def _send_queued(self, item: QueuedMessage) -> None:
        tx = item.transaction
        if tx is not None and item.action != "StartTransaction":
            wire_id = tx.wire_id
            if wire_id is None:
                # The StartTransaction ahead of it is not answered yet; it cannot be behind us
                # in the queue, so this only happens if it was given up: use -1 ([E] 3.18).
                wire_id = -1
            item.payload["transactionId"] = wire_id
        outbound = self._outbound
        if outbound is None:
            return
        try:
            result = await outbound.call(item.action, item.payload)
        except ConnectionLost:
            # Not an attempt: it stays at the head until we are back (digest §3.2). The
            # connection is going (closing, or closed before the transport told us): stop
            # using it now, or the worker would retry at once, forever, without yielding.
            if self._outbound is outbound:
                self._outbound = None
            return
        except RpcTimeout as exc:
            # [JE] 3.3: a failure to process is a CALLERROR; silence is not one. The message
            # may never have arrived (a half-open link): keep it at the head and send it again,
            # after a reconnection if the link is gone. Not an attempt: with the reference
            # TransactionMessageAttempts=1, one time-out would throw a StopTransaction away.
            log.warning("%s not answered (%s); sending it again", item.action, _describe(exc))
            item.not_before = self._clock.monotonic() + TIMEOUT_RESEND
            return
        except (CallErrorReceived, OcppError) as exc:
            item.attempts += 1
            limit = max(1, self._attempts())
            if self._journal is not None and item.stored is not None:
                self._journal.outbox_attempted(item.stored, item.attempts)
            if item.attempts >= limit:
                self._give_up(item, exc)
            else:
                delay = self._retry_interval() * item.attempts
                item.not_before = self._clock.monotonic() + delay
                log.warning(
                    "%s failed (%s), attempt %d of %d; retry in %d s",
                    item.action,
                    _describe(exc),
                    item.attempts,
                    limit,
                    delay,
                )
            return
        self._remove(item)
        self.delivered += 1
        journal = self._journal
        if journal is None or item.stored is None:
            self._answered(item, result)
            return
        # What the answer changes (the central transaction id) and the row's removal land
        # together: a power cut leaves either the message queued or its answer applied.
        with journal.atomic():
            journal.outbox_delivered(item.stored)
            self._answered(item, result)

    def _answered(self, item: QueuedMessage, result: dict[str, Any]) -> None:
        if item.on_result is not None:
            try:
                item.on_result(result)
            except Exception:
                log.exception("handling the answer to %s failed", item.action)

    def _remove(self, item: QueuedMessage) -> None:
        if self.queue and self.queue[0] is item:
            self.queue.popleft()
        self._done += 1
        if not self.queue:
            self._emptied.set()
            if self._backlog_from is not None:
                log.info(
                    "queue emptied: %d transaction messages sent since reconnecting",
                    self._done - self._backlog_from,
                )
                self._backlog_from = None

    def _give_up(self, item: QueuedMessage, exc: BaseException) -> None:
        self._remove(item)
        self.given_up.append(item)
        if self._journal is not None and item.stored is not None:
            self._journal.outbox_give_up(item.stored)  # kept in the store, never dropped
        log.error(
            "giving up %s after %d attempts (%s): %s",
            item.action,
            item.attempts,
            _describe(exc),
            item.payload,
        )
        if item.on_give_up is not None:
            item.on_give_up()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CallErrorReceived):
        return f"CALLERROR {exc.code} {exc.description}".strip()
    if isinstance(exc, OcppError):
        return f"invalid answer: {exc.code} {exc.description}".strip()
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
