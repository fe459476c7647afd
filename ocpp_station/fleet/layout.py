"""Which stations a fleet's state folder holds, and how they were split: `DIR/fleet.json`.

A fleet keeps its stations' state (queued transaction messages, open transactions) in
`DIR/fleet.db`, or in `DIR/shard-K/fleet.db` for shard K of a sharded fleet. A later run that
numbers or splits its stations otherwise would look for a station's state where it is not, and
the messages it still owes the central system would never be sent. So the folder remembers the
fleet it served, and a run that would miss some of it is refused with what to run instead.
One process may grow the fleet (every earlier station is still in its one file); a sharded
fleet must keep its split.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LAYOUT_FILE = "fleet.json"


class LayoutError(Exception):
    """The folder holds stations this run would not find; the message says how to run."""


@dataclass(frozen=True, slots=True)
class FleetLayout:
    id_prefix: str
    first: int
    count: int
    shards: int  # 0: one process, DIR/fleet.db

    def describe(self) -> str:
        last = self.first + self.count - 1
        where = f"in {self.shards} shards" if self.shards else "in one process"
        return f"{self.id_prefix}{self.first}..{self.id_prefix}{last} {where}"

    def arguments(self) -> str:
        shards = f" --ray --shards {self.shards}" if self.shards else ""
        return f"--id-prefix {self.id_prefix} --first {self.first} --count {self.count}{shards}"

    def keeps(self, earlier: FleetLayout) -> bool:
        """Whether this fleet finds every station of `earlier` where earlier left it."""
        if self.id_prefix != earlier.id_prefix or self.shards != earlier.shards:
            return False
        if self.shards:
            return (self.first, self.count) == (earlier.first, earlier.count)
        return (
            self.first <= earlier.first and earlier.first + earlier.count <= self.first + self.count
        )


def check(folder: Path, layout: FleetLayout) -> None:
    """Refuse `layout` if the fleet `folder` served before has stations it would miss."""
    path = folder / LAYOUT_FILE
    try:
        earlier = FleetLayout(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        earlier = None
    except (OSError, ValueError, TypeError) as exc:
        raise LayoutError(f"{path} cannot be read ({exc}): give another folder") from None
    if earlier is not None and not layout.keeps(earlier):
        raise LayoutError(
            f"{folder} holds the state of {earlier.describe()}, and this fleet is "
            f"{layout.describe()}: some stations would not find what they still owe the "
            f"central system. Run it as before ({earlier.arguments()}), or give another folder"
        )


def record(folder: Path, layout: FleetLayout) -> None:
    """Remember `layout` as the fleet `folder` serves (once it has started: a run refused
    at its start changes nothing)."""
    path = folder / LAYOUT_FILE
    # Written aside and renamed: a process killed halfway leaves the old record, never half.
    aside = path.with_suffix(".json.new")
    aside.write_text(json.dumps(asdict(layout)) + "\n", encoding="utf-8")
    os.replace(aside, path)
