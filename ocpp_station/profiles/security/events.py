"""Security events (whitepaper §8, use case A04): every event goes to the station's rolling
security log (A04.FR.04), and to the central system in a SecurityEventNotification.req.

Every event is queued like a transaction message: kept across a power cut and delivered once
the station is accepted (A04.FR.02 asks it of the critical ones; the test tool expects the
non-critical InvalidChargePointCertificate and InvalidCentralSystemCertificate to arrive as well,
TC_077, TC_078). Any service raises one through the station's `security_event` signal; the
station's own moments (a cold start, a reset) are raised here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from ocpp_station import timefmt
from ocpp_station.station.service import Service
from ocpp_station.storage.interface import CounterStore, RecordStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

# Whitepaper §8: every security event, and whether it is critical.
EVENTS: dict[str, bool] = {
    "FirmwareUpdated": True,
    "FailedToAuthenticationAtCentralSystem": False,
    "CentralSystemFailedToAuthentication": False,
    "SettingSystemTime": True,
    "StartupOfTheDevice": True,
    "ResetOrReboot": True,
    "SecurityLogWasCleared": True,
    "ReconfigurationOfSecurityParameters": False,
    "MemoryExhaustion": True,
    "InvalidMessages": False,
    "AttemptedReplayAttacks": False,
    "TamperDetectionActivated": True,
    "InvalidFirmwareSignature": False,
    "InvalidFirmwareSigningCertificate": False,
    "InvalidCentralSystemCertificate": False,
    "InvalidChargePointCertificate": False,
    "InvalidTLSVersion": False,
    "InvalidTLSCipherSuite": False,
}

LOG_KIND = "security_log"
# The rolling security log keeps this many events; the oldest go first.
LOG_SIZE = 1000
# SecurityEventNotification.req: type string[0..50], techInfo string[0..255].
TECH_INFO_MAX = 255


class SecurityStore(RecordStore, CounterStore, Protocol):
    """What the security log needs of a store."""


class SecurityEvents(Service):
    __slots__ = ("ctx", "records")

    def __init__(self, ctx: StationContext, records: SecurityStore) -> None:
        self.ctx = ctx
        self.records = records
        ctx.events.security_event.connect(self.raise_event)

    def on_power_up(self, cold: bool) -> None:
        if cold:
            self.raise_event("StartupOfTheDevice", None)

    def on_reboot(self) -> None:
        self.raise_event("ResetOrReboot", None)

    def raise_event(self, kind: str, tech_info: str | None) -> None:
        """Log the event and send it (queued). ValueError for a type the whitepaper lacks."""
        critical = EVENTS.get(kind)
        if critical is None:
            raise ValueError(f"{kind!r} is not a security event of the whitepaper's table")
        now = timefmt.iso(self.ctx.clock.now())
        info = tech_info[:TECH_INFO_MAX] if tech_info else None
        log.log(
            logging.WARNING if critical else logging.INFO,
            "security event %s%s",
            kind,
            f": {info}" if info else "",
        )
        payload: dict[str, str] = {"type": kind, "timestamp": now}
        if info:
            payload["techInfo"] = info
        with self.records.atomic():
            number = self.records.next_counter(LOG_KIND)
            self.records.record_put(LOG_KIND, f"{number:012d}", payload)
            if number > LOG_SIZE:
                self.records.record_delete(LOG_KIND, f"{number - LOG_SIZE:012d}")
            self.ctx.sender.enqueue("SecurityEventNotification", payload, None)

    def entries(self) -> list[dict[str, str]]:
        """The security log, oldest first, as SecurityEventNotification payloads."""
        return list(self.records.records(LOG_KIND).values())

    def lines(self) -> list[tuple[str, str]]:
        """The security log, oldest first: (timestamp, line)."""
        return [
            (
                value["timestamp"],
                f"{value['type']}" + (f" {value['techInfo']}" if "techInfo" in value else ""),
            )
            for value in self.records.records(LOG_KIND).values()
        ]
