"""The configuration-key table against the specification, the digest and the product spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from ocpp.v16.enums import Measurand, Phase

from ocpp_station.profiles import INSTALLED
from ocpp_station.station.config import canonical_value
from ocpp_station.station.config_keys import (
    FEATURE_PROFILES,
    KEYS,
    MEASURANDS,
    PHASE_ROTATIONS,
    PHASES,
    PROFILES,
    KeyDef,
    StationFacts,
    authorization_key,
    local_password,
    measurand_item,
    phase_rotation_item,
    phase_rotation_list,
)

# The station's keys: the base table and those the installed profile packages declare.
TABLE = {**KEYS, **{key.name: key for profile in INSTALLED for key in profile.keys}}

# Digest §4.1 (Core) with the access this station chose where the spec allows R or RW.
CORE_ACCESS = {
    "AllowOfflineTxForUnknownId": "RW",
    "AuthorizationCacheEnabled": "RW",
    "AuthorizeRemoteTxRequests": "RW",  # R or RW: RW chosen
    "BlinkRepeat": "RW",
    "ClockAlignedDataInterval": "RW",
    "ConnectionTimeOut": "RW",
    "ConnectorPhaseRotation": "RW",
    "ConnectorPhaseRotationMaxLength": "R",
    "GetConfigurationMaxKeys": "R",
    "HeartbeatInterval": "RW",
    "LightIntensity": "RW",
    "LocalAuthorizeOffline": "RW",
    "LocalPreAuthorize": "RW",
    "MaxEnergyOnInvalidId": "RW",
    "MessageTimeout": "RW",
    "MeterValuesAlignedData": "RW",
    "MeterValuesAlignedDataMaxLength": "R",
    "MeterValuesSampledData": "RW",
    "MeterValuesSampledDataMaxLength": "R",
    "MeterValueSampleInterval": "RW",
    "MinimumStatusDuration": "RW",
    "NumberOfConnectors": "R",
    "ResetRetries": "RW",
    "StopTransactionOnEVSideDisconnect": "RW",  # R or RW ([E] 3.80): RW chosen
    "StopTransactionOnInvalidId": "RW",
    "StopTransactionMaxMeterValues": "R",
    "StopTxnAlignedData": "RW",
    "StopTxnAlignedDataMaxLength": "R",
    "StopTxnSampledData": "RW",
    "StopTxnSampledDataMaxLength": "R",
    "SupportedFeatureProfiles": "R",
    "SupportedFeatureProfilesMaxLength": "R",
    "TransactionMessageAttempts": "RW",
    "TransactionMessageRetryInterval": "RW",
    "UnlockConnectorOnEVSideDisconnect": "R",  # fixed cable: R ([E] 3.84/3.85)
    "WebSocketPingInterval": "RW",
    "AuthorizationKey": "W",
}

# Digest §4.2: key -> (profile, access).
OPTIONAL_PROFILE_KEYS = {
    "LocalAuthListEnabled": ("LocalAuthListManagement", "RW"),
    "LocalAuthListMaxLength": ("LocalAuthListManagement", "R"),
    "SendLocalListMaxLength": ("LocalAuthListManagement", "R"),
    "ReserveConnectorZeroSupported": ("Reservation", "R"),
    "ChargeProfileMaxStackLevel": ("SmartCharging", "R"),
    "ChargingScheduleAllowedChargingRateUnit": ("SmartCharging", "R"),
    "ChargingScheduleMaxPeriods": ("SmartCharging", "R"),
    "ConnectorSwitch3to1PhaseSupported": ("SmartCharging", "R"),
    "MaxChargingProfilesInstalled": ("SmartCharging", "R"),
    "SupportedFileTransferProtocols": ("FirmwareManagement", "R"),
}

# The station's own keys, outside 1.6 §9: key -> (profile, access).
OWN_KEYS = {
    "ReservationEnabled": ("Reservation", "RW"),  # TC_048_4: "configured not to accept"
}

# The security whitepaper's keys (§7), AuthorizationKey aside (a Core key): key -> access.
SECURITY_KEYS = {
    "SecurityProfile": ("Security", "RW"),
    "CpoName": ("Security", "RW"),
    "CertificateSignedMaxChainSize": ("Security", "R"),
    "CertificateStoreMaxLength": ("Security", "R"),
    "AdditionalRootCertificateCheck": ("Security", "R"),
}

# Product specification, "Configuration keys: the factory defaults" (keys the reference had).
REFERENCE_DEFAULTS = {
    "AllowOfflineTxForUnknownId": "false",
    "AuthorizationCacheEnabled": "false",
    "AuthorizeRemoteTxRequests": "true",
    "ClockAlignedDataInterval": "10000",
    "ConnectionTimeOut": "1000",
    "ConnectorPhaseRotation": "RST",
    "GetConfigurationMaxKeys": "20",
    "HeartbeatInterval": "20",
    "LocalAuthorizeOffline": "false",
    "LocalPreAuthorize": "false",
    "MeterValuesAlignedData": "Energy.Active.Import.Register",
    "MeterValuesAlignedDataMaxLength": "10000",
    "MeterValuesSampledData": "Energy.Active.Import.Register",
    "MeterValuesSampledDataMaxLength": "10000",
    "MeterValueSampleInterval": "20",
    "ResetRetries": "1",
    "StopTransactionMaxMeterValues": "2147483647",
    "StopTransactionOnEVSideDisconnect": "true",
    "StopTransactionOnInvalidId": "false",
    "StopTxnAlignedData": "Energy.Active.Import.Register",
    "StopTxnAlignedDataMaxLength": "10000",
    "StopTxnSampledData": "Energy.Active.Import.Register",
    "StopTxnSampledDataMaxLength": "10000",
    "TransactionMessageAttempts": "1",
    "TransactionMessageRetryInterval": "200",
    "UnlockConnectorOnEVSideDisconnect": "false",
}

REFERENCE = StationFacts(profiles=PROFILES, connectors=2, measurands=MEASURANDS)


def access(definition: KeyDef) -> str:
    if definition.write_only:
        return "W"
    return "R" if definition.readonly else "RW"


def test_every_core_key_is_declared_with_the_digest_access() -> None:
    for name, expected in CORE_ACCESS.items():
        assert name in TABLE, name
        assert TABLE[name].profile == "Core", name
        assert access(TABLE[name]) == expected, name


def test_every_optional_profile_key_is_declared_with_its_profile() -> None:
    for name, (profile, expected) in (OPTIONAL_PROFILE_KEYS | OWN_KEYS | SECURITY_KEYS).items():
        assert TABLE[name].profile == profile, name
        assert access(TABLE[name]) == expected, name


def test_the_table_holds_nothing_else() -> None:
    assert set(TABLE) == set(CORE_ACCESS) | set(OPTIONAL_PROFILE_KEYS) | set(OWN_KEYS) | set(
        SECURITY_KEYS
    )
    assert all(name == definition.name for name, definition in TABLE.items())


def test_defaults_are_the_reference_chargers() -> None:
    for name, value in REFERENCE_DEFAULTS.items():
        assert TABLE[name].default == value, name


def test_station_dependent_keys_are_computed_not_literal() -> None:
    for name in ("SupportedFeatureProfiles", "NumberOfConnectors"):
        assert TABLE[name].computed is not None and TABLE[name].default is None
    assert TABLE["NumberOfConnectors"].computed(REFERENCE) == "2"  # type: ignore[misc]
    # The security extensions are no feature profile (1.6 §9.1.29): never listed.
    assert TABLE["SupportedFeatureProfiles"].computed(REFERENCE) == ",".join(FEATURE_PROFILES)  # type: ignore[misc]
    assert TABLE["ConnectorPhaseRotationMaxLength"].computed(REFERENCE) == "3"  # type: ignore[misc]


def test_every_key_has_a_value_except_the_write_only_one() -> None:
    for definition in TABLE.values():
        has_value = definition.default is not None or definition.computed is not None
        assert has_value != definition.write_only, definition.name


def test_every_default_is_valid_and_already_canonical() -> None:
    def lookup(key: str) -> str | None:
        definition = TABLE.get(key)
        if definition is None:
            return None
        return definition.computed(REFERENCE) if definition.computed else definition.default

    for definition in TABLE.values():
        value = lookup(definition.name)
        if value is not None:
            assert canonical_value(definition, value, REFERENCE, lookup) == value, definition.name


def test_writable_lists_name_an_existing_max_length_key_of_their_profile() -> None:
    for definition in TABLE.values():
        if definition.type == "csl" and not definition.readonly:
            limit = TABLE[definition.max_length_key or ""]
            assert limit.type == "int" and limit.readonly, definition.name
            assert limit.profile == definition.profile, definition.name


def test_writable_integers_declare_their_lower_bound() -> None:
    for definition in TABLE.values():
        if definition.type == "int" and not definition.readonly:
            assert definition.minimum is not None and definition.minimum >= 0, definition.name


def test_no_standard_key_needs_a_reboot() -> None:
    assert not any(definition.reboot_required for definition in TABLE.values())


def test_keydef_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TABLE["HeartbeatInterval"].default = "1"  # type: ignore[misc]


def test_measurand_and_phase_names_match_the_ocpp_enums() -> None:
    assert {m.value for m in Measurand} == MEASURANDS
    assert {p.value for p in Phase} == PHASES


def test_measurand_item_is_case_insensitive_and_answers_the_enum_spelling() -> None:
    assert measurand_item("energy.active.import.REGISTER", REFERENCE) == (
        "Energy.Active.Import.Register"
    )
    assert measurand_item("SoC", REFERENCE) == "SoC"


def test_measurand_item_refuses_phases_on_a_dc_charger() -> None:
    with pytest.raises(ValueError, match="DC"):
        measurand_item("Voltage.L1", REFERENCE)
    with pytest.raises(ValueError, match="DC"):
        measurand_item("Current.Import.L2-N", REFERENCE)


def test_measurand_item_refuses_what_the_meter_cannot_report() -> None:
    meter = StationFacts(("Core",), 2, frozenset({"Energy.Active.Import.Register"}))
    with pytest.raises(ValueError, match="not a measurand"):
        measurand_item("Voltage", meter)
    with pytest.raises(ValueError, match="not a measurand"):
        measurand_item("Energy", REFERENCE)


@pytest.mark.parametrize(
    ("item", "canonical"),
    [
        ("RST", "RST"),
        ("notapplicable", "NotApplicable"),
        ("0.RST", "0.RST"),
        ("2.tsr", "2.TSR"),
        ("01.Unknown", "1.Unknown"),
    ],
)
def test_phase_rotation_items(item: str, canonical: str) -> None:
    assert phase_rotation_item(item, REFERENCE) == canonical


@pytest.mark.parametrize("item", ["3.RST", "-1.RST", "a.RST", "1.XYZ", "1.2.RST", "\u0661.RST", ""])
def test_phase_rotation_items_refused(item: str) -> None:
    with pytest.raises(ValueError):
        phase_rotation_item(item, REFERENCE)


def test_phase_rotation_names_each_connector_once() -> None:
    assert phase_rotation_list("RST,1.RTS,2.RST") == "RST,1.RTS,2.RST"
    assert phase_rotation_list("") == ""
    with pytest.raises(ValueError, match="connector 1"):
        phase_rotation_list("1.RST,1.RTS")
    with pytest.raises(ValueError, match=r"\(all\)"):
        phase_rotation_list("RST,RTS")


def test_authorization_key_is_16_to_20_bytes_in_hex() -> None:
    assert authorization_key("00112233445566778899AaBbCcDdEeFf") == (
        "00112233445566778899AaBbCcDdEeFf"
    )
    assert authorization_key("ab" * 20) == "ab" * 20
    for bad in ("ab" * 15, "ab" * 21, "abc" * 11, "zz" * 16, "new_password_12345678", ""):
        with pytest.raises(ValueError) as caught:
            authorization_key(bad)
        if bad:
            assert bad not in str(caught.value)  # a secret is never echoed


def test_local_password_takes_any_printable_text() -> None:
    assert local_password("new_password_12345678") == "new_password_12345678"
    assert local_password("p") == "p"
    for bad in ("", "tab\there", "line\n"):
        with pytest.raises(ValueError):
            local_password(bad)


# --- the per-key rules and the reasons they give -----------------------------------------------

_TWO = StationFacts(profiles=PROFILES, connectors=2, measurands=frozenset({"Voltage"}))


@pytest.mark.parametrize(
    ("check", "value", "reason"),
    [
        (authorization_key, "g" * 32, "the key must be written in hexadecimal digits"),
        (authorization_key, "a" * 33, "the key must be whole bytes (an even number of hex digits)"),
        (authorization_key, "a" * 30, "the key must be 16 to 20 bytes (32 to 40 hex digits)"),
        (authorization_key, "a" * 42, "the key must be 16 to 20 bytes (32 to 40 hex digits)"),
        (local_password, "", "the password must not be empty"),
        (local_password, "a\tb", "the password must be printable characters"),
        (phase_rotation_list, "RST,1.RST,1.STR", "connector 1 is given more than once"),
        (phase_rotation_list, "RST,STR", "connector (all) is given more than once"),
    ],
)
def test_a_key_rule_refuses_with_its_reason(
    check: Callable[[str], str], value: str, reason: str
) -> None:
    with pytest.raises(ValueError) as refused:
        check(value)
    assert str(refused.value) == reason


def test_key_rules_accept_the_edges() -> None:
    assert authorization_key("A" * 32) == "A" * 32 and authorization_key("0" * 40) == "0" * 40
    assert local_password("any printable text") == "any printable text"
    assert phase_rotation_list("") == "" and phase_rotation_list("RST,0.RTS,2.SRT")


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("1.XYZ", "'1.XYZ': rotation must be one of " + ", ".join(PHASE_ROTATIONS)),
        ("3.RST", "'3.RST': connector must be 0..2"),
    ],
)
def test_a_phase_rotation_item_says_what_is_wrong(item: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        phase_rotation_item(item, _TWO)
    assert str(refused.value) == reason


def test_a_phase_suffix_needs_a_measurand_before_it() -> None:
    with pytest.raises(ValueError) as phased:
        measurand_item("Voltage.L1", _TWO)
    assert str(phased.value) == "'Voltage.L1': a DC charger reports no phases"
    with pytest.raises(ValueError) as bare:
        measurand_item("L1", _TWO)  # a phase alone is no measurand, not a phased one
    assert str(bare.value) == "'L1' is not a measurand this station's meters report"
