"""Open files: the limit lifted to the hard one, and a count that cannot fit said at once."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpp_station.file_limit import RESERVE, FileLimitError, make_room, raise_file_limit
from ocpp_station.fleet.fleet import Fleet, FleetOptions

REPO = Path(__file__).resolve().parents[2]
SOFT, HARD = resource.getrlimit(resource.RLIMIT_NOFILE)
finite = pytest.mark.skipif(HARD == resource.RLIM_INFINITY, reason="no limit on open files")


@pytest.fixture
def lowered() -> Iterator[int]:
    """The soft limit below the hard one for the test; put back after."""
    low = min(SOFT, 256) if HARD == resource.RLIM_INFINITY else min(SOFT, HARD - 1, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, HARD))
    yield low
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


def test_the_soft_limit_is_lifted_to_the_hard_one(lowered: int) -> None:
    assert raise_file_limit() == HARD
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (HARD, HARD)


@finite
def test_a_count_beyond_the_limit_is_refused_with_the_figures() -> None:
    assert make_room(HARD - RESERVE, "stations", "fewer") == HARD  # exactly fits
    with pytest.raises(FileLimitError) as refused:
        make_room(HARD - RESERVE + 1, "7 stations", "do something else")
    assert str(refused.value) == (
        f"7 stations need about {HARD + 1:,} open files and this process may open "
        f"{HARD:,} (ulimit -n): do something else"
    )


@finite
def test_a_fleet_too_big_for_the_process_is_refused_before_it_starts() -> None:
    with pytest.raises(FileLimitError, match=f"{HARD:,} stations need about"):
        Fleet(FleetOptions(csms_url="ws://127.0.0.1:9", count=HARD))


def _limit_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def test_the_fleet_command_says_why_and_exits_2() -> None:
    """A fleet of 330 in a process that may open 300 files: the reason, not 30 stations failing
    to connect one by one at the end of the ramp-up."""
    done = subprocess.run(
        [sys.executable, "-m", "ocpp_station", "fleet", "--csms", "ws://127.0.0.1:9",
         "--count", "330", "--control", "127.0.0.1:0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: _limit_files(300),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert (
        "330 stations need about 394 open files and this process may open 300 (ulimit -n): "
        "raise the hard limit, or spread the stations over more processes "
        "(fleet --ray --shards N)"
    ) in done.stderr
    assert "Traceback" not in done.stderr
