"""Choosing the WebSocket library and the event loop, for every command that offers the choice.

WebSocket library: "websockets" is StationClient; "picows" is PicowsStationClient, the same
client on a library that costs about half the CPU per frame (bench/bench_transport.py): what a
fleet of thousands of stations in one process wants. "auto" takes picows when it is installed
and no compression is asked for (picows has no permessage-deflate), websockets otherwise. The
load-test central system chooses its server library the same way.

Event loop: "uvloop" takes 10-50 % off the CPU per frame (bench/bench_transport.py); "auto"
takes it where installed (it has no Windows build), asyncio's own loop otherwise.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Any

from ocpp_station.transport.client import StationClient

TRANSPORTS = ("auto", "websockets", "picows")
LOOPS = ("auto", "asyncio", "uvloop")


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


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `choice` names, for asyncio.Runner(loop_factory=...): None is asyncio's
    own. ValueError for an unknown choice, or for "uvloop" when it is not installed."""
    if choice not in LOOPS:
        raise ValueError(f"unknown event loop {choice!r}; choose one of {', '.join(LOOPS)}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ValueError("the uvloop event loop needs the uvloop package") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def make_client(kind: str, url: str, identity: str, **kwargs: Any) -> StationClient:
    """A station client on the library `kind` names (see resolve); `kwargs` are StationClient's
    keyword arguments (on_open, on_message, on_close, password, ping_interval, ...)."""
    if resolve(kind, compression=bool(kwargs.get("compression"))) == "websockets":
        return StationClient(url, identity, **kwargs)
    # Imported here: the websockets client must work where picows is not installed.
    from ocpp_station.transport.picows_client import PicowsStationClient

    return PicowsStationClient(url, identity, **kwargs)
