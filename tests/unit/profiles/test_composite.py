"""The composite schedule as a pure function (§3.13.3, §5.7; profile-notes): the reference
composite of OCTT TC_066, merging, connector 0, unit conversion, and, on random profile sets,
equality with a brute-force evaluation of every second of the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.profiles.smart_charging.composite import (
    Book,
    ConnectorFacts,
    Electrical,
    Facts,
    composite,
    cp_max_limit,
    in_force,
    next_change,
    share,
)
from ocpp_station.profiles.smart_charging.model import ChargingProfile, Refused

T0 = 1_800_000_000  # a whole second, as the station's clock is read
DC = Electrical(400.0, 1, 50_000.0)  # 125 A at 400 V


def iso(t: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make(
    profile_id: int,
    connector_id: int,
    purpose: str,
    periods: Sequence[tuple[int, float]],
    *,
    stack: int = 0,
    kind: str = "Absolute",
    start: int | None = T0,
    duration: int | None = None,
    unit: str = "A",
    phases: int | None = None,
    valid: tuple[int | None, int | None] = (None, None),
    recurrency: str | None = None,
) -> ChargingProfile:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": s, "limit": v, **({"numberPhases": phases} if phases else {})}
            for s, v in periods
        ],
    }
    if duration is not None:
        schedule["duration"] = duration
    if start is not None and kind != "Relative":
        schedule["startSchedule"] = iso(start)
    payload: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if recurrency:
        payload["recurrencyKind"] = recurrency
    if valid[0] is not None:
        payload["validFrom"] = iso(valid[0])
    if valid[1] is not None:
        payload["validTo"] = iso(valid[1])
    return ChargingProfile.from_request(connector_id, payload, T0 - 10_000)


def facts(tx_start: int | None = None, connectors: int = 2, e: Electrical = DC) -> Facts:
    return Facts(
        {c: ConnectorFacts(e, tx_start if c == 1 else None) for c in range(1, connectors + 1)},
        Electrical(e.voltage_v, e.phases, e.max_power_w * connectors),
    )


def pairs(periods: Any) -> list[tuple[int, float]]:
    return [(p.start, p.limit) for p in periods]


REFERENCE = [
    make(1, 0, "ChargePointMaxProfile", [(0, 10)], duration=86_400),
    make(2, 1, "TxDefaultProfile", [(0, 6), (60, 10), (120, 8), (180, 25), (260, 8)], duration=300),
    make(3, 1, "TxProfile", [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)], duration=260),
]


def test_the_reference_composite_of_tc_066() -> None:
    """profile-notes: the TxProfile replaces the default where it says something; only the
    ChargePointMaxProfile combines by minimum; past both durations the 10 A cap remains."""
    got = composite(REFERENCE, 1, T0, 400, "A", facts(T0))
    assert pairs(got) == [(0, 8.0), (50, 10.0), (200, 6.0), (240, 10.0), (260, 8.0), (300, 10.0)]


def test_the_window_starts_where_asked_and_stops_at_its_duration() -> None:
    got = composite(REFERENCE, 1, T0 + 100, 150, "A", facts(T0))
    assert pairs(got) == [(0, 10.0), (100, 6.0), (140, 10.0)]


def test_a_zero_duration_still_gives_the_limit_in_force() -> None:
    """libocpp #1169: never an empty period list."""
    assert pairs(composite(REFERENCE, 1, T0 + 210, 0, "A", facts(T0))) == [(0, 6.0)]


def test_without_any_profile_the_rated_maximum_is_the_limit() -> None:
    """OCTT expects a positive hardware maximum where no profile applies (digest §5.4)."""
    assert pairs(composite([], 1, T0, 60, "W", facts())) == [(0, 50_000.0)]
    assert pairs(composite([], 1, T0, 60, "A", facts())) == [(0, 125.0)]


def test_equal_neighbours_are_merged() -> None:
    """MicroOcpp #360: 6, 6, 6 from three periods is one period."""
    p = make(1, 1, "TxDefaultProfile", [(0, 6), (30, 6), (60, 6), (90, 7)])
    assert pairs(composite([p], 1, T0, 120, "A", facts())) == [(0, 6.0), (90, 7.0)]


