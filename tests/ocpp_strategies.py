"""Hypothesis strategies for OCPP 1.6 payloads, read off the `ocpp` package's JSON schemas.

The 1.6 schemas use a small part of JSON Schema draft 4 (object, array, string, integer,
number, boolean; properties, required, enum, maxLength, minItems, multipleOf, date-time and
uri formats, local $ref), so a payload valid by its schema is drawn directly from it.
"""

from __future__ import annotations

import importlib.resources
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from hypothesis import strategies as st

from ocpp_station import timefmt

INT32 = 2**31 - 1


@cache
def schema(name: str) -> dict[str, Any]:
    """The `ocpp` package's 1.6 schema `name` (an action, or an action + "Response")."""
    path = importlib.resources.files("ocpp.v16").joinpath("schemas", f"{name}.json")
    loaded: dict[str, Any] = orjson.loads(path.read_bytes())
    return loaded


def _text(max_length: int | None) -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=["Cs"]),
        max_size=min(max_length or 60, 60),
    )


_DATE_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(timefmt.iso)
_URIS = st.sampled_from(
    ["ftp://user:pw@127.0.0.1/diag/", "http://127.0.0.1:9/fw.bin", "https://example.com/a"]
)


def valid(node: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances valid by the schema `node` (whose local references resolve in `root`)."""
    ref = node.get("$ref")
    if ref is not None:
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return valid(target, root)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {k: valid(v, root) for k, v in properties.items() if k in required},
            optional={k: valid(v, root) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        return st.lists(
            valid(node.get("items", {}), root), min_size=node.get("minItems", 0), max_size=4
        )
    if kind == "string":
        if node.get("format") == "date-time":
            return _DATE_TIMES
        if node.get("format") == "uri":
            return _URIS
        return _text(node.get("maxLength"))
    if kind == "integer":
        # The edges first: 0, ±1, the 32-bit limits, a connector far past the last.
        return st.sampled_from([0, 1, 2, -1, INT32, -INT32 - 1, 1000]) | st.integers(
            min_value=-INT32 - 1, max_value=INT32
        )
    if kind == "number":
        if node.get("multipleOf") == 0.1:
            return st.integers(min_value=-10_000, max_value=10_000).map(lambda n: n / 10)
        return st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return st.none()


def payloads(name: str) -> st.SearchStrategy[Any]:
    """Payloads valid by the schema `name`."""
    root = schema(name)
    return valid(root, root)
