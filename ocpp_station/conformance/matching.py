"""Matching the station's CALLs, and the texts steps describe them with.

A match is a mapping of payload fields to wanted values; a value may also be one_of(...) or a
predicate. Descriptions render payloads the way a reader writes them:
`StatusNotification {connectorId: 1, status: Preparing}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocpp_station.conformance.transcript import Message

DESCRIPTION_LIMIT = 300


class OneOf:
    """A match value: the field may hold any of these values."""

    def __init__(self, *values: Any) -> None:
        if not values:
            raise ValueError("one_of() needs at least one value")
        self.values = values

    def __call__(self, value: Any) -> bool:
        return value in self.values

    def __repr__(self) -> str:
        return " or ".join(render(v) for v in self.values)


def one_of(*values: Any) -> OneOf:
    """`expect("StatusNotification", status=one_of("SuspendedEV", "SuspendedEVSE"))`."""
    return OneOf(*values)


class Expected:
    """One CALL of expect_any_order(): `Expected("StopTransaction", transactionId=7)`."""

    def __init__(self, action: str, **match: Any) -> None:
        self.action = action
        self.match = match

    def __repr__(self) -> str:
        return f"{self.action}{describe(self.match)}"


def render(value: Any) -> str:
    """A payload or value as a step description shows it: {connectorId: 1, status: Preparing}."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(render(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, OneOf):
        return repr(value)
    if callable(value):
        return getattr(value, "__name__", "a predicate")
    return str(value)


def describe(match: Mapping[str, Any]) -> str:
    text = f" {render(match)}" if match else ""
    if len(text) > DESCRIPTION_LIMIT:
        text = text[:DESCRIPTION_LIMIT] + "...}"
    return text


def matches(payload: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    for key, wanted in match.items():
        if key not in payload:
            return False
        value = payload[key]
        if isinstance(wanted, OneOf) or callable(wanted):
            if not wanted(value):
                return False
        elif value != wanted or isinstance(value, bool) != isinstance(wanted, bool):
            # JSON true is not 1: a boolean field matches only a boolean.
            return False
    return True


def summary(messages: Iterable[Message], limit: int = 5) -> str:
    shown = list(messages)
    if not shown:
        return "nothing"
    more = f"{len(shown) - limit} earlier, then " if len(shown) > limit else ""
    return more + "; ".join(f"#{m.seq} {m.action}{describe(m)}" for m in shown[-limit:])
