"""The station's own records, as its LogSource port (station.ports): the log lines it wrote and
the OCPP frames it sent and received, for GetDiagnostics and GetLog to upload.

The log is a bounded ring fed by a logging handler on the `ocpp_station` logger; the frames are
the runtime's MessageLog. Both keep their newest entries and drop the oldest.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from ocpp_station.station.ports import LogLine

# Log records kept for diagnostics: enough for days of a quiet station.
LOG_LINES = 20_000
_FORMAT = logging.Formatter("%(levelname)s %(name)s: %(message)s")


class LogRing(logging.Handler):
    """The newest log records, formatted, with their UTC time."""

    def __init__(self, size: int = LOG_LINES, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: deque[tuple[float, str]] = deque(maxlen=size)
        self.setFormatter(_FORMAT)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append((record.created, self.format(record)))
        except Exception:
            self.handleError(record)

    def lines(self) -> list[tuple[float, str]]:
        return list(self._lines)


_RING: LogRing | None = None


def process_log() -> LogRing:
    """The process's log ring, attached to the `ocpp_station` logger on first use."""
    global _RING
    if _RING is None:
        _RING = LogRing()
        logging.getLogger("ocpp_station").addHandler(_RING)
    return _RING


class StationLogs:
    """LogSource over a log ring and a source of frames: (time, direction, frame text)."""

    names: Sequence[str] = ("station", "ocpp")

    def __init__(
        self,
        log: LogRing,
        frames: Callable[[], list[tuple[float, str, str]]],
    ) -> None:
        self._log = log
        self._frames = frames

    def read(self, name: str, start: datetime | None, stop: datetime | None) -> list[LogLine]:
        if name == "station":
            entries = self._log.lines()
        elif name == "ocpp":
            entries = [(t, f"{direction} {text}") for t, direction, text in self._frames()]
        else:
            raise KeyError(f"no log named {name!r}; there are {', '.join(self.names)}")
        lines = [LogLine(datetime.fromtimestamp(t, UTC), text) for t, text in entries]
        return [
            line
            for line in lines
            if (start is None or line.time >= start) and (stop is None or line.time <= stop)
        ]


# The station whose work is running: set where a station's tasks are started, inherited by every
# task and timer they start (asyncio copies the context), read by StationFilter. In a fleet, many
# stations share one log: each line names its own.
STATION: ContextVar[str | None] = ContextVar("ocpp_station_station", default=None)


@contextmanager
def as_station(identity: str) -> Iterator[None]:
    """Within the block (and in the tasks started in it), log lines name `identity`."""
    token = STATION.set(identity)
    try:
        yield
    finally:
        STATION.reset(token)


class StationFilter(logging.Filter):
    """Gives each record `station`: "[CP-7] " for the station whose work wrote it, "" for lines
    of no station (the central system, the fleet itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        identity = STATION.get()
        record.station = f"[{identity}] " if identity else ""
        return True