def test_connector_zero_is_the_sum_capped_by_the_charge_point_max() -> None:
    """[E] 3.30: the station's total; each connector at most its rating."""
    defaults = [make(1, 1, "TxDefaultProfile", [(0, 10_000)], unit="W")]
    assert pairs(composite(defaults, 0, T0, 60, "W", facts())) == [(0, 60_000.0)]
    cap = make(2, 0, "ChargePointMaxProfile", [(0, 40_000), (30, 5_000)], unit="W")
    assert pairs(composite([*defaults, cap], 0, T0, 60, "W", facts())) == [
        (0, 40_000.0),
        (30, 5_000.0),
    ]


def test_a_connectors_own_default_replaces_connector_zeros_there() -> None:
    """§3.13.1: a TxDefaultProfile for connector N replaces the connector-0 one only there."""
    shared = make(1, 0, "TxDefaultProfile", [(0, 20)], stack=5)
    own = make(2, 1, "TxDefaultProfile", [(0, 30)], stack=0)
    assert pairs(composite([shared, own], 1, T0, 10, "A", facts())) == [(0, 30.0)]
    assert pairs(composite([shared, own], 2, T0, 10, "A", facts())) == [(0, 20.0)]


def test_amps_and_watts_convert_with_voltage_and_phases() -> None:
    """[E] 3.69: W = A x V x phases; [E] 3.34: numberPhases above those in use does not
    scale a limit up."""
    ac3 = Electrical(230.0, 3, 22_080.0)
    p = make(1, 1, "TxDefaultProfile", [(0, 16)], phases=3)
    assert pairs(composite([p], 1, T0, 10, "W", facts(e=ac3))) == [(0, 11_040.0)]
    one_phase = make(1, 1, "TxDefaultProfile", [(0, 16)], phases=1)
    assert pairs(composite([one_phase], 1, T0, 10, "W", facts(e=ac3))) == [(0, 3_680.0)]
    ac1 = Electrical(230.0, 1, 7_360.0)
    assert pairs(composite([p], 1, T0, 10, "W", facts(e=ac1))) == [(0, 3_680.0)]
    watts = make(1, 1, "TxDefaultProfile", [(0, 4_600)], unit="W")
    assert pairs(composite([watts], 1, T0, 10, "A", facts(e=ac1))) == [(0, 20.0)]


def test_relative_runs_from_the_transaction_start_and_recurring_repeats() -> None:
    rel = make(1, 1, "TxDefaultProfile", [(0, 6), (100, 9)], kind="Relative")
    assert pairs(composite([rel], 1, T0 + 40, 100, "A", facts(T0))) == [(0, 6.0), (60, 9.0)]
    assert pairs(composite([rel], 1, T0 + 40, 100, "A", facts(None))) == [(0, 6.0)]
    daily = make(
        2, 1, "TxDefaultProfile", [(0, 6), (3_600, 9)], kind="Recurring", recurrency="Daily",
        start=T0 - 86_400 * 3,
    )  # fmt: skip
    assert pairs(composite([daily], 1, T0 + 3_000, 1_200, "A", facts())) == [(0, 6.0), (600, 9.0)]
    # At the recurrence boundary the schedule starts over (§5.16.2).
    assert pairs(composite([daily], 1, T0 - 60, 120, "A", facts())) == [(0, 9.0), (60, 6.0)]


def test_validity_bounds_the_profile() -> None:
    """§3.13.2: outside validFrom..validTo the profile says nothing (fall through)."""
    p = make(1, 1, "TxDefaultProfile", [(0, 6)], valid=(T0 + 10, T0 + 20))
    assert pairs(composite([p], 1, T0, 30, "A", facts())) == [(0, 125.0), (10, 6.0), (20, 125.0)]


@pytest.mark.parametrize(
    ("periods", "extra", "why"),
    [
        ([], {}, "a schedule needs at least one period"),
        ([(5, 6)], {}, "the first startPeriod must be 0 ([E] 3.45)"),
        ([(0, 6), (0, 7)], {}, "startPeriod must increase from period to period"),
        ([(0, 6), (20, 7), (10, 8)], {}, "startPeriod must increase"),
        ([(0, -1)], {}, "a limit cannot be negative"),
        ([(0, 6)], {"phases": 4}, "numberPhases must be 1, 2 or 3"),
        ([(0, 6)], {"kind": "Recurring"}, "a Recurring profile needs a recurrencyKind"),
        ([(0, 6)], {"duration": -1}, "duration cannot be negative"),
        ([(0, 6)], {"valid": (T0, T0)}, "validTo must be after validFrom"),
    ],
)
def test_malformed_schedules_are_refused_saying_why(
    periods: list[tuple[int, float]], extra: dict[str, Any], why: str
) -> None:
    """What the schema cannot say and §7.13/[E] 3.45 do: Refused (SetChargingProfile
    Rejected), with the reason the log shows."""
    with pytest.raises(Refused) as refused:
        make(1, 1, "TxDefaultProfile", periods, **extra)
    assert str(refused.value).startswith(why)


