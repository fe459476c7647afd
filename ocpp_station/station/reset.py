"""Reset (§5.14): answer first, stop the transactions, deliver what can be, then reboot."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.transactions import Sessions

log = logging.getLogger("ocpp_station.station")

# How long a reset waits for the StopTransaction messages to be answered before rebooting; what
# is not delivered by then stays queued and goes after the next BootNotification (§5.14).
DRAIN_SECONDS = 10.0


class ResetService(Service):
    __slots__ = ("ctx", "resetting", "sessions")

    def __init__(self, ctx: StationContext, sessions: Sessions) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.resetting = False

    @handles("Reset")
    def reset(self, request: Payload) -> Payload:
        if self.resetting:
            return {"status": "Rejected"}
        return {"status": "Accepted"}

    @after("Reset")
    def after_reset(self, request: Payload, response: Payload) -> None:
        if response.get("status") != "Accepted":
            return
        self.resetting = True
        kind = request["type"]
        reason = "SoftReset" if kind == "Soft" else "HardReset"
        # §5.14: both kinds stop transactions before resetting; OCTT TC_015 expects the Hard
        # reset to do it gracefully too, with reason HardReset. No new session starts meanwhile.
        self.sessions.close("a reset is under way")
        self.sessions.stop_all(reason)
        self.ctx.spawn(self._reboot(kind, reason))

    async def _reboot(self, kind: str, reason: str) -> None:
        sender = self.ctx.sender
        if sender.open:
            await sender.drain(DRAIN_SECONDS)
        log.info("%s reset: rebooting", kind)
        self.sessions.stop_all(reason)  # whatever still runs ends with the reset
        self.resetting = False
        await self.ctx.reboot(kind)
