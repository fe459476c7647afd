"""The profile's configuration keys (1.6 §9.3, and one of the station's own)."""

from __future__ import annotations

from ocpp_station.rpc.actions import RESERVATION
from ocpp_station.station.config_keys import KeyDef

KEYS = (
    # Not on the reference (profile not claimed). One reader serves both connectors, so a
    # reservation of "any connector" (connectorId 0) fits the station.
    KeyDef("ReserveConnectorZeroSupported", "bool", True, "true", RESERVATION),
    # The station's own key, not in 1.6 (named as 2.0.1's ReservationCtrlr.Enabled): false
    # makes every ReserveNow Rejected, "configured not to accept reservations" (§5.13), for a
    # site that must never hold a connector back (TC_048_4, TC_050_4).
    KeyDef("ReservationEnabled", "bool", False, "true", RESERVATION),
)
