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


class StartGuards:
    __slots__ = ("_guards",)

    def __init__(self) -> None:
        self._guards: list[StartGuard] = []

    def add(self, guard: StartGuard) -> None:
        self._guards.append(guard)

    def why_not_start(self, c: Connector, auth: Authorization | None = None) -> str | None:
        """The reason no session may start on c now (for `auth`, when given), or None."""
        for guard in self._guards:
            reason = guard(c, auth)
            if reason is not None:
                return reason
        return None
