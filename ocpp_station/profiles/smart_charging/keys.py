"""The profile's configuration keys (1.6 §9.4)."""

from __future__ import annotations

from ocpp_station.rpc.actions import SMART_CHARGING
from ocpp_station.station.config_keys import KeyDef

KEYS = (
    # Not on the reference (profile not claimed); values chosen for the profile store:
    # stack levels 0..10 per purpose,
    KeyDef("ChargeProfileMaxStackLevel", "int", True, "10", SMART_CHARGING),
    # a DC charger limits by current or power alike ([E] 3.88: Current = A, Power = W),
    KeyDef(
        "ChargingScheduleAllowedChargingRateUnit",
        "csl",
        True,
        "Current,Power",
        SMART_CHARGING,
        csl_values=frozenset({"Current", "Power"}),
    ),
    # a day in half-hour periods,
    KeyDef("ChargingScheduleMaxPeriods", "int", True, "48", SMART_CHARGING),
    # DC has no phases to switch ([E] 4.28: boolean),
    KeyDef("ConnectorSwitch3to1PhaseSupported", "bool", True, "false", SMART_CHARGING),
    # and room for every stack level of two purposes on each of two connectors, plus the
    # station-wide ChargePointMaxProfile levels: (11 + 11) * 2 + 11 = 55 <= 64.
    KeyDef("MaxChargingProfilesInstalled", "int", True, "64", SMART_CHARGING),
)
