"""The EV model: profile validation, the acceptance curve and the analytic charge segment."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ocpp_station.hardware.simulator_ev import (
    EXAMPLE_EVS,
    ChargeSegment,
    EvProfile,
    pick_ev,
    unit_random,
)

EV = EvProfile(50.0, 20.0, 100_000.0)


def euler_time_to_full(ev: EvProfile, soc: float, limit_w: float, step: float = 0.01) -> float:
    """Time to 100 % by brute-force integration of C dx/dt = min(limit, acceptance(x))."""
    t = 0.0
    while soc < 1.0:
        power = min(limit_w, ev.acceptance_w(soc))
        soc += power * step / 3600.0 / ev.capacity_wh
        t += step
    return t


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity_kwh": 0.0},
        {"initial_soc_percent": -1.0},
        {"initial_soc_percent": 100.5},
        {"max_power_w": 0.0},
        {"voltage_empty_v": 500.0},
        {"taper_start_soc": 1.0},
        {"final_power_fraction": 0.0},
    ],
)
def test_profile_rejects_nonsense(kwargs: dict[str, float]) -> None:
    base: dict[str, Any] = {
        "capacity_kwh": 50.0,
        "initial_soc_percent": 20.0,
        "max_power_w": 100_000.0,
    }
    with pytest.raises(ValueError):
        EvProfile(**(base | kwargs))


def test_acceptance_is_flat_then_linear_down_to_the_final_fraction() -> None:
    assert EV.acceptance_w(0.0) == EV.acceptance_w(0.8) == 100_000.0
    assert EV.acceptance_w(0.9) == pytest.approx(100_000.0 * (1 - 0.95 / 2))
    assert EV.acceptance_w(1.0) == pytest.approx(5_000.0)
    assert EV.voltage_v(0.0) == 350.0
    assert EV.voltage_v(1.0) == 400.0


def test_profile_json_round_trip_and_errors() -> None:
    assert EvProfile.from_json(EV.to_json()) == EV
    with pytest.raises(ValueError):
        EvProfile.from_json([1, 2])
    with pytest.raises(ValueError):
        EvProfile.from_json({"capacity_kwh": 50.0})


@pytest.mark.parametrize("limit_w", [300_000.0, 100_000.0, 50_000.0, 11_000.0, 4_000.0])
@pytest.mark.parametrize("soc", [0.0, 0.2, 0.85, 0.99])
def test_segment_time_to_full_matches_numeric_integration(limit_w: float, soc: float) -> None:
    segment = ChargeSegment(EV, 0.0, 0.0, soc, limit_w)
    expected = euler_time_to_full(EV, soc, limit_w, step=0.05)
    assert segment.t_full == pytest.approx(expected, rel=1e-3, abs=0.1)


@pytest.mark.parametrize("limit_w", [300_000.0, 50_000.0, 4_000.0])
def test_segment_power_follows_the_curve_and_energy_matches_soc(limit_w: float) -> None:
    segment = ChargeSegment(EV, 100.0, 1_000.0, 0.2, limit_w)
    last_e = 1_000.0
    for i in range(0, 2001):
        t = 100.0 + segment.t_full * i / 2000
        e, x, p = segment.at(t)
        assert e >= last_e
        last_e = e
        assert e - 1_000.0 == pytest.approx((x - 0.2) * EV.capacity_wh, abs=1e-6)
        if i < 2000:
            assert p == pytest.approx(min(limit_w, EV.acceptance_w(x)), rel=1e-9)
    assert segment.at(100.0 + segment.t_full) == (1_000.0 + 0.8 * EV.capacity_wh, 1.0, 0.0)
    assert segment.full_at == 100.0 + segment.t_full


def test_segment_before_its_start_reads_its_start() -> None:
    # Past the knee already: the EV's own acceptance (28.75 kW at 95 %) is below the limit.
    segment = ChargeSegment(EV, 10.0, 5.0, 0.95, 50_000.0)
    e, x, p = segment.at(9.0)
    assert (e, x) == (5.0, 0.95)
    assert p == pytest.approx(EV.acceptance_w(0.95)) == pytest.approx(28_750.0)
    with pytest.raises(ValueError):
        ChargeSegment(EV, 0.0, 0.0, 0.5, 0.0)


def test_taper_is_exponential_in_time() -> None:
    # In the taper, dP/dt = -lambda P: equal time steps shrink power by the same factor.
    segment = ChargeSegment(EV, 0.0, 0.0, 0.85, 300_000.0)
    p0, p1, p2 = (segment.at(t)[2] for t in (0.0, 60.0, 120.0))
    assert p1 / p0 == pytest.approx(p2 / p1)
    assert p1 / p0 == pytest.approx(math.exp(-segment.lam * 60.0))


def test_pick_ev_is_deterministic_and_realistic() -> None:
    picks = [pick_ev(7, cid, n) for cid in (1, 2) for n in range(1, 40)]
    assert picks == [pick_ev(7, cid, n) for cid in (1, 2) for n in range(1, 40)]
    names = {ev.name for ev in EXAMPLE_EVS}
    for ev in picks:
        assert ev.name in names
        assert 10.0 <= ev.initial_soc_percent <= 60.0
    assert len({ev.name for ev in picks}) > 1
    assert pick_ev(7, 1, 1) != pick_ev(8, 1, 1) or pick_ev(7, 1, 2) != pick_ev(8, 1, 2)


def test_unit_random_is_in_range_and_stable() -> None:
    values = [unit_random(1, i, "x") for i in range(1000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert values == [unit_random(1, i, "x") for i in range(1000)]
    assert 0.4 < sum(values) / len(values) < 0.6
