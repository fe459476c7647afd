"""What the station says of itself in BootNotification.req (§6.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class BootInfo:
    vendor: str
    model: str
    serial: str | None = None
    firmware: str | None = None
    charge_box_serial: str | None = None
    meter_type: str | None = None
    meter_serial: str | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"chargePointVendor": self.vendor, "chargePointModel": self.model}
        optional = {
            "chargePointSerialNumber": self.serial,
            "chargeBoxSerialNumber": self.charge_box_serial,
            "firmwareVersion": self.firmware,
            "meterType": self.meter_type,
            "meterSerialNumber": self.meter_serial,
        }
        payload.update({k: v for k, v in optional.items() if v})
        return payload
