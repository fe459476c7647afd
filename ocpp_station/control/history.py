"""The last minutes of each connector's power and limit, for the web page's plots: a page
opened now shows what happened before it was opened. One station's API keeps it (`run`); a
fleet does not (ten thousand samplers), and its page plots from the moment it opens."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ocpp_station.runtime import StationRuntime

EVERY = 2.0
KEEP = 300.0


class PowerHistory:
    def __init__(
        self,
        current: Callable[[], StationRuntime | None],
        every: float = EVERY,
        keep: float = KEEP,
    ) -> None:
        self._current = current
        self.every = every
        # (time, {connector id: (powerW, limitW)}); nothing while the power is off.
        self._samples: deque[tuple[float, dict[int, tuple[float, float | None]]]] = deque(
            maxlen=max(1, int(keep / every))
        )

    def sample(self) -> None:
        rt = self._current()
        if rt is None:
            return
        now: dict[int, tuple[float, float | None]] = {}
        for entry in rt.station.snapshot(rt.connected)["connectors"][1:]:
            now[entry["id"]] = (entry.get("powerW") or 0.0, entry.get("limitW"))
        self._samples.append((time.time(), now))

    def view(self) -> list[dict[str, Any]]:
        """[{"time", "connectors": {"1": [powerW, limitW]}}], oldest first."""
        return [
            {"time": t, "connectors": {str(c): list(v) for c, v in sample.items()}}
            for t, sample in self._samples
        ]

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)
