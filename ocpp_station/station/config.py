"""The station's configuration: the key table of `config_keys` given values.

One `Configuration` per station. It answers GetConfiguration and ChangeConfiguration (1.6 §5.3,
§5.8), applies `--config KEY=VALUE` at start, lists the keys for the control API, persists
every accepted value through a `ConfigStore`, and tells subscribers about every change.

Reads are a dictionary lookup: a fleet holds thousands of these and services read keys on every
event. Everything that depends only on what the station is (visible keys, defaults, parsed
defaults) is built once per kind of station and shared; an instance holds only the values that
differ from the defaults.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ocpp_station.station.config_keys import (
    CORE,
    INT32_MAX,
    KEYS,
    MAX_VALUE_LENGTH,
    MEASURANDS,
    PROFILES,
    SOCKET_KEYS,
    KeyDef,
    StationFacts,
)
from ocpp_station.storage.interface import ConfigStore

_log = logging.getLogger(__name__)

ChangeStatus = Literal["Accepted", "Rejected", "RebootRequired", "NotSupported"]
Subscriber = Callable[[str, str], None]
# Vetoes a change: (new value, running value) -> None, or ValueError saying why not.
Guard = Callable[[str, str | None], None]

_INTEGER = re.compile(r"-?[0-9]+")  # int() would also take "1_000", "+5" and non-ASCII digits


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a change is refused: an unknown key, a read-only one, or a value its rules refuse."""

    text: str
    unknown: bool = False
    readonly: bool = False


class ConfigError(ValueError):
    """A configuration value given locally (the command line) that cannot be set."""


@dataclass(frozen=True, slots=True)
class _Base:
    """What every station of one kind shares: its visible keys and their defaults, parsed."""

    facts: StationFacts
    keys: dict[str, KeyDef]  # visible keys, in table order
    names: dict[str, str]  # casefolded name -> name: key names are CiString50 (1.6 §6.9)
    values: dict[str, str | None]  # None: not set (only a write-only key before it is written)
    ints: dict[str, int]
    bools: dict[str, bool]
    lists: dict[str, tuple[str, ...]]


Lookup = Callable[[str], str | None]  # a key's running value; None if absent or unset


def _max_items(key: str | None, lookup: Lookup) -> int | None:
    """The most items a CSL may hold. 1.6 §5.3: with no `<Key>MaxLength` key, assume 1.

    A CSL declared without a MaxLength key is bounded by its allowed items alone (duplicates
    are refused); the table gives every writable CSL a MaxLength key.
    """
    if key is None:
        return None
    limit = lookup(key)
    return 1 if limit is None else int(limit)


def _range_text(low: int, high: int) -> str:
    return f"{low}..{high}" if low > -INT32_MAX - 1 else f"at most {high}"


def canonical_value(
    definition: KeyDef,
    raw: str,
    facts: StationFacts,
    lookup: Lookup,
    *,
    local: bool = False,
) -> str:
    """Check `raw` against the key's rules; return the value as stored, or raise ValueError.

    `lookup` gives the current values of the MaxLength keys; `local` selects the key's
    `local_validator` (values set on the command line) where it has one.
    """
    if definition.type == "bool":
        # Booleans compare case-insensitively; stored in the canonical lowercase spelling.
        value = raw.strip().lower()
        if value not in ("true", "false"):
            raise ValueError(f"{raw!r} is not true or false")
    elif definition.type == "int":
        text = raw.strip()
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{raw!r} is not an integer")
        number = int(text)
        low = -INT32_MAX - 1 if definition.minimum is None else definition.minimum
        high = INT32_MAX if definition.maximum is None else definition.maximum
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range ({_range_text(low, high)})")
        value = str(number)
    elif definition.type == "csl":
        items: list[str] = []
        for part in raw.split(","):
            item = part.strip()
            if not item:
                continue  # "" is the empty list, and stray commas carry nothing
            if definition.csl_values is not None:
                item = _allowed_item(item, definition.csl_values)
            if definition.item_validator is not None:
                item = definition.item_validator(item, facts)
            items.append(item)
        if len(set(items)) != len(items):
            raise ValueError("an item is given more than once")
        limit = _max_items(definition.max_length_key, lookup)
        if limit is not None and len(items) > limit:
            # 1.6 §5.3 and §3.16.4: more items than <Key>MaxLength -> Rejected.
            raise ValueError(f"{len(items)} items, at most {limit} allowed")
        value = ",".join(items)
    else:
        value = raw
    validator = definition.validator
    if local and definition.local_validator is not None:
        validator = definition.local_validator
    if validator is not None:
        value = validator(value)
    if len(value) > MAX_VALUE_LENGTH:
        # KeyValue.value is CiString500 (1.6 §7.29): a longer value could never be read back.
        raise ValueError(f"the value is longer than {MAX_VALUE_LENGTH} characters")
    return value