def test_a_date_that_is_not_one_is_refused() -> None:
    payload = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "validFrom": "yesterday",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
        },
    }
    with pytest.raises(Refused, match="not a date: 'yesterday'"):
        ChargingProfile.from_request(1, payload, T0)


def test_what_a_request_leaves_out_takes_its_default() -> None:
    """§7.8: without validFrom valid once received; an Absolute schedule without
    startSchedule starts then; a recurrencyKind means nothing on an Absolute profile; one
    phase, one to three, and a duration of 0 (which says nothing) are taken."""
    received = T0 - 10_000
    p = make(1, 1, "TxDefaultProfile", [(0, 6), (100, 7)], start=None, recurrency="Daily")
    assert (p.valid_from, p.start_schedule, p.recurrency) == (received, received, None)
    assert p.period_at(received + 100, 0) == p.periods[1]
    assert p.period_at(received + 86_400 + 10, 0) == p.periods[1]  # not repeated
    for phases in (1, 3):
        assert make(1, 1, "TxDefaultProfile", [(0, 6)], phases=phases).periods[0].phases == phases
    silent = make(2, 1, "TxDefaultProfile", [(0, 6)], duration=0)
    assert pairs(composite([silent], 1, T0, 10, "A", facts())) == [(0, 125.0)]


def test_the_next_change_of_one_profile() -> None:
    """next_after: strictly after t; validTo at t is no change to come; a daily profile
    days after its start changes at its next period and at the next day's start."""
    p = make(1, 1, "TxDefaultProfile", [(0, 6)], valid=(None, T0 + 50))
    assert p.next_after(T0 + 50, 0) is None
    assert p.next_after(T0 + 49, 0) == T0 + 50
    daily = make(
        2, 1, "TxDefaultProfile", [(0, 6), (3_600, 9)], kind="Recurring", recurrency="Daily",
        start=T0 - 5 * 86_400,
    )  # fmt: skip
    assert daily.next_after(T0 + 10, 0) == T0 + 3_600
    assert daily.next_after(T0 + 3_600, 0) == T0 + 86_400
    short = make(3, 1, "TxDefaultProfile", [(0, 6)], kind="Recurring", recurrency="Weekly",
                 start=T0 - 3 * 604_800, duration=60)  # fmt: skip
    assert short.next_after(T0 + 10, 0) == T0 + 60
    assert short.next_after(T0 + 60, 0) == T0 + 604_800
    assert short.next_after(T0 - 4 * 604_800, 0) == T0 - 3 * 604_800
    # At a recurrence's very start, with one period and no duration: the next one.
    single = make(4, 1, "TxDefaultProfile", [(0, 6)], kind="Recurring", recurrency="Daily",
                  start=T0 - 2 * 86_400)  # fmt: skip
    assert single.next_after(T0, 0) == T0 + 86_400
    assert single.next_after(T0 - 2 * 86_400, 0) == T0 - 86_400


def test_the_highest_stack_level_prevails_whatever_the_order_of_ids() -> None:
    """§3.13.2: a lower stack level met between two higher ones does not end the search."""
    group = [
        make(1, 1, "TxDefaultProfile", [(0, 10)], stack=1),
        make(2, 1, "TxDefaultProfile", [(0, 20)], stack=0),
        make(3, 1, "TxDefaultProfile", [(0, 30)], stack=2),
    ]
    assert pairs(composite(group, 1, T0, 10, "A", facts())) == [(0, 30.0)]


def test_the_station_rating_caps_connector_zero() -> None:
    """A grid connection below the sum of the connectors' ratings bounds connector 0."""
    small = Facts({c: ConnectorFacts(DC) for c in (1, 2)}, Electrical(400.0, 1, 80_000.0))
    assert pairs(composite([], 0, T0, 10, "W", small)) == [(0, 80_000.0)]
    assert pairs(composite([], 0, T0, 10, "A", small)) == [(0, 200.0)]


