"""The standard configuration keys of OCPP 1.6 (chapter 9) as TC_019_CS checks them: which keys
each feature profile requires, the type of each value and the accessibility the specification
fixes. Written from the specification, not from any station's own table."""

from __future__ import annotations

import re

ENERGY = "Energy.Active.Import.Register"
"""The measurand a sampled value without `measurand` has ([S] 7.43), and the default of the
measurand keys when they are empty."""

# [S] 9.1.29 (SupportedFeatureProfiles): the six profile identifiers.
PROFILE_NAMES = frozenset(
    {
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    }
)
# [S] 7.31 Measurand and 7.34 Phase: what an item of a measurand CSL may be ("Voltage.L1").
MEASURANDS = frozenset(
    {
        "Current.Export",
        "Current.Import",
        "Current.Offered",
        "Energy.Active.Export.Register",
        "Energy.Active.Import.Register",
        "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register",
        "Energy.Active.Export.Interval",
        "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval",
        "Energy.Reactive.Import.Interval",
        "Frequency",
        "Power.Active.Export",
        "Power.Active.Import",
        "Power.Factor",
        "Power.Offered",
        "Power.Reactive.Export",
        "Power.Reactive.Import",
        "RPM",
        "SoC",
        "Temperature",
        "Voltage",
    }
)
PHASES = frozenset({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})
# [S] 9.1.7: `[<connector>.]<rotation>` items.
PHASE_ROTATION = re.compile(r"(?:\d+\.)?(?:NotApplicable|Unknown|RST|RTS|SRT|STR|TRS|TSR)")

REQUIRED: dict[str, dict[str, str]] = {
    "Core": {
        "AuthorizeRemoteTxRequests": "bool",
        "ClockAlignedDataInterval": "int",
        "ConnectionTimeOut": "int",
        "ConnectorPhaseRotation": "rotation",
        "GetConfigurationMaxKeys": "int",
        "HeartbeatInterval": "int",
        "LocalAuthorizeOffline": "bool",
        "LocalPreAuthorize": "bool",
        "MeterValuesAlignedData": "measurands",
        "MeterValuesSampledData": "measurands",
        "MeterValueSampleInterval": "int",
        "NumberOfConnectors": "int",
        "ResetRetries": "int",
        "StopTransactionOnInvalidId": "bool",
        "StopTxnAlignedData": "measurands",
        "StopTxnSampledData": "measurands",
        "SupportedFeatureProfiles": "profiles",
        "TransactionMessageAttempts": "int",
        "TransactionMessageRetryInterval": "int",
        "UnlockConnectorOnEVSideDisconnect": "bool",
    },
    "LocalAuthListManagement": {
        "LocalAuthListEnabled": "bool",
        "LocalAuthListMaxLength": "int",
        "SendLocalListMaxLength": "int",
    },
    "SmartCharging": {
        "ChargeProfileMaxStackLevel": "int",
        "ChargingScheduleAllowedChargingRateUnit": "rate-units",
        "ChargingScheduleMaxPeriods": "int",
        "MaxChargingProfilesInstalled": "int",
    },
    "Reservation": {},
    "FirmwareManagement": {},
    "RemoteTrigger": {},
}
"""The keys each profile requires ([S] 9.1-9.4; [E] 3.80 made StopTransactionOnEVSideDisconnect
optional), with their types: "bool", "int" (a whole number) or a CSL kind ("measurands",
"rotation", "profiles", "rate-units")."""

OPTIONAL: dict[str, str] = {
    "AllowOfflineTxForUnknownId": "bool",
    "AuthorizationCacheEnabled": "bool",
    "BlinkRepeat": "int",
    "ConnectorPhaseRotationMaxLength": "int",
    "LightIntensity": "int",
    "MaxEnergyOnInvalidId": "int",
    "MessageTimeout": "int",
    "MeterValuesAlignedDataMaxLength": "int",
    "MeterValuesSampledDataMaxLength": "int",
    "MinimumStatusDuration": "int",
    "StopTransactionOnEVSideDisconnect": "bool",
    "StopTransactionMaxMeterValues": "int",
    "StopTxnAlignedDataMaxLength": "int",
    "StopTxnSampledDataMaxLength": "int",
    "SupportedFeatureProfilesMaxLength": "int",
    "WebSocketPingInterval": "int",
    "ReserveConnectorZeroSupported": "bool",
    "ConnectorSwitch3to1PhaseSupported": "bool",
}
"""Optional keys: when a station has them, their values have the specification's type too."""

READ_ONLY = frozenset(
    {
        "GetConfigurationMaxKeys",
        "NumberOfConnectors",
        "SupportedFeatureProfiles",
        "ConnectorPhaseRotationMaxLength",
        "MeterValuesAlignedDataMaxLength",
        "MeterValuesSampledDataMaxLength",
        "StopTransactionMaxMeterValues",
        "StopTxnAlignedDataMaxLength",
        "StopTxnSampledDataMaxLength",
        "SupportedFeatureProfilesMaxLength",
        "LocalAuthListMaxLength",
        "SendLocalListMaxLength",
        "ReserveConnectorZeroSupported",
        "ChargeProfileMaxStackLevel",
        "ChargingScheduleAllowedChargingRateUnit",
        "ChargingScheduleMaxPeriods",
        "ConnectorSwitch3to1PhaseSupported",
        "MaxChargingProfilesInstalled",
    }
)
READ_WRITE = frozenset(
    {
        "ClockAlignedDataInterval",
        "ConnectionTimeOut",
        "ConnectorPhaseRotation",
        "HeartbeatInterval",
        "LocalAuthorizeOffline",
        "LocalPreAuthorize",
        "MeterValuesAlignedData",
        "MeterValuesSampledData",
        "MeterValueSampleInterval",
        "ResetRetries",
        "StopTransactionOnInvalidId",
        "StopTxnAlignedData",
        "StopTxnSampledData",
        "TransactionMessageAttempts",
        "TransactionMessageRetryInterval",
        "LocalAuthListEnabled",
    }
)
"""The accessibility the specification fixes (R, or RW). Keys where it lets the station choose
(AuthorizeRemoteTxRequests, StopTransactionOnEVSideDisconnect...) are in neither set."""


def csl(value: str | None) -> list[str]:
    """The items of a comma separated list ([S] 9: CSL)."""
    text = value or ""
    return [item.strip() for item in text.split(",")] if text.strip() else []


def type_problem(kind: str, value: object) -> str | None:
    """Why `value` is not of the configuration type `kind`, or None."""
    if not isinstance(value, str):
        return f"value {value!r} is not a string"
    if kind == "bool":
        return None if value.lower() in ("true", "false") else f"{value!r} is not a boolean"
    if kind == "int":
        return None if re.fullmatch(r"\d+", value) else f"{value!r} is not a whole number"
    items = csl(value)
    if kind == "measurands":
        for item in items:
            head, _, tail = item.rpartition(".")
            if item not in MEASURANDS and not (head in MEASURANDS and tail in PHASES):
                return f"{item!r} is not a measurand"
        return None
    if kind == "rotation":
        bad = [item for item in items if not PHASE_ROTATION.fullmatch(item)]
        return f"{bad} are not phase rotations" if bad else None
    if kind == "profiles":
        bad = [item for item in items if item not in PROFILE_NAMES]
        return f"{bad} are not feature profiles" if bad or not items else None
    if kind == "rate-units":
        bad = [item for item in items if item not in ("Current", "Power")]
        return f"{bad} are not charging rate units" if bad or not items else None
    raise ValueError(f"unknown configuration type {kind!r}")
