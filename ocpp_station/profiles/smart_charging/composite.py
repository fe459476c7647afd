"""The composite schedule as a pure function (OCPP 1.6 §3.13.3, §5.7, digest §5.4): profiles,
a connector, a time window, a unit and the electrical facts in; periods out. No clock, no I/O.

At each instant a connector's limit is the lowest of
- the prevailing ChargePointMaxProfile (connector 0; the highest stack level that says
  something then),
- the prevailing TxProfile of its transaction, or, where none says anything, the prevailing
  TxDefaultProfile of the connector, or else of connector 0 (§3.13.1: a connector's own
  default replaces connector 0's there),
- the connector's rated maximum: a local limit, so that a window without any profile still has
  a positive limit (OCTT expects one, digest §5.4).
Connector 0's is what the station may draw from the grid: the sum of its connectors' limits,
capped by the ChargePointMaxProfile.

The limit changes only where some profile's period, duration, recurrence or validity begins or
ends; the schedule is evaluated there and equal neighbours are merged (the test tool counts
periods: MicroOcpp #360).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ocpp_station.profiles.smart_charging.model import (
    AMPS,
    CHARGE_POINT_MAX,
    DEFAULT_PHASES,
    RELATIVE,
    TX,
    TX_DEFAULT,
    WATTS,
    ChargingProfile,
    Period,
)


@dataclass(frozen=True, slots=True)
class Electrical:
    """What converts a connector's amps to watts: W = A x voltage x phases ([E] 3.69)."""

    voltage_v: float
    phases: int  # the phases the connector really uses; 1 for DC
    max_power_w: float  # the rated maximum: the local limit where no profile says less

    def convert(self, limit: float, unit: str, number_phases: int | None, to: str) -> float:
        """A limit given in `unit` expressed in `to`; unchanged when they are the same."""
        if unit == to:
            return limit
        if unit == AMPS:
            # [E] 3.34: more phases in the profile than in use do not scale the limit up.
            phases = min(number_phases or DEFAULT_PHASES, self.phases)
            return limit * self.voltage_v * phases
        return limit / (self.voltage_v * self.phases)

    def rated(self, to: str) -> float:
        return self.convert(self.max_power_w, WATTS, None, to)


@dataclass(frozen=True, slots=True)
class ConnectorFacts:
    electrical: Electrical
    tx_start: int | None = None  # a running transaction's start: a Relative profile's origin


@dataclass(frozen=True, slots=True)
class Facts:
    """The station's electrical facts: each connector's, and the grid connection's (which
    converts a ChargePointMaxProfile and connector 0's total)."""

    connectors: Mapping[int, ConnectorFacts]
    station: Electrical


def _prevailing(
    profiles: Sequence[ChargingProfile], t: int, relative_origin: int
) -> tuple[ChargingProfile, Period] | None:
    """§3.13.2: the highest stack level among those that say something at t."""
    best: tuple[ChargingProfile, Period] | None = None
    for p in profiles:
        if best is not None and p.stack_level <= best[0].stack_level:
            continue
        period = p.period_at(t, relative_origin)
        if period is not None:
            best = (p, period)
    return best


def _limit(
    profiles: Sequence[ChargingProfile],
    t: int,
    origin: int,
    electrical: Electrical,
    unit: str,
) -> float | None:
    found = _prevailing(profiles, t, origin)
    if found is None:
        return None
    profile, period = found
    return electrical.convert(period.limit, profile.unit, period.phases, unit)


class Book:
    """Profiles sorted out once for the questions below: the ChargePointMaxProfiles, and per
    connector its groups in order of precedence. Immutable: a station makes a new one when its
    profiles change."""

    __slots__ = ("_groups", "cp_max", "profiles")

    def __init__(self, profiles: Sequence[ChargingProfile]) -> None:
        self.profiles = tuple(profiles)
        self.cp_max = [p for p in self.profiles if p.purpose == CHARGE_POINT_MAX]
        self._groups: dict[int, list[list[ChargingProfile]]] = {}

    def groups(self, connector_id: int) -> list[list[ChargingProfile]]:
        """§3.13.1, in order of precedence: the transaction's own profiles, the connector's
        defaults, connector 0's defaults; the empty ones left out."""
        found = self._groups.get(connector_id)
        if found is None:
            defaults = [p for p in self.profiles if p.purpose == TX_DEFAULT]
            candidates = (
                [p for p in self.profiles if p.purpose == TX and p.connector_id == connector_id],
                [p for p in defaults if p.connector_id == connector_id],
                [p for p in defaults if p.connector_id == 0],
            )
            found = self._groups[connector_id] = [g for g in candidates if g]
        return found


def _own(
    book: Book, connector_id: int, facts: ConnectorFacts, t: int, window_start: int, unit: str
) -> float | None:
    """What the connector's transaction profiles allow at t, or None where none says."""
    origin = facts.tx_start if facts.tx_start is not None else window_start
    for group in book.groups(connector_id):
        own = _limit(group, t, origin, facts.electrical, unit)
        if own is not None:
            return own
    return None


