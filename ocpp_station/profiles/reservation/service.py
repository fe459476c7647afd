"""ReserveNow and CancelReservation (OCPP 1.6 §5.1, §5.13), and what a reservation does to the
rest of the station: the status Reserved, who may start, the reservationId in StartTransaction.

A reservation of connector N holds that connector: Reserved while it is idle, and only the
reserved idTag or its group (§5.13: any match between the idTags and parentIdTags) may start
there. A reservation of connector 0 holds no connector in particular: the station keeps enough
idle connectors for its connector-0 reservations, so once only that many are left they show
Reserved and admit only the reserved tags (TC_049). A reservation ends when a session it
admits starts (the StartTransaction carries its id), at expiryDate (StatusNotification
Available, TC_047), when its connector becomes Faulted or Unavailable, or on
CancelReservation.

Kept in the station's RecordStore, kind `reservation`, keyed by reservationId, so a restart
finds them; one that expired meanwhile is dropped at power-up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ocpp_station.clock import Timer
from ocpp_station.profiles.reservation.book import Reservation
from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.connector import Authorization, Connector, Transaction
from ocpp_station.station.service import Payload, Service, handles
from ocpp_station.station.status import AVAILABLE, FAULTED, RESERVED, UNAVAILABLE, derive_status
from ocpp_station.storage.interface import RecordStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

KIND = "reservation"


class Reservations(Service):
    __slots__ = ("_held", "_timers", "ctx", "records")

    def __init__(self, ctx: StationContext, records: RecordStore) -> None:
        self.ctx = ctx
        self.records = records
        self._held: dict[int, Reservation] = {
            int(key): Reservation.from_record(int(key), value)
            for key, value in records.records(KIND).items()
        }
        self._timers: dict[int, Timer] = {}
        ctx.guards.add_preference(self.holds_for)
        ctx.events.transaction_starting.connect(self._starting)
        ctx.events.status_changed.connect(self._status_changed)
        ctx.events.station_status_changed.connect(self._station_changed)
        ctx.events.clock_set.connect(self._arm_all)

    # -- what is held -------------------------------------------------------------------------
    @property
    def held(self) -> Mapping[int, Reservation]:
        return self._held

    def on(self, connector_id: int) -> Reservation | None:
        """The reservation of connector `connector_id` (> 0), if any."""
        for r in self._held.values():
            if r.connector_id == connector_id:
                return r
        return None

    def _zero(self, held: Mapping[int, Reservation] | None = None) -> list[Reservation]:
        """The connector-0 reservations, the one expiring first first."""
        found = (held if held is not None else self._held).values()
        return sorted((r for r in found if r.connector_id == 0), key=lambda r: r.expiry)

    def _idle(self, c: Connector) -> bool:
        """Nothing on c at all: no cable, card, session, fault, and operative."""
        return derive_status(c, self.ctx.cp.operative) == AVAILABLE

    def _free(
        self, held: Mapping[int, Reservation] | None = None, exclude: Connector | None = None
    ) -> int:
        """How many connectors a connector-0 reservation can count on: idle, not reserved."""
        held = held if held is not None else self._held
        reserved = {r.connector_id for r in held.values()}
        return sum(
            1
            for c in self.ctx.cp
            if c is not exclude and c.connector_id not in reserved and self._idle(c)
        )

    # -- the station's moments ----------------------------------------------------------------
    def on_power_up(self, cold: bool) -> None:
        now = self.ctx.clock.now()
        for r in [r for r in self._held.values() if r.expiry <= now]:
            # Expired while the station was off: its connector is derived Available now and
            # reported so with every status after the boot.
            log.info("reservation %d expired while the station was off", r.reservation_id)
            self._forget(r.reservation_id)
        self._arm_all()

    def refine_status(self, c: Connector, status: str) -> str:
        if status != AVAILABLE:
            return status
        if self.on(c.connector_id) is not None:
            return RESERVED
        zero = len(self._zero())
        if zero and self._free() <= zero:
            return RESERVED  # one of the last idle connectors, kept for connector 0's tags
        return status

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        if auth is None:
            return None  # who comes is not known yet: the check is made when it is
        r = self.on(c.connector_id)
        if r is not None:
            if r.admits(auth):
                return None
            return f"connector {c.connector_id} is reserved (reservation {r.reservation_id})"
        zero = self._zero()
        if not zero or any(z.admits(auth) for z in zero) or not self._idle(c):
            return None
        if self._free(exclude=c) < len(zero):
            return f"connector {c.connector_id} is kept for a reservation of the station"
        return None

    def holds_for(self, c: Connector, auth: Authorization) -> bool:
        r = self.on(c.connector_id)
        return r is not None and r.admits(auth)

    def snapshot(self, view: Payload) -> None:
        zero = self._zero()
        view["connectors"][0]["reservation"] = zero[0].view() if zero else None

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        r = self.on(c.connector_id)
        entry["reservation"] = r.view() if r is not None else None

    # -- the central system's requests ------------------------------------------------------
    @handles("ReserveNow")
    def reserve(self, request: Payload) -> Payload:
        try:
            wanted = Reservation.from_request(request)
        except ValueError as exc:
            raise PropertyConstraintViolation(f"expiryDate: {exc}") from exc
        status = self._verdict(wanted)
        log.info(
            "ReserveNow %d of connector %d for %s until %s: %s",
            wanted.reservation_id,
            wanted.connector_id,
            wanted.id_tag,
            request["expiryDate"],
            status,
        )
        if status == "Accepted":
            self._hold(wanted)
        return {"status": status}

    @handles("CancelReservation")
    def cancel(self, request: Payload) -> Payload:
        reservation_id = request["reservationId"]
        if reservation_id not in self._held:
            return {"status": "Rejected"}  # §5.1, TC_052
        self._end(reservation_id, "cancelled by the central system")
        return {"status": "Accepted"}

    def _verdict(self, wanted: Reservation) -> str:
        """§5.13's answer to a ReserveNow. A request with the id of a held reservation replaces
        it, so it is judged as if that one were gone."""
        ctx = self.ctx
        if not ctx.config.get_bool("ReservationEnabled"):
            return "Rejected"
        cp = ctx.cp
        if wanted.connector_id == 0:
            if not ctx.config.get_bool("ReserveConnectorZeroSupported"):
                return "Rejected"
        elif not cp.has_connector(wanted.connector_id):
            return "Rejected"  # no such connector: nothing to reserve
        if wanted.expiry <= ctx.clock.now():
            log.info("ReserveNow %d: expiryDate has passed", wanted.reservation_id)
            return "Rejected"
        others = {k: r for k, r in self._held.items() if k != wanted.reservation_id}
        if cp.fault is not None:
            return "Faulted"
        if not cp.operative:
            return "Unavailable"
        zero = len(self._zero(others))
        if wanted.connector_id == 0:
            if self._free(others) > zero:
                return "Accepted"
            # No connector left for it: say why, as far as one reason covers them all.
            if all(c.fault is not None for c in cp):
                return "Faulted"
            if all(not c.operative for c in cp):
                return "Unavailable"
            return "Occupied"
        c = cp.connector(wanted.connector_id)
        if c.fault is not None:
            return "Faulted"
        if not c.operative:
            return "Unavailable"
        if not self._idle(c) or any(r.connector_id == c.connector_id for r in others.values()):
            return "Occupied"
        if zero and self._free(others, exclude=c) < zero:
            return "Occupied"  # the connector-0 reservations need it
        return "Accepted"

    # -- holding and ending ---------------------------------------------------------------------
    def _hold(self, r: Reservation) -> None:
        self.records.record_put(KIND, str(r.reservation_id), r.record())
        self._held[r.reservation_id] = r
        self._arm(r)
        self._refresh()

    def _forget(self, reservation_id: int) -> Reservation | None:
        r = self._held.pop(reservation_id, None)
        timer = self._timers.pop(reservation_id, None)
        if timer is not None:
            timer.cancel()
        if r is not None:
            self.records.record_delete(KIND, str(reservation_id))
        return r

    def _end(self, reservation_id: int, why: str, *, skip: int | None = None) -> None:
        if self._forget(reservation_id) is not None:
            log.info("reservation %d ended: %s", reservation_id, why)
            self._refresh(skip)

    def _refresh(self, skip: int | None = None) -> None:
        """Statuses after a change of what is held: Reserved where it now holds, Available
        where it no longer does (§5.13: the status notification of an ended reservation)."""
        status = self.ctx.status
        for c in self.ctx.cp:
            if c.connector_id != skip:
                status.update(c)

    def _arm_all(self) -> None:
        for r in self._held.values():
            self._arm(r)

    def _arm(self, r: Reservation) -> None:
        old = self._timers.pop(r.reservation_id, None)
        if old is not None:
            old.cancel()
        delay = (r.expiry - self.ctx.clock.now()).total_seconds()
        self._timers[r.reservation_id] = self.ctx.clock.call_later(
            delay, lambda: self._expired(r.reservation_id)
        )

    def _expired(self, reservation_id: int) -> None:
        self._timers.pop(reservation_id, None)
        r = self._held.get(reservation_id)
        if r is None:
            return
        if r.expiry > self.ctx.clock.now():
            self._arm(r)  # the wall clock was set back meanwhile
            return
        self._end(reservation_id, "expired")  # TC_047: back to Available, reported

    # -- what ends a reservation besides time and the central system ----------------------------
    def _starting(self, tx: Transaction) -> None:
        """A session starts: the reservation it uses ends with it, and its id goes in the
        StartTransaction (§5.13). The connector's own reservation first, then one of
        connector 0's."""
        auth = Authorization(tx.id_tag, tx.parent_id_tag, remote=False)
        mine = self.on(tx.connector_id)
        if mine is None or not mine.admits(auth):
            mine = next((z for z in self._zero() if z.admits(auth)), None)
        if mine is None:
            return
        tx.reservation_id = mine.reservation_id
        # The starting connector reports its own status once the session is there.
        self._end(mine.reservation_id, f"used by {tx.id_tag}", skip=tx.connector_id)

    def _station_changed(self, old: str, new: str) -> None:
        if new == FAULTED:
            # §5.13 (3): the charge point itself is Faulted: no reservation can be kept.
            for reservation_id in list(self._held):
                self._end(reservation_id, "the station is Faulted")

    def _status_changed(self, c: Connector, old: str | None, new: str) -> None:
        if old is None:
            return
        if new in (FAULTED, UNAVAILABLE):
            # §5.13 (3): the connector, or the whole station, became Faulted or Unavailable.
            r = self.on(c.connector_id)
            if r is not None:
                self._end(r.reservation_id, f"connector {c.connector_id} is {new}")
            if not self.ctx.cp.operative:
                for z in self._zero():
                    self._end(z.reservation_id, f"the station is {new}")
        if self._zero():
            # A connector taken or freed changes how many idle ones connector 0's
            # reservations can count on: the others may now be kept, or released.
            self._refresh(skip=c.connector_id)
