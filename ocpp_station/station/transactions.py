"""Charging sessions: cards, cables, StartTransaction (§4.8) and StopTransaction (§4.10).

One RFID reader serves every connector (the reference charger's hardware), so a card that does
not name a connector is routed: to the transaction it may stop, else to the plugged connector
waiting for an idTag, else to the first free connector, which then waits for the plug.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.hardware.interfaces import MeterReading
from ocpp_station.station.authorization import ACCEPTED, IdTagInfo, same_tag
from ocpp_station.station.connector import Authorization, Connector, Transaction
from ocpp_station.storage.journal import StoredTransaction

if TYPE_CHECKING:
    from ocpp_station.station.station import Station

log = logging.getLogger("ocpp_station.station")

# The fault a connector shows after its lock did not engage (§7.6 ChargePointErrorCode).
LOCK_FAILURE: tuple[str, str | None] = ("ConnectorLockFailure", "connector did not lock")


class Sessions:
    def __init__(self, station: Station) -> None:
        self.st = station
        # A RemoteStartTransaction without connectorId: the next connector plugged takes it.
        self.unassigned: Authorization | None = None
        self._unassigned_timer: Any = None

    # -- what a connector can do now ---------------------------------------------------------
    def can_start(self, c: Connector) -> bool:
        return (
            not self.st.powering_down
            and c.fault is None
            and c.operative
            and self.st.operative
            and c.transaction is None
            and c.authorization is None
        )

    def _waiting_for_tag(self, c: Connector) -> bool:
        return self.can_start(c) and c.plugged and not c.finishing

    def _free(self, c: Connector) -> bool:
        return self.can_start(c) and not c.plugged and not c.finishing

    # -- cards --------------------------------------------------------------------------------
    def card_presented(self, id_tag: str, connector_id: int | None) -> None:
        self.st.spawn(self._card(id_tag, connector_id))

    async def _card(self, id_tag: str, connector_id: int | None) -> None:
        candidates = (
            self.st.connectors if connector_id is None else [self.st.connector(connector_id)]
        )
        # The tag that started a transaction stops it, without an Authorize (TC_068, §3.5.4).
        for c in candidates:
            if c.transaction is not None and same_tag(c.transaction.id_tag, id_tag):
                self.stop(c, "Local", id_tag)
                return
        # A second presentation of the tag a connector waits with ends that usage (B1).
        for c in candidates:
            auth = c.authorization
            if auth is not None and not c.plugged and same_tag(auth.id_tag, id_tag):
                c.authorization = None
                c.cancel_timeout()
                self.st.update_status(c)
                return
        if not self.st.boot.accepted and self.st.sender.online:
            log.info("card %s ignored: station not accepted by the central system", id_tag)
            return
        if self.st.powering_down:
            log.info("card %s refused: the station is shutting down", id_tag)
            return
        info = await self.st.auth.authorize(id_tag)
        parent = info.get("parentIdTag")
        if info["status"] != ACCEPTED:
            log.info("card %s not accepted: %s", id_tag, info["status"])
            return
        # Another card of the same group (same parentIdTag) may stop the transaction (§3.5.4).
        if parent:
            for c in candidates:
                tx = c.transaction
                if tx is not None and same_tag(tx.parent_id_tag, parent):
                    self.stop(c, "Local", id_tag)
                    return
        if self.st.powering_down:  # the shutdown began while the Authorize was out
            log.info("card %s refused: the station is shutting down", id_tag)
            return
        target = self._pick_for_start(candidates)
        if target is None:
            log.info("card %s accepted but no connector can start a session", id_tag)
            return
        self.authorized(target, id_tag, info, remote=False)

    def _pick_for_start(self, candidates: list[Connector]) -> Connector | None:
        for c in candidates:
            if self._waiting_for_tag(c):
                return c
        for c in candidates:
            if self._free(c):
                return c
        if len(candidates) == 1 and self.can_start(candidates[0]):
            return candidates[0]  # e.g. a named connector in Finishing: F2, a new session
        return None

    def authorized(self, c: Connector, id_tag: str, info: IdTagInfo, *, remote: bool) -> None:
        """An accepted idTag for connector c: start now if the EV is there, else wait for it."""
        if not self.can_start(c):
            log.info("connector %d can no longer start a session", c.connector_id)
            return
        c.authorization = Authorization(id_tag, info.get("parentIdTag"), remote)
        if c.plugged:
            if c.finishing:
                # F2: a new session on the cable still in the EV goes through Preparing.
                c.finishing = False
                self.st.update_status(c)
            self.start(c)
            return
        self._arm_timeout(c)
        self.st.update_status(c)

    # -- RemoteStartTransaction without connectorId ----------------------------------------
    def authorized_anywhere(self, id_tag: str, info: IdTagInfo) -> None:
        waiting = [c for c in self.st.connectors if self._waiting_for_tag(c)]
        if waiting:
            self.authorized(waiting[0], id_tag, info, remote=True)
            return
        self._drop_unassigned()
        self.unassigned = Authorization(id_tag, info.get("parentIdTag"), True)
        timeout = self.st.config.get_int("ConnectionTimeOut")
        self._unassigned_timer = self.st.clock.call_later(timeout, self._drop_unassigned)

    def _drop_unassigned(self) -> None:
        if self._unassigned_timer is not None:
            self._unassigned_timer.cancel()
            self._unassigned_timer = None
        self.unassigned = None

    # -- cables -------------------------------------------------------------------------------
    def cable_plugged(self, c: Connector) -> None:
        c.plugged = True
        c.ev_drawing = self.st.hw_connector(c.connector_id).ev_wants_power()
        if c.transaction is not None:
            self.st.update_status(c)  # the EV is back (StopTransactionOnEVSideDisconnect=false)
            return
        c.finishing = False
        if c.authorization is None and self.can_start(c):
            c.authorization = self._adopt_authorization(c)
        if c.authorization is not None and self.can_start_with_auth(c):
            self.start(c)
            return
        if self.can_start(c):
            self._arm_timeout(c)
        self.st.update_status(c)

    def can_start_with_auth(self, c: Connector) -> bool:
        return (
            not self.st.powering_down
            and c.fault is None
            and c.operative
            and self.st.operative
            and c.transaction is None
        )

    def _adopt_authorization(self, c: Connector) -> Authorization | None:
        if self.unassigned is not None:
            auth = self.unassigned
            self.unassigned = None
            self._drop_unassigned()
            return auth
        # A card shown before plugging waits on the first free connector; the driver may plug
        # in at another one: the authorization follows the plug (one reader, two connectors).
        for other in self.st.connectors:
            auth = other.authorization
            if other is not c and auth is not None and not other.plugged and not auth.remote:
                other.authorization = None
                other.cancel_timeout()
                self.st.update_status(other)
                return auth
        return None

    def cable_unplugged(self, c: Connector) -> None:
        c.plugged = False
        c.ev_drawing = False
        c.cancel_timeout()
        if c.lock_failed:
            self._lock_failure_resolved(c)
        tx = c.transaction
        if tx is not None:
            if self.st.config.get_bool("StopTransactionOnEVSideDisconnect"):
                self.stop(c, "EVDisconnected", info="EV side disconnected")
            else:
                # The transaction stays, energy is not offered to an absent EV (§3.7 / TC_005_3).
                self.st.update_status(c, info="EV side disconnected")
            return
        c.finishing = False
        self.st.update_status(c)

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
        c.fault = self.st.hw_connector(c.connector_id).active_fault()  # a hardware fault stays
        log.info("connector %d: cable removed, lock failure cleared", c.connector_id)

    def ev_changed(self, c: Connector, drawing: bool) -> None:
        c.ev_drawing = drawing
        self.st.update_status(c)

    # -- ConnectionTimeOut (§9.1.7, [E] 3.77) -------------------------------------------------
    def _arm_timeout(self, c: Connector) -> None:
        c.cancel_timeout()
        timeout = self.st.config.get_int("ConnectionTimeOut")
        c.timeout_timer = self.st.clock.call_later(timeout, lambda: self._timed_out(c))

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
        self.st.update_status(c)

    # -- start and stop -----------------------------------------------------------------------
    def start(self, c: Connector) -> None:
        auth = c.authorization
        assert auth is not None
        c.authorization = None
        c.cancel_timeout()
        hw = self.st.hw_connector(c.connector_id)
        if hw.has_lock and not hw.lock():
            # TC_024: a connector that does not lock faults, and no transaction starts (B9).
            log.warning("connector %d: the lock did not engage, no transaction", c.connector_id)
            c.lock_failed = True
            c.fault = LOCK_FAILURE
            self.st.update_status(c)
            return
        reading = self.st.read_meter(c.connector_id)
        tx = Transaction(
            local_id=self.st.store.next_counter("transaction"),
            connector_id=c.connector_id,
            id_tag=auth.id_tag,
            parent_id_tag=auth.parent_id_tag,
            meter_start=round(reading.energy_wh),
            start_time=self.st.clock.now(),
        )
        payload: dict[str, Any] = {
            "connectorId": c.connector_id,
            "idTag": tx.id_tag,
            "meterStart": tx.meter_start,
            "timestamp": timefmt.iso(tx.start_time),
        }
        store = self.st.store
        # The transaction and its StartTransaction are on disk before energy flows.
        with store.atomic():
            store.tx_insert(
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
            self.st.metering.transaction_started(tx, reading)
        c.transaction = tx
        c.finishing = False
        hw.set_energy_offered(True)
        c.ev_drawing = hw.ev_wants_power()
        log.info("connector %d: transaction started for %s", c.connector_id, tx.id_tag)
        self.st.physical_changed()
        self.st.update_status(c)

    def enqueue_start(self, tx: Transaction, payload: dict[str, Any]) -> None:
        self.st.sender.enqueue(
            "StartTransaction",
            payload,
            tx,
            on_result=lambda answer: self.start_answered(tx, answer),
            on_give_up=lambda: self.start_given_up(tx),
        )

    def start_given_up(self, tx: Transaction) -> None:
        tx.start_failed = True  # [E] 3.18: the follow-ups carry transactionId -1
        self.st.store.tx_update(tx.local_id, start_failed=True)

    def start_answered(self, tx: Transaction, answer: dict[str, Any]) -> None:
        tx.transaction_id = int(answer["transactionId"])
        self.st.store.tx_update(tx.local_id, transaction_id=tx.transaction_id)
        info: IdTagInfo = answer["idTagInfo"]
        self.st.auth.remember(tx.id_tag, info)
        if info["status"] == ACCEPTED or tx.ended:
            return
        c = self.st.connector(tx.connector_id)
        # [E] 3.17: applies online as well as offline.
        if self.st.config.get_bool("StopTransactionOnInvalidId"):
            self.stop(c, "DeAuthorized")
            return
        max_energy = self._max_energy_on_invalid()
        reading = self.st.read_meter(c.connector_id)
        if max_energy > 0:
            tx.invalid_at_wh = reading.energy_wh  # keep charging up to MaxEnergyOnInvalidId
            return
        self._suspend_energy(c, tx)

    def _max_energy_on_invalid(self) -> int:
        try:
            return self.st.config.get_int("MaxEnergyOnInvalidId")
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
        self.st.store.tx_update(tx.local_id, energy_suspended=True)
        self.st.hw_connector(c.connector_id).set_energy_offered(False)
        self.st.update_status(c)

    def stop(
        self, c: Connector, reason: str, id_tag: str | None = None, *, info: str | None = None
    ) -> bool:
        tx = c.transaction
        if tx is None:
            return False
        hw = self.st.hw_connector(c.connector_id)
        hw.set_energy_offered(False)
        reading = self.st.read_meter(c.connector_id)
        with self.st.store.atomic():
            self.st.metering.transaction_ending(tx, reading)
            self.enqueue_stop(
                tx,
                reason,
                id_tag or tx.id_tag,  # OCTT checks the start idTag on every stop reason
                reading.energy_wh,
                timefmt.iso(self.st.clock.now()),
            )
            # With the StopTransaction: a power cut cannot leave a register below meterStop.
            self.st.physical_changed()
        log.info("connector %d: transaction stopped (%s)", c.connector_id, reason)
        c.transaction = None
        if not hw.fixed_cable and hw.has_lock:
            keep_locked = reason == "EVDisconnected" and not self.st.config.get_bool(
                "UnlockConnectorOnEVSideDisconnect"
            )
            if not keep_locked:
                hw.unlock()
        # Finishing: the user still has to act (C6); a scheduled Unavailable waits for it (F8).
        c.finishing = True
        self.st.update_status(c, info=info)
        if not c.plugged:
            # No cable left to remove: Finishing, then Available at once (C6 then F1, the
            # order the OCTT TC_005 sequence expects after an EV-side disconnect).
            c.finishing = False
            self.st.update_status(c)
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
        data = self.st.metering.transaction_data(tx)
        if data:
            payload["transactionData"] = data
        store = self.st.store
        with store.atomic():
            store.tx_update(
                tx.local_id, ended=True, last_meter_wh=meter_wh, last_meter_time=timestamp
            )
            self.st.sender.enqueue(
                "StopTransaction",
                payload,
                tx,
                on_result=lambda answer: self.stop_answered(stop_tag, answer),
            )

    def stop_answered(self, stop_tag: str | None, answer: dict[str, Any]) -> None:
        if stop_tag:
            self.st.auth.remember(stop_tag, answer.get("idTagInfo"))
        self.st.store.tx_forget_finished()

    def stop_all(self, reason: str) -> None:
        for c in self.st.connectors:
            if c.transaction is not None:
                self.stop(c, reason)
