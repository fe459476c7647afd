"""Reset (§5.14): answer first, stop the transactions, deliver what can be, then reboot."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocpp_station.station.station import Station

log = logging.getLogger("ocpp_station.station")

# How long a reset waits for the StopTransaction messages to be answered before rebooting; what
# is not delivered by then stays queued and goes after the next BootNotification (§5.14).
DRAIN_SECONDS = 10.0


class ResetService:
    def __init__(self, station: Station) -> None:
        self.st = station
        self.resetting = False

    def reset(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.resetting:
            return {"status": "Rejected"}
        return {"status": "Accepted"}

    def after_reset(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        if response.get("status") != "Accepted":
            return
        self.resetting = True
        kind = request["type"]
        # §5.14: both kinds stop transactions before resetting; OCTT TC_015 expects the Hard
        # reset to do it gracefully too, with reason HardReset.
        self.st.sessions.stop_all("SoftReset" if kind == "Soft" else "HardReset")
        self.st.spawn(self._reboot(kind))

    async def _reboot(self, kind: str) -> None:
        if self.st.sender.open:
            await self.st.sender.drain(DRAIN_SECONDS)
        log.info("%s reset: rebooting", kind)
        self.resetting = False
        await self.st.request_reboot(kind)
