"""The profile's configuration keys (1.6 §9.2)."""

from __future__ import annotations

from ocpp_station.rpc.actions import LOCAL_AUTH_LIST_MANAGEMENT
from ocpp_station.station.config_keys import KeyDef

KEYS = (
    # Not on the reference (profile not claimed). Enabled by default: a central system that
    # sends a list expects it to be used.
    KeyDef("LocalAuthListEnabled", "bool", False, "true", LOCAL_AUTH_LIST_MANAGEMENT),
    # 10000 cards cover a large fleet depot; the list lives in the station's store.
    KeyDef("LocalAuthListMaxLength", "int", True, "10000", LOCAL_AUTH_LIST_MANAGEMENT),
    # One SendLocalList of 1000 entries is about 100 kB of JSON: a full list in ten requests.
    KeyDef("SendLocalListMaxLength", "int", True, "1000", LOCAL_AUTH_LIST_MANAGEMENT),
)
