"""The OCPP 1.6 security extensions (security whitepaper edition 3): security profiles 0-3
(the station's link to its central system), certificate management, security events and the
security log. Installed after Remote Trigger, whose message sources ExtendedTriggerMessage
shares."""

from __future__ import annotations

from ocpp_station.profiles.remote_trigger.service import TriggerService
from ocpp_station.profiles.security.certificates import Certificates
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.profiles.security.keys import KEYS
from ocpp_station.profiles.security.link import SecurityLink
from ocpp_station.station.config_keys import SECURITY
from ocpp_station.station.profile import Composition, Profile


def install(c: Composition) -> None:
    keeper = CertificateKeeper(c.ctx.store)
    c.add(SecurityEvents(c.ctx, c.ctx.store))
    try:
        triggers: TriggerService | None = c.get(TriggerService)
    except LookupError:
        triggers = None
    certificates = c.add(Certificates(c.ctx, keeper, triggers))
    c.add(SecurityLink(c.ctx, keeper, certificates))


PROFILE = Profile(
    name=SECURITY,
    install=install,
    keys=KEYS,
    cases=None,
)
