"""Schema validation: the ocpp package's 1.6 schemas, compiled once, failures as 1.6 codes."""

from __future__ import annotations

import importlib.resources
from typing import Any

import fastjsonschema
import pytest

from ocpp_station.rpc import (
    ALL_ACTIONS,
    CP_TO_CS,
    CS_TO_CP,
    PROFILE_ACTIONS,
    PROFILES,
    FormationViolation,
    NotImplementedCall,
    OccurenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    TypeConstraintViolation,
    schemas,
    validate_request,
    validate_response,
)

PROFILE: dict[str, Any] = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.3}],
    },
}


def _raises(cls: type[OcppError], action: str, payload: Any, **kw: Any) -> OcppError:
    with pytest.raises(OcppError) as info:
        validate_request(action, payload, **kw)
    assert type(info.value) is cls, info.value
    return info.value


def test_actions_match_the_schemas_shipped_with_ocpp() -> None:
    folder = importlib.resources.files("ocpp.v16").joinpath("schemas")
    names = {p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json")}
    requests = {n for n in names if not n.endswith("Response")}
    assert requests == ALL_ACTIONS
    assert {n + "Response" for n in requests} == names - requests
    assert set(CP_TO_CS) & set(CS_TO_CP) == {"DataTransfer"}
    assert set().union(*PROFILE_ACTIONS.values()) == ALL_ACTIONS
    assert set(PROFILE_ACTIONS) == set(PROFILES)
    assert "SetChargingProfile" in PROFILE_ACTIONS["SmartCharging"]


@pytest.mark.parametrize("action", sorted(ALL_ACTIONS))
def test_every_schema_compiles_and_checks(action: str) -> None:
    # {} is valid for actions without required fields; otherwise the missing field is named.
    for validate in (validate_request, validate_response):
        for lenient in (True, False):
            try:
                validate(action, {}, lenient_timestamps=lenient)
            except ProtocolError as exc:
                assert "must contain" in exc.description


def test_valid_payloads_pass() -> None:
    validate_request("RemoteStartTransaction", {"connectorId": 1, "idTag": "ABC"})
    validate_request("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})
    validate_response(
        "BootNotification",
        {"status": "Accepted", "currentTime": "2024-05-01T10:00:00.123Z", "interval": 300},
    )


def test_unknown_action_is_not_implemented() -> None:
    with pytest.raises(NotImplementedCall):
        validate_request("FlyToTheMoon", {})
    with pytest.raises(NotImplementedCall):
        validate_response("FlyToTheMoon", {})


def test_payload_not_an_object_is_formation_violation() -> None:
    _raises(FormationViolation, "Heartbeat", [])
    _raises(FormationViolation, "Heartbeat", "x")


def test_additional_property_is_formation_violation() -> None:
    err = _raises(FormationViolation, "Heartbeat", {"extra": 1})
    assert "extra" in err.description
    _raises(
        FormationViolation,
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": {**PROFILE, "colour": "red"}},
    )


def test_missing_required_is_protocol_error() -> None:
    err = _raises(ProtocolError, "RemoteStartTransaction", {"connectorId": 1})
    assert "idTag" in err.description


def test_wrong_type_is_type_constraint_violation() -> None:
    err = _raises(TypeConstraintViolation, "RemoteStartTransaction", {"idTag": 12})
    assert err.details == {"path": "idTag"}
    _raises(TypeConstraintViolation, "RemoteStartTransaction", {"idTag": "A", "connectorId": "1"})
    _raises(TypeConstraintViolation, "RemoteStartTransaction", {"idTag": "A", "connectorId": True})
    # a nested object given as something else is a type error too, not a structure error
    _raises(
        TypeConstraintViolation, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": 5}
    )


def test_number_fields_take_integers_and_floats() -> None:
    # the smart-charging "limit" is "type": "number" with multipleOf 0.1
    for limit in (16, 16.0, 16.3, 0.1):
        profile = {
            **PROFILE,
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        }
        validate_request("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile})
    # more than one decimal is not a multiple of 0.1: a value constraint
    profile = {
        **PROFILE,
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.35}],
        },
    }
    _raises(
        PropertyConstraintViolation,
        "SetChargingProfile",
        {"connectorId": 0, "csChargingProfiles": profile},
    )
    profile = {
        **PROFILE,
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "16"}],
        },
    }
    _raises(
        TypeConstraintViolation,
        "SetChargingProfile",
        {"connectorId": 0, "csChargingProfiles": profile},
    )


def test_bad_enum_is_property_constraint_violation() -> None:
    _raises(
        PropertyConstraintViolation, "ChangeAvailability", {"connectorId": 1, "type": "Sideways"}
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("chargingProfilePurpose", "TxWhatever"),
        ("chargingProfileKind", "Sometimes"),
        ("recurrencyKind", "Hourly"),
    ],
)
def test_bad_enum_inside_charging_profile_is_property_constraint_violation(
    field: str, value: str
) -> None:
    # [E] 3.38: invalid enum values inside a ChargingProfile -> PropertyConstraintViolation
    payload = {"connectorId": 1, "csChargingProfiles": {**PROFILE, field: value}}
    err = _raises(PropertyConstraintViolation, "SetChargingProfile", payload)
    assert err.details == {"path": f"csChargingProfiles.{field}"}