def _allowed_item(item: str, allowed: frozenset[str]) -> str:
    folded = item.casefold()
    for candidate in allowed:
        if candidate.casefold() == folded:
            return candidate
    raise ValueError(f"{item!r} is not one of {', '.join(sorted(allowed))}")


def _parse_into(
    definition: KeyDef,
    value: str,
    ints: dict[str, int],
    bools: dict[str, bool],
    lists: dict[str, tuple[str, ...]],
) -> None:
    """Cache the parsed form of a canonical value, so reads never parse."""
    if definition.type == "int":
        ints[definition.name] = int(value)
    elif definition.type == "bool":
        bools[definition.name] = value == "true"
    elif definition.type == "csl":
        lists[definition.name] = tuple(value.split(",")) if value else ()


def _build_base(table: Mapping[str, KeyDef], facts: StationFacts) -> _Base:
    keys = {name: d for name, d in table.items() if d.profile in facts.profiles}
    values: dict[str, str | None] = {
        name: d.computed(facts) if d.computed is not None else d.default for name, d in keys.items()
    }
    ints: dict[str, int] = {}
    bools: dict[str, bool] = {}
    lists: dict[str, tuple[str, ...]] = {}
    for name, definition in keys.items():
        value = values[name]
        if value is None:
            continue
        try:
            value = canonical_value(definition, value, facts, values.get)
        except ValueError as error:
            # A default the station cannot honour (a meter without the default measurand).
            raise ValueError(f"default of {name} does not suit this station: {error}") from None
        values[name] = value
        _parse_into(definition, value, ints, bools, lists)
    return _Base(
        facts=facts,
        keys=keys,
        names={name.casefold(): name for name in keys},
        values=values,
        ints=ints,
        bools=bools,
        lists=lists,
    )


@lru_cache(maxsize=64)
def _shared_base(facts: StationFacts, fixed_cable: bool, extra: tuple[KeyDef, ...]) -> _Base:
    table = dict(KEYS if fixed_cable else SOCKET_KEYS)
    for definition in extra:
        if definition.name in table:
            raise ValueError(f"configuration key {definition.name} is declared twice")
        table[definition.name] = definition
    return _build_base(table, facts)


