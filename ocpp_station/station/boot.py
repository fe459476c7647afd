"""Booting and staying registered: BootNotification (§4.2) and Heartbeat (§4.6), and the
inbound gate: which requests of the central system are answered before it accepted us."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ocpp_station import timefmt
from ocpp_station.clock import Timer
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.service import Admission, Payload, Service, on_config
from ocpp_station.station.timers import sleep

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

__all__ = ["BootInfo", "BootService"]

log = logging.getLogger("ocpp_station.station")

# When the central system answers Pending/Rejected with interval 0, or does not answer at all,
# we pick the wait ourselves "in a way that avoids flooding the Central System" (§4.2).
DEFAULT_RETRY = 60.0
NO_ANSWER_RETRY = 30.0
# A currentTime this far from the station's clock is a setting of the time worth a security event
# (SettingSystemTime, whitepaper §8); smaller corrections are the drift of any clock.
CLOCK_JUMP = 2.0

# §4.2: until accepted, the central system may read and change the configuration (and trigger
# messages), but a remote start or stop is not allowed.
NOT_BEFORE_ACCEPTED = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})
_REJECTED: Payload = {"status": "Rejected"}


class BootService(Service):
    __slots__ = ("_heartbeat", "_not_before", "_task", "_waiting", "ctx", "info", "registration")

    def __init__(self, ctx: StationContext) -> None:
        self.ctx = ctx
        self.info = ctx.info
        self.registration = "None"
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: Timer | None = None
        self._not_before = 0.0  # monotonic time before which no BootNotification may go
        self._waiting = False  # the boot loop waits for _not_before (no request in flight)

    @property
    def accepted(self) -> bool:
        return self.registration == "Accepted"

    # -- the inbound gate ---------------------------------------------------------------------
    def admit(self, action: str | None) -> Admission:
        if self.registration == "Accepted":
            return True
        if self.registration == "Rejected":
            # §4.2: while Rejected the station SHALL NOT respond to CSMS-initiated messages.
            return False
        if action in NOT_BEFORE_ACCEPTED:
            return _REJECTED
        return True

    # -- lifecycle ----------------------------------------------------------------------------
    def on_connected(self) -> None:
        if self.accepted:
            # OCPP-J §5.4: a reconnect alone needs no new BootNotification.
            self.ctx.sender.set_accepted(True)
            self.ctx.status.report_changed()
            self._arm_heartbeat()
            return
        self._start()

    def on_disconnected(self) -> None:
        self._stop_task()
        self._cancel_heartbeat()

    def on_reboot(self) -> None:
        """Power-up state: not registered until a new BootNotification is accepted."""
        self._stop_task()
        self._cancel_heartbeat()
        self.registration = "None"
        self._not_before = 0.0
        self.ctx.sender.set_accepted(False)

    def snapshot(self, view: Payload) -> None:
        view["registration"] = self.registration

    def _start(self) -> None:
        self._stop_task()
        self._task = asyncio.get_running_loop().create_task(self._boot_loop(), name="boot")

    def _stop_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _boot_loop(self) -> None:
        clock = self.ctx.clock
        while True:
            # A reconnect does not shorten the wait a Pending/Rejected answer asked for (§4.2).
            wait = self._not_before - clock.monotonic()
            if wait > 0:
                self._waiting = True
                try:
                    await sleep(clock, wait)
                finally:
                    self._waiting = False
            try:
                answer = await self.ctx.sender.call_now("BootNotification", self.info.payload())
            except ConnectionLost:
                return  # the next connection boots again
            except (CallErrorReceived, RpcTimeout, OcppError) as exc:
                log.warning(
                    "BootNotification failed (%s); retrying in %.0f s", exc, NO_ANSWER_RETRY
                )
                self._not_before = clock.monotonic() + NO_ANSWER_RETRY
                continue
            status = answer["status"]
            self._set_time(answer.get("currentTime"))
            interval = int(answer.get("interval", 0))
            self.registration = status
            log.info("BootNotification: %s (interval %d s)", status, interval)
            if status == "Accepted":
                self._on_accepted(interval)
                return
            # Pending or Rejected: the interval is the minimum wait before the next boot (§4.2).
            self._not_before = clock.monotonic() + (interval if interval > 0 else DEFAULT_RETRY)

    # -- asked for by the central system (TriggerMessage, §5.17) ------------------------------
    def trigger_boot(self) -> bool:
        """A BootNotification now, if the station is not accepted yet: a Pending station's wait
        is cut short (a request already in flight counts as the one asked for, §5.17). Once
        accepted: False, the trigger is refused until the next reboot ([E] 3.35 recommends
        it; a second boot would leave transactions and registration in doubt)."""
        if self.accepted:
            return False
        self._not_before = 0.0
        if self._task is None or self._task.done() or self._waiting:
            self._start()
        return True

    def trigger_heartbeat(self) -> None:
        """A Heartbeat now; its answer sets the clock as any other. The periodic timer keeps
        its own rhythm (digest §2.2)."""

        def answered(answer: Payload) -> None:
            self._set_time(answer.get("currentTime"))

        self.ctx.sender.notify("Heartbeat", {}, on_result=answered, triggered=True)

    def _on_accepted(self, interval: int) -> None:
        config = self.ctx.config
        if interval >= 0 and str(interval) != config.get("HeartbeatInterval"):
            # §4.2: adjust the heartbeat interval to the one the central system gave; 0 too,
            # which leaves the station without heartbeats of its own (§9.1.10).
            config.change("HeartbeatInterval", str(interval))
        self.ctx.sender.set_accepted(True)
        # [E] 3.22: after Accepted, a StatusNotification for connector 0 and every connector.
        self.ctx.status.report_all()
        self._arm_heartbeat()
        self.ctx.events.accepted.emit()

    def _set_time(self, current: str | None) -> None:
        if not current:
            return
        try:
            wanted = timefmt.parse(current)
        except ValueError:
            log.warning("ignoring unreadable currentTime %r", current)
            return
        jump = (wanted - self.ctx.clock.now()).total_seconds()
        self.ctx.clock.set_time(wanted)
        if abs(jump) >= CLOCK_JUMP:
            self.ctx.events.security_event.emit("SettingSystemTime", f"moved by {jump:+.0f} s")
        self.ctx.events.clock_set.emit()

    # -- heartbeat: a plain periodic timer, not reset by other traffic (digest §2.2) ----------
    @on_config("HeartbeatInterval")
    def _heartbeat_interval_changed(self, value: str) -> None:
        if self.accepted:
            self._arm_heartbeat()

    def _arm_heartbeat(self) -> None:
        self._cancel_heartbeat()
        interval = self.ctx.config.get_int("HeartbeatInterval")
        if interval > 0:
            self._heartbeat = self.ctx.clock.call_later(interval, self._beat)

    def _cancel_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def _beat(self) -> None:
        self._heartbeat = None
        self._arm_heartbeat()
        if self.ctx.sender.open:
            self.ctx.spawn(self._send_heartbeat())

    async def _send_heartbeat(self) -> None:
        try:
            answer = await self.ctx.sender.request("Heartbeat", {})
        except (ConnectionLost, CallErrorReceived, RpcTimeout, OcppError) as exc:
            log.info("Heartbeat not answered: %s", type(exc).__name__)
            return
        self._set_time(answer.get("currentTime"))