def test_bad_charging_rate_unit_deep_in_the_schedule() -> None:
    schedule = {**PROFILE["chargingSchedule"], "chargingRateUnit": "kW"}
    payload = {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingSchedule": schedule}}
    _raises(PropertyConstraintViolation, "SetChargingProfile", payload)
    # [E] 3.24: same for GetCompositeSchedule
    _raises(
        PropertyConstraintViolation,
        "GetCompositeSchedule",
        {"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"},
    )
    # and for RemoteStartTransaction's optional profile
    _raises(
        PropertyConstraintViolation,
        "RemoteStartTransaction",
        {"idTag": "A", "chargingProfile": {**PROFILE, "chargingSchedule": schedule}},
    )


def test_too_long_string_is_property_constraint_violation() -> None:
    _raises(PropertyConstraintViolation, "RemoteStartTransaction", {"idTag": "x" * 21})


def test_bad_uri_is_property_constraint_violation() -> None:
    _raises(PropertyConstraintViolation, "GetDiagnostics", {"location": "not a uri"})
    validate_request("GetDiagnostics", {"location": "ftp://user:pw@example.com/diag"})


def test_too_few_items_is_occurrence_constraint_violation() -> None:
    _raises(OccurenceConstraintViolation, "MeterValues", {"connectorId": 1, "meterValue": []})
    value = {"timestamp": "2024-05-01T10:00:00Z", "sampledValue": []}
    _raises(OccurenceConstraintViolation, "MeterValues", {"connectorId": 1, "meterValue": [value]})


def test_too_many_items_is_occurrence_constraint_violation() -> None:
    # No 1.6 schema declares maxItems; the mapping is checked on a schema of the same dialect.
    validator = schemas.compile_schema(
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"key": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
        }
    )
    validator({"key": ["a", "b"]})
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as info:
        validator({"key": ["a", "b", "c"]})
    err = schemas.schema_error(info.value)
    assert type(err) is OccurenceConstraintViolation
    assert err.details == {"path": "key"}


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00.123Z",
        "2024-05-01T12:00:00.123456+02:00",
        "2024-05-01t10:00:00z",
    ],
)
def test_rfc3339_timestamps_pass_in_both_modes(stamp: str) -> None:
    payload = {"connectorId": 1, "expiryDate": stamp, "idTag": "A", "reservationId": 1}
    validate_request("ReserveNow", payload, lenient_timestamps=False)
    validate_request("ReserveNow", payload, lenient_timestamps=True)


@pytest.mark.parametrize(
    "stamp", ["2024-05-01T10:00:00", "2024-05-01T10:00:00.1234567", "2024-05-01T12:00:00+0200"]
)
def test_zoneless_timestamps_pass_only_when_lenient(stamp: str) -> None:
    payload = {"connectorId": 1, "expiryDate": stamp, "idTag": "A", "reservationId": 1}
    validate_request("ReserveNow", payload, lenient_timestamps=True)
    _raises(PropertyConstraintViolation, "ReserveNow", payload, lenient_timestamps=False)


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01",
        "2024-13-01T10:00:00Z",
        "2024-05-01T25:00:00Z",
        "yesterday",
        "",
        "2024-05-01 10:00:00Z",
    ],
)
def test_broken_timestamps_fail_in_both_modes(stamp: str) -> None:
    payload = {"connectorId": 1, "expiryDate": stamp, "idTag": "A", "reservationId": 1}
    for lenient in (True, False):
        _raises(PropertyConstraintViolation, "ReserveNow", payload, lenient_timestamps=lenient)


def test_draft06_security_schemas_resolve_local_references() -> None:
    payload = {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": "https://x/y"}}
    validate_request("GetLog", payload)
    err = _raises(PropertyConstraintViolation, "GetLog", {**payload, "logType": "AllLogs"})
    assert err.details == {"path": "logType"}
    _raises(FormationViolation, "GetLog", {**payload, "log": {"remoteLocation": "a", "x": 1}})


def test_validators_are_compiled_once_per_action(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []
    real = fastjsonschema.compile

    def counting(*args: Any, **kwargs: Any) -> Any:
        compiled.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(fastjsonschema, "compile", counting)
    schemas.clear_cache()
    try:
        for _ in range(3):
            validate_request("Heartbeat", {})
            validate_response("Heartbeat", {"currentTime": "2024-05-01T10:00:00Z"})
        assert len(compiled) == 2
        assert schemas.compiled_count() == 2
        validate_request("Heartbeat", {}, lenient_timestamps=False)
        assert len(compiled) == 3
    finally:
        schemas.clear_cache()


@pytest.mark.parametrize(
    ("action", "payload", "error", "description", "details"),
    [
        ("Heartbeat", [], "FormationViolation", "payload must be object", {}),
        (
            "ChangeAvailability",
            {"connectorId": "x", "type": "Inoperative"},
            "TypeConstraintViolation",
            "payload.connectorId must be integer",
            {"path": "connectorId"},
        ),
        (
            "ChangeAvailability",
            {"connectorId": 1},
            "ProtocolError",
            "payload must contain ['type'] properties",
            {},
        ),
        (
            "Authorize",
            {"idTag": "A" * 21},
            "PropertyConstraintViolation",
            "payload.idTag must be shorter than or equal to 20 characters",
            {"path": "idTag"},
        ),
        (
            "DataTransfer",
            {"vendorId": "v", "extra": 1},
            "FormationViolation",
            "payload must not contain {'extra'} properties",
            {},
        ),
        ("Teleport", {}, "NotImplemented", "Teleport is not an OCPP 1.6 action", {}),
    ],
)
def test_a_refused_payload_gets_its_code_its_words_and_the_path(
    action: str, payload: object, error: str, description: str, details: dict[str, str]
) -> None:
    # OCPP-J §4.2.3: the code names the kind of fault; the description and the path tell a
    # central-system developer where it is.
    with pytest.raises(OcppError) as refused:
        validate_request(action, payload)
    assert (refused.value.code, refused.value.description, refused.value.details) == (
        error,
        description,
        details,
    )
