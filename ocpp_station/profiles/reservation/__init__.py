"""Reservation (OCPP 1.6 §3.11, §5.1, §5.13): ReserveNow holds a connector, or any connector,
for an idTag or its group until expiryDate; CancelReservation ends it. Kept in the station's
store, so a reservation outlives a restart."""

from __future__ import annotations

from ocpp_station.profiles.reservation.keys import KEYS
from ocpp_station.profiles.reservation.service import Reservations
from ocpp_station.rpc.actions import RESERVATION
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    c.add(Reservations(c.ctx, c.ctx.store))


PROFILE = Profile(
    name=RESERVATION,
    install=install,
    keys=KEYS,
    cases="ocpp_station.profiles.reservation.cases",
)