def _own_watts(
    book: Book, connector_id: int, mine: ConnectorFacts, t: int, window_start: int
) -> float | None:
    """_own in W, capped by the connector's rating."""
    own = _own(book, connector_id, mine, t, window_start, WATTS)
    return None if own is None else min(own, mine.electrical.max_power_w)


def _connector_limit(
    book: Book, connector_id: int, facts: Facts, t: int, window_start: int, unit: str
) -> float:
    """A connector's composite at t: its rating, its profiles and the ChargePointMaxProfile
    in the connector's own terms (no connector can draw more than the whole station may)."""
    mine = facts.connectors[connector_id]
    limit = mine.electrical.rated(unit)
    own = _own(book, connector_id, mine, t, window_start, unit)
    if own is not None:
        limit = min(limit, own)
    cap = _limit(book.cp_max, t, window_start, mine.electrical, unit)
    return limit if cap is None else min(limit, cap)


def _station_limit(book: Book, facts: Facts, t: int, window_start: int, unit: str) -> float:
    """Connector 0: the sum of the connectors' limits, capped by the ChargePointMaxProfile
    ([E] 3.30)."""
    station = facts.station
    total = 0.0
    for connector_id, mine in facts.connectors.items():
        watts = _own_watts(book, connector_id, mine, t, window_start)
        if watts is None:
            watts = mine.electrical.max_power_w
        total += watts if unit == WATTS else station.convert(watts, WATTS, None, AMPS)
    # The station's own rating (its grid connection) may be below the sum of its connectors'.
    total = min(total, station.rated(unit))
    cap = _limit(book.cp_max, t, window_start, station, unit)
    return total if cap is None else min(total, cap)


def in_force(book: Book, connector_id: int, t: int, facts: Facts) -> float | None:
    """What the transaction profiles of connector `connector_id` (> 0) allow at t in W,
    capped by its rating; None when none of them says anything then."""
    return _own_watts(book, connector_id, facts.connectors[connector_id], t, t)


def share(wants: Mapping[int, float], budget: float | None) -> dict[int, float]:
    """Split a ChargePointMaxProfile's budget over the connectors that draw: evenly, and what
    one connector cannot use goes to the others (water filling)."""
    if budget is None or sum(wants.values()) <= budget:
        return dict(wants)
    out: dict[int, float] = {}
    left = max(budget, 0.0)
    pending = sorted(wants.items(), key=lambda item: item[1])
    while pending:
        fair = left / len(pending)
        connector_id, want = pending[0]
        if want > fair:
            out.update((cid, fair) for cid, _ in pending)
            break
        out[connector_id] = want
        left -= want
        pending.pop(0)
    return out


def cp_max_limit(book: Book, t: int, facts: Facts, unit: str = WATTS) -> float | None:
    """The prevailing ChargePointMaxProfile's limit at t, or None when none says anything."""
    return _limit(book.cp_max, t, t, facts.station, unit)


def _relative_origins(facts: Facts, connector_id: int, start: int) -> set[int]:
    """Where Relative profiles start from: each running transaction's start (connector 0
    adds every connector's), and the window's start."""
    if connector_id == 0:
        chosen = [f.tx_start for f in facts.connectors.values()]
    else:
        chosen = [facts.connectors[connector_id].tx_start]
    return {t for t in chosen if t is not None} | {start}


def composite(
    profiles: Sequence[ChargingProfile],
    connector_id: int,
    start: int,
    duration: int,
    unit: str,
    facts: Facts,
) -> list[Period]:
    """GetCompositeSchedule's periods for [start, start + duration), relative to start, in
    `unit` ("A" or "W"), limits to one decimal place, equal neighbours merged. Never empty:
    a duration of 0 still gives the limit in force at start (libocpp #1169)."""
    end = start + max(duration, 0)
    book = Book(profiles)
    instants = {start}
    relative = _relative_origins(facts, connector_id, start)
    for p in book.profiles:
        for origin in relative if p.kind == RELATIVE else (start,):
            instants |= p.changes(start, end, origin)
    periods: list[Period] = []
    for t in sorted(instants):
        if connector_id == 0:
            value = _station_limit(book, facts, t, start, unit)
        else:
            value = _connector_limit(book, connector_id, facts, t, start, unit)
        value = round(value, 1)
        if periods and periods[-1].limit == value:
            continue
        periods.append(Period(t - start, value))
    return periods


def next_change(book: Book, now: int, facts: Facts) -> int | None:
    """The first instant after now at which a limit may change; None when none ever does."""
    relative = _relative_origins(facts, 0, now)
    found = [
        t
        for p in book.profiles
        for origin in (relative if p.kind == RELATIVE else (now,))
        if (t := p.next_after(now, origin)) is not None
    ]
    return min(found) if found else None
