"""What a fleet's stations and their drivers do: the scenario file (TOML).

Every field has a default, so an empty file (or none) gives the reference profile: automatic
sessions of 60-80 s every 15-30 s on each connector, MeterValues every 30 s. A range is written
`[low, high]` and drawn uniformly; a single number means exactly that. Everything random is
drawn from generators seeded by `seed` and the station's number: the same file and seed give
the same fleet.

```toml
seed = 1                      # the whole fleet's randomness

[config]                      # OCPP configuration keys set on every station at start
MeterValueSampleInterval = "30"

[sessions]
gap = [15, 30]                # seconds a connector waits between sessions
duration = [60, 80]           # seconds from the start of charging to the stop
start_probability = 1.0       # chance that a gap ends with a driver arriving
card_delay = [1, 3]           # seconds from plugging in to presenting the card
unplug_delay = [1, 3]         # seconds from stopping to pulling the cable out
stop = "card"                 # how a session ends: "card" (the same card again), "unplug"
                              # (EV side disconnect) or "mixed" (half and half)
remote_share = 0.0            # share of sessions the central system must start: the driver
                              # plugs in and waits for RemoteStartTransaction (a CSMS app flow)
remote_wait = 60              # seconds the driver waits for it before giving up

[cards]
mode = "random"               # "random", "round-robin" (fleet-wide) or "per-connector"
prefix = "TAG-"               # cards TAG-1 .. TAG-<count>, unless `tags` lists them
count = 1000
# tags = ["04A2B3C4D5", "04A2B3C4D6"]

[ev]                          # the cars that arrive (default: the simulator's example cars)
capacity_kwh = [40, 100]
soc_percent = [10, 60]
max_power_kw = [50, 150]

[faults]                      # injected trouble, per station (connection) or connector
connection_drops_per_hour = 0.0
hardware_faults_per_hour = 0.0
fault_duration = [10, 60]
error_codes = ["GroundFailure", "HighTemperature", "OverCurrentFailure"]

[[faults.power_loss]]         # a share of the fleet loses power at once, then comes back
at = 300                      # seconds after the fleet started
share = 0.1
off = 30                      # seconds without power
```
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ocpp.v16.enums import ChargePointErrorCode

Range = tuple[float, float]
T = TypeVar("T")
STOP_MODES = ("card", "unplug", "mixed")
CARD_MODES = ("random", "round-robin", "per-connector")
FAULT_CODES = frozenset(c.value for c in ChargePointErrorCode if c.value != "NoError")


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class Sessions:
    gap: Range = (15.0, 30.0)
    duration: Range = (60.0, 80.0)
    start_probability: float = 1.0
    card_delay: Range = (1.0, 3.0)
    unplug_delay: Range = (1.0, 3.0)
    stop: str = "card"
    remote_share: float = 0.0
    remote_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class Cards:
    mode: str = "random"
    tags: tuple[str, ...] = tuple(f"TAG-{n}" for n in range(1, 1001))


@dataclass(frozen=True, slots=True)
class Ev:
    capacity_kwh: Range | None = None
    soc_percent: Range | None = None
    max_power_kw: Range | None = None

    @property
    def configured(self) -> bool:
        return any(r is not None for r in (self.capacity_kwh, self.soc_percent, self.max_power_kw))


@dataclass(frozen=True, slots=True)
class PowerLoss:
    at: float
    share: float
    off: float


@dataclass(frozen=True, slots=True)
class Faults:
    connection_drops_per_hour: float = 0.0
    hardware_faults_per_hour: float = 0.0
    fault_duration: Range = (10.0, 60.0)
    error_codes: tuple[str, ...] = ("GroundFailure", "HighTemperature", "OverCurrentFailure")
    power_loss: tuple[PowerLoss, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int = 1
    config: tuple[tuple[str, str], ...] = (("MeterValueSampleInterval", "30"),)
    sessions: Sessions = field(default_factory=Sessions)
    cards: Cards = field(default_factory=Cards)
    ev: Ev = field(default_factory=Ev)
    faults: Faults = field(default_factory=Faults)

    def rng(self, *parts: object) -> Draws:
        """A generator for one station (or connector) of the fleet, the same on every run."""
        key = "/".join(str(p) for p in (self.seed, *parts)).encode()
        return Draws(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little"))


_MASK = (1 << 64) - 1


class Draws:
    """SplitMix64: a generator whose whole state is one integer.

    A fleet holds one per connector; random.Random keeps 2.5 KB of Mersenne Twister state, which
    ten thousand stations of three connectors would pay a hundred megabytes for.
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _MASK

    def getrandbits(self, bits: int) -> int:
        """Up to 64 random bits."""
        self._state = state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return (z ^ (z >> 31)) >> (64 - bits)

    def random(self) -> float:
        """Uniform in [0, 1)."""
        return self.getrandbits(53) / 9007199254740992.0

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def choice(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def expovariate(self, rate: float) -> float:
        """Exponentially distributed with the given rate (mean 1 / rate)."""
        return -math.log(1.0 - self.random()) / rate

    def shuffle(self, items: list[Any]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = int(self.random() * (i + 1))
            items[i], items[j] = items[j], items[i]


def draw(rng: Draws, value: Range) -> float:
    low, high = value
    return low if low == high else rng.uniform(low, high)


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def parse_scenario(data: dict[str, Any]) -> Scenario:
    _only(data, "", {"seed", "config", "sessions", "cards", "ev", "faults"})
    seed = data.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScenarioError("seed must be an integer")
    config = _table(data, "config")
    for key, value in config.items():
        if not isinstance(value, str | int | bool):
            raise ScenarioError(f"config.{key} must be a string, number or boolean")
    return Scenario(
        seed=seed,
        config=tuple((k, _config_value(v)) for k, v in config.items())
        if "config" in data
        else Scenario().config,
        sessions=_sessions(_table(data, "sessions")),
        cards=_cards(_table(data, "cards")),
        ev=_ev(_table(data, "ev")),
        faults=_faults(_table(data, "faults")),
    )


def _sessions(t: dict[str, Any]) -> Sessions:
    d = Sessions()
    _only(t, "sessions", set(Sessions.__slots__))
    stop = t.get("stop", d.stop)
    if stop not in STOP_MODES:
        raise ScenarioError(f"sessions.stop must be one of {', '.join(STOP_MODES)}")
    return Sessions(
        gap=_range(t, "sessions.gap", d.gap, minimum=0.0),
        duration=_range(t, "sessions.duration", d.duration, minimum=1.0),
        start_probability=_share(t, "sessions.start_probability", d.start_probability),
        card_delay=_range(t, "sessions.card_delay", d.card_delay, minimum=0.0),
        unplug_delay=_range(t, "sessions.unplug_delay", d.unplug_delay, minimum=0.0),
        stop=stop,
        remote_share=_share(t, "sessions.remote_share", d.remote_share),
        remote_wait=_number(t, "sessions.remote_wait", d.remote_wait, minimum=1.0),
    )


def _cards(t: dict[str, Any]) -> Cards:
    _only(t, "cards", {"mode", "prefix", "count", "tags"})
    mode = t.get("mode", "random")
    if mode not in CARD_MODES:
        raise ScenarioError(f"cards.mode must be one of {', '.join(CARD_MODES)}")
    if "tags" in t:
        if "prefix" in t or "count" in t:
            raise ScenarioError("cards: give either tags or prefix and count")
        tags = t["tags"]
        if not isinstance(tags, list) or not tags:
            raise ScenarioError("cards.tags must be a non-empty list of strings")
        for tag in tags:
            if not isinstance(tag, str) or not 1 <= len(tag) <= 20 or not tag.isprintable():
                raise ScenarioError(f"cards.tags: {tag!r} is not an idTag (1 to 20 characters)")
        return Cards(mode, tuple(tags))
    prefix = t.get("prefix", "TAG-")
    count = t.get("count", 1000)
    if not isinstance(prefix, str) or not isinstance(count, int) or count < 1:
        raise ScenarioError("cards.prefix must be a string and cards.count a positive integer")
    if len(f"{prefix}{count}") > 20:
        raise ScenarioError("cards: prefix and number must fit an idTag (20 characters)")
    return Cards(mode, tuple(f"{prefix}{n}" for n in range(1, count + 1)))


def _ev(t: dict[str, Any]) -> Ev:
    _only(t, "ev", {"capacity_kwh", "soc_percent", "max_power_kw"})
    return Ev(
        capacity_kwh=_range(t, "ev.capacity_kwh", None, minimum=1.0),
        soc_percent=_range(t, "ev.soc_percent", None, minimum=0.0, maximum=100.0),
        max_power_kw=_range(t, "ev.max_power_kw", None, minimum=1.0),
    )


def _faults(t: dict[str, Any]) -> Faults:
    d = Faults()
    _only(t, "faults", set(Faults.__slots__))
    codes = t.get("error_codes", list(d.error_codes))
    if not isinstance(codes, list) or not codes:
        raise ScenarioError("faults.error_codes must be a non-empty list")
    for code in codes:
        if code not in FAULT_CODES:
            raise ScenarioError(f"faults.error_codes: {code!r} is not a fault ErrorCode")
    losses = t.get("power_loss", [])
    if not isinstance(losses, list):
        raise ScenarioError("faults.power_loss must be a list of tables ([[faults.power_loss]])")
    parsed = []
    for i, loss in enumerate(losses):
        where = f"faults.power_loss[{i}]"
        if not isinstance(loss, dict):
            raise ScenarioError(f"{where} must be a table")
        _only(loss, where, {"at", "share", "off"})
        parsed.append(
            PowerLoss(
                at=_number(loss, f"{where}.at", None, minimum=0.0),
                share=_share(loss, f"{where}.share", None),
                off=_number(loss, f"{where}.off", 30.0, minimum=0.0),
            )
        )
    return Faults(
        connection_drops_per_hour=_number(
            t, "faults.connection_drops_per_hour", d.connection_drops_per_hour, minimum=0.0
        ),
        hardware_faults_per_hour=_number(
            t, "faults.hardware_faults_per_hour", d.hardware_faults_per_hour, minimum=0.0
        ),
        fault_duration=_range(t, "faults.fault_duration", d.fault_duration, minimum=0.0),
        error_codes=tuple(codes),
        power_loss=tuple(sorted(parsed, key=lambda p: p.at)),
    )


# -- field readers ----------------------------------------------------------------------------
def _only(table: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ScenarioError(
            f"unknown field {prefix}{unknown[0]} (known: {', '.join(sorted(allowed))})"
        )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{name} must be a table ([{name}])")
    return value


def _config_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(t: dict[str, Any], where: str, default: float | None, *, minimum: float) -> float:
    value = t.get(where.rsplit(".", 1)[-1], default)
    if value is None:
        raise ScenarioError(f"{where} is required")
    if not _is_number(value) or value < minimum:
        raise ScenarioError(f"{where} must be a number of at least {minimum:g}")
    return float(value)


def _share(t: dict[str, Any], where: str, default: float | None) -> float:
    value = t.get(where.rsplit(".", 1)[-1], default)
    if value is None:
        raise ScenarioError(f"{where} is required")
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ScenarioError(f"{where} must be a number from 0 to 1")
    return float(value)


def _range(
    t: dict[str, Any],
    where: str,
    default: Range | None,
    *,
    minimum: float,
    maximum: float = math.inf,
) -> Any:
    name = where.rsplit(".", 1)[-1]
    if name not in t:
        return default
    value = t[name]
    if _is_number(value):
        value = [value, value]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
        or not minimum <= value[0] <= value[1] <= maximum
    ):
        bound = f" and at most {maximum:g}" if maximum != math.inf else ""
        raise ScenarioError(
            f"{where} must be a number or [low, high] with low <= high, at least {minimum:g}{bound}"
        )
    return (float(value[0]), float(value[1]))
