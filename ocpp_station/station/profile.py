"""A profile: a package of services, keys and conformance cases the station can install.

`ocpp_station.profiles.INSTALLED` lists the profiles a station is built with; that tuple is
the one place that decides SupportedFeatureProfiles, the configuration keys and the routing.
A profile's `install` builds its services into the Composition, taking the peers it needs
from the services installed before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ocpp_station.station.config_keys import KeyDef
from ocpp_station.station.context import StationContext
from ocpp_station.station.service import Service

S = TypeVar("S", bound=Service)


class Composition:
    """The services of one station, built profile by profile."""

    __slots__ = ("ctx", "services")

    def __init__(self, ctx: StationContext) -> None:
        self.ctx = ctx
        self.services: list[Service] = []

    def add(self, service: S) -> S:
        self.services.append(service)
        return service

    def get(self, kind: type[S]) -> S:
        """The installed service of type `kind` (a peer of the one being built)."""
        for service in self.services:
            if isinstance(service, kind):
                return service
        raise LookupError(f"{kind.__name__} is not installed (install its profile first)")


@dataclass(frozen=True, slots=True)
class Profile:
    # The OCPP 1.6 feature profile identifier (§9.1.29) this package implements.
    name: str
    install: Callable[[Composition], None]
    # Its configuration keys; the Core's are the base table (station.config_keys).
    keys: tuple[KeyDef, ...] = ()
    # The module of its conformance cases (ocpp_station.conformance), if any.
    cases: str | None = None
