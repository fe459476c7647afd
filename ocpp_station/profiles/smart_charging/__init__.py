"""Smart Charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): charging profiles the central system
sets and clears, the composite schedule it asks for, and the limit in force that the hardware
follows. Kept in the station's store, so profiles outlive a restart ([E] 3.37)."""

from __future__ import annotations

from ocpp_station.profiles.smart_charging.keys import KEYS
from ocpp_station.profiles.smart_charging.service import SmartCharging
from ocpp_station.rpc.actions import SMART_CHARGING
from ocpp_station.station.profile import Composition, Profile
from ocpp_station.station.remote import RemoteControl


def install(c: Composition) -> None:
    service = c.add(SmartCharging(c.ctx, c.ctx.store))
    c.get(RemoteControl).profile_taker = service


PROFILE = Profile(
    name=SMART_CHARGING,
    install=install,
    keys=KEYS,
    cases="ocpp_station.profiles.smart_charging.cases",
)
