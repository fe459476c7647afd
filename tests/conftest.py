"""Longest first: the tests that take a minute or more start before the rest, so that on two
cores no worker is left with one of them at the end while the other idles (the suite's wall
time is what CI waits for)."""

from __future__ import annotations

import pytest

# Test names (a prefix of the node's name), longest first, as `--durations` measured them.
LONGEST = (
    "test_random_sigkill_points_lose_nothing",
    "test_a_station_the_tool_did_not_start_gets_the_same_verdicts",
    "test_without_a_defect_the_same_cases_pass_through_the_proxy",
    "test_nothing_is_lost_behind_a_hostile_network",
    "test_the_tool_fails_a_station_with_the_defect",
    "test_the_smart_charging_cases_pass_on_the_ac_variant",
)


def _rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(LONGEST):
        if item.name.startswith(prefix):
            return rank
    return len(LONGEST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the others keep their order
