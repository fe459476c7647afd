"""Firmware Management (OCPP 1.6 §3.7, §4.4, §4.5, §5.9, §5.19): UpdateFirmware with its
FirmwareStatusNotifications, and GetDiagnostics with its DiagnosticsStatusNotifications, over
the station's file-transfer port (HTTP, HTTPS, FTP, FTPS) and its firmware installer. Where
Remote Trigger is installed, both notifications can be triggered."""

from __future__ import annotations

from ocpp_station.profiles.firmware.diagnostics import Diagnostics
from ocpp_station.profiles.firmware.keys import KEYS
from ocpp_station.profiles.firmware.update import FirmwareUpdate
from ocpp_station.profiles.remote_trigger.service import (
    TriggerService,
    TriggerSource,
    any_connector,
)
from ocpp_station.rpc.actions import FIRMWARE_MANAGEMENT
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    folder = c.ctx.ports.folder
    update = c.add(FirmwareUpdate(c.ctx, c.ctx.store, folder))
    diagnostics = c.add(Diagnostics(c.ctx, folder))
    try:
        triggers = c.get(TriggerService)
    except LookupError:
        return  # without Remote Trigger nobody asks for them
    # §5.17: about the whole station, so a connectorId is ignored.
    triggers.add_source(
        "FirmwareStatusNotification", TriggerSource(any_connector, lambda _: update.trigger())
    )
    triggers.add_source(
        "DiagnosticsStatusNotification",
        TriggerSource(any_connector, lambda _: diagnostics.trigger()),
    )


PROFILE = Profile(
    name=FIRMWARE_MANAGEMENT,
    install=install,
    keys=KEYS,
    cases="ocpp_station.profiles.firmware.cases",
)
