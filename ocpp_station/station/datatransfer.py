"""DataTransfer (§4.3, §5.6): vendor-specific messages both ways, handlers by vendorId."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A handler gets (messageId, data) and returns (status, data): status one of Accepted,
# Rejected, UnknownMessageId; data None for none.
VendorHandler = Callable[[str | None, str | None], tuple[str, str | None]]


class DataTransferService:
    def __init__(self) -> None:
        self._vendors: dict[str, VendorHandler] = {}

    def register(self, vendor_id: str, handler: VendorHandler) -> None:
        self._vendors[vendor_id] = handler

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        handler = self._vendors.get(request["vendorId"])
        if handler is None:
            return {"status": "UnknownVendorId"}  # §5.6, TC_062
        status, data = handler(request.get("messageId"), request.get("data"))
        response: dict[str, Any] = {"status": status}
        if data is not None:
            response["data"] = data
        return response
