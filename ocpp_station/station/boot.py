"""Booting and staying registered: BootNotification (§4.2) and Heartbeat (§4.6)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.clock import Timer
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.station.timers import sleep

if TYPE_CHECKING:
    from ocpp_station.station.station import Station

log = logging.getLogger("ocpp_station.station")

# When the central system answers Pending/Rejected with interval 0, or does not answer at all,
# we pick the wait ourselves "in a way that avoids flooding the Central System" (§4.2).
DEFAULT_RETRY = 60.0
NO_ANSWER_RETRY = 30.0


@dataclass(slots=True)
class BootInfo:
    vendor: str
    model: str
    serial: str | None = None
    firmware: str | None = None
    charge_box_serial: str | None = None
    meter_type: str | None = None
    meter_serial: str | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"chargePointVendor": self.vendor, "chargePointModel": self.model}
        optional = {
            "chargePointSerialNumber": self.serial,
            "chargeBoxSerialNumber": self.charge_box_serial,
            "firmwareVersion": self.firmware,
            "meterType": self.meter_type,
            "meterSerialNumber": self.meter_serial,
        }
        payload.update({k: v for k, v in optional.items() if v})
        return payload


class BootService:
    def __init__(self, station: Station, info: BootInfo) -> None:
        self.st = station
        self.info = info
        self.registration = "None"
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: Timer | None = None
        self._not_before = 0.0  # monotonic time before which no BootNotification may go

    @property
    def accepted(self) -> bool:
        return self.registration == "Accepted"

    def connected(self) -> None:
        if self.accepted:
            # OCPP-J §5.4: a reconnect alone needs no new BootNotification.
            self.st.sender.set_accepted(True)
            self.st.report_changed_statuses()
            self._arm_heartbeat()
            return
        self._start()

    def disconnected(self) -> None:
        self._stop_task()
        self._cancel_heartbeat()

    def reboot(self) -> None:
        """Power-up state: not registered until a new BootNotification is accepted."""
        self._stop_task()
        self._cancel_heartbeat()
        self.registration = "None"
        self._not_before = 0.0
        self.st.sender.set_accepted(False)

    def _start(self) -> None:
        self._stop_task()
        self._task = asyncio.get_running_loop().create_task(self._boot_loop(), name="boot")

    def _stop_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _boot_loop(self) -> None:
        while True:
            # A reconnect does not shorten the wait a Pending/Rejected answer asked for (§4.2).
            wait = self._not_before - self.st.clock.monotonic()
            if wait > 0:
                await sleep(self.st.clock, wait)
            try:
                answer = await self.st.sender.call_now("BootNotification", self.info.payload())
            except ConnectionLost:
                return  # the next connection boots again
            except (CallErrorReceived, RpcTimeout, OcppError) as exc:
                log.warning(
                    "BootNotification failed (%s); retrying in %.0f s", exc, NO_ANSWER_RETRY
                )
                self._not_before = self.st.clock.monotonic() + NO_ANSWER_RETRY
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
            self._not_before = self.st.clock.monotonic() + (
                interval if interval > 0 else DEFAULT_RETRY
            )

    def _on_accepted(self, interval: int) -> None:
        if interval > 0 and str(interval) != self.st.config.get("HeartbeatInterval"):
            # §4.2: adjust the heartbeat interval to the one the central system gave.
            self.st.config.change("HeartbeatInterval", str(interval))
        self.st.sender.set_accepted(True)
        # [E] 3.22: after Accepted, a StatusNotification for connector 0 and every connector.
        self.st.report_all_statuses()
        self._arm_heartbeat()
        self.st.metering.arm_aligned()

    def _set_time(self, current: str | None) -> None:
        if not current:
            return
        try:
            self.st.clock.set_time(timefmt.parse(current))
        except ValueError:
            log.warning("ignoring unreadable currentTime %r", current)
            return
        self.st.metering.arm_aligned()

    # -- heartbeat: a plain periodic timer, not reset by other traffic (digest §2.2) ----------
    def heartbeat_interval_changed(self) -> None:
        if self.accepted:
            self._arm_heartbeat()

    def _arm_heartbeat(self) -> None:
        self._cancel_heartbeat()
        interval = self.st.config.get_int("HeartbeatInterval")
        if interval > 0:
            self._heartbeat = self.st.clock.call_later(interval, self._beat)

    def _cancel_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def _beat(self) -> None:
        self._heartbeat = None
        self._arm_heartbeat()
        if self.st.sender.open:
            self.st.spawn(self._send_heartbeat())

    async def _send_heartbeat(self) -> None:
        try:
            answer = await self.st.sender.request("Heartbeat", {})
        except (ConnectionLost, CallErrorReceived, RpcTimeout, OcppError) as exc:
            log.info("Heartbeat not answered: %s", type(exc).__name__)
            return
        self._set_time(answer.get("currentTime"))
