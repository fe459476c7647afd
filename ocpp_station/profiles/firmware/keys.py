"""The profile's configuration key ([E] 3.90)."""

from __future__ import annotations

from ocpp_station.rpc.actions import FIRMWARE_MANAGEMENT
from ocpp_station.station.config_keys import KeyDef

KEYS = (
    # Not on the reference (profile not claimed). What the file-transfer port really does:
    # HTTP and HTTPS with aiohttp, FTP and FTPS (explicit TLS, passive mode) with ftplib.
    KeyDef(
        "SupportedFileTransferProtocols",
        "csl",
        True,
        "FTP,FTPS,HTTP,HTTPS",
        FIRMWARE_MANAGEMENT,
        csl_values=frozenset({"FTP", "FTPS", "HTTP", "HTTPS"}),
    ),
)
