"""Choosing the WebSocket library under a station's client.

"websockets" is StationClient; "picows" is PicowsStationClient, the same client on a library
that costs about half the CPU per frame (bench/bench_transport.py): what a fleet of thousands of
stations in one process wants. "auto" takes picows when it is installed
and no compression is asked for (picows has no permessage-deflate), websockets otherwise.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ocpp_station.transport.client import StationClient

TRANSPORTS = ("auto", "websockets", "picows")


def picows_available() -> bool:
    return importlib.util.find_spec("picows") is not None


def resolve(kind: str, *, compression: bool = False) -> str:
    """The library `kind` names: "websockets" or "picows"; ValueError for anything else, or for
    "picows" when it is not installed."""
    if kind == "auto":
        return "picows" if picows_available() and not compression else "websockets"
    if kind == "websockets":
        return kind
    if kind == "picows":
        if not picows_available():
            raise ValueError("transport 'picows' needs the picows package, which is not installed")
        return kind
    raise ValueError(f"unknown transport {kind!r}; choose one of {', '.join(TRANSPORTS)}")


def make_client(kind: str, url: str, identity: str, **kwargs: Any) -> StationClient:
    """A station client on the library `kind` names (see resolve); `kwargs` are StationClient's
    keyword arguments (on_open, on_message, on_close, password, ping_interval, ...)."""
    if resolve(kind, compression=bool(kwargs.get("compression"))) == "websockets":
        return StationClient(url, identity, **kwargs)
    # Imported here: the websockets client must work where picows is not installed.
    from ocpp_station.transport.picows_client import PicowsStationClient

    return PicowsStationClient(url, identity, **kwargs)
