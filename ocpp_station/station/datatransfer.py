"""DataTransfer (§4.3, §5.6): vendor-specific messages both ways, handlers by vendorId."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ocpp_station.station.service import Payload, Service, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

# A handler gets (messageId, data) and returns (status, data): status one of Accepted,
# Rejected, UnknownMessageId; data None for none. A charger maker's handlers are plugged in
# with `run --datatransfer MODULE:FACTORY` (runtime.load_vendor_handlers).
VendorHandler = Callable[[str | None, str | None], tuple[str, str | None]]
STATUSES = frozenset({"Accepted", "Rejected", "UnknownMessageId"})

log = logging.getLogger("ocpp_station.station")


class DataTransferService(Service):
    __slots__ = ("_vendors", "ctx")

    def __init__(self, ctx: StationContext) -> None:
        self.ctx = ctx
        self._vendors: dict[str, VendorHandler] = {}

    def register(self, vendor_id: str, handler: VendorHandler) -> None:
        self._vendors[vendor_id] = handler

    @handles("DataTransfer")
    def handle(self, request: Payload) -> Payload:
        handler = self._vendors.get(request["vendorId"])
        if handler is None:
            return {"status": "UnknownVendorId"}  # §5.6, TC_062
        status, data = handler(request.get("messageId"), request.get("data"))
        if status not in STATUSES or (data is not None and not isinstance(data, str)):
            # A handler's mistake must not put a frame the schema forbids on the wire.
            log.error(
                "DataTransfer handler of %s answered %r: not a status of %s, or data not text",
                request["vendorId"], (status, data), sorted(STATUSES),
            )  # fmt: skip
            return {"status": "Rejected"}
        response: Payload = {"status": status}
        if data is not None:
            response["data"] = data
        return response

    async def send(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        """A DataTransfer.req to the central system (§4.3); its .conf."""
        payload: Payload = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        return await self.ctx.sender.request("DataTransfer", payload)
