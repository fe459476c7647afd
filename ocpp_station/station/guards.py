"""Whether a session may start on a connector, folded from what each service forbids.

Every service that can forbid a start (availability, a fault, the shutdown, a reset; later a
reservation for another card, a firmware installation) contributes a guard. The first guard
that objects gives the reason, which the log line and the control API show.
"""

from __future__ import annotations

from collections.abc import Callable

from ocpp_station.station.connector import Authorization, Connector

# (connector, the authorization that would start, None when not known yet) -> reason or None.
StartGuard = Callable[[Connector, Authorization | None], str | None]
# (connector, authorization) -> whether the connector is held for that authorization.
Preference = Callable[[Connector, Authorization], bool]


class StartGuards:
    __slots__ = ("_guards", "_preferences")

    def __init__(self) -> None:
        self._guards: list[StartGuard] = []
        self._preferences: list[Preference] = []

    def add(self, guard: StartGuard) -> None:
        self._guards.append(guard)

    def add_preference(self, preference: Preference) -> None:
        """A connector held for an authorization (reserved for its idTag) is where a card
        that names no connector goes first (one reader serves every connector)."""
        self._preferences.append(preference)

    def prefers(self, c: Connector, auth: Authorization) -> bool:
        return any(preference(c, auth) for preference in self._preferences)

    def why_not_start(self, c: Connector, auth: Authorization | None = None) -> str | None:
        """The reason no session may start on c now (for `auth`, when given), or None."""
        for guard in self._guards:
            reason = guard(c, auth)
            if reason is not None:
                return reason
        return None