class Configuration:
    """The configuration keys of one station, with ChangeConfiguration/GetConfiguration rules."""

    __slots__ = (
        "_base",
        "_bools",
        "_guards",
        "_ints",
        "_lists",
        "_store",
        "_subscribers",
        "_values",
    )

    def __init__(
        self,
        *,
        profiles: Sequence[str],
        connectors: int,
        measurands: frozenset[str],
        store: ConfigStore | None = None,
        table: Mapping[str, KeyDef] | None = None,
        fixed_cable: bool = True,
        extra_keys: tuple[KeyDef, ...] = (),
    ) -> None:
        """`profiles`: the implemented feature profiles (Core among them); `connectors`: the
        number of physical connectors; `measurands`: what the meters report; `store`: where
        values persist (stored values override the defaults); `table`: the key table, KEYS
        unless a test supplies its own; `fixed_cable`: False for socket outlets
        (SOCKET_KEYS); `extra_keys`: keys the installed profile packages declare, added to
        the table (see ocpp_station.profiles.configuration)."""
        unknown = sorted(set(profiles) - set(PROFILES))
        if unknown:
            raise ValueError(f"unknown feature profile(s): {', '.join(unknown)}")
        if CORE not in profiles:
            raise ValueError("the Core profile is always implemented")
        if isinstance(connectors, bool) or not isinstance(connectors, int) or connectors < 1:
            raise ValueError(f"connectors must be a positive integer, not {connectors!r}")
        strange = sorted(set(measurands) - MEASURANDS)
        if strange:
            raise ValueError(f"not OCPP 1.6 measurands: {', '.join(strange)}")
        facts = StationFacts(
            profiles=tuple(p for p in PROFILES if p in profiles),
            connectors=connectors,
            measurands=frozenset(measurands),
        )
        if table is None:
            self._base = _shared_base(facts, fixed_cable, extra_keys)
        else:
            self._base = _build_base({**table, **{k.name: k for k in extra_keys}}, facts)
        # Values that differ from the defaults, as stored and parsed.
        self._values: dict[str, str] = {}
        self._ints: dict[str, int] = {}
        self._bools: dict[str, bool] = {}
        self._lists: dict[str, tuple[str, ...]] = {}
        self._subscribers: list[Subscriber] = []
        self._guards: dict[str, Guard] = {}
        self._store = store
        if store is not None:
            self._load(store.load_config())

    # --- reading -----------------------------------------------------------------------------

    @property
    def facts(self) -> StationFacts:
        return self._base.facts

    def get(self, key: str) -> str:
        """The running value of a visible key ("" for a write-only key never written).

        Raises KeyError for a key that is unknown or whose profile is not implemented.
        """
        value = self._values.get(key)
        if value is not None:
            return value
        value = self._base.values[key]
        return "" if value is None else value

    def get_int(self, key: str) -> int:
        value = self._ints.get(key)
        if value is None:
            try:
                value = self._base.ints[key]
            except KeyError:
                raise self._misuse(key, "int") from None
        return value

    def get_bool(self, key: str) -> bool:
        value = self._bools.get(key)
        if value is None:
            try:
                value = self._base.bools[key]
            except KeyError:
                raise self._misuse(key, "bool") from None
        return value

    def get_list(self, key: str) -> list[str]:
        """The items of a CSL key, stripped, without empty items."""
        value = self._lists.get(key)
        if value is None:
            try:
                value = self._base.lists[key]
            except KeyError:
                raise self._misuse(key, "csl") from None
        return list(value)

    def _misuse(self, key: str, wanted: str) -> Exception:
        definition = self._base.keys.get(key)
        if definition is None:
            return KeyError(key)
        return TypeError(f"{key} is {definition.type}-typed, not {wanted}")

    # --- GetConfiguration and the control API ------------------------------------------------

    def get_configuration(
        self, keys: Sequence[str] | None = None
    ) -> tuple[list[dict[str, object]], list[str]]:
        """GetConfiguration.conf's `configurationKey` and `unknownKey` (1.6 §5.8, §6.24).

        No keys (or an empty list): every visible key except write-only ones, which are left
        out of a full listing (OCPP-J §6: never give the AuthorizationKey back). Asked by name,
        a write-only key is answered without a value, so the central system learns the key
        exists without learning the secret. Unknown and invisible keys go to `unknownKey`.

        Every key asked for is answered here; GetConfigurationMaxKeys (1.6 §5.8, §9.1.9) is
        enforced at the OCPP edge, by the station's GetConfiguration handler, because only a
        CALLERROR can refuse a request (the control API is not limited).
        """
        base = self._base
        entries: list[dict[str, object]] = []
        unknown: list[str] = []
        if not keys:
            for name, definition in base.keys.items():
                if not definition.write_only:
                    entries.append(self._entry(name, definition))
            return entries, unknown
        answered: set[str] = set()
        for requested in keys:
            known = base.names.get(requested.casefold())
            if known is None:
                if requested not in unknown:
                    unknown.append(requested)
            elif known not in answered:
                answered.add(known)
                entries.append(self._entry(known, base.keys[known]))
        return entries, unknown

    def _entry(self, name: str, definition: KeyDef) -> dict[str, object]:
        entry: dict[str, object] = {"key": name, "readonly": definition.readonly}
        value = self._running(name)
        if value is not None and not definition.write_only:
            entry["value"] = value  # 1.6 §7.29: absent when the key is known but not set
        return entry

    def entries(self) -> list[tuple[str, str | None, bool]]:
        """(key, value, readonly) for every visible key; value None when write-only or unset."""
        return [
            (name, None if d.write_only else self._running(name), d.readonly)
            for name, d in self._base.keys.items()
        ]

    def _running(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value is not None else self._base.values[name]

    # --- ChangeConfiguration and --config ----------------------------------------------------

    def why_refused(self, key: str, value: str) -> Refusal | None:
        """Why ChangeConfiguration of `key` to `value` would not be Accepted (or
        RebootRequired), in words for a person; None when it would."""
        name = self._base.names.get(key.casefold())
        if name is None:
            return Refusal(f"{key} is not a configuration key of this station", unknown=True)
        definition = self._base.keys[name]
        if definition.readonly:
            return Refusal(f"{name} is read-only", readonly=True)
        try:
            self._checked(name, definition, value)
        except ValueError as error:
            return Refusal(f"{name}: {error}")
        return None

    def _checked(self, name: str, definition: KeyDef, value: str) -> str:
        """`value` as the key keeps it; ValueError when the key's rules or guard refuse it."""
        canonical = canonical_value(definition, value, self._base.facts, self._lookup)
        guard = self._guards.get(name)
        if guard is not None:
            guard(canonical, self._running(name))
        return canonical

    def change(self, key: str, value: str) -> ChangeStatus:
        """ChangeConfiguration (1.6 §5.3, §7.22).

        NotSupported: the key is unknown or its profile is not implemented (TC_040_1).
        Rejected: read-only, or the value breaks the key's rules (TC_040_2), or it could not
        be stored. Accepted: stored, running, subscribers told. RebootRequired: stored, but the
        running value stays until the station restarts and builds a new Configuration.
        """
        name = self._base.names.get(key.casefold())
        if name is None:
            return "NotSupported"
        definition = self._base.keys[name]
        if definition.readonly:
            return "Rejected"
        try:
            canonical = self._checked(name, definition, value)
        except ValueError as error:
            _log.info("ChangeConfiguration %s rejected: %s", name, error)
            return "Rejected"
        if self._store is not None:
            try:
                self._store.save_config(name, canonical)
            except Exception:
                # The central system must not be told Accepted for a value a power cut loses.
                _log.exception("ChangeConfiguration %s: the value could not be stored", name)
                return "Rejected"
        if definition.reboot_required:
            return "RebootRequired"
        self._apply(definition, canonical)
        self._notify(name, canonical)
        return "Accepted"

    def set_initial(self, key: str, value: str) -> None:
        """Set a key from the command line (`--config KEY=VALUE`, `--password`) and persist it.

        The rules of ChangeConfiguration, except that a key's `local_validator` replaces its
        validator. Called at start, before anything uses the value, so even a reboot-required
        key takes effect at once. Raises ConfigError with a one-line reason; a store that
        cannot write raises its own error.
        """
        name = self._base.names.get(key.casefold())
        if name is None:
            raise ConfigError(f"unknown configuration key {key!r}")
        definition = self._base.keys[name]
        if definition.readonly:
            raise ConfigError(f"configuration key {name} is read-only")
        try:
            canonical = canonical_value(
                definition, value, self._base.facts, self._lookup, local=True
            )
        except ValueError as error:
            raise ConfigError(f"invalid value for {name}: {error}") from None
        if self._store is not None:
            self._store.save_config(name, canonical)
        self._apply(definition, canonical)
        self._notify(name, canonical)

    def set_fixed(self, key: str, value: str) -> None:
        """Set a read-only key as a charger's build does (the bounds of its profile store,
        say): validated like any value, not persisted, told to no one. ConfigError for a key
        that is unknown or writable (those go through set_initial) or a bad value."""
        name = self._base.names.get(key.casefold())
        if name is None:
            raise ConfigError(f"unknown configuration key {key!r}")
        definition = self._base.keys[name]
        if not definition.readonly:
            raise ConfigError(f"configuration key {name} is writable: set it as such")
        try:
            canonical = canonical_value(
                definition, value, self._base.facts, self._lookup, local=True
            )
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
        self._apply(definition, canonical)

    def guard(self, key: str, check: Guard) -> None:
        """Let `check(new value, running value)` veto a ChangeConfiguration of `key` by raising
        ValueError (Rejected): for rules that depend on the station's state, such as the
        prerequisites of a SecurityProfile (whitepaper A05.FR.01-04). Values set locally
        (`--config`) are the installer's and pass unchecked."""
        if key not in self._base.keys:
            raise ConfigError(f"unknown configuration key {key!r}")
        self._guards[key] = check

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(key, value)` after every change that takes effect; returns a function
        that unsubscribes. Not called for RebootRequired changes, which take effect later."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    # --- internals ---------------------------------------------------------------------------

    def _load(self, stored: Mapping[str, str]) -> None:
        for name, value in stored.items():
            definition = self._base.keys.get(name)
            if definition is None or definition.readonly:
                # A key of a profile not implemented now, or one this version no longer has:
                # kept in the store, not used.
                continue
            try:
                canonical = canonical_value(
                    definition, value, self._base.facts, self._lookup, local=True
                )
            except ValueError as error:
                # Stored under other rules (say, a meter since replaced): fall back to the
                # default rather than refuse to start.
                _log.warning("stored %s ignored, default used: %s", name, error)
                continue
            self._apply(definition, canonical)

    def _apply(self, definition: KeyDef, value: str) -> None:
        name = definition.name
        if value == self._base.values[name]:
            self._values.pop(name, None)
            self._ints.pop(name, None)
            self._bools.pop(name, None)
            self._lists.pop(name, None)
            return
        self._values[name] = value
        _parse_into(definition, value, self._ints, self._bools, self._lists)

    def _notify(self, name: str, value: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(name, value)
            except Exception:
                # One failing listener must not keep the others from hearing of the change.
                _log.exception("configuration subscriber failed on %s", name)

    def _lookup(self, key: str) -> str | None:
        return self._running(key) if key in self._base.keys else None
