"""An example of DataTransfer handlers plugged into the station (`run --datatransfer
ocpp_station.hardware.vendor_echo:handlers`), and a tool for a central system's tests: the
vendorId `ocpp-station.echo` answers each messageId as a charger maker's extension would.

- `echo`: Accepted, the data back as sent;
- `meter`: Accepted, the energy registers of the connectors in Wh, as JSON text;
- `reject`: Rejected;
- any other messageId: UnknownMessageId (§7.20).

A charger maker writes the same: a factory given the station's Hardware that returns
{vendorId: handler(messageId, data) -> (status, data)}.
"""

from __future__ import annotations

import json

from ocpp_station.hardware.interfaces import Hardware
from ocpp_station.station.datatransfer import VendorHandler

VENDOR_ID = "ocpp-station.echo"


def handlers(hardware: Hardware) -> dict[str, VendorHandler]:
    def answer(message_id: str | None, data: str | None) -> tuple[str, str | None]:
        if message_id == "echo":
            return "Accepted", data
        if message_id == "meter":
            registers = {
                str(c.connector_id): round(c.read_meter().energy_wh, 1) for c in hardware.connectors
            }
            return "Accepted", json.dumps(registers)
        if message_id == "reject":
            return "Rejected", None
        return "UnknownMessageId", None

    return {VENDOR_ID: answer}
