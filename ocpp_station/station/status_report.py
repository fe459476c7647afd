"""StatusNotification (§4.9): deriving each connector's status and telling the central system.

A connector's status is derived from its state (status.derive_status), then refined by the
services that own a status of their own (a reservation makes an idle connector Reserved). Every
change is checked against the §4.9 table and reported, after MinimumStatusDuration where that
is set (§9.1.22). After a boot every status is reported ([E] 3.22); after an outage only those
that changed (digest §2.3). `report_now` reports at once, whatever MinimumStatusDuration says:
a status the central system asked for (TriggerMessage, §5.17).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ocpp_station import timefmt
from ocpp_station.clock import Clock, Timer
from ocpp_station.station.charge_point import ChargePoint
from ocpp_station.station.config import Configuration
from ocpp_station.station.connector import Connector
from ocpp_station.station.events import Events
from ocpp_station.station.sender import Sender
from ocpp_station.station.status import (
    AVAILABLE,
    FAULTED,
    UNAVAILABLE,
    WARNING_STATUSES,
    derive_status,
    transition_code,
)
from ocpp_station.storage.interface import KeyValueStore

log = logging.getLogger("ocpp_station.station")

# A refinement of a derived status: (connector, status) -> the status to show instead.
Refiner = Callable[[Connector, str], str]


class StatusReporter:
    def __init__(
        self,
        clock: Clock,
        config: Configuration,
        sender: Sender,
        cp: ChargePoint,
        store: KeyValueStore,
        events: Events,
    ) -> None:
        self._clock = clock
        self._config = config
        self._sender = sender
        self._cp = cp
        self._store = store
        self._events = events
        self._refiners: list[Refiner] = []
        self._reported: dict[int, tuple[str, str]] = {}
        self._timers: dict[int, Timer] = {}
        self._finishing_saved: dict[int, bool] = {}
        # Transitions the table of §4.9 does not allow: kept so tests can assert there are none.
        self.illegal_transitions: list[tuple[int, str, str]] = []

    def add_refiner(self, refiner: Refiner) -> None:
        self._refiners.append(refiner)

    # -- deriving -----------------------------------------------------------------------------
    def derive(self, c: Connector) -> str:
        status = derive_status(c, self._cp.operative)
        for refine in self._refiners:
            status = refine(c, status)
        return status

    def _derive_station(self) -> str:
        if self._cp.fault is not None:
            return FAULTED
        return AVAILABLE if self._cp.operative else UNAVAILABLE

    @staticmethod
    def _error(c: Connector, status: str) -> tuple[str, str | None]:
        """The (errorCode, info) c shows with `status`: its fault, else a warning where §4.9
        allows one with that status, else none."""
        if c.fault is not None:
            return c.fault
        if c.warning is not None and status in WARNING_STATUSES:
            return c.warning
        return "NoError", None

    def power_up(self) -> None:
        """Statuses as the state says after a start or a reboot; nothing is reported yet."""
        for c in self._cp:
            c.status = self.derive(c)
            c.error_code, c.info = self._error(c, c.status)
            self._save_finishing(c)
            self._events.status_changed.emit(c, None, c.status)
        self._cp.status = self._derive_station()

    def reboot(self) -> None:
        """Nothing reported yet: the next boot reports every status."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._reported.clear()

    # -- changes ------------------------------------------------------------------------------
    def update_station(self) -> None:
        """Connector 0 after a change of the station's availability or fault."""
        new = self._derive_station()
        code, info = self._cp.error
        old = self._cp.status
        if new == old and code == self._reported.get(0, (new, code))[1]:
            return
        self._cp.status = new
        self._report(0, new, code, info)
        if new != old:
            self._events.station_status_changed.emit(old, new)

    def update(self, c: Connector, info: str | None = None) -> None:
        """Connector c after a change of its state: derived, checked, reported if changed.

        `info` says why (§7.53, e.g. "EV side disconnected"): a new reason is reported even
        when the status stays (§4.9: the EV-side disconnect of a SuspendedEV connector)."""
        old = c.status
        new = self.derive(c)
        code, reason = self._error(c, new)
        if reason is None:
            reason = info
        if new == old and code == c.error_code and (info is None or info == c.info):
            return
        if new != old and transition_code(old, new) is None:
            log.warning("connector %d: %s -> %s is not in the §4.9 table", c.connector_id, old, new)
            self.illegal_transitions.append((c.connector_id, old, new))
        c.status = new
        c.error_code = code
        c.info = reason
        self._save_finishing(c)
        self._report(c.connector_id, new, code, reason)
        if new != old:
            self._events.status_changed.emit(c, old, new)

    def _report(self, connector_id: int, status: str, error_code: str, info: str | None) -> None:
        delay = self._minimum_status_duration()
        old = self._timers.pop(connector_id, None)
        if old is not None:
            old.cancel()
        if delay <= 0:
            self._send(connector_id, status, error_code, info)
            return
        began = self._clock.now()

        def stable() -> None:
            # MinimumStatusDuration: only a status that lasted this long is reported (§9.1.22),
            # with the time it began (§6.47 timestamp: the time the status is reported for).
            self._timers.pop(connector_id, None)
            current = self._current(connector_id)
            if current == (status, error_code) and self._reported.get(connector_id) != current:
                self._send(connector_id, status, error_code, info, at=began)

        self._timers[connector_id] = self._clock.call_later(delay, stable)

    def _minimum_status_duration(self) -> int:
        try:
            return self._config.get_int("MinimumStatusDuration")
        except KeyError:
            return 0

    def _current(self, connector_id: int) -> tuple[str, str]:
        if connector_id == 0:
            return self._cp.status, self._cp.error[0]
        c = self._cp.connector(connector_id)
        return c.status, c.error_code

    def _send(
        self,
        connector_id: int,
        status: str,
        error_code: str,
        info: str | None,
        *,
        first: bool = False,
        at: datetime | None = None,
        triggered: bool = False,
    ) -> None:
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "errorCode": error_code,
            "status": status,
            "timestamp": timefmt.iso(at if at is not None else self._clock.now()),
        }
        if info:
            payload["info"] = info[:50]

        def answered(_: dict[str, Any]) -> None:
            # [E] 3.19, §4.9: reported means answered. A status lost to a dropped link, a
            # time-out or a CALLERROR is still owed, and the next connection reports it.
            self._reported[connector_id] = (status, error_code)

        self._sender.notify(
            "StatusNotification", payload, first=first, on_result=answered, triggered=triggered
        )

    # -- whole reports ------------------------------------------------------------------------
    def report_all(self) -> None:
        """[E] 3.22: right after Accepted, before the queued transaction messages go."""
        self._send(0, self._cp.status, *self._cp.error, first=True)
        for c in self._cp:
            self._send(c.connector_id, c.status, c.error_code, c.info, first=True)

    def report_changed(self) -> None:
        """After an outage: the current status where it changed, no history (§4.9, digest §2.3)."""
        if self._reported.get(0) != self._current(0):
            self._send(0, self._cp.status, *self._cp.error, first=True)
        for c in self._cp:
            if self._reported.get(c.connector_id) != (c.status, c.error_code):
                self._send(c.connector_id, c.status, c.error_code, c.info, first=True)

    def report_now(self, connector_id: int | None = None, *, triggered: bool = False) -> None:
        """The present status of one connector (0: the station), or of connector 0 and every
        connector when None, sent at once: MinimumStatusDuration does not delay it.
        `triggered`: the central system asked (TriggerMessage), which lets it go even before
        the station is accepted (§4.2)."""
        ids = [0, *(c.connector_id for c in self._cp)] if connector_id is None else [connector_id]
        for cid in ids:
            old = self._timers.pop(cid, None)
            if old is not None:
                old.cancel()
            if cid == 0:
                self._send(0, self._cp.status, *self._cp.error, triggered=triggered)
            else:
                c = self._cp.connector(cid)
                self._send(cid, c.status, c.error_code, c.info, triggered=triggered)

    def report_error(self, connector_id: int, error_code: str, info: str | None = None) -> None:
        """A one-off error that is no state of the connector (LocalListConflict, §3.5.3):
        its present status, with this errorCode."""
        status, _ = self._current(connector_id)
        self._send(connector_id, status, error_code, info)

    # -- Finishing survives a restart: the user still has to take the cable ------------------
    def stored_finishing(self, connector_id: int) -> bool:
        return bool(self._store.kv_get(f"finishing.{connector_id}") == 1)

    def _save_finishing(self, c: Connector) -> None:
        if self._finishing_saved.get(c.connector_id) != c.finishing:
            self._finishing_saved[c.connector_id] = c.finishing
            self._store.kv_put(f"finishing.{c.connector_id}", 1 if c.finishing else 0)
