"""A charging profile as the station keeps it (OCPP 1.6 §7.8 ChargingProfile, §7.13
ChargingSchedule, §3.13), and when its schedule says what.

Instants are whole seconds since the epoch (UTC): the composite schedule's periods are whole
seconds (§7.14 startPeriod is an integer), so nothing finer can show.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from ocpp_station import timefmt

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
ABSOLUTE = "Absolute"
RECURRING = "Recurring"
RELATIVE = "Relative"
DAILY = "Daily"
WEEKLY = "Weekly"
AMPS = "A"
WATTS = "W"
RECURRENCE = {DAILY: 86_400, WEEKLY: 7 * 86_400}
DEFAULT_PHASES = 3  # §7.14 numberPhases: "If not defined, 3 phases are assumed."


class Refused(ValueError):
    """A well-formed profile the station does not take: SetChargingProfile answers Rejected."""


def seconds(dt: datetime) -> int:
    """An instant in whole epoch seconds (the sub-second part is dropped)."""
    return math.floor(dt.timestamp())


@dataclass(frozen=True, slots=True)
class Period:
    """One ChargingSchedulePeriod: from `start` seconds after the schedule's origin."""

    start: int
    limit: float
    phases: int | None = None

    def json(self) -> dict[str, Any]:
        """A period of GetCompositeSchedule.conf (whose limits are per phase in use)."""
        return {"startPeriod": self.start, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    profile_id: int
    connector_id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str | None
    valid_from: int  # absent in the request: valid once received (§7.8)
    valid_to: int | None
    transaction_id: int | None
    unit: str
    periods: tuple[Period, ...]
    duration: int | None
    start_schedule: int | None  # absent for an Absolute or Recurring one: when received
    received: int
    raw: dict[str, Any] = field(compare=False, repr=False)
    starts: tuple[int, ...] = field(default=(), compare=False, repr=False)  # of the periods

    @classmethod
    def from_request(
        cls, connector_id: int, payload: dict[str, Any], received: int
    ) -> ChargingProfile:
        """A profile from SetChargingProfile's csChargingProfiles (or RemoteStart's
        chargingProfile), already valid against the schema. Refused: what the schema cannot
        say but the specification does."""
        schedule = payload["chargingSchedule"]
        periods = tuple(
            Period(int(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
            for p in schedule["chargingSchedulePeriod"]
        )
        if not periods:
            raise Refused("a schedule needs at least one period")
        if periods[0].start != 0:
            raise Refused("the first startPeriod must be 0 ([E] 3.45)")
        if any(b.start <= a.start for a, b in pairwise(periods)):
            raise Refused("startPeriod must increase from period to period")
        if any(p.limit < 0 for p in periods):
            raise Refused("a limit cannot be negative")
        if any(p.phases is not None and not 1 <= p.phases <= 3 for p in periods):
            raise Refused("numberPhases must be 1, 2 or 3")
        kind = payload["chargingProfileKind"]
        recurrency = payload.get("recurrencyKind")
        if kind == RECURRING and recurrency is None:
            raise Refused("a Recurring profile needs a recurrencyKind")
        duration = schedule.get("duration")
        if duration is not None and duration < 0:
            raise Refused("duration cannot be negative")
        valid_from = _instant(payload.get("validFrom"))
        valid_to = _instant(payload.get("validTo"))
        if valid_from is not None and valid_to is not None and valid_to <= valid_from:
            raise Refused("validTo must be after validFrom")
        start = _instant(schedule.get("startSchedule"))
        if start is None and kind in (ABSOLUTE, RECURRING):
            start = received
        return cls(
            profile_id=payload["chargingProfileId"],
            connector_id=connector_id,
            stack_level=payload["stackLevel"],
            purpose=payload["chargingProfilePurpose"],
            kind=kind,
            recurrency=recurrency if kind == RECURRING else None,
            valid_from=received if valid_from is None else valid_from,
            valid_to=valid_to,
            transaction_id=payload.get("transactionId"),
            unit=schedule["chargingRateUnit"],
            periods=periods,
            duration=duration,
            start_schedule=start,
            received=received,
            raw=payload,
            starts=tuple(p.start for p in periods),
        )

    def record(self) -> dict[str, Any]:
        """What the store keeps: the profile as received, where, and when."""
        return {"connectorId": self.connector_id, "received": self.received, "profile": self.raw}

    @classmethod
    def from_record(cls, value: dict[str, Any]) -> ChargingProfile:
        return cls.from_request(int(value["connectorId"]), value["profile"], int(value["received"]))

    # -- what the schedule says when -----------------------------------------------------------
    @property
    def anchor(self) -> int:
        """An Absolute or Recurring schedule's start (from_request sets it for these)."""
        return self.start_schedule if self.start_schedule is not None else self.received

    def origin(self, t: int, relative_origin: int) -> int | None:
        """The start of the schedule's run that covers t; None before the schedule begins."""
        if self.kind == RELATIVE:
            origin = relative_origin
        else:
            origin = self.anchor
            if self.recurrency is not None:
                if t < origin:
                    return None
                every = RECURRENCE[self.recurrency]
                origin += (t - origin) // every * every
        return origin if t >= origin else None

    def period_at(self, t: int, relative_origin: int) -> Period | None:
        """The period in force at t, or None when the profile says nothing then (not valid,
        before its start, past its duration or its recurrence: §3.13.2 falls through)."""
        if t < self.valid_from or (self.valid_to is not None and t >= self.valid_to):
            return None
        origin = self.origin(t, relative_origin)
        if origin is None:
            return None
        offset = t - origin
        if self.duration is not None and offset >= self.duration:
            return None
        # A recurrence cuts what runs past it (§5.16.2: "the remainder periods SHALL not be
        # executed"); origin() already keeps offset below the recurrence. The first period
        # starts at 0 (from_request), so one always covers offset >= 0.
        return self.periods[bisect_right(self.starts, offset) - 1]

    def next_after(self, t: int, relative_origin: int) -> int | None:
        """The first instant after t at which period_at may change (the least of changes(t,
        ...)), found without listing them: None when it never does."""
        found: list[int] = []
        if self.valid_from > t:
            found.append(self.valid_from)
        if self.valid_to is not None and self.valid_to > t:
            found.append(self.valid_to)
        origin = relative_origin if self.kind == RELATIVE else self.anchor
        if self.recurrency is not None and t >= origin:
            every = RECURRENCE[self.recurrency]
            origin += (t - origin) // every * every
            found.append(origin + every)
        if t < origin:
            found.append(origin)
        else:
            following = bisect_right(self.starts, t - origin)
            if following < len(self.starts):
                found.append(origin + self.starts[following])
            if self.duration is not None and origin + self.duration > t:
                found.append(origin + self.duration)
        return min(found) if found else None

    def changes(self, lo: int, hi: int, relative_origin: int) -> set[int]:
        """Every instant in (lo, hi) at which period_at may change."""
        out = {self.valid_from}
        if self.valid_to is not None:
            out.add(self.valid_to)
        origins: list[int]
        if self.kind == RELATIVE:
            origins = [relative_origin]
        elif self.recurrency is not None:
            every = RECURRENCE[self.recurrency]
            first = self.anchor
            if lo > first:
                first += (lo - first) // every * every
            # Each recurrence begins with a period at 0: its start is among the changes.
            origins = list(range(first, hi, every))
        else:
            origins = [self.anchor]
        for o in origins:
            out.update(o + p.start for p in self.periods)
            if self.duration is not None:
                out.add(o + self.duration)
        return {t for t in out if lo < t < hi}


def _instant(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return seconds(timefmt.parse(text))
    except ValueError as exc:
        raise Refused(f"not a date: {text!r}") from exc
