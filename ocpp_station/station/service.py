"""The service contract: how a functional block of the station declares itself.

A service is one block of behaviour (boot, authorization, sessions, a reservation profile...).
It says, where its code lives:
- which central-system requests it answers: `@handles("ReserveNow")`, and the work that must
  follow the answer: `@after("ReserveNow")` (the answer goes first, digest §4.3);
- which configuration keys it reacts to: `@on_config("HeartbeatInterval")`;
- what it does at the station's moments, by overriding the hooks below (power-up, connection,
  acceptance, reboot, power-down);
- what it forbids (a start guard), how it refines a connector's status, and what it adds to the
  control API's snapshot.
The Station collects all of that from the installed services; it never names a service. A
service gets a small context (ocpp_station.station.context) and its peers explicitly, through
its constructor, so the constructor tells its dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ocpp_station.station.connector import Authorization, Connector

Payload = dict[str, Any]
Handler = Callable[[Payload], Payload | Awaitable[Payload]]
AfterHook = Callable[[Payload, Payload], Awaitable[None] | None]
ConfigReaction = Callable[[str], None]
# What the inbound gate says of a CALL: True answer it, False ignore it (no answer at all), or
# the payload to answer with instead of the handler's (see rpc.endpoint.Gate).
Admission = bool | Payload

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__ocpp_declares__"
HANDLES = "handles"
AFTER = "after"
ON_CONFIG = "on_config"


def _declare(kind: str, names: tuple[str, ...]) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        marks: list[tuple[str, str]] = list(getattr(fn, _MARK, ()))
        marks.extend((kind, name) for name in names)
        setattr(fn, _MARK, tuple(marks))
        return fn

    return mark


def handles(action: str) -> Callable[[F], F]:
    """The method answers the central system's `action` (request payload -> response)."""
    return _declare(HANDLES, (action,))


def after(action: str) -> Callable[[F], F]:
    """The method runs once the answer to `action` has gone: (request, response)."""
    return _declare(AFTER, (action,))


def on_config(*keys: str) -> Callable[[F], F]:
    """The method runs after each accepted change of one of `keys`, with the new value."""
    return _declare(ON_CONFIG, keys)


class Service:
    """Base of every service. Every hook is optional: the Station calls only those a service
    overrides, so an idle hook costs nothing on a fleet of thousands. Services declare
    `__slots__`: a fleet holds a dozen per station."""

    __slots__ = ()

    def on_power_up(self, cold: bool) -> None:
        """The station starts (`cold`: a new process, the store is all that is known) or
        comes back from a reboot: load what is persisted or physical."""

    def on_connected(self) -> None:
        """A WebSocket connection to the central system is open."""

    def on_accepted(self) -> None:
        """The central system accepted the BootNotification (§4.2)."""

    def on_disconnected(self) -> None:
        """The connection is gone."""

    def on_reboot(self) -> None:
        """A reset: drop what a reboot loses (timers, pending authorizations)."""

    def on_power_down(self) -> None:
        """A controlled shutdown begins (SIGTERM with a UPS holding up)."""

    def admit(self, action: str | None) -> Admission | None:
        """The inbound gate: None when this service has no say on `action` (None: a CALL
        whose action could not be read)."""
        return None

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        """Why no session may start on c now, or None."""
        return None

    def refine_status(self, c: Connector, status: str) -> str:
        """The status to show instead of the derived one (e.g. Reserved for Available)."""
        return status

    def snapshot(self, view: Payload) -> None:
        """Add station-wide fields to the control API's status."""

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        """Add fields to one connector's entry of the control API's status."""


HOOKS = (
    "on_power_up",
    "on_connected",
    "on_accepted",
    "on_disconnected",
    "on_reboot",
    "on_power_down",
    "admit",
    "start_guard",
    "refine_status",
    "snapshot",
    "snapshot_connector",
)


# Per service class, built once: a fleet builds thousands of stations of the same classes.
_DECLARATIONS: dict[type[Service], tuple[tuple[str, str, str], ...]] = {}
_HOOKS: dict[type[Service], frozenset[str]] = {}


def _class_declarations(cls: type[Service]) -> tuple[tuple[str, str, str], ...]:
    """(kind, action or key, attribute name) for every declared method of a service class."""
    cached = _DECLARATIONS.get(cls)
    if cached is not None:
        return cached
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        for attribute, value in vars(klass).items():
            if attribute in seen:
                continue
            seen.add(attribute)
            for kind, name in getattr(value, _MARK, ()):
                found.append((kind, name, attribute))
    result = _DECLARATIONS[cls] = tuple(found)
    return result


def _class_hooks(cls: type[Service]) -> frozenset[str]:
    cached = _HOOKS.get(cls)
    if cached is None:
        cached = _HOOKS[cls] = frozenset(
            name for name in HOOKS if getattr(cls, name) is not getattr(Service, name)
        )
    return cached


@dataclass(frozen=True, slots=True)
class Wiring:
    """Where the declarations and hooks of a composition live, by the position of the service
    in it: built once per shape (the sequence of service classes) and shared by every station
    of that shape, so a fleet pays for it once."""

    handlers: dict[str, tuple[int, str]]  # action -> (service position, method name)
    after: dict[str, tuple[int, str]]
    reactions: dict[str, tuple[tuple[int, str], ...]]  # configuration key -> its reactions
    hooks: dict[str, tuple[int, ...]]  # hook -> positions of the services implementing it


_WIRINGS: dict[tuple[type[Service], ...], Wiring] = {}


def wiring(services: Sequence[Service]) -> Wiring:
    """The Wiring of `services`; ValueError when two services claim one action."""
    shape = tuple(type(s) for s in services)
    found = _WIRINGS.get(shape)
    if found is not None:
        return found
    handlers: dict[str, tuple[int, str]] = {}
    after_hooks: dict[str, tuple[int, str]] = {}
    reactions: dict[str, list[tuple[int, str]]] = {}
    for index, cls in enumerate(shape):
        for kind, name, attribute in _class_declarations(cls):
            if kind == HANDLES:
                if name in handlers:
                    raise ValueError(f"{name} is handled twice")
                handlers[name] = (index, attribute)
            elif kind == AFTER:
                if name in after_hooks:
                    raise ValueError(f"{name} has two after hooks")
                after_hooks[name] = (index, attribute)
            elif kind == ON_CONFIG:
                reactions.setdefault(name, []).append((index, attribute))
    missing = sorted(set(after_hooks) - set(handlers))
    if missing:
        raise ValueError(f"after hooks without a handler: {', '.join(missing)}")
    hooks = {
        hook: tuple(i for i, cls in enumerate(shape) if hook in _class_hooks(cls)) for hook in HOOKS
    }
    built = _WIRINGS[shape] = Wiring(
        handlers, after_hooks, {k: tuple(v) for k, v in reactions.items()}, hooks
    )
    return built
