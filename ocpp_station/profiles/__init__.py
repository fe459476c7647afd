"""The profiles a station is built with: the one list that decides what it implements.

Each entry is a profile package (its services, keys, storage and conformance cases); the
station routes, lists in SupportedFeatureProfiles and shows the keys of exactly these. Adding a
profile is one line here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocpp_station.profiles.firmware import PROFILE as FIRMWARE
from ocpp_station.profiles.local_auth_list import PROFILE as LOCAL_AUTH_LIST
from ocpp_station.profiles.remote_trigger import PROFILE as REMOTE_TRIGGER
from ocpp_station.profiles.reservation import PROFILE as RESERVATION
from ocpp_station.profiles.security import PROFILE as SECURITY
from ocpp_station.profiles.smart_charging import PROFILE as SMART_CHARGING
from ocpp_station.station.config import Configuration
from ocpp_station.station.core import PROFILE as CORE
from ocpp_station.station.metering import reportable
from ocpp_station.station.profile import Profile
from ocpp_station.storage.interface import ConfigStore

INSTALLED: tuple[Profile, ...] = (
    CORE,
    LOCAL_AUTH_LIST,
    RESERVATION,
    SMART_CHARGING,
    REMOTE_TRIGGER,
    FIRMWARE,  # after Remote Trigger, which it lets trigger its notifications
    SECURITY,  # after Remote Trigger, whose sources ExtendedTriggerMessage shares
)


def names(profiles: Sequence[Profile] = INSTALLED) -> tuple[str, ...]:
    """The feature profile identifiers, for SupportedFeatureProfiles (§9.1.29)."""
    return tuple(p.name for p in profiles)


def configuration(
    *,
    connectors: int,
    measurands: frozenset[str],
    store: ConfigStore | None = None,
    fixed_cable: bool = True,
    profiles: Sequence[Profile] = INSTALLED,
) -> Configuration:
    """The configuration of a station built with `profiles`: their keys, nothing else, and
    the measurands meters reporting `measurands` let the station report."""
    return Configuration(
        profiles=names(profiles),
        connectors=connectors,
        measurands=reportable(measurands),
        store=store,
        fixed_cable=fixed_cable,
        extra_keys=tuple(key for p in profiles for key in p.keys),
    )
