"""The charge point's behaviour: connectors, services and the handlers of CSMS requests.

No sockets and no sleeps here: the runtime hands the station a Clock, the hardware, the
configuration, the store and (while connected) an outbound RPC; hardware events and CSMS
requests come in through the methods below, and everything the station sends goes through its
Sender.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ocpp_station import timefmt
from ocpp_station.clock import Clock, Timer
from ocpp_station.hardware.interfaces import ConnectorHardware, Hardware, MeterReading
from ocpp_station.rpc.errors import OccurenceConstraintViolation
from ocpp_station.station.authorization import AuthService
from ocpp_station.station.availability import Availability
from ocpp_station.station.boot import BootInfo, BootService
from ocpp_station.station.config import Configuration
from ocpp_station.station.connector import Connector, Transaction
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.station.metering import Metering
from ocpp_station.station.recovery import recover
from ocpp_station.station.remote import RemoteControl
from ocpp_station.station.reset import ResetService
from ocpp_station.station.sender import Outbound, Sender
from ocpp_station.station.status import (
    AVAILABLE,
    FAULTED,
    UNAVAILABLE,
    derive_status,
    transition_code,
)
from ocpp_station.station.transactions import LOCK_FAILURE, Sessions
from ocpp_station.storage.interface import StateStore

log = logging.getLogger("ocpp_station.station")

Payload = dict[str, Any]
Handler = Callable[[Payload], Payload]
AfterHook = Callable[[Payload, Payload], None]
RebootHook = Callable[[str], Awaitable[None]]

# The profiles whose requests this station answers; SupportedFeatureProfiles lists exactly these.
IMPLEMENTED_PROFILES = ("Core",)


class Station:
    def __init__(
        self,
        *,
        identity: str,
        clock: Clock,
        hardware: Hardware,
        config: Configuration,
        store: StateStore,
        info: BootInfo,
        on_reboot: RebootHook | None = None,
    ) -> None:
        self.identity = identity
        self.clock = clock
        self.hardware = hardware
        self.config = config
        self.store = store
        self._on_reboot = on_reboot
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connectors = [Connector(hw.connector_id) for hw in hardware.connectors]
        self.operative = True
        # A controlled shutdown has begun (power_down): no new session may start.
        self.powering_down = False
        self.station_fault: tuple[str, str | None] | None = None
        self.station_status = AVAILABLE
        self._reported: dict[int, tuple[str, str]] = {}
        self._status_timers: dict[int, Timer] = {}
        # Transitions the table of §4.9 does not allow: kept so tests can assert there are none.
        self.illegal_transitions: list[tuple[int, str, str]] = []

        self.sender = Sender(
            clock,
            attempts=lambda: config.get_int("TransactionMessageAttempts"),
            retry_interval=lambda: config.get_int("TransactionMessageRetryInterval"),
            journal=store,
        )
        self.boot = BootService(self, info)
        self.auth = AuthService(self)
        self.metering = Metering(self)
        self.sessions = Sessions(self)
        self.remote = RemoteControl(self)
        self.availability = Availability(self)
        self.resets = ResetService(self)
        self.data_transfer = DataTransferService()
        self.config_listeners: list[Callable[[str, str], None]] = []
        # Told when the physical world changed (cable, EV, meter): the runtime keeps it on disk.
        self.physical_listeners: list[Callable[[], None]] = []
        self._finishing_saved: dict[int, bool] = {}
        config.subscribe(self._config_changed)
        self._load_physical_state()
        recover(self)
        for c in self.connectors:
            c.status = derive_status(c, self.operative)
            self._save_finishing(c)
        hardware.set_listener(self)

    # -- wiring -------------------------------------------------------------------------------
    def handlers(self) -> dict[str, tuple[Handler, AfterHook | None]]:
        """The CSMS requests this station answers, by action (Core profile, §5)."""
        return {
            "ChangeAvailability": (self.availability.change, None),
            "ChangeConfiguration": (self._change_configuration, None),
            "ClearCache": (lambda _: {"status": self.auth.clear_cache()}, None),
            "DataTransfer": (self.data_transfer.handle, None),
            "GetConfiguration": (self._get_configuration, None),
            "RemoteStartTransaction": (self.remote.remote_start, self.remote.after_remote_start),
            "RemoteStopTransaction": (self.remote.remote_stop, self.remote.after_remote_stop),
            "Reset": (self.resets.reset, self.resets.after_reset),
            "UnlockConnector": (self.remote.unlock, None),
        }

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("station task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sender.stop()

    # -- lookups ------------------------------------------------------------------------------
    def has_connector(self, connector_id: int) -> bool:
        return 1 <= connector_id <= len(self.connectors)

    def connector(self, connector_id: int) -> Connector:
        return self.connectors[connector_id - 1]

    def hw_connector(self, connector_id: int) -> ConnectorHardware:
        return self.hardware.connectors[connector_id - 1]

    def read_meter(self, connector_id: int) -> MeterReading:
        return self.hw_connector(connector_id).read_meter()

    def connector_by_transaction(self, transaction_id: int) -> Connector | None:
        for c in self.connectors:
            if c.transaction is not None and c.transaction.transaction_id == transaction_id:
                return c
        return None

    # -- the connection -----------------------------------------------------------------------
    def connected(self, outbound: Outbound) -> None:
        self.sender.start()
        self.sender.connected(outbound)
        self.boot.connected()

    def disconnected(self) -> None:
        self.sender.disconnected()
        self.boot.disconnected()

    async def power_down(self, grace: float, *, wait_offline: bool = False) -> None:
        """A controlled shutdown (a UPS holding up): stop the sessions with reason PowerLoss,
        deliver what the central system answers within `grace` seconds; the rest stays queued.

        From the first moment no new session starts: one begun in the grace time would be cut
        off at once with another PowerLoss stop. A RemoteStartTransaction is Rejected, a card
        is refused with a log line, and an idTag accepted earlier (waiting for the plug, or for
        its Authorize) starts nothing.
        """
        self.powering_down = True
        self.sessions.stop_all("PowerLoss")
        # Offline, a charger's UPS does not wait for a central system that may be gone for
        # hours; a store that dies with the process (a memory-only fleet) asks to wait for the
        # connection to come back within the grace time instead (`wait_offline`).
        if self.sender.queued and (self.sender.open or wait_offline):
            await self.sender.drain(grace)

    def physical_changed(self) -> None:
        for listener in self.physical_listeners:
            listener()

    async def request_reboot(self, kind: str) -> None:
        if self._on_reboot is not None:
            await self._on_reboot(kind)
        else:
            self.reboot()

    def reboot(self) -> None:
        """Back to the power-up state: what is physical or persisted stays, the rest goes."""
        self.boot.reboot()
        self.metering.stop_aligned()
        self.sessions.unassigned = None
        for c in self.connectors:
            c.cancel_timeout()
            c.authorization = None
        for timer in self._status_timers.values():
            timer.cancel()
        self._status_timers.clear()
        self._reported.clear()
        self._load_physical_state()

    def _load_physical_state(self) -> None:
        stored = self.store.load_availability()
        self.operative = stored.get(0, True)
        for c, hw in zip(self.connectors, self.hardware.connectors, strict=True):
            c.operative = stored.get(c.connector_id, True)
            c.plugged = hw.is_plugged()
            c.ev_drawing = c.plugged and hw.ev_wants_power()
            c.fault = hw.active_fault()
            c.lock_failed = False  # a restart drives the lock afresh at the next start
            if not c.plugged:
                c.finishing = False
            elif not c.finishing and c.transaction is None:
                # A session that ended before the restart still waits for the user.
                c.finishing = self.store.kv_get(f"finishing.{c.connector_id}") == 1
            c.status = derive_status(c, self.operative)
            c.error_code = c.fault[0] if c.fault else "NoError"
        self.station_fault = self.hardware.station_fault()
        self.station_status = self._derive_station_status()

    # -- status -------------------------------------------------------------------------------
    def _derive_station_status(self) -> str:
        if self.station_fault is not None:
            return FAULTED
        return AVAILABLE if self.operative else UNAVAILABLE

    def update_station_status(self) -> None:
        new = self._derive_station_status()
        code = self.station_fault[0] if self.station_fault else "NoError"
        info = self.station_fault[1] if self.station_fault else None
        if new == self.station_status and code == self._reported.get(0, (new, code))[1]:
            return
        self.station_status = new
        self._report(0, new, code, info)

    def update_status(self, c: Connector, info: str | None = None) -> None:
        new = derive_status(c, self.operative)
        code = c.fault[0] if c.fault else "NoError"
        if new == c.status and code == c.error_code:
            return
        if new != c.status and transition_code(c.status, new) is None:
            log.warning(
                "connector %d: %s -> %s is not in the §4.9 table", c.connector_id, c.status, new
            )
            self.illegal_transitions.append((c.connector_id, c.status, new))
        c.status = new
        c.error_code = code
        c.info = c.fault[1] if c.fault else info
        self._save_finishing(c)
        self._report(c.connector_id, new, code, c.info)

    def _save_finishing(self, c: Connector) -> None:
        if self._finishing_saved.get(c.connector_id) != c.finishing:
            self._finishing_saved[c.connector_id] = c.finishing
            self.store.kv_put(f"finishing.{c.connector_id}", 1 if c.finishing else 0)

    def _report(self, connector_id: int, status: str, error_code: str, info: str | None) -> None:
        delay = self._minimum_status_duration()
        old = self._status_timers.pop(connector_id, None)
        if old is not None:
            old.cancel()
        if delay <= 0:
            self._send_status(connector_id, status, error_code, info)
            return

        def stable() -> None:
            # MinimumStatusDuration: only a status that lasted this long is reported (§9.1.22).
            self._status_timers.pop(connector_id, None)
            current = self._current(connector_id)
            if current == (status, error_code) and self._reported.get(connector_id) != current:
                self._send_status(connector_id, status, error_code, info)

        self._status_timers[connector_id] = self.clock.call_later(delay, stable)

    def _minimum_status_duration(self) -> int:
        try:
            return self.config.get_int("MinimumStatusDuration")
        except KeyError:
            return 0

    def _current(self, connector_id: int) -> tuple[str, str]:
        if connector_id == 0:
            return self.station_status, self.station_fault[0] if self.station_fault else "NoError"
        c = self.connector(connector_id)
        return c.status, c.error_code

    def _send_status(
        self,
        connector_id: int,
        status: str,
        error_code: str,
        info: str | None,
        *,
        first: bool = False,
    ) -> None:
        payload: Payload = {
            "connectorId": connector_id,
            "errorCode": error_code,
            "status": status,
            "timestamp": timefmt.iso(self.clock.now()),
        }
        if info:
            payload["info"] = info[:50]
        if self.sender.notify("StatusNotification", payload, first=first):
            self._reported[connector_id] = (status, error_code)

    def report_all_statuses(self) -> None:
        """[E] 3.22: right after Accepted, before the queued transaction messages go."""
        self._send_status(0, self.station_status, *self._station_error(), first=True)
        for c in self.connectors:
            self._send_status(c.connector_id, c.status, c.error_code, c.info, first=True)

    def report_changed_statuses(self) -> None:
        """After an outage: the current status where it changed, no history (§4.9, digest §2.3)."""
        if self._reported.get(0) != self._current(0):
            self._send_status(0, self.station_status, *self._station_error(), first=True)
        for c in self.connectors:
            if self._reported.get(c.connector_id) != (c.status, c.error_code):
                self._send_status(c.connector_id, c.status, c.error_code, c.info, first=True)

    def _station_error(self) -> tuple[str, str | None]:
        if self.station_fault is None:
            return "NoError", None
        return self.station_fault

    # -- messages ----------------------------------------------------------------------------
    def send_meter_values(
        self,
        connector_id: int,
        values: list[Payload],
        tx: Transaction | None,
        timestamp: str | None = None,
    ) -> None:
        payload: Payload = {
            "connectorId": connector_id,
            "meterValue": [
                {"timestamp": timestamp or timefmt.iso(self.clock.now()), "sampledValue": values}
            ],
        }
        if tx is None:
            self.sender.notify("MeterValues", payload)
            return
        payload["transactionId"] = tx.wire_id if tx.wire_id is not None else -1
        self.sender.enqueue("MeterValues", payload, tx)  # a transaction message (§3.1 digest)

    async def send_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        payload: Payload = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        return await self.sender.request("DataTransfer", payload)

    # -- configuration ------------------------------------------------------------------------
    def _get_configuration(self, request: Payload) -> Payload:
        keys = request.get("key") or None
        if keys is not None:
            # [S] 5.8: the station MAY limit how many keys one GetConfiguration.req asks for,
            # and 9.1.9 GetConfigurationMaxKeys says how many (no erratum changes either).
            # GetConfiguration.conf has no status to refuse with, and truncating would leave
            # requested keys neither in configurationKey nor in unknownKey, against 5.8's SHALL
            # for both lists. So a request over the limit is refused whole with the CALLERROR
            # for too many occurrences of a field ([J] 4.2.3, spelled as [JE] 5.1 keeps it).
            # A request without keys (get all) is not limited: 5.8 SHALL return every key.
            limit = self.config.get_int("GetConfigurationMaxKeys")
            if len(keys) > limit:
                raise OccurenceConstraintViolation(
                    f"{len(keys)} keys requested; GetConfigurationMaxKeys is {limit}"
                )
        known, unknown = self.config.get_configuration(keys)
        response: Payload = {"configurationKey": known}
        if unknown:
            response["unknownKey"] = unknown
        return response

    def _change_configuration(self, request: Payload) -> Payload:
        return {"status": self.config.change(request["key"], request["value"])}

    def _config_changed(self, key: str, value: str) -> None:
        if key == "HeartbeatInterval":
            self.boot.heartbeat_interval_changed()
        elif key == "MeterValueSampleInterval":
            self.metering.sample_interval_changed()
        elif key == "ClockAlignedDataInterval":
            self.metering.arm_aligned()
        for listener in self.config_listeners:
            listener(key, value)

    # -- hardware events (HardwareListener) ---------------------------------------------------
    def cable_plugged(self, connector_id: int) -> None:
        self.physical_changed()
        self.sessions.cable_plugged(self.connector(connector_id))

    def cable_unplugged(self, connector_id: int) -> None:
        self.physical_changed()
        self.sessions.cable_unplugged(self.connector(connector_id))

    def ev_suspended(self, connector_id: int) -> None:
        self.physical_changed()
        self.sessions.ev_changed(self.connector(connector_id), False)

    def ev_resumed(self, connector_id: int) -> None:
        self.physical_changed()
        self.sessions.ev_changed(self.connector(connector_id), True)

    def fault_raised(self, connector_id: int, error_code: str, info: str | None) -> None:
        self.physical_changed()
        if connector_id == 0:
            self.station_fault = (error_code, info)
            self.update_station_status()
            return
        c = self.connector(connector_id)
        c.fault = (error_code, info)
        # A fault prevents charging (§4.9 x9); the transaction itself is kept.
        self.hw_connector(connector_id).set_energy_offered(False)
        self.update_status(c)

    def fault_cleared(self, connector_id: int) -> None:
        self.physical_changed()
        if connector_id == 0:
            self.station_fault = None
            self.update_station_status()
            return
        c = self.connector(connector_id)
        # A lock failure the station saw itself outlives a hardware fault that came after it.
        c.fault = LOCK_FAILURE if c.lock_failed else None
        tx = c.transaction
        if tx is not None and not tx.energy_suspended:
            self.hw_connector(connector_id).set_energy_offered(True)
            c.ev_drawing = self.hw_connector(connector_id).ev_wants_power()
        self.update_status(c)  # I1-I8: back to the status before the fault

    def card_presented(self, id_tag: str, connector_id: int | None) -> None:
        self.sessions.card_presented(id_tag, connector_id)

    # -- what the control API shows -----------------------------------------------------------
    def snapshot(self, connected: bool) -> Payload:
        connectors: list[Payload] = [
            {"id": 0, "status": self.station_status, "errorCode": self._station_error()[0]}
        ]
        for c in self.connectors:
            reading = self.read_meter(c.connector_id)
            entry: Payload = {
                "id": c.connector_id,
                "status": c.status,
                "errorCode": c.error_code,
                "plugged": c.plugged,
                "transactionId": None,
                "idTag": None,
                "energyWh": round(reading.energy_wh, 1),
                "powerW": round(reading.power_w, 1),
            }
            tx = c.transaction
            if tx is not None:
                entry["transactionId"] = tx.transaction_id
                entry["idTag"] = tx.id_tag
            elif c.authorization is not None:
                entry["idTag"] = c.authorization.id_tag
            connectors.append(entry)
        return {
            "id": self.identity,
            "connected": connected,
            "registration": self.boot.registration,
            "connectors": connectors,
            "queuedMessages": self.sender.queued,
        }
