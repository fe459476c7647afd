"""GetConfiguration (§5.8) and ChangeConfiguration (§5.3): the central system's view of the key
table (station.config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocpp_station.rpc.errors import OccurenceConstraintViolation
from ocpp_station.station.service import Payload, Service, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext


class ConfigRequests(Service):
    __slots__ = ("config",)

    def __init__(self, ctx: StationContext) -> None:
        self.config = ctx.config

    @handles("GetConfiguration")
    def get_configuration(self, request: Payload) -> Payload:
        keys = request.get("key") or None
        if keys is not None:
            # [S] 5.8: the station MAY limit how many keys one GetConfiguration.req asks for,
            # and 9.1.9 GetConfigurationMaxKeys says how many (no erratum changes either).
            # GetConfiguration.conf has no status to refuse with, and truncating would leave
            # requested keys neither in configurationKey nor in unknownKey, against 5.8's SHALL
            # for both lists. So a request over the limit is refused whole with the CALLERROR
            # for too many occurrences of a field ([J] 4.2.3, spelled as [JE] 5.1 keeps it).
            # A request without keys (get all) is not limited: 5.8 SHALL return every key.
            limit = self.config.get_int("GetConfigurationMaxKeys")
            if len(keys) > limit:
                raise OccurenceConstraintViolation(
                    f"{len(keys)} keys requested; GetConfigurationMaxKeys is {limit}"
                )
        known, unknown = self.config.get_configuration(keys)
        response: Payload = {"configurationKey": known}
        if unknown:
            response["unknownKey"] = unknown
        return response

    @handles("ChangeConfiguration")
    def change_configuration(self, request: Payload) -> Payload:
        return {"status": self.config.change(request["key"], request["value"])}