def test_limits_are_rounded_to_one_decimal_and_convert_on_three_phases() -> None:
    """§7.14: a limit has one decimal place; W -> A divides by the phases in use too."""
    ac3 = Electrical(230.0, 3, 22_080.0)
    watts = make(1, 1, "TxDefaultProfile", [(0, 11_040), (10, 1_000)], unit="W")
    assert pairs(composite([watts], 1, T0, 20, "A", facts(e=ac3))) == [(0, 16.0), (10, 1.4)]


def test_relative_profiles_without_a_transaction_start_now() -> None:
    """A Relative TxDefaultProfile or ChargePointMaxProfile with no transaction: the limit
    now is its first period (digest §5.4: "use now for a composite preview")."""
    rel = make(1, 1, "TxDefaultProfile", [(0, 6), (100, 9)], kind="Relative")
    cap = make(2, 0, "ChargePointMaxProfile", [(0, 2_000), (100, 9_000)], kind="Relative", unit="W")
    book = Book([rel, cap])
    assert in_force(book, 1, T0, facts()) == 6 * 400.0
    assert cp_max_limit(book, T0, facts()) == 2_000.0


def test_the_next_change_follows_every_connectors_transaction() -> None:
    """A Relative profile runs from each connector's own start: connector 2's counts."""
    rel = make(1, 0, "TxDefaultProfile", [(0, 6), (100, 9)], kind="Relative")
    two = Facts(
        {1: ConnectorFacts(DC, None), 2: ConnectorFacts(DC, T0 - 30)},
        Electrical(400.0, 1, 100_000.0),
    )
    assert next_change(Book([rel]), T0, two) == T0 + 70


def test_connector_zero_without_profiles_is_the_sum_of_the_ratings() -> None:
    assert pairs(composite([], 0, T0, 60, "W", facts())) == [(0, 100_000.0)]
    cap = make(1, 0, "ChargePointMaxProfile", [(0, 10)])
    assert pairs(composite([cap], 0, T0, 60, "W", facts())) == [(0, 4_000.0)]


def test_a_budget_is_shared_evenly_and_what_one_cannot_use_goes_to_the_others() -> None:
    assert share({1: 30.0, 2: 30.0}, 40.0) == {1: 20.0, 2: 20.0}
    assert share({1: 5.0, 2: 30.0, 3: 30.0}, 45.0) == {1: 5.0, 2: 20.0, 3: 20.0}
    assert share({1: 5.0, 2: 6.0}, 40.0) == {1: 5.0, 2: 6.0}
    assert share({1: 5.0}, None) == {1: 5.0}
    assert share({1: 5.0, 2: 6.0}, 0.0) == {1: 0.0, 2: 0.0}


# ---------------------------------------------------------------------------- brute force


@dataclass(frozen=True)
class Spec:
    """A profile as the test writes it: evaluated literally, second by second."""

    profile_id: int
    connector_id: int
    purpose: str
    stack: int
    kind: str
    start: int
    duration: int | None
    periods: tuple[tuple[int, float], ...]
    valid_from: int | None
    valid_to: int | None

    def says(self, t: int, tx_start: int | None, window_start: int) -> float | None:
        if self.valid_from is not None and t < self.valid_from:
            return None
        if self.valid_to is not None and t >= self.valid_to:
            return None
        if self.kind == "Relative":
            origin = tx_start if tx_start is not None else window_start
        elif self.kind == "Recurring":
            if t < self.start:
                return None
            origin = self.start + (t - self.start) // 86_400 * 86_400
        else:
            origin = self.start
        if t < origin or (self.duration is not None and t - origin >= self.duration):
            return None
        return [v for s, v in self.periods if s <= t - origin][-1]

    def built(self) -> ChargingProfile:
        return make(
            self.profile_id,
            self.connector_id,
            self.purpose,
            self.periods,
            stack=self.stack,
            kind=self.kind,
            start=self.start,
            duration=self.duration,
            valid=(self.valid_from, self.valid_to),
            recurrency="Daily" if self.kind == "Recurring" else None,
        )


PLACES = [("ChargePointMaxProfile", 0), ("TxDefaultProfile", 0), ("TxDefaultProfile", 1),
          ("TxDefaultProfile", 2), ("TxProfile", 1)]  # fmt: skip


