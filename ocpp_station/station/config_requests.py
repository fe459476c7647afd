"""GetConfiguration (§5.8) and ChangeConfiguration (§5.3): the central system's view of the key
table (station.config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocpp_station.station.service import Payload, Service, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext


class ConfigRequests(Service):
    __slots__ = ("config",)

    def __init__(self, ctx: StationContext) -> None:
        self.config = ctx.config

    @handles("GetConfiguration")
    def get_configuration(self, request: Payload) -> Payload:
        # [S] 5.8 lets a station limit the keys of one request (9.1.9 GetConfigurationMaxKeys
        # states the limit), but the .conf has no status to refuse with, 5.8 SHALL answer
        # every requested key, and central systems' onboarding scripts ask for 25-40 at once:
        # the limit is advertised, never enforced. A key asked twice is answered once.
        keys = request.get("key") or None
        known, unknown = self.config.get_configuration(keys)
        response: Payload = {"configurationKey": known}
        if unknown:
            response["unknownKey"] = unknown
        return response

    @handles("ChangeConfiguration")
    def change_configuration(self, request: Payload) -> Payload:
        return {"status": self.config.change(request["key"], request["value"])}
