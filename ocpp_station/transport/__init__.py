"""The station's WebSocket client: connection URL, back-off, connect/read/reconnect loop."""

from ocpp_station.rpc.ocppj import SUBPROTOCOL
from ocpp_station.transport.backoff import Backoff
from ocpp_station.transport.client import (
    HandshakeRejected,
    PongTimeout,
    StationClient,
    SubprotocolRefused,
    basic_auth_header,
)
from ocpp_station.transport.url import build_url

__all__ = [
    "SUBPROTOCOL",
    "Backoff",
    "HandshakeRejected",
    "PongTimeout",
    "StationClient",
    "SubprotocolRefused",
    "basic_auth_header",
    "build_url",
]
