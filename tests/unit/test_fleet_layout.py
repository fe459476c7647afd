"""A fleet's state folder: one process at a time, and no run that would miss stations the
folder holds state of (their queued messages would never be sent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocpp_station.argtypes import UsageError
from ocpp_station.fleet.cli import claim_state_dir, record_layout
from ocpp_station.fleet.fleet import FleetOptions
from ocpp_station.fleet.layout import LAYOUT_FILE, FleetLayout, LayoutError, check, record


def layout(
    first: int = 1, count: int = 100, shards: int = 0, prefix: str = "FLEET-"
) -> FleetLayout:
    return FleetLayout(prefix, first, count, shards)


def test_one_process_may_grow_but_not_lose_stations() -> None:
    earlier = layout(first=11, count=10)  # FLEET-11..20
    assert layout(first=11, count=10).keeps(earlier)
    assert layout(first=1, count=20).keeps(earlier)  # grown on both ends
    assert layout(first=11, count=11).keeps(earlier)
    assert not layout(first=11, count=9).keeps(earlier)  # FLEET-20 missing
    assert not layout(first=12, count=20).keeps(earlier)  # FLEET-11 missing
    assert not layout(first=11, count=10, prefix="CP-").keeps(earlier)
    assert not layout(first=11, count=10, shards=2).keeps(earlier)  # DIR/shard-K, not DIR


def test_a_sharded_fleet_keeps_its_split() -> None:
    earlier = layout(count=100, shards=2)
    assert layout(count=100, shards=2).keeps(earlier)
    assert not layout(count=200, shards=2).keeps(earlier)  # FLEET-51.. move to shard 2
    assert not layout(count=100, shards=4).keeps(earlier)
    assert not layout(count=100, shards=0).keeps(earlier)


def test_the_folder_remembers_and_refuses_with_what_to_run(tmp_path: Path) -> None:
    check(tmp_path, layout(count=7))  # a folder that served no fleet: anything goes
    record(tmp_path, layout(count=20000, shards=2))
    assert json.loads((tmp_path / LAYOUT_FILE).read_text()) == {
        "id_prefix": "FLEET-", "first": 1, "count": 20000, "shards": 2,
    }  # fmt: skip
    with pytest.raises(LayoutError) as refused:
        check(tmp_path, layout(count=10000))
    assert str(refused.value) == (
        f"{tmp_path} holds the state of FLEET-1..FLEET-20000 in 2 shards, and this fleet is "
        "FLEET-1..FLEET-10000 in one process: some stations would not find what they still "
        "owe the central system. Run it as before (--id-prefix FLEET- --first 1 --count 20000 "
        "--ray --shards 2), or give another folder"
    )
    check(tmp_path, layout(count=20000, shards=2))  # as before: fine
    (tmp_path / LAYOUT_FILE).write_text("{not json")
    with pytest.raises(LayoutError, match="cannot be read"):
        check(tmp_path, layout())


def test_a_grown_fleet_is_remembered_grown(tmp_path: Path) -> None:
    record(tmp_path, layout(count=10))
    check(tmp_path, layout(count=30))
    record(tmp_path, layout(count=30))
    with pytest.raises(LayoutError, match=r"FLEET-1\.\.FLEET-30 in one process"):
        check(tmp_path, layout(count=10))


def test_the_folder_is_for_one_fleet_at_a_time(tmp_path: Path) -> None:
    options = FleetOptions(csms_url="ws://127.0.0.1:9", count=5, state_dir=tmp_path / "state")
    held = claim_state_dir(options, 0)
    try:
        with pytest.raises(UsageError, match=r"state: in use by ocpp-station process \d+; stop"):
            claim_state_dir(options, 0)
    finally:
        if held is not None:
            held.close()
    again = claim_state_dir(options, 0)  # free once the first one let go
    if again is not None:
        again.close()
    options.count = 4  # nothing recorded yet (no fleet started): fine
    smaller = claim_state_dir(options, 0)
    if smaller is not None:
        smaller.close()
    options.count = 5
    record_layout(options, 0)  # the fleet of 5 started
    options.count = 4
    with pytest.raises(UsageError, match=r"--state-dir: .* the state of FLEET-1\.\.FLEET-5 "):
        claim_state_dir(options, 0)
    assert claim_state_dir(FleetOptions("ws://127.0.0.1:9", count=5), 0) is None  # memory only