@st.composite
def specs(draw: st.DrawFn) -> list[Spec]:
    chosen: dict[tuple[str, int, int], Spec] = {}
    for i in range(draw(st.integers(0, 6))):
        purpose, connector_id = draw(st.sampled_from(PLACES))
        stack = draw(st.integers(0, 3))
        starts = sorted(draw(st.sets(st.integers(1, 300), max_size=3)))
        limits = draw(
            st.lists(st.integers(0, 64), min_size=len(starts) + 1, max_size=len(starts) + 1)
        )
        valid_from = draw(st.none() | st.integers(T0 - 100, T0 + 400))
        valid_to = draw(st.none() | st.integers(T0 - 50, T0 + 700))
        if valid_from is not None and valid_to is not None and valid_to <= valid_from:
            valid_to = None
        chosen[(purpose, connector_id, stack)] = Spec(
            profile_id=i + 1,
            connector_id=connector_id,
            purpose=purpose,
            stack=stack,
            kind=draw(st.sampled_from(["Absolute", "Relative", "Recurring"])),
            start=T0 + draw(st.integers(-300, 300)),
            duration=draw(st.none() | st.integers(1, 500)),
            periods=tuple(zip([0, *starts], [v / 2 for v in limits], strict=True)),
            valid_from=valid_from,
            valid_to=valid_to,
        )
    return list(chosen.values())


def prevailing(found: list[Spec], t: int, tx: int | None, start: int) -> float | None:
    said = [(p.stack, v) for p in found if (v := p.says(t, tx, start)) is not None]
    return max(said)[1] if said else None


def literal(specs_: list[Spec], connector_id: int, t: int, tx: int | None, start: int) -> float:
    """The limit of one connector (> 0) at t in A, straight from §3.13, without the cap."""
    own = None
    groups = (
        [p for p in specs_ if p.purpose == "TxProfile" and p.connector_id == connector_id],
        [p for p in specs_ if p.purpose == "TxDefaultProfile" and p.connector_id == connector_id],
        [p for p in specs_ if p.purpose == "TxDefaultProfile" and p.connector_id == 0],
    )
    for group in groups:
        own = prevailing(group, t, tx if connector_id == 1 else None, start)
        if own is not None:
            break
    return min(125.0, own) if own is not None else 125.0


def brute_force(
    specs_: list[Spec], connector_id: int, start: int, duration: int, tx: int | None
) -> list[tuple[int, float]]:
    cp_max = [p for p in specs_ if p.purpose == "ChargePointMaxProfile"]
    out: list[tuple[int, float]] = []
    for t in range(start, start + max(duration, 1)):
        cap = prevailing(cp_max, t, None, start)
        if connector_id == 0:
            value = sum(literal(specs_, c, t, tx, start) for c in (1, 2))
        else:
            value = literal(specs_, connector_id, t, tx, start)
        value = round(value if cap is None else min(value, cap), 1)
        if not out or out[-1][1] != value:
            out.append((t - start, value))
    return out


@settings(max_examples=300, deadline=None)
@given(
    specs(),
    st.sampled_from([0, 1, 2]),
    st.integers(-200, 300),
    st.integers(0, 600),
    st.none() | st.integers(-400, 0),
)
def test_the_composite_equals_a_second_by_second_evaluation(
    specs_: list[Spec], connector_id: int, offset: int, duration: int, tx: int | None
) -> None:
    start = T0 + offset
    tx_start = None if tx is None else start + tx
    got = composite(
        [s.built() for s in specs_], connector_id, start, duration, "A", facts(tx_start)
    )
    assert pairs(got) == brute_force(specs_, connector_id, start, duration, tx_start)


@settings(max_examples=300, deadline=None)
@given(specs(), st.integers(-400, 800), st.none() | st.integers(-400, 0))
def test_the_next_change_is_the_first_of_all_changes(
    specs_: list[Spec], offset: int, tx: int | None
) -> None:
    """next_change finds, without listing them, the first instant after now at which any
    profile may change: the least of every profile's changes over the next days."""
    now = T0 + offset
    tx_start = None if tx is None else now + tx
    built = [s.built() for s in specs_]
    origins = {now} | ({tx_start} if tx_start is not None else set())
    listed = [
        t
        for p in built
        for o in (origins if p.kind == "Relative" else {now})
        for t in p.changes(now, now + 3 * 86_400, o)
    ]
    assert next_change(Book(built), now, facts(tx_start)) == (min(listed) if listed else None)
