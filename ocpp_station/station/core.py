"""The Core profile (1.6 §4-5): the services every station has, in the order they are built.

Order matters twice: a service's peers are built before it, and the power-up hooks run in this
order (availability and the hardware's state are known before recovery stops the transactions
a power cut interrupted).
"""

from __future__ import annotations

from ocpp_station.station.authorization import AuthService
from ocpp_station.station.availability import Availability
from ocpp_station.station.boot import BootService
from ocpp_station.station.config_keys import CORE
from ocpp_station.station.config_requests import ConfigRequests
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.station.hardware_events import HardwareEvents
from ocpp_station.station.metering import Metering
from ocpp_station.station.profile import Composition, Profile
from ocpp_station.station.recovery import Recovery
from ocpp_station.station.remote import RemoteControl
from ocpp_station.station.reset import ResetService
from ocpp_station.station.transactions import Sessions


def install(c: Composition) -> None:
    ctx = c.ctx
    store = ctx.store
    c.add(BootService(ctx))
    c.add(ConfigRequests(ctx))
    auth = c.add(AuthService(ctx, store))
    c.add(Metering(ctx, store))
    sessions = c.add(Sessions(ctx, auth, store))
    c.add(Availability(ctx, sessions, store))
    c.add(HardwareEvents(ctx, sessions))
    c.add(Recovery(ctx, sessions, store))
    c.add(RemoteControl(ctx, auth, sessions))
    c.add(ResetService(ctx, sessions))
    c.add(DataTransferService(ctx))


# Core's keys are the base table of station.config_keys, its conformance cases the library's
# own (ocpp_station/conformance/cases).
PROFILE = Profile(name=CORE, install=install)
