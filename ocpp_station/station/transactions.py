"""Charging sessions: cards, cables, StartTransaction (§4.8) and StopTransaction (§4.10).

One RFID reader serves every connector (the reference charger's hardware), so a card that does
not name a connector is routed: to the transaction it may stop, else to the plugged connector
waiting for an idTag, else to the first free connector, which then waits for the plug.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.hardware.interfaces import CardOutcome, MeterReading
from ocpp_station.station.authorization import ACCEPTED, AuthService, IdTagInfo, same_tag
from ocpp_station.station.connector import Authorization, Connector, Transaction
from ocpp_station.station.metering import transaction_data
from ocpp_station.station.service import Payload, Service
from ocpp_station.station.status import CHARGING, PREPARING, transition_code
from ocpp_station.storage.interface import TransactionStore
from ocpp_station.storage.journal import StoredTransaction

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

# The fault a connector shows after its lock did not engage (§7.6 ChargePointErrorCode).
LOCK_FAILURE: tuple[str, str | None] = ("ConnectorLockFailure", "connector did not lock")
# How often the meter is read while a transaction may go on up to MaxEnergyOnInvalidId.
ENERGY_WATCH = 1.0


class Sessions(Service):
    __slots__ = ("_unassigned_timer", "auth", "closed", "ctx", "journal", "unassigned")

    def __init__(self, ctx: StationContext, auth: AuthService, journal: TransactionStore) -> None:
        self.ctx = ctx
        self.auth = auth
        self.journal = journal
        # A RemoteStartTransaction without connectorId: the next connector plugged takes it.
        self.unassigned: Authorization | None = None
        self._unassigned_timer: Any = None
        # Why no new session may start anywhere now (a shutdown, a reset under way), or None.
        self.closed: str | None = None
        ctx.events.meter_sampled.connect(self.check_energy_limit)
        ctx.events.status_changed.connect(self._status_changed)

    # -- the station's moments -----------------------------------------------------------------
    def on_reboot(self) -> None:
        self._drop_unassigned()
        self.closed = None
        for c in self.ctx.cp:
            c.cancel_timeout()
            c.authorization = None

    def on_power_down(self) -> None:
        """From the first moment no new session starts: one begun in the grace time would be
        cut off at once with another PowerLoss stop. A RemoteStartTransaction is Rejected, a
        card is refused with a log line, and an idTag accepted earlier (waiting for the plug,
        or for its Authorize) starts nothing."""
        self.close("the station is shutting down")
        self.stop_all("PowerLoss")

    def close(self, reason: str) -> None:
        """No new session from now until the next reboot (a shutdown, a reset, §5.14)."""
        self.closed = reason

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        if self.closed is not None:
            return self.closed
        if c.fault is not None:
            return f"connector {c.connector_id} is faulted ({c.fault[0]})"
        return None

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        tx = c.transaction
        if tx is not None:
            entry["transactionId"] = tx.transaction_id
            entry["idTag"] = tx.id_tag
        else:
            entry["transactionId"] = None
            entry["idTag"] = c.authorization.id_tag if c.authorization is not None else None

    # -- what a connector can do now ---------------------------------------------------------
    def why_not_start(self, c: Connector, auth: Authorization | None = None) -> str | None:
        """Why no new session can start on c now (busy, or a guard objects), or None.
        With `auth`, for that idTag (a reservation admits only its own)."""
        if c.transaction is not None:
            return f"connector {c.connector_id} has a transaction"
        if c.authorization is not None:
            return f"connector {c.connector_id} already waits with an idTag"
        return self.ctx.guards.why_not_start(c, auth)

    def can_start(self, c: Connector, auth: Authorization | None = None) -> bool:
        return self.why_not_start(c, auth) is None

    def _waiting_for_tag(self, c: Connector, auth: Authorization | None = None) -> bool:
        return self.can_start(c, auth) and c.plugged and not c.finishing

    def _free(self, c: Connector, auth: Authorization | None = None) -> bool:
        return self.can_start(c, auth) and not c.plugged and not c.finishing

    # -- cards --------------------------------------------------------------------------------
    def card_presented(self, id_tag: str, connector_id: int | None) -> asyncio.Task[CardOutcome]:
        """The card's work, which ends with what it did (for the one who showed it)."""
        return self.ctx.spawn(self._card(id_tag, connector_id))

    async def _card(self, id_tag: str, connector_id: int | None) -> CardOutcome:
        cp = self.ctx.cp
        candidates = cp.connectors if connector_id is None else [cp.connector(connector_id)]
        # The tag that started a transaction stops it, without an Authorize (TC_068, §3.5.4).
        for c in candidates:
            if c.transaction is not None and same_tag(c.transaction.id_tag, id_tag):
                return self._stopped_by_card(c, id_tag)
        # A second presentation of the tag a connector waits with ends that usage (B1).
        for c in candidates:
            auth = c.authorization
            if auth is not None and not c.plugged and same_tag(auth.id_tag, id_tag):
                c.authorization = None
                c.cancel_timeout()
                self.ctx.status.update(c)
                return {"outcome": "ended", "connectorId": c.connector_id}
        sender = self.ctx.sender
        if sender.online and not sender.accepted:
            log.info("card %s ignored: station not accepted by the central system", id_tag)
            return {"outcome": "ignored", "reason": "the central system has not accepted it"}
        if self.closed is not None:
            log.info("card %s refused: %s", id_tag, self.closed)
            return {"outcome": "refused", "reason": self.closed}
        info = await self.auth.authorize(id_tag)
        parent = info.get("parentIdTag")
        if info["status"] != ACCEPTED:
            log.info("card %s not accepted: %s", id_tag, info["status"])
            return {"outcome": "rejected", "status": info["status"]}
        # Another card of the same group (same parentIdTag) may stop the transaction (§3.5.4).
        if parent:
            for c in candidates:
                tx = c.transaction
                if tx is not None and same_tag(tx.parent_id_tag, parent):
                    return self._stopped_by_card(c, id_tag)
        if self.closed is not None:  # a shutdown or reset began while the Authorize was out
            log.info("card %s refused: %s", id_tag, self.closed)
            return {"outcome": "refused", "reason": self.closed}
        auth = Authorization(id_tag, parent, remote=False)
        target = self._pick_for_start(candidates, auth)
        if target is None:
            reasons = "; ".join(str(self.why_not_start(c, auth)) for c in candidates)
            log.info("card %s accepted but no connector can start a session: %s", id_tag, reasons)
            return {"outcome": "noConnector", "status": ACCEPTED, "reason": reasons}
        self.authorized(target, id_tag, info, remote=False)
        done: CardOutcome = {"status": ACCEPTED, "connectorId": target.connector_id}
        if target.transaction is not None:
            return {"outcome": "started", **done}
        if target.authorization is not None:
            return {"outcome": "waitingForCable", **done}
        reason = self.why_not_start(target, auth) or "the connector cannot start a session now"
        return {"outcome": "noConnector", **done, "reason": reason}

    def _stopped_by_card(self, c: Connector, id_tag: str) -> CardOutcome:
        tx = c.transaction
        assert tx is not None
        self.stop(c, "Local", id_tag)
        return {
            "outcome": "stopped",
            "connectorId": c.connector_id,
            "transactionId": tx.transaction_id,
        }

    def _pick_for_start(self, candidates: list[Connector], auth: Authorization) -> Connector | None:
        # A connector held for this card (its reservation) first, then as the reader routes.
        held = [c for c in candidates if self.ctx.guards.prefers(c, auth)]
        ordered = held + [c for c in candidates if c not in held]
        for c in ordered:
            if self._waiting_for_tag(c, auth):
                return c
        for c in ordered:
            if self._free(c, auth):
                return c
        if len(candidates) == 1 and self.can_start(candidates[0], auth):
            return candidates[0]  # e.g. a named connector in Finishing: F2, a new session
        return None

    def authorized(self, c: Connector, id_tag: str, info: IdTagInfo, *, remote: bool) -> None:
        """An accepted idTag for connector c: start now if the EV is there, else wait for it."""
        auth = Authorization(id_tag, info.get("parentIdTag"), remote)
        reason = self.why_not_start(c, auth)
        if reason is not None:
            log.info("connector %d can no longer start a session: %s", c.connector_id, reason)
            return
        c.authorization = auth
        if c.plugged:
            if c.finishing:
                # F2: a new session on the cable still in the EV goes through Preparing.
                c.finishing = False
                self.ctx.status.update(c)
            self.start(c)
            return
        self._arm_timeout(c)
        self.ctx.status.update(c)

    # -- RemoteStartTransaction without connectorId ----------------------------------------
    def authorized_anywhere(self, id_tag: str, info: IdTagInfo) -> None:
        auth = Authorization(id_tag, info.get("parentIdTag"), True)
        waiting = [c for c in self.ctx.cp if self._waiting_for_tag(c, auth)]
        if waiting:
            self.authorized(waiting[0], id_tag, info, remote=True)
            return
        self._drop_unassigned()
        self.unassigned = auth
        timeout = self.ctx.config.get_int("ConnectionTimeOut")
        self._unassigned_timer = self.ctx.clock.call_later(timeout, self._drop_unassigned)

    def _drop_unassigned(self) -> None:
        if self._unassigned_timer is not None:
            self._unassigned_timer.cancel()
            self._unassigned_timer = None
        self.unassigned = None

    # -- cables -------------------------------------------------------------------------------
    def cable_plugged(self, c: Connector) -> None:
        c.plugged = True
        c.ev_drawing = self.ctx.hw(c.connector_id).ev_wants_power()
        if c.transaction is not None:
            self.ctx.status.update(c)  # the EV is back (StopTransactionOnEVSideDisconnect=false)
            return
        c.finishing = False
        if c.authorization is None and self.can_start(c):
            c.authorization = self._adopt_authorization(c)
        if c.authorization is not None and self.can_start_with_auth(c):
            if transition_code(c.status, CHARGING) is None:
                # §4.9 has no way from the status shown (Reserved) straight to a session: the
                # plug's own status goes first (G2), then the session's (B3).
                self.ctx.status.update(c)
            self.start(c)
            return
        if self.can_start(c):
            self._arm_timeout(c)
        self.ctx.status.update(c)

    def can_start_with_auth(self, c: Connector) -> bool:
        """The authorization c waits with may start a session now."""
        return c.transaction is None and self.ctx.guards.why_not_start(c, c.authorization) is None

    def _adopt_authorization(self, c: Connector) -> Authorization | None:
        # Only an authorization that may start here: a connector reserved for another idTag
        # leaves it where it waits.
        guards = self.ctx.guards
        if self.unassigned is not None and guards.why_not_start(c, self.unassigned) is None:
            auth = self.unassigned
            self.unassigned = None
            self._drop_unassigned()
            return auth
        # A card shown before plugging waits on the first free connector; the driver may plug
        # in at another one: the authorization follows the plug (one reader, two connectors).
        for other in self.ctx.cp:
            waiting = other.authorization
            if (
                other is not c
                and waiting is not None
                and not other.plugged
                and not waiting.remote
                and guards.why_not_start(c, waiting) is None
            ):
                other.authorization = None
                other.cancel_timeout()
                self.ctx.status.update(other)
                return waiting
        return None

    def cable_unplugged(self, c: Connector) -> None:
        c.plugged = False
        c.ev_drawing = False
        c.cancel_timeout()
        if c.lock_failed:
            self._lock_failure_resolved(c)
        tx = c.transaction
        if tx is not None:
            if self.ctx.config.get_bool("StopTransactionOnEVSideDisconnect"):
                self.stop(c, "EVDisconnected", info="EV side disconnected")
            else:
                # The transaction stays, energy is not offered to an absent EV (§3.7 / TC_005_3).
                self.ctx.status.update(c, info="EV side disconnected")
            return
        c.finishing = False
        self.ctx.status.update(c)

    def _lock_failure_resolved(self, c: Connector) -> None:
        """The cable whose lock failed is gone: the ConnectorLockFailure is resolved.

        The failure belonged to that usage: with the cable out there is nothing left to hold,
        and the usage the fault interrupted has ended as B1 ends one ("plug removed", §4.9). So
        the fault is resolved and the status returns to what it would be without it (§4.9
        I1-I8: Available, or Unavailable if an availability change came meanwhile). The station
        cannot sense a repaired lock without driving it, so the next session start tries the
        lock again, and a lock still jammed faults again (TC_024). While Faulted nothing can
        start on the connector (TC_026), so the cable must go first.
        """
        c.lock_failed = False
        c.sense_fault(self.ctx.hw(c.connector_id).active_fault())  # a hardware fault stays
        log.info("connector %d: cable removed, lock failure cleared", c.connector_id)

    def ev_changed(self, c: Connector, drawing: bool) -> None:
        c.ev_drawing = drawing
        self.ctx.status.update(c)

    def end_waiting(self, c: Connector) -> None:
        """End a usage that has no transaction (the connector is made unavailable, §5.2).

        §4.9 has no way from Preparing to Unavailable: a card waiting for the cable is
        withdrawn (B1, Available, before the change shows), and a cable waiting for a card
        is to be taken away (B6, Finishing, as after ConnectionTimeOut, [E] 3.20)."""
        if c.transaction is not None or c.status != PREPARING:
            return
        c.cancel_timeout()
        c.authorization = None
        if c.plugged:
            c.finishing = True
        self.ctx.status.update(c)

    # -- ConnectionTimeOut (§9.1.7, [E] 3.77) -------------------------------------------------
    def _status_changed(self, c: Connector, old: str | None, new: str) -> None:
        # Every entry into Preparing starts the wait: by card, by cable, by a connector made
        # operative with its cable in (H2), or at power-up with a cable still in.
        if new == PREPARING and c.transaction is None and c.timeout_timer is None:
            self._arm_timeout(c)

    def _arm_timeout(self, c: Connector) -> None:
        c.cancel_timeout()
        timeout = self.ctx.config.get_int("ConnectionTimeOut")
        c.timeout_timer = self.ctx.clock.call_later(timeout, lambda: self._timed_out(c))

    def _timed_out(self, c: Connector) -> None:
        c.timeout_timer = None
        if c.transaction is not None:
            return
        if c.authorization is not None and not c.plugged:
            log.info("connector %d: no plug within ConnectionTimeOut", c.connector_id)
            c.authorization = None  # B1: back to Available
        elif c.plugged and c.authorization is None:
            log.info("connector %d: no idTag within ConnectionTimeOut", c.connector_id)
            c.finishing = True  # B6 ([E] 3.20): a card must not start on this cable now
        self.ctx.status.update(c)

    # -- start and stop -----------------------------------------------------------------------
    def start(self, c: Connector) -> None:
        auth = c.authorization
        assert auth is not None
        c.authorization = None
        c.cancel_timeout()
        hw = self.ctx.hw(c.connector_id)
        if hw.has_lock and not hw.lock():
            # TC_024: a connector that does not lock faults, and no transaction starts (B9).
            log.warning("connector %d: the lock did not engage, no transaction", c.connector_id)
            c.lock_failed = True
            c.fault = LOCK_FAILURE
            self.ctx.status.update(c)
            return
        reading = hw.read_meter()
        journal = self.journal
        tx = Transaction(
            local_id=journal.next_counter("transaction"),
            connector_id=c.connector_id,
            id_tag=auth.id_tag,
            parent_id_tag=auth.parent_id_tag,
            meter_start=round(reading.energy_wh),
            start_time=self.ctx.clock.now(),
        )
        # The transaction and its StartTransaction are on disk before energy flows.
        with journal.atomic():
            # A reservation this start uses ends with it, in the same store transaction.
            self.ctx.events.transaction_starting.emit(tx)
            payload: dict[str, Any] = {
                "connectorId": c.connector_id,
                "idTag": tx.id_tag,
                "meterStart": tx.meter_start,
                "timestamp": timefmt.iso(tx.start_time),
            }
            if tx.reservation_id is not None:
                payload["reservationId"] = tx.reservation_id  # §5.13, §6.45
            journal.tx_insert(
                StoredTransaction(
                    local_id=tx.local_id,
                    connector_id=tx.connector_id,
                    id_tag=tx.id_tag,
                    parent_id_tag=tx.parent_id_tag,
                    meter_start=tx.meter_start,
                    start_time=payload["timestamp"],
                    transaction_id=None,
                    start_failed=False,
                    reservation_id=tx.reservation_id,
                    energy_suspended=False,
                    last_meter_wh=reading.energy_wh,
                    last_meter_time=payload["timestamp"],
                    ended=False,
                )
            )
            self.enqueue_start(tx, payload)
            self.ctx.events.transaction_started.emit(tx, reading)
        c.transaction = tx
        c.finishing = False
        hw.set_energy_offered(True)
        c.ev_drawing = hw.ev_wants_power()
        log.info("connector %d: transaction started for %s", c.connector_id, tx.id_tag)
        self.ctx.events.physical_changed.emit()
        self.ctx.status.update(c)

    def enqueue_start(self, tx: Transaction, payload: dict[str, Any]) -> None:
        self.ctx.sender.enqueue(
            "StartTransaction",
            payload,
            tx,
            on_result=lambda answer: self.start_answered(tx, answer),
            on_give_up=lambda: self.start_given_up(tx),
        )

    def start_given_up(self, tx: Transaction) -> None:
        tx.start_failed = True  # [E] 3.18: the follow-ups carry transactionId -1
        self.journal.tx_update(tx.local_id, start_failed=True)

    def start_answered(self, tx: Transaction, answer: dict[str, Any]) -> None:
        tx.transaction_id = int(answer["transactionId"])
        info: IdTagInfo = answer["idTagInfo"]
        parent = info.get("parentIdTag")
        if parent and not same_tag(parent, tx.parent_id_tag):
            # §3.10: the group of the transaction is what the central system says, whatever
            # path started it (a remote start without Authorize knows no parent).
            tx.parent_id_tag = parent
            self.journal.tx_update(
                tx.local_id, transaction_id=tx.transaction_id, parent_id_tag=parent
            )
        else:
            self.journal.tx_update(tx.local_id, transaction_id=tx.transaction_id)
        self.auth.remember(tx.id_tag, info)
        if info["status"] == ACCEPTED or tx.ended:
            return
        c = self.ctx.cp.connector(tx.connector_id)
        # [E] 3.17: applies online as well as offline.
        if self.ctx.config.get_bool("StopTransactionOnInvalidId"):
            self.stop(c, "DeAuthorized")
            return
        max_energy = self._max_energy_on_invalid()
        reading = self.ctx.read_meter(c.connector_id)
        if max_energy > 0:
            tx.invalid_at_wh = reading.energy_wh  # keep charging up to MaxEnergyOnInvalidId
            self._watch_energy(c, tx)
            return
        self._suspend_energy(c, tx)

    def _watch_energy(self, c: Connector, tx: Transaction) -> None:
        """Read the meter every ENERGY_WATCH seconds until MaxEnergyOnInvalidId is reached:
        the limit holds whatever MeterValueSampleInterval says (sampling may be off)."""

        def check() -> None:
            tx.energy_timer = None
            if tx.ended or tx.energy_suspended:
                return
            self.check_energy_limit(c, self.ctx.read_meter(c.connector_id))
            if not tx.energy_suspended:
                tx.energy_timer = self.ctx.clock.call_later(ENERGY_WATCH, check)

        tx.energy_timer = self.ctx.clock.call_later(ENERGY_WATCH, check)

    def _max_energy_on_invalid(self) -> int:
        try:
            return self.ctx.config.get_int("MaxEnergyOnInvalidId")
        except KeyError:
            return 0

    def check_energy_limit(self, c: Connector, reading: MeterReading) -> None:
        tx = c.transaction
        if tx is None or tx.invalid_at_wh is None or tx.energy_suspended:
            return
        if reading.energy_wh - tx.invalid_at_wh >= self._max_energy_on_invalid():
            self._suspend_energy(c, tx)

    def _suspend_energy(self, c: Connector, tx: Transaction) -> None:
        tx.energy_suspended = True  # C5: the EVSE no longer offers energy
        self.journal.tx_update(tx.local_id, energy_suspended=True)
        self.ctx.hw(c.connector_id).set_energy_offered(False)
        self.ctx.status.update(c)

    def stop(
        self, c: Connector, reason: str, id_tag: str | None = None, *, info: str | None = None
    ) -> bool:
        tx = c.transaction
        if tx is None:
            return False
        if tx.energy_timer is not None:
            tx.energy_timer.cancel()
            tx.energy_timer = None
        hw = self.ctx.hw(c.connector_id)
        hw.set_energy_offered(False)
        reading = hw.read_meter()
        events = self.ctx.events
        with self.journal.atomic():
            events.transaction_ending.emit(tx, reading)
            self.enqueue_stop(
                tx,
                reason,
                id_tag or tx.id_tag,  # OCTT checks the start idTag on every stop reason
                reading.energy_wh,
                timefmt.iso(self.ctx.clock.now()),
            )
            # With the StopTransaction: a power cut cannot leave a register below meterStop.
            events.physical_changed.emit()
        log.info("connector %d: transaction stopped (%s)", c.connector_id, reason)
        c.transaction = None
        if not hw.fixed_cable and hw.has_lock:
            keep_locked = reason == "EVDisconnected" and not self.ctx.config.get_bool(
                "UnlockConnectorOnEVSideDisconnect"
            )
            if not keep_locked:
                hw.unlock()
        # Finishing: the user still has to act (C6); a scheduled Unavailable waits for it (F8).
        c.finishing = True
        self.ctx.status.update(c, info=info)
        if not c.plugged:
            # No cable left to remove: Finishing, then Available at once (C6 then F1, the
            # order the OCTT TC_005 sequence expects after an EV-side disconnect).
            c.finishing = False
            self.ctx.status.update(c)
        events.transaction_ended.emit(c, tx, reason)
        return True

    def enqueue_stop(
        self, tx: Transaction, reason: str, stop_tag: str, meter_wh: float, timestamp: str
    ) -> None:
        """Mark the transaction ended and queue its StopTransaction, as one durable step."""
        tx.ended = True
        payload: dict[str, Any] = {
            "transactionId": tx.wire_id if tx.wire_id is not None else -1,
            "idTag": stop_tag,
            "meterStop": round(meter_wh),
            "timestamp": timestamp,
            "reason": reason,
        }
        data = transaction_data(tx, self.ctx.config)
        if data:
            payload["transactionData"] = data
        journal = self.journal
        with journal.atomic():
            journal.tx_update(
                tx.local_id, ended=True, last_meter_wh=meter_wh, last_meter_time=timestamp
            )
            self.ctx.sender.enqueue(
                "StopTransaction",
                payload,
                tx,
                on_result=lambda answer: self.stop_answered(stop_tag, answer),
            )

    def stop_answered(self, stop_tag: str | None, answer: dict[str, Any]) -> None:
        if stop_tag:
            self.auth.remember(stop_tag, answer.get("idTagInfo"))
        self.journal.tx_forget_finished()

    def stop_all(self, reason: str) -> None:
        for c in self.ctx.cp:
            if c.transaction is not None:
                self.stop(c, reason)
