"""Remote Trigger (OCPP 1.6 §5.17): TriggerMessage, the central system asking the station to
send one of its messages now. No configuration keys of its own."""

from __future__ import annotations

from ocpp_station.profiles.remote_trigger.service import TriggerService
from ocpp_station.rpc.actions import REMOTE_TRIGGER
from ocpp_station.station.boot import BootService
from ocpp_station.station.metering import Metering
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    c.add(TriggerService(c.ctx, c.get(BootService), c.get(Metering)))


PROFILE = Profile(
    name=REMOTE_TRIGGER,
    install=install,
    cases="ocpp_station.profiles.remote_trigger.cases",
)
