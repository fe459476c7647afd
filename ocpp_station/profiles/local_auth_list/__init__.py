"""Local Auth List Management (OCPP 1.6 §3.5.3, §5.15, §5.10): the list of cards the central
system sends (SendLocalList, Full or Differential), its version (GetLocalListVersion), kept in
the station's store and consulted before the Authorization Cache."""

from __future__ import annotations

from ocpp_station.profiles.local_auth_list.keys import KEYS
from ocpp_station.profiles.local_auth_list.service import LocalAuthList
from ocpp_station.rpc.actions import LOCAL_AUTH_LIST_MANAGEMENT
from ocpp_station.station.authorization import AuthService
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    c.add(LocalAuthList(c.ctx, c.get(AuthService), c.ctx.store))


PROFILE = Profile(
    name=LOCAL_AUTH_LIST_MANAGEMENT,
    install=install,
    keys=KEYS,
    cases="ocpp_station.profiles.local_auth_list.cases",
)
