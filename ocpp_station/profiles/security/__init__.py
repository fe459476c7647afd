"""The OCPP 1.6 security extensions (security whitepaper edition 3): security profiles 0-3
(the station's link to its central system), certificate management, security events and the
security log, GetLog, and signed firmware. Installed after Remote Trigger, whose message sources
ExtendedTriggerMessage shares, and after Firmware Management, whose update it signs."""

from __future__ import annotations

from ocpp_station.profiles.firmware.update import FirmwareUpdate
from ocpp_station.profiles.remote_trigger.service import (
    TriggerService,
    TriggerSource,
    any_connector,
)
from ocpp_station.profiles.security.certificates import Certificates
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.profiles.security.keys import KEYS
from ocpp_station.profiles.security.link import SecurityLink
from ocpp_station.profiles.security.logs import LogUpload
from ocpp_station.profiles.security.signed_firmware import SignedFirmware
from ocpp_station.station.config_keys import SECURITY
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    keeper = CertificateKeeper(c.ctx.store)
    events = c.add(SecurityEvents(c.ctx, c.ctx.store))
    try:
        triggers: TriggerService | None = c.get(TriggerService)
    except LookupError:
        triggers = None
    certificates = c.add(Certificates(c.ctx, keeper, triggers))
    c.add(SecurityLink(c.ctx, keeper, certificates))
    logs = c.add(LogUpload(c.ctx, events, c.ctx.ports.folder))
    try:
        firmware = c.get(FirmwareUpdate)
    except LookupError:
        firmware = None  # without Firmware Management there is no update to sign
    signed = c.add(SignedFirmware(c.ctx, keeper, firmware)) if firmware is not None else None
    if triggers is None:
        return
    # ExtendedTriggerMessage's own messages (§5.6); it shares the others with TriggerMessage.
    triggers.add_source(
        "LogStatusNotification", TriggerSource(any_connector, lambda _: logs.trigger())
    )
    if signed is not None:
        triggers.add_source(
            "SignedFirmwareStatusNotification",
            TriggerSource(any_connector, lambda _: signed.trigger()),
        )


PROFILE = Profile(
    name=SECURITY,
    install=install,
    keys=KEYS,
    cases="ocpp_station.profiles.security.cases",
)
