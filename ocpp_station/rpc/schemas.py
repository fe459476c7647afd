"""Payload validation against the OCPP 1.6 JSON schemas shipped in the `ocpp` package.

Each schema is compiled to Python code by fastjsonschema the first time its action is seen, and
the validator is kept in a module-level cache shared by every connection in the process: a fleet
of thousands of stations compiles each schema once (per timestamp mode), not once per station.

Schema failures map to the 1.6 CALLERROR codes of OCPP-J 1.6 §4.2.3 (see SCHEMA_RULE_CODES).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from typing import Any

import fastjsonschema
import orjson
from fastjsonschema import JsonSchemaValueException

from ocpp_station.rpc.actions import ALL_ACTIONS
from ocpp_station.rpc.errors import (
    FormationViolation,
    NotImplementedCall,
    OccurenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    TypeConstraintViolation,
)

Validator = Callable[[Any], Any]

# RFC 3339 §5.6 date-time: what we send, and what strict mode accepts. 't' and 'z' may be lower
# case there; seconds may be 60 (leap second).
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
STRICT_DATE_TIME = rf"^{_DATE}[Tt]{_TIME}(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z"
# Lenient: some central systems omit the zone (read as UTC, [E] 3.10 asks receivers to be
# tolerant), write the offset without a colon or use a decimal comma. timefmt.parse reads all of
# these.
LENIENT_DATE_TIME = rf"^{_DATE}[Tt]{_TIME}(?:[.,]\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?\Z"

SCHEMA_RULE_CODES: dict[str, type[OcppError]] = {
    # OCPP-J 1.6 §4.2.3: "not conform the PDU structure"
    "additionalProperties": FormationViolation,
    "additionalItems": FormationViolation,
    # "Payload for Action is incomplete"
    "required": ProtocolError,
    # "violates data type constraints (e.g. "somestring": 12)"
    "type": TypeConstraintViolation,
    # "violates occurrence constraints"
    "minItems": OccurenceConstraintViolation,
    "maxItems": OccurenceConstraintViolation,
    # "at least one field contains an invalid value"; [E] 3.38 names bad enum values inside a
    # ChargingProfile explicitly.
    "enum": PropertyConstraintViolation,
    "const": PropertyConstraintViolation,
    "maxLength": PropertyConstraintViolation,
    "minLength": PropertyConstraintViolation,
    "minimum": PropertyConstraintViolation,
    "maximum": PropertyConstraintViolation,
    "exclusiveMinimum": PropertyConstraintViolation,
    "exclusiveMaximum": PropertyConstraintViolation,
    "multipleOf": PropertyConstraintViolation,
    "pattern": PropertyConstraintViolation,
    "format": PropertyConstraintViolation,
    "uniqueItems": PropertyConstraintViolation,
}
"""The 1.6 error for each JSON-schema rule; rules not listed give FormationViolation."""

_REQUEST_SUFFIX = ""
_RESPONSE_SUFFIX = "Response"

# Indexed by lenient_timestamps (False -> 0, True -> 1), then by action name.
_REQUESTS: tuple[dict[str, Validator], dict[str, Validator]] = ({}, {})
_RESPONSES: tuple[dict[str, Validator], dict[str, Validator]] = ({}, {})


def compile_schema(definition: dict[str, Any], *, lenient_timestamps: bool = True) -> Validator:
    """Compile one JSON schema with the date-time format of the chosen mode.

    Defaults are not applied (use_default=False): a payload is validated, never rewritten.
    """
    formats = {"date-time": LENIENT_DATE_TIME if lenient_timestamps else STRICT_DATE_TIME}
    return fastjsonschema.compile(
        definition,
        formats=formats,
        use_default=False,
        # All references in the 1.6 schemas are local (#/definitions/...); never fetch a URI.
        handlers={"http": _no_fetch, "https": _no_fetch, "file": _no_fetch, "urn": _no_fetch},
    )


def _no_fetch(uri: str) -> Any:
    raise ValueError(f"remote schema reference not allowed: {uri}")


def load_schema(name: str) -> dict[str, Any]:
    """The `ocpp` package's 1.6 schema `name` (e.g. "BootNotification", "HeartbeatResponse")."""
    path = importlib.resources.files("ocpp.v16").joinpath("schemas", f"{name}.json")
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


