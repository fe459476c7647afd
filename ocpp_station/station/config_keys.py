"""Every standard OCPP 1.6 configuration key, declared once as data.

GetConfiguration, ChangeConfiguration, the `--config` option, persistence, the control API and
the conformance report all read this table (`KEYS`); no key is special-cased elsewhere.

Sources: 1.6 §9 (Core and the optional profiles), errata v4.0 (MessageTimeout 3.83,
StopTransactionMaxMeterValues 3.91, SupportedFileTransferProtocols 3.90, the R/RW relaxations
3.80 and 3.84/3.85), OCPP-J errata 3.12 and security §7.2 (AuthorizationKey).
Defaults are the reference charger's factory values (product specification); where the
reference did not have the key, the comment beside it says why the value was chosen.

A key is visible (known to the central system) only while its owning profile is implemented;
keys whose value depends on the station itself (connector count, implemented profiles) are
`computed` from `StationFacts` instead of carrying a literal default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

KeyType = Literal["bool", "int", "csl", "string"]

CORE = "Core"
FIRMWARE_MANAGEMENT = "FirmwareManagement"
LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
RESERVATION = "Reservation"
SMART_CHARGING = "SmartCharging"
REMOTE_TRIGGER = "RemoteTrigger"
SECURITY = "Security"

# 1.6 §9.1.29: the six profile identifiers, in the order SupportedFeatureProfiles lists them.
FEATURE_PROFILES: tuple[str, ...] = (
    CORE,
    FIRMWARE_MANAGEMENT,
    LOCAL_AUTH_LIST_MANAGEMENT,
    RESERVATION,
    SMART_CHARGING,
    REMOTE_TRIGGER,
)
# What a station can implement: the feature profiles and the security whitepaper's extensions,
# whose keys (whitepaper §7) show only where they are built in. The extensions are no feature
# profile of 1.6 §9.1.29, so SupportedFeatureProfiles never names them.
PROFILES: tuple[str, ...] = (*FEATURE_PROFILES, SECURITY)

# 1.6 §7.31 Measurand. Written out rather than imported from the `ocpp` package: importing its
# enums pulls in every v16 message class (about 0.1 s), too much for a configuration table.
MEASURANDS: frozenset[str] = frozenset(
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

# 1.6 §7.34 Phase: the suffixes a measurand item may carry on an AC station ("Voltage.L1").
PHASES: frozenset[str] = frozenset(
    {"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"}
)

# 1.6 §9.1.7: the rotation a ConnectorPhaseRotation item names.
PHASE_ROTATIONS: tuple[str, ...] = (
    "NotApplicable",
    "Unknown",
    "RST",
    "RTS",
    "SRT",
    "STR",
    "TRS",
    "TSR",
)

# Integer values travel in OCPP messages (BootNotification interval, ...) as 32-bit integers;
# a key without a declared maximum is capped there.
INT32_MAX = 2_147_483_647

# 1.6 §7.29 KeyValue.value and §6.9 ChangeConfiguration.value are CiString500.
MAX_VALUE_LENGTH = 500

_HEX = re.compile(r"[0-9A-Fa-f]+")
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() would also pass non-ASCII digits


@dataclass(frozen=True, slots=True)
class StationFacts:
    """What the station is, as far as configuration keys depend on it."""

    profiles: tuple[str, ...]  # implemented feature profiles, in PROFILES order
    connectors: int  # physical connectors, numbered 1..connectors
    measurands: frozenset[str]  # measurands the station's meters can report


@dataclass(frozen=True, slots=True)
class KeyDef:
    name: str
    type: KeyType
    readonly: bool
    default: str | None  # None: computed from the station, or (write-only) unset until written
    profile: str
    reboot_required: bool = False  # ChangeConfiguration answers RebootRequired
    write_only: bool = False  # never read back over OCPP
    minimum: int | None = None
    maximum: int | None = None  # None: INT32_MAX
    csl_values: frozenset[str] | None = None  # allowed items, None = any
    # The key giving the most items the CSL may hold, e.g. MeterValuesSampledDataMaxLength.
    max_length_key: str | None = None
    validator: Callable[[str], str] | None = None  # extra check: canonical value or ValueError
    # Per-item check of a CSL that depends on the station (its meters, its connectors):
    # returns the canonical item or raises ValueError.
    item_validator: Callable[[str, StationFacts], str] | None = None
    # The value, for read-only keys that describe the station itself.
    computed: Callable[[StationFacts], str] | None = None
    # Replaces `validator` for values set locally (the command line), which may be laxer.
    local_validator: Callable[[str], str] | None = None


# --- per-key rules ---------------------------------------------------------------------------


def measurand_item(item: str, facts: StationFacts) -> str:
    """One item of a measurand list: a measurand the station's meters report.

    Case-insensitive (the value is a CiString500), answered in the enum's spelling.
    """
    folded = item.casefold()
    for measurand in facts.measurands:
        if measurand.casefold() == folded:
            return measurand
    head, _, tail = item.rpartition(".")
    if tail.upper() in PHASES and head:
        # The station is a DC charger: every 1.6 §7.34 phase names an AC conductor, so a phased
        # measurand could never be reported, and 1.6 §3.16.4 says an unsupported measurand in
        # the list makes the change Rejected.
        raise ValueError(f"{item!r}: a DC charger reports no phases")
    raise ValueError(f"{item!r} is not a measurand this station's meters report")


_ROTATION_BY_FOLDED = {rotation.casefold(): rotation for rotation in PHASE_ROTATIONS}


def phase_rotation_item(item: str, facts: StationFacts) -> str:
    """One ConnectorPhaseRotation item: `RST` or `<connector>.RST` (1.6 §9.1.7).

    A bare rotation applies to every connector the list does not name; index 0 is the grid
    connection to the main meter, 1..N the connectors.
    """
    index, dot, rotation = item.rpartition(".")
    canonical = _ROTATION_BY_FOLDED.get(rotation.casefold())
    if canonical is None:
        raise ValueError(f"{item!r}: rotation must be one of {', '.join(PHASE_ROTATIONS)}")
    if not dot:
        return canonical
    if not _DIGITS.fullmatch(index) or not 0 <= int(index) <= facts.connectors:
        raise ValueError(f"{item!r}: connector must be 0..{facts.connectors}")
    return f"{int(index)}.{canonical}"


def phase_rotation_list(value: str) -> str:
    """A connector may appear once in ConnectorPhaseRotation (bare items count as one)."""
    seen: set[str] = set()
    for item in value.split(",") if value else ():
        index = item.rpartition(".")[0]
        if index in seen:
            raise ValueError(f"connector {index or '(all)'} is given more than once")
        seen.add(index)
    return value


def authorization_key(value: str) -> str:
    """The Basic-auth password as the central system sends it (ChangeConfiguration).

    Security §2.3.1 A00.FR.205 and §7.2: at least 16 bytes, at most 20, written as hexadecimal
    (up to 40 hex digits; OCPP-J §6 and [JE] 3.12 say the same). The messages never echo
    the value: it is a secret.
    """
    if not _HEX.fullmatch(value):
        raise ValueError("the key must be written in hexadecimal digits")
    if len(value) % 2:
        raise ValueError("the key must be whole bytes (an even number of hex digits)")
    if not 32 <= len(value) <= 40:
        raise ValueError("the key must be 16 to 20 bytes (32 to 40 hex digits)")
    return value  # used verbatim as the password: case is kept


def local_password(value: str) -> str:
    """The password given on the command line (`--password`): any printable text.

    The installer's password is whatever the central system was set up with, which need not
    follow the hex format a central system must use over OCPP.
    """
    if not value:
        raise ValueError("the password must not be empty")
    if not value.isprintable():
        raise ValueError("the password must be printable characters")
    return value


def _supported_profiles(facts: StationFacts) -> str:
    return ",".join(p for p in facts.profiles if p in FEATURE_PROFILES)


def _number_of_connectors(facts: StationFacts) -> str:
    return str(facts.connectors)


def _phase_rotation_max_length(facts: StationFacts) -> str:
    # One item per connector plus index 0 for the grid connection (1.6 §9.1.7).
    return str(facts.connectors + 1)


# --- the table -------------------------------------------------------------------------------


def _measurand_list(name: str) -> KeyDef:
    """A measurand CSL (1.6 §9.1.15/17/25/27): RW, items the meters report, capped by its
    `<name>MaxLength` key. Default Energy.Active.Import.Register (1.6 §9.1.17). An empty
    value is allowed and means no measurands."""
    return KeyDef(
        name,
        "csl",
        False,
        "Energy.Active.Import.Register",
        CORE,
        max_length_key=f"{name}MaxLength",
        item_validator=measurand_item,
    )


_DEFINITIONS: tuple[KeyDef, ...] = (
    # 1.6 §9.1 Core, with the errata v4.0 additions.
    KeyDef("AllowOfflineTxForUnknownId", "bool", False, "false", CORE),
    # Present (a cache exists) but off: ClearCache answers Accepted, not Rejected ([E] 3.23).
    KeyDef("AuthorizationCacheEnabled", "bool", False, "false", CORE),
    KeyDef("AuthorizeRemoteTxRequests", "bool", False, "true", CORE),
    # Not on the reference; three blinks is enough to be seen without becoming a nuisance.
    KeyDef("BlinkRepeat", "int", False, "3", CORE, minimum=0),
    # 0 disables (1.6 §9.1.5); the intervals divide a day, so one day is the longest.
    KeyDef("ClockAlignedDataInterval", "int", False, "10000", CORE, minimum=0, maximum=86400),
    # 1.6 §9.1.6 gives 0 no "disabled" meaning: it would cancel every session the moment it
    # enters Preparing, so a timeout of at least one second is required.
    KeyDef("ConnectionTimeOut", "int", False, "1000", CORE, minimum=1),
    # The reference reports RST where NotApplicable would be the textbook DC value; we keep RST.
    KeyDef(
        "ConnectorPhaseRotation",
        "csl",
        False,
        "RST",
        CORE,
        max_length_key="ConnectorPhaseRotationMaxLength",
        validator=phase_rotation_list,
        item_validator=phase_rotation_item,
    ),
    KeyDef(
        "ConnectorPhaseRotationMaxLength",
        "int",
        True,
        None,
        CORE,
        computed=_phase_rotation_max_length,
    ),
    KeyDef("GetConfigurationMaxKeys", "int", True, "20", CORE),
    # 1.6 §9.1.10 sets no lower bound; 0 means the station sends no heartbeats of its own.
    KeyDef("HeartbeatInterval", "int", False, "20", CORE, minimum=0),
    # Not on the reference; full brightness until an operator dims it.
    KeyDef("LightIntensity", "int", False, "100", CORE, minimum=0, maximum=100),
    KeyDef("LocalAuthorizeOffline", "bool", False, "false", CORE),
    KeyDef("LocalPreAuthorize", "bool", False, "false", CORE),
    # Not on the reference; no energy at all once the central system invalidates the idTag.
    KeyDef("MaxEnergyOnInvalidId", "int", False, "0", CORE, minimum=0),
    # [E] 3.83. Not on the reference; 30 s leaves the 10 s response limit of the PICS three
    # times over, and a timeout of 0 would fail every request, so at least one second.
    KeyDef("MessageTimeout", "int", False, "30", CORE, minimum=1),
    _measurand_list("MeterValuesAlignedData"),
    KeyDef("MeterValuesAlignedDataMaxLength", "int", True, "10000", CORE),
    _measurand_list("MeterValuesSampledData"),
    KeyDef("MeterValuesSampledDataMaxLength", "int", True, "10000", CORE),
    # 0 disables (1.6 §9.1.19); -1 is Rejected (TC_040_2).
    KeyDef("MeterValueSampleInterval", "int", False, "20", CORE, minimum=0),
    # Not on the reference; 0 reports every status change at once ([E] 3.19).
    KeyDef("MinimumStatusDuration", "int", False, "0", CORE, minimum=0),
    KeyDef("NumberOfConnectors", "int", True, None, CORE, computed=_number_of_connectors),
    KeyDef("ResetRetries", "int", False, "1", CORE, minimum=0),
    # [E] 3.80 allows R or RW; RW, since nothing (such as Eichrecht) forbids it here.
    KeyDef("StopTransactionOnEVSideDisconnect", "bool", False, "true", CORE),
    KeyDef("StopTransactionOnInvalidId", "bool", False, "false", CORE),
    # [E] 3.91.
    KeyDef("StopTransactionMaxMeterValues", "int", True, "2147483647", CORE),
    _measurand_list("StopTxnAlignedData"),
    KeyDef("StopTxnAlignedDataMaxLength", "int", True, "10000", CORE),
    _measurand_list("StopTxnSampledData"),
    KeyDef("StopTxnSampledDataMaxLength", "int", True, "10000", CORE),
    KeyDef(
        "SupportedFeatureProfiles",
        "csl",
        True,
        None,
        CORE,
        csl_values=frozenset(FEATURE_PROFILES),
        computed=_supported_profiles,
    ),
    # [E] 3.81 says it need not exist; it costs nothing and there are six profile identifiers.
    KeyDef("SupportedFeatureProfilesMaxLength", "int", True, str(len(FEATURE_PROFILES)), CORE),
    # Total tries (digest §3.2); 0 tries would discard a transaction message unsent, losing
    # billing data, so at least one.
    KeyDef("TransactionMessageAttempts", "int", False, "1", CORE, minimum=1),
    KeyDef("TransactionMessageRetryInterval", "int", False, "200", CORE, minimum=0),
    # [E] 3.84/3.85: a station with fixed cables always reports false and refuses changes.
    KeyDef("UnlockConnectorOnEVSideDisconnect", "bool", True, "false", CORE),
    # OCPP-J §7 (1.6 §9.1.34): 0 = no client ping, negative Rejected. Not on the reference;
    # a ping a minute keeps NAT mappings open and notices a dead connection within a minute.
    KeyDef("WebSocketPingInterval", "int", False, "60", CORE, minimum=0),
    # [JE] 3.12, security §7.2. Write-only, unset until written. The OCPP-J key list has no
    # profile of its own; it belongs with Core because `--password` must always be storable.
    KeyDef(
        "AuthorizationKey",
        "string",
        False,
        None,
        CORE,
        write_only=True,
        validator=authorization_key,
        local_validator=local_password,
    ),
)

KEYS: dict[str, KeyDef] = {definition.name: definition for definition in _DEFINITIONS}

if len(KEYS) != len(_DEFINITIONS):
    raise RuntimeError("a configuration key is declared twice")

# Remote Trigger (1.6 §9) defines no configuration keys. The keys of a profile that has become
# a package (ocpp_station/profiles) live there: Local Auth List Management's.

# The socket variant (outlets with a lock, `--socket`): the cable belongs to the driver, so
# unlocking it when the EV side is unplugged is a real choice ([E] 3.84 only fixes it for
# fixed cables); unlocking by default lets the driver take the cable home.
SOCKET_KEYS: dict[str, KeyDef] = {
    **KEYS,
    "UnlockConnectorOnEVSideDisconnect": replace(
        KEYS["UnlockConnectorOnEVSideDisconnect"], readonly=False, default="true"
    ),
}
