"""A minimal central system for load tests: canned answers (server.py), a ledger of
transactions (ledger.py), a small HTTP API (api.py), on websockets or picows (picows.py); cheap
enough to take ten thousand stations. `ocpp-station csms-minimal` runs it (cli.py)."""

from ocpp_station.csms.minimal.api import MinimalApi
from ocpp_station.csms.minimal.cli import build_parser, main
from ocpp_station.csms.minimal.ledger import Ledger, StationLedger
from ocpp_station.csms.minimal.server import MinimalCentralSystem, MinimalServer

__all__ = [
    "Ledger",
    "MinimalApi",
    "MinimalCentralSystem",
    "MinimalServer",
    "StationLedger",
    "build_parser",
    "main",
]
