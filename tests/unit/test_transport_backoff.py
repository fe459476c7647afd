"""Reconnection back-off: exponential growth, equal jitter, reset."""

from __future__ import annotations

import random

import pytest

from ocpp_station.transport.backoff import Backoff


def test_delays_double_within_equal_jitter_bounds_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 60.0, rng=random.Random(7))
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    for ceiling in ceilings:
        assert backoff.ceiling() == ceiling
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.attempt == len(ceilings)


def test_reset_starts_from_the_base_again() -> None:
    backoff = Backoff(1.0, 60.0, rng=random.Random(1))
    for _ in range(10):
        backoff.next_delay()
    assert backoff.ceiling() == 60
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.ceiling() == 1
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_same_seed_same_delays_and_jitter_varies() -> None:
    a = Backoff(1.0, 60.0, rng=random.Random(42))
    b = Backoff(1.0, 60.0, rng=random.Random(42))
    first = [a.next_delay() for _ in range(12)]
    assert first == [b.next_delay() for _ in range(12)]
    capped = first[7:]  # all drawn from [30, 60]
    assert len(set(capped)) == len(capped)


def test_many_attempts_stay_at_the_cap() -> None:
    backoff = Backoff(0.5, 10.0, rng=random.Random(3))
    for _ in range(5000):
        delay = backoff.next_delay()
    assert 5.0 <= delay <= 10.0


def test_a_fleet_is_spread_over_the_window() -> None:
    rng = random.Random(9)
    delays = []
    for _ in range(1000):
        backoff = Backoff(1.0, 60.0, rng=rng)
        for _ in range(7):
            delay = backoff.next_delay()
        delays.append(delay)
    assert min(delays) >= 30.0
    assert max(delays) <= 60.0
    # Every 5-second slice of the window gets some of the stations.
    slices = {int((d - 30.0) // 5) for d in delays}
    assert slices >= {0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("base", "cap", "factor"), [(0.0, 1.0, 2.0), (-1.0, 1.0, 2.0), (2.0, 1.0, 2.0), (1.0, 2.0, 0.5)]
)
def test_bad_parameters_are_refused(base: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base, cap, factor=factor)
