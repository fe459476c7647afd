"""A station on a virtual clock with a scripted central system: for behaviour unit tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ocpp_station import profiles, timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.rpc.errors import ConnectionLost
from ocpp_station.station.boot import BootInfo, BootService
from ocpp_station.station.connector import Connector
from ocpp_station.station.ports import Ports
from ocpp_station.station.profile import Profile
from ocpp_station.station.service import Service
from ocpp_station.station.station import Station
from ocpp_station.storage.fleet import FleetDatabase, StationShare
from ocpp_station.storage.store import StationStore

Payload = dict[str, Any]
S = TypeVar("S", bound=Service)
# An answer, an exception to raise, or a future the test resolves later (a slow answer).
Responder = Callable[[Payload], "Payload | BaseException | asyncio.Future[Payload]"]


def open_store(kind: str, path: Path) -> StationStore | StationShare:
    """A single station's file ("station"), or this station's share of a fleet's file."""
    if kind == "station":
        return StationStore(path)
    return FleetDatabase(path).station("CP-T")


class FakeCsms:
    """Answers the station's CALLs at once, by action; records every one."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, Payload]] = []
        self.responders: dict[str, Responder] = {}
        self._ids = itertools.count(100)
        self.hold: dict[str, list[asyncio.Future[Payload]]] = {}

    async def call(self, action: str, payload: Payload) -> Payload:
        self.sent.append((action, _copy(payload)))
        responder = self.responders.get(action)
        answer = responder(payload) if responder is not None else self.default(action, payload)
        if isinstance(answer, asyncio.Future):
            answer = await answer  # a held answer: the test releases it
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def default(self, action: str, payload: Payload) -> Payload:
        now = timefmt.iso(self.clock.now())
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 20}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(self._ids), "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        return {}

    def answer_boot(self, status: str, interval: int) -> None:
        """Answer every BootNotification with `status` and `interval`, currentTime the clock's
        own time (the station's clock stays where it is)."""
        self.responders["BootNotification"] = lambda payload: {
            "status": status,
            "currentTime": timefmt.iso(self.clock.now()),
            "interval": interval,
        }

    # -- reading what was sent ------------------------------------------------------------------
    def actions(self) -> list[str]:
        return [a for a, _ in self.sent]

    def of(self, action: str) -> list[Payload]:
        return [p for a, p in self.sent if a == action]

    def statuses(self, connector_id: int | None = None) -> list[str]:
        return [
            p["status"]
            for a, p in self.sent
            if a == "StatusNotification"
            and (connector_id is None or p["connectorId"] == connector_id)
        ]

    def clear(self) -> None:
        self.sent.clear()


def _copy(payload: Payload) -> Payload:
    import copy

    return copy.deepcopy(payload)


class Harness:
    def __init__(
        self,
        connectors: int = 2,
        *,
        config: dict[str, str] | None = None,
        fixed_cable: bool = True,
        store: StationStore | StationShare | None = None,
        hardware: Simulator | None = None,
        clock: VirtualClock | None = None,
        installed: Sequence[Profile] = profiles.INSTALLED,
        ports: Ports | None = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.store = store or StationStore(None)
        self.hw = hardware or Simulator(
            self.clock, connectors, fixed_cable=fixed_cable, has_lock=not fixed_cable, seed=7
        )
        self.config = profiles.configuration(
            connectors=connectors,
            measurands=self.hw.measurands,
            store=self.store,
            fixed_cable=fixed_cable,
            profiles=installed,
        )
        for key, value in (config or {}).items():
            self.config.set_initial(key, value)
        self.csms = FakeCsms(self.clock)
        self.reboots: list[str] = []
        self.station = Station(
            identity="CP-T",
            clock=self.clock,
            hardware=self.hw,
            config=self.config,
            store=self.store,
            info=BootInfo("Vendor", "Model", "SN1", "1.0.0"),
            on_reboot=self._reboot,
            profiles=installed,
            ports=ports,
        )
        self.online = False

    async def _reboot(self, kind: str) -> None:
        self.reboots.append(kind)
        self.disconnect()
        self.station.reboot()
        self.connect()

    def connect(self) -> None:
        self.online = True
        self.station.connected(self.csms)

    def disconnect(self) -> None:
        self.online = False
        self.station.disconnected()

    async def boot(self) -> None:
        self.connect()
        await self.settle()

    async def settle(self, rounds: int = 60) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Move virtual time forward, letting the station's tasks run in between."""
        remaining = seconds
        while remaining > 1e-9:
            delta = min(step, remaining)
            self.clock.advance(delta)
            remaining -= delta
            await self.settle()

    # -- the CSMS side -----------------------------------------------------------------------
    def service(self, kind: type[S]) -> S:
        return self.station.service(kind)

    def connector(self, connector_id: int) -> Connector:
        return self.station.cp.connector(connector_id)

    @property
    def registration(self) -> str:
        return self.station.service(BootService).registration

    async def request(self, action: str, payload: Payload) -> Payload:
        """A CSMS request through the inbound gate: the handler, then its after-hook, as the
        RPC layer does; the gate's answer instead where it gives one."""
        verdict = self.station.admit(action)
        if verdict is False:
            raise AssertionError(f"{action} would be ignored: the inbound gate is closed")
        if verdict is not True:
            await self.settle()
            return verdict
        handler, after = self.station.handlers()[action]
        response = handler(payload)
        if not isinstance(response, dict):
            response = await response
        if after is not None:
            after(payload, response)
        await self.settle()
        return response

    # -- the physical side -------------------------------------------------------------------
    async def plug(self, connector_id: int = 1) -> None:
        self.hw.plug(connector_id)
        await self.settle()

    async def unplug(self, connector_id: int = 1) -> None:
        self.hw.unplug(connector_id)
        await self.settle()

    async def card(self, id_tag: str, connector_id: int | None = None) -> None:
        self.hw.present_card(id_tag, connector_id)
        await self.settle()

    def status(self, connector_id: int) -> str:
        if connector_id == 0:
            return self.station.cp.status
        return self.station.cp.connector(connector_id).status

    async def close(self) -> None:
        """Stop the station; a background task that failed or a transition §4.9 forbids
        fails the test that caused it, whatever that test asserted itself."""
        await self.station.close()
        assert self.station.task_failures == 0, "a station task failed (see the log)"
        illegal = self.station.status.illegal_transitions
        assert illegal == [], f"transitions §4.9 forbids: {illegal}"


def offline_error() -> ConnectionLost:
    return ConnectionLost("offline")