def _compile_into(
    cache: dict[str, Validator], action: str, suffix: str, lenient: bool
) -> Validator:
    if action not in ALL_ACTIONS:
        raise NotImplementedCall(f"{action} is not an OCPP 1.6 action")
    validator = compile_schema(load_schema(action + suffix), lenient_timestamps=lenient)
    cache[action] = validator
    return validator


def schema_error(exc: JsonSchemaValueException) -> OcppError:
    """The 1.6 CALLERROR for a fastjsonschema failure.

    The root of a payload that is not an object is a FormationViolation (the PDU structure is
    wrong); a nested value of the wrong type is a TypeConstraintViolation.
    """
    name = exc.name or "data"
    path = name[4:].lstrip(".") if name.startswith("data") else name
    rule = exc.rule or ""
    if rule == "type" and not path:
        cls: type[OcppError] = FormationViolation
    else:
        cls = SCHEMA_RULE_CODES.get(rule, FormationViolation)
    message = exc.message
    if message.startswith("data"):
        message = "payload" + message[4:]
    return cls(message, {"path": path} if path else {})


def validate_request(action: str, payload: Any, *, lenient_timestamps: bool = True) -> None:
    """Check a CALL payload of `action`; raise the matching OcppError subclass if it fails.

    An action outside OCPP 1.6 raises NotImplementedCall.
    """
    cache = _REQUESTS[lenient_timestamps]
    validator = cache.get(action)
    if validator is None:
        validator = _compile_into(cache, action, _REQUEST_SUFFIX, lenient_timestamps)
    try:
        validator(payload)
    except JsonSchemaValueException as exc:
        raise schema_error(exc) from None


def validate_response(action: str, payload: Any, *, lenient_timestamps: bool = True) -> None:
    """Check the CALLRESULT payload answering `action`; raise the matching OcppError subclass."""
    cache = _RESPONSES[lenient_timestamps]
    validator = cache.get(action)
    if validator is None:
        validator = _compile_into(cache, action, _RESPONSE_SUFFIX, lenient_timestamps)
    try:
        validator(payload)
    except JsonSchemaValueException as exc:
        raise schema_error(exc) from None


# Relaxed validators of answers, by action: the schema without `additionalProperties`.
_RELAXED: tuple[dict[str, Validator], dict[str, Validator]] = ({}, {})


def _without_additional(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_additional(v) for k, v in node.items() if k != "additionalProperties"}
    if isinstance(node, list):
        return [_without_additional(v) for v in node]
    return node


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def read_answer(action: str, payload: Any, *, lenient_timestamps: bool = True) -> Any:
    """The CALLRESULT answering our `action`, read as leniently as is safe: the payload to
    use, or the OcppError the strict schema gives when even a lenient reading fails.

    Strict on what we send, lenient on what we receive (design notes): a central system
    that adds a property of its own or writes an integer as 5.0 is still understood. Unknown
    properties are ignored and integral numbers read as integers; a missing field, a wrong
    type or an unknown enum value is still an error, since the station would use the value.
    """
    try:
        validate_response(action, payload, lenient_timestamps=lenient_timestamps)
        return payload
    except OcppError as strict:
        cache = _RELAXED[lenient_timestamps]
        relaxed = cache.get(action)
        if relaxed is None:
            schema = _without_additional(load_schema(action + _RESPONSE_SUFFIX))
            relaxed = cache[action] = compile_schema(schema, lenient_timestamps=lenient_timestamps)
        readable = _integral_floats_as_ints(payload)
        try:
            relaxed(readable)
        except JsonSchemaValueException:
            raise strict from None
        return readable


def compiled_count() -> int:
    """How many validators the process has compiled so far."""
    return sum(len(cache) for cache in (*_REQUESTS, *_RESPONSES, *_RELAXED))


def clear_cache() -> None:
    """Forget every compiled validator (tests use this to count compilations)."""
    for cache in (*_REQUESTS, *_RESPONSES, *_RELAXED):
        cache.clear()
