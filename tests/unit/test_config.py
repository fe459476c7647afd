"""Configuration: ChangeConfiguration, GetConfiguration, --config, persistence, subscribers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ocpp_station.profiles import INSTALLED
from ocpp_station.station.config import ConfigError, Configuration, canonical_value
from ocpp_station.station.config_keys import KEYS, MEASURANDS, PROFILES, KeyDef, StationFacts
from ocpp_station.storage import StationStore

ENERGY = "Energy.Active.Import.Register"
DC_METER = frozenset({ENERGY, "Power.Active.Import", "Current.Import", "Voltage", "SoC"})


# The keys the profile packages declare (shown only where their profile is listed).
PACKAGE_KEYS = tuple(key for profile in INSTALLED for key in profile.keys)


def core(**kwargs: object) -> Configuration:
    arguments: dict[str, object] = {
        "profiles": ["Core"],
        "connectors": 2,
        "measurands": DC_METER,
        "extra_keys": PACKAGE_KEYS,
    }
    arguments.update(kwargs)
    return Configuration(**arguments)  # type: ignore[arg-type]


class MemoryStore:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def load_config(self) -> dict[str, str]:
        return dict(self.values)

    def save_config(self, key: str, value: str) -> None:
        self.values[key] = value


class BrokenStore(MemoryStore):
    def save_config(self, key: str, value: str) -> None:
        raise OSError("disk full")


def table_with(*changed: KeyDef, without: tuple[str, ...] = ()) -> dict[str, KeyDef]:
    table = {name: d for name, d in KEYS.items() if name not in without}
    for definition in changed:
        table[definition.name] = definition
    return table


# --- reading ---------------------------------------------------------------------------------


def test_defaults_and_typed_reads() -> None:
    config = core()
    assert config.get("HeartbeatInterval") == "20"
    assert config.get_int("HeartbeatInterval") == 20
    assert config.get_bool("AuthorizeRemoteTxRequests") is True
    assert config.get_bool("LocalPreAuthorize") is False
    assert config.get_list("MeterValuesSampledData") == [ENERGY]
    assert config.get("NumberOfConnectors") == "2"
    assert config.get("SupportedFeatureProfiles") == "Core"


def test_computed_keys_follow_the_station() -> None:
    config = core(profiles=["RemoteTrigger", "SmartCharging", "Core"], connectors=4)
    # Listed in the specification's order whatever the order given.
    assert config.get_list("SupportedFeatureProfiles") == ["Core", "SmartCharging", "RemoteTrigger"]
    assert config.get_int("NumberOfConnectors") == 4
    assert config.get_int("ConnectorPhaseRotationMaxLength") == 5


def test_unknown_and_invisible_keys_raise_key_error() -> None:
    config = core()
    for key in ("Testing", "LocalAuthListEnabled", "SupportedFileTransferProtocols"):
        with pytest.raises(KeyError):
            config.get(key)
        with pytest.raises(KeyError):
            config.get_int(key)


def test_typed_read_of_the_wrong_type_is_a_type_error() -> None:
    config = core()
    with pytest.raises(TypeError, match="HeartbeatInterval is int-typed, not bool"):
        config.get_bool("HeartbeatInterval")
    with pytest.raises(TypeError):
        config.get_int("LocalPreAuthorize")
    with pytest.raises(TypeError):
        config.get_list("HeartbeatInterval")


def test_get_list_returns_a_fresh_list() -> None:
    config = core()
    config.get_list("MeterValuesSampledData").append("junk")
    assert config.get_list("MeterValuesSampledData") == [ENERGY]


def test_write_only_key_reads_empty_until_written() -> None:
    config = core()
    assert config.get("AuthorizationKey") == ""
    assert config.change("AuthorizationKey", "ab" * 16) == "Accepted"
    assert config.get("AuthorizationKey") == "ab" * 16


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"profiles": ["Core", "Billing"]}, "unknown feature profile"),
        ({"profiles": ["SmartCharging"]}, "Core"),
        ({"connectors": 0}, "positive"),
        ({"connectors": True}, "positive"),
        ({"measurands": frozenset({ENERGY, "Energy"})}, "not OCPP 1.6 measurands"),
        ({"measurands": frozenset({"Voltage"})}, "default of MeterValuesAlignedData"),
    ],
)
def test_construction_refuses_impossible_stations(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        core(**arguments)


# --- ChangeConfiguration ---------------------------------------------------------------------


def test_unknown_key_is_not_supported_tc_040_1() -> None:
    assert core().change("Testing", "1") == "NotSupported"


def test_negative_sample_interval_is_rejected_tc_040_2() -> None:
    config = core()
    assert config.change("MeterValueSampleInterval", "-1") == "Rejected"
    assert config.get_int("MeterValueSampleInterval") == 20


def test_sample_interval_changes_and_reads_back_tc_021() -> None:
    config = core()
    assert config.change("MeterValueSampleInterval", "30") == "Accepted"
    assert config.get_configuration(["MeterValueSampleInterval"])[0] == [
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "30"}
    ]
    assert config.change("MeterValueSampleInterval", "20") == "Accepted"
    assert config.get_int("MeterValueSampleInterval") == 20


def test_key_names_are_case_insensitive() -> None:
    config = core()
    assert config.change("heartbeatINTERVAL", "300") == "Accepted"
    assert config.get_int("HeartbeatInterval") == 300


@pytest.mark.parametrize(
    "key",
    [
        "NumberOfConnectors",
        "GetConfigurationMaxKeys",
        "SupportedFeatureProfiles",
        "UnlockConnectorOnEVSideDisconnect",
        "StopTransactionMaxMeterValues",
        "MeterValuesSampledDataMaxLength",
    ],
)
def test_read_only_keys_are_rejected_and_unchanged(key: str) -> None:
    config = core()
    before = config.get(key)
    assert config.change(key, before) == "Rejected"
    assert config.change(key, "true" if key.startswith("Unlock") else "5") == "Rejected"
    assert config.get(key) == before


@pytest.mark.parametrize(
    ("raw", "stored"), [("TRUE", "true"), ("False", "false"), (" true ", "true")]
)
def test_booleans_are_case_insensitive_and_stored_lowercase(raw: str, stored: str) -> None:
    store = MemoryStore()
    config = core(store=store)
    assert config.change("LocalPreAuthorize", raw) == "Accepted"
    assert config.get("LocalPreAuthorize") == stored
    assert store.values["LocalPreAuthorize"] == stored
    assert config.get_bool("LocalPreAuthorize") is (stored == "true")


@pytest.mark.parametrize("raw", ["yes", "1", "", "truee", "t"])
def test_non_booleans_are_rejected(raw: str) -> None:
    config = core()
    assert config.change("LocalPreAuthorize", raw) == "Rejected"
    assert config.get("LocalPreAuthorize") == "false"


@pytest.mark.parametrize(
    ("raw", "stored"), [("30", "30"), (" 45 ", "45"), ("007", "7"), ("0", "0")]
)
def test_integers_are_stored_canonically(raw: str, stored: str) -> None:
    config = core()
    assert config.change("HeartbeatInterval", raw) == "Accepted"
    assert config.get("HeartbeatInterval") == stored


@pytest.mark.parametrize("raw", ["abc", "1.5", "1e3", "1_000", "+5", "", "\u0663", "2147483648"])
def test_non_integers_are_rejected(raw: str) -> None:
    config = core()
    assert config.change("HeartbeatInterval", raw) == "Rejected"
    assert config.get("HeartbeatInterval") == "20"


@pytest.mark.parametrize(
    ("key", "bad", "good"),
    [
        ("ClockAlignedDataInterval", "-1", "0"),
        ("ClockAlignedDataInterval", "86401", "86400"),
        ("ConnectionTimeOut", "0", "1"),
        ("HeartbeatInterval", "-1", "0"),
        ("LightIntensity", "101", "100"),
        ("LightIntensity", "-1", "0"),
        ("MessageTimeout", "0", "1"),
        ("TransactionMessageAttempts", "0", "1"),
        ("TransactionMessageRetryInterval", "-1", "0"),
        ("WebSocketPingInterval", "-1", "0"),
        ("MinimumStatusDuration", "-5", "5"),
        ("ResetRetries", "-1", "0"),
        ("BlinkRepeat", "-1", "0"),
        ("MaxEnergyOnInvalidId", "-1", "0"),
        ("MeterValueSampleInterval", "2147483648", "2147483647"),
    ],
)
def test_integer_ranges(key: str, bad: str, good: str) -> None:
    config = core()
    before = config.get(key)
    assert config.change(key, bad) == "Rejected"
    assert config.get(key) == before
    assert config.change(key, good) == "Accepted"
    assert config.get(key) == good


def test_unsupported_measurand_is_rejected_and_the_list_unchanged() -> None:
    config = core()
    assert config.change("MeterValuesSampledData", f"{ENERGY},Frequency") == "Rejected"
    assert config.get_list("MeterValuesSampledData") == [ENERGY]


def test_phased_measurand_is_rejected_on_a_dc_charger() -> None:
    config = core()
    assert config.change("MeterValuesSampledData", "Voltage.L1") == "Rejected"
    assert config.change("StopTxnSampledData", f"{ENERGY},Current.Import.L2") == "Rejected"
    assert config.get_list("StopTxnSampledData") == [ENERGY]


def test_measurand_list_is_canonicalised() -> None:
    config = core()
    assert config.change("MeterValuesAlignedData", " voltage , SoC,,power.active.import ") == (
        "Accepted"
    )
    assert config.get("MeterValuesAlignedData") == "Voltage,SoC,Power.Active.Import"
    assert config.get_list("MeterValuesAlignedData") == ["Voltage", "SoC", "Power.Active.Import"]


def test_empty_measurand_list_means_none() -> None:
    config = core()
    assert config.change("StopTxnAlignedData", "") == "Accepted"
    assert config.get("StopTxnAlignedData") == ""
    assert config.get_list("StopTxnAlignedData") == []


def test_repeated_measurand_is_rejected() -> None:
    config = core()
    assert config.change("MeterValuesSampledData", f"{ENERGY},energy.active.import.register") == (
        "Rejected"
    )


def test_more_items_than_max_length_are_rejected() -> None:
    limit = dataclasses.replace(KEYS["MeterValuesSampledDataMaxLength"], default="2")
    config = core(table=table_with(limit))
    assert config.change("MeterValuesSampledData", "Voltage,SoC,Current.Import") == "Rejected"
    assert config.get_list("MeterValuesSampledData") == [ENERGY]
    assert config.change("MeterValuesSampledData", "Voltage,SoC") == "Accepted"


def test_without_a_max_length_key_one_item_is_assumed() -> None:
    # 1.6 §5.3: with no <Key>MaxLength key a safe value of one item is assumed.
    config = core(table=table_with(without=("StopTxnSampledDataMaxLength",)))
    assert config.change("StopTxnSampledData", "Voltage,SoC") == "Rejected"
    assert config.change("StopTxnSampledData", "Voltage") == "Accepted"


def test_connector_phase_rotation() -> None:
    config = core()
    assert config.change("ConnectorPhaseRotation", "0.RST,1.rst,2.NotApplicable") == "Accepted"
    assert config.get("ConnectorPhaseRotation") == "0.RST,1.RST,2.NotApplicable"
    assert config.change("ConnectorPhaseRotation", "notapplicable") == "Accepted"
    assert config.get("ConnectorPhaseRotation") == "NotApplicable"
    for bad in ("3.RST", "1.RST,1.RTS", "1.XYZ", "RST,0.RST,1.RST,2.RST"):
        assert config.change("ConnectorPhaseRotation", bad) == "Rejected", bad
    assert config.get("ConnectorPhaseRotation") == "NotApplicable"


def test_every_measurand_fits_in_one_value() -> None:
    config = core(measurands=MEASURANDS)
    every = ",".join(sorted(MEASURANDS))
    assert config.change("MeterValuesSampledData", every) == "Accepted"
    assert config.get_list("MeterValuesSampledData") == sorted(MEASURANDS)


def test_values_longer_than_ci_string_500_are_refused() -> None:
    # KeyValue.value is CiString500 (1.6 §7.29): such a value could never be read back.
    config = core()
    with pytest.raises(ConfigError, match="longer than 500"):
        config.set_initial("AuthorizationKey", "p" * 501)
    config.set_initial("AuthorizationKey", "p" * 500)


def test_authorization_key_over_ocpp_must_be_hex() -> None:
    config = core()
    assert config.change("AuthorizationKey", "new_password_12345678") == "Rejected"
    assert config.change("AuthorizationKey", "0123456789ABCDEF0123456789ABCDEF") == "Accepted"
    assert config.get("AuthorizationKey") == "0123456789ABCDEF0123456789ABCDEF"


def test_optional_profile_keys_are_not_supported_until_their_profile_is() -> None:
    assert core().change("LocalAuthListEnabled", "false") == "NotSupported"
    config = core(profiles=["Core", "LocalAuthListManagement"])
    assert config.change("LocalAuthListEnabled", "FALSE") == "Accepted"
    assert config.get_bool("LocalAuthListEnabled") is False
    assert config.change("LocalAuthListMaxLength", "5") == "Rejected"


def test_accepted_changes_are_persisted_rejected_ones_are_not() -> None:
    store = MemoryStore()
    config = core(store=store)
    config.change("HeartbeatInterval", "60")
    config.change("HeartbeatInterval", "-60")
    config.change("NumberOfConnectors", "3")
    config.change("Testing", "1")
    assert store.values == {"HeartbeatInterval": "60"}


def test_a_value_that_cannot_be_stored_is_rejected_and_not_applied() -> None:
    config = core(store=BrokenStore())
    seen: list[tuple[str, str]] = []
    config.subscribe(lambda key, value: seen.append((key, value)))
    assert config.change("HeartbeatInterval", "60") == "Rejected"
    assert config.get_int("HeartbeatInterval") == 20
    assert seen == []


def test_reboot_required_keys_are_stored_but_run_on_the_old_value() -> None:
    rebooting = dataclasses.replace(KEYS["WebSocketPingInterval"], reboot_required=True)
    store = MemoryStore()
    config = core(store=store, table=table_with(rebooting))
    seen: list[tuple[str, str]] = []
    config.subscribe(lambda key, value: seen.append((key, value)))
    assert config.change("WebSocketPingInterval", "10") == "RebootRequired"
    assert config.get_int("WebSocketPingInterval") == 60
    assert store.values == {"WebSocketPingInterval": "10"}
    assert seen == []
    assert config.change("WebSocketPingInterval", "-1") == "Rejected"
    restarted = core(store=store, table=table_with(rebooting))
    assert restarted.get_int("WebSocketPingInterval") == 10


def test_returning_to_the_default_reads_the_default() -> None:
    config = core()
    config.change("HeartbeatInterval", "60")
    config.change("HeartbeatInterval", "20")
    assert config.get_int("HeartbeatInterval") == 20
    assert config.get("HeartbeatInterval") == "20"


# --- subscribers -----------------------------------------------------------------------------


def test_subscribers_hear_accepted_changes_with_the_canonical_value() -> None:
    config = core()
    seen: list[tuple[str, str]] = []
    unsubscribe = config.subscribe(lambda key, value: seen.append((key, value)))
    config.change("heartbeatinterval", "060")
    config.change("HeartbeatInterval", "x")
    config.change("Testing", "1")
    config.set_initial("LocalPreAuthorize", "TRUE")
    assert seen == [("HeartbeatInterval", "60"), ("LocalPreAuthorize", "true")]
    unsubscribe()
    unsubscribe()  # harmless twice
    config.change("HeartbeatInterval", "70")
    assert len(seen) == 2


def test_a_failing_subscriber_does_not_silence_the_others() -> None:
    config = core()
    seen: list[str] = []

    def broken(key: str, value: str) -> None:
        raise RuntimeError("listener bug")

    config.subscribe(broken)
    config.subscribe(lambda key, value: seen.append(key))
    assert config.change("HeartbeatInterval", "60") == "Accepted"
    assert seen == ["HeartbeatInterval"]


# --- set_initial (--config KEY=VALUE, --password) ---------------------------------------------


def test_set_initial_applies_and_persists() -> None:
    store = MemoryStore()
    config = core(store=store)
    config.set_initial("ConnectionTimeOut", "45")
    assert config.get_int("ConnectionTimeOut") == 45
    assert store.values == {"ConnectionTimeOut": "45"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("Testing", "1", "unknown configuration key 'Testing'"),
        ("LocalAuthListEnabled", "true", "unknown configuration key"),
        ("NumberOfConnectors", "3", "NumberOfConnectors is read-only"),
        ("HeartbeatInterval", "soon", "invalid value for HeartbeatInterval: 'soon' is not"),
        ("MeterValueSampleInterval", "-1", "invalid value for MeterValueSampleInterval"),
        ("MeterValuesSampledData", "Voltage.L1", "invalid value for MeterValuesSampledData"),
        ("AuthorizationKey", "", "invalid value for AuthorizationKey"),
    ],
)
def test_set_initial_errors_are_one_line(key: str, value: str, message: str) -> None:
    store = MemoryStore()
    config = core(store=store)
    with pytest.raises(ConfigError, match=message) as caught:
        config.set_initial(key, value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert store.values == {}


def test_set_initial_takes_any_printable_password() -> None:
    store = MemoryStore()
    config = core(store=store)
    config.set_initial("AuthorizationKey", "new_password_12345678")
    assert config.get("AuthorizationKey") == "new_password_12345678"
    assert store.values["AuthorizationKey"] == "new_password_12345678"
    # The stored command-line password survives a restart even though it is not hex.
    assert core(store=store).get("AuthorizationKey") == "new_password_12345678"


def test_set_initial_applies_reboot_required_keys_at_once() -> None:
    rebooting = dataclasses.replace(KEYS["WebSocketPingInterval"], reboot_required=True)
    config = core(table=table_with(rebooting))
    config.set_initial("WebSocketPingInterval", "15")
    assert config.get_int("WebSocketPingInterval") == 15


# --- GetConfiguration and entries ------------------------------------------------------------


def test_get_configuration_all_lists_every_visible_readable_key() -> None:
    config = core()
    config.change("AuthorizationKey", "ab" * 16)
    entries, unknown = config.get_configuration(None)
    assert unknown == []
    names = [entry["key"] for entry in entries]
    expected = [n for n, d in KEYS.items() if d.profile == "Core" and not d.write_only]
    assert names == expected
    assert "AuthorizationKey" not in names
    for entry in entries:
        assert entry["readonly"] is KEYS[str(entry["key"])].readonly
        assert isinstance(entry["value"], str)
    assert config.get_configuration([]) == (entries, [])


def test_get_configuration_all_includes_implemented_optional_profiles() -> None:
    config = core(profiles=list(PROFILES))
    names = {entry["key"] for entry in config.get_configuration()[0]}
    assert {"LocalAuthListEnabled", "ReserveConnectorZeroSupported"} <= names
    assert {"MaxChargingProfilesInstalled", "SupportedFileTransferProtocols"} <= names
    by_name = {entry["key"]: entry for entry in config.get_configuration()[0]}
    supported = by_name["SupportedFeatureProfiles"]
    assert supported["value"] == (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    )
    assert supported["readonly"] is True


def test_get_configuration_chosen_keys_in_request_order() -> None:
    config = core()
    entries, unknown = config.get_configuration(
        ["NumberOfConnectors", "heartbeatinterval", "HeartbeatInterval", "Testing", "Testing"]
    )
    assert entries == [
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        {"key": "HeartbeatInterval", "readonly": False, "value": "20"},
    ]
    assert unknown == ["Testing"]


def test_invisible_optional_profile_keys_are_unknown() -> None:
    entries, unknown = core().get_configuration(
        ["LocalAuthListEnabled", "ReserveConnectorZeroSupported", "ChargeProfileMaxStackLevel"]
    )
    assert entries == []
    assert unknown == [
        "LocalAuthListEnabled",
        "ReserveConnectorZeroSupported",
        "ChargeProfileMaxStackLevel",
    ]
    names = {entry["key"] for entry in core().get_configuration()[0]}
    assert not names & {"LocalAuthListEnabled", "SupportedFileTransferProtocols"}


def test_write_only_key_asked_by_name_has_no_value() -> None:
    config = core()
    assert config.get_configuration(["AuthorizationKey"]) == (
        [{"key": "AuthorizationKey", "readonly": False}],
        [],
    )
    config.set_initial("AuthorizationKey", "secret password")
    entries, _ = config.get_configuration(["AuthorizationKey"])
    assert entries == [{"key": "AuthorizationKey", "readonly": False}]


def test_configuration_answers_more_keys_than_get_configuration_max_keys() -> None:
    # The limit belongs to the OCPP handler (test_station_remote), not to the key table.
    config = core()
    requested = [n for n, d in KEYS.items() if d.profile == "Core" and not d.write_only]
    assert len(requested) > config.get_int("GetConfigurationMaxKeys")
    entries, unknown = config.get_configuration(requested)
    assert [entry["key"] for entry in entries] == requested
    assert unknown == []


def test_entries_for_the_control_api() -> None:
    config = core()
    config.change("AuthorizationKey", "ab" * 16)
    rows = config.entries()
    assert [row[0] for row in rows] == [n for n, d in KEYS.items() if d.profile == "Core"]
    by_name = {key: (value, readonly) for key, value, readonly in rows}
    assert by_name["AuthorizationKey"] == (None, False)
    assert by_name["NumberOfConnectors"] == ("2", True)
    assert by_name["HeartbeatInterval"] == ("20", False)


# --- persistence through the SQLite store ----------------------------------------------------


def test_persistence_round_trip_through_a_station_store(tmp_path: Path) -> None:
    path = tmp_path / "state" / "station.sqlite"
    with StationStore(path) as store:
        config = core(store=store)
        assert config.change("HeartbeatInterval", "300") == "Accepted"
        assert config.change("MeterValuesSampledData", "Voltage,SoC") == "Accepted"
        assert config.change("AuthorizationCacheEnabled", "TRUE") == "Accepted"
        config.set_initial("AuthorizationKey", "cli password")
    with StationStore(path) as store:
        config = core(store=store)
        assert config.get_int("HeartbeatInterval") == 300
        assert config.get_list("MeterValuesSampledData") == ["Voltage", "SoC"]
        assert config.get_bool("AuthorizationCacheEnabled") is True
        assert config.get("AuthorizationKey") == "cli password"
        assert config.get_int("MeterValueSampleInterval") == 20


def test_stored_values_that_no_longer_fit_fall_back_to_defaults() -> None:
    store = MemoryStore(
        {
            "MeterValuesSampledData": "Frequency",  # the new meter cannot measure it
            "HeartbeatInterval": "-5",
            "NumberOfConnectors": "7",  # read-only: the station says what it is
            "LocalAuthListEnabled": "false",  # profile not implemented now
            "Vanished": "1",
            "LocalPreAuthorize": "true",
        }
    )
    config = core(store=store)
    assert config.get_list("MeterValuesSampledData") == [ENERGY]
    assert config.get_int("HeartbeatInterval") == 20
    assert config.get_int("NumberOfConnectors") == 2
    assert config.get_bool("LocalPreAuthorize") is True
    # Nothing is rewritten by loading.
    assert store.values["LocalAuthListEnabled"] == "false"


def test_stations_of_one_kind_share_their_defaults() -> None:
    first, second = core(), core()
    first.change("HeartbeatInterval", "99")
    assert second.get_int("HeartbeatInterval") == 20
    assert first._base is second._base  # built once per kind of station


# --- the reasons a value is refused: shown to the user of --config and in the log -------------

_FACTS = StationFacts(profiles=("Core",), connectors=2, measurands=DC_METER)
_INT = KeyDef("I", "int", False, "0", "Core")
_LIST = KeyDef("L", "csl", False, "", "Core", csl_values=frozenset({"A", "B"}))


@pytest.mark.parametrize(
    ("definition", "raw", "reason"),
    [
        (KeyDef("B", "bool", False, "true", "Core"), "maybe", "'maybe' is not true or false"),
        (_INT, "x1", "'x1' is not an integer"),
        # Without a minimum, any int32 down to its lowest: the range reads "at most".
        (_INT, "2147483648", "2147483648 is out of range (at most 2147483647)"),
        (_INT, "-2147483649", "-2147483649 is out of range (at most 2147483647)"),
        (
            dataclasses.replace(_INT, minimum=-2147483647),
            "-2147483648",
            "-2147483648 is out of range (-2147483647..2147483647)",
        ),
        (dataclasses.replace(_INT, minimum=1, maximum=9), "10", "10 is out of range (1..9)"),
        (_LIST, "A,C", "'C' is not one of A, B"),
        (_LIST, "A,a", "an item is given more than once"),
        (
            KeyDef("L", "csl", False, "", "Core", max_length_key="N"),
            "A,B,C",
            "3 items, at most 2 allowed",
        ),
    ],
)
def test_a_refused_value_says_why(definition: KeyDef, raw: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        canonical_value(definition, raw, _FACTS, lambda key: "2" if key == "N" else None)
    assert str(refused.value) == reason


def test_the_lowest_int32_is_accepted_where_no_minimum_is_set() -> None:
    definition = KeyDef("I", "int", False, "0", "Core")
    assert canonical_value(definition, "-2147483648", _FACTS, lambda key: None) == "-2147483648"


def test_a_build_sets_its_read_only_bounds_and_nothing_else(tmp_path: Path) -> None:
    """set_fixed: a charger's build sets a read-only key (validated, not stored); a writable
    or unknown key, or a bad value, is a ConfigError and changes nothing."""
    store = StationStore(tmp_path / "s.db")
    config = core(profiles=["Core", "SmartCharging"], store=store)
    config.set_fixed("chargeprofilemaxstacklevel", "3")
    assert config.get_int("ChargeProfileMaxStackLevel") == 3
    assert "ChargeProfileMaxStackLevel" not in store.load_config()
    with pytest.raises(ConfigError, match="configuration key HeartbeatInterval is writable"):
        config.set_fixed("HeartbeatInterval", "5")
    with pytest.raises(ConfigError, match="unknown configuration key 'NoSuchKey'"):
        config.set_fixed("NoSuchKey", "1")
    with pytest.raises(ConfigError, match=r"^ChargeProfileMaxStackLevel: "):
        config.set_fixed("ChargeProfileMaxStackLevel", "many")
    assert config.get_int("ChargeProfileMaxStackLevel") == 3
    store.close()


def test_why_a_change_would_be_refused_in_words() -> None:
    """The reason a person gets (the page, PUT /api/config/{key}); None exactly when
    ChangeConfiguration would be Accepted or RebootRequired."""
    config = core()
    unknown = config.why_refused("NoSuchKey", "1")
    assert unknown is not None
    assert (unknown.text, unknown.unknown, unknown.readonly) == (
        "NoSuchKey is not a configuration key of this station",
        True,
        False,
    )
    readonly = config.why_refused("numberofconnectors", "3")
    assert readonly is not None
    assert (readonly.text, readonly.unknown, readonly.readonly) == (
        "NumberOfConnectors is read-only",
        False,
        True,
    )
    bad = config.why_refused("HeartbeatInterval", "often")
    assert bad is not None
    assert (bad.text, bad.unknown, bad.readonly) == (
        "HeartbeatInterval: 'often' is not an integer",
        False,
        False,
    )
    assert config.change("HeartbeatInterval", "often") == "Rejected"
    assert config.why_refused("HeartbeatInterval", "45") is None
    assert config.get("HeartbeatInterval") != "45"  # asking changes nothing
    assert config.change("HeartbeatInterval", "45") == "Accepted"

    seen: list[tuple[str, str | None]] = []

    def no_even_values(new: str, running: str | None) -> None:
        seen.append((new, running))
        if int(new) % 2 == 0:
            raise ValueError("only odd values today")

    config.guard("HeartbeatInterval", no_even_values)
    guarded = config.why_refused("HeartbeatInterval", "60")
    assert guarded is not None and guarded.text == "HeartbeatInterval: only odd values today"
    assert config.why_refused("HeartbeatInterval", "61") is None
    assert seen == [("60", "45"), ("61", "45")]  # the canonical value and the running one
