"""The charge point: the installed profiles' services, composed, and the station's moments
fanned out to them.

No sockets and no sleeps here: the runtime hands the station a Clock, the hardware, the ports,
the configuration, the store and (while connected) an outbound RPC. The Station builds the
infrastructure every service shares (sender, status reporter, events, connectors, start
guards), lets each installed profile build its services, and from then on only routes: CSMS
requests to the services that declared them, lifecycle moments to the services that implement
them, and the control API's snapshot through every service's contribution. It names no service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ocpp_station.clock import Clock
from ocpp_station.hardware.interfaces import Hardware
from ocpp_station.profiles import INSTALLED
from ocpp_station.rpc.endpoint import Router
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.charge_point import ChargePoint
from ocpp_station.station.config import Configuration
from ocpp_station.station.context import StationContext
from ocpp_station.station.events import Events
from ocpp_station.station.guards import StartGuards
from ocpp_station.station.link import BasicLink, ConnectionPolicy
from ocpp_station.station.ports import Ports
from ocpp_station.station.profile import Composition, Profile
from ocpp_station.station.sender import Outbound, Sender
from ocpp_station.station.service import (
    Admission,
    AfterHook,
    ConfigReaction,
    Handler,
    Payload,
    Service,
    wiring,
)
from ocpp_station.station.status_report import StatusReporter
from ocpp_station.storage.interface import StateStore

log = logging.getLogger("ocpp_station.station")

RebootHook = Callable[[str], Awaitable[None]]
S = TypeVar("S", bound=Service)


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
        profiles: Sequence[Profile] | None = None,
        ports: Ports | None = None,
    ) -> None:
        self._on_reboot = on_reboot
        self._tasks: set[asyncio.Task[Any]] = set()
        # Tasks that ended with an exception (each logged): a bug, which tests look for.
        self.task_failures = 0
        sender = Sender(
            clock,
            attempts=lambda: config.get_int("TransactionMessageAttempts"),
            retry_interval=lambda: config.get_int("TransactionMessageRetryInterval"),
            journal=store,
        )
        cp = ChargePoint([hw.connector_id for hw in hardware.connectors])
        events = Events()
        self.ctx = ctx = StationContext(
            identity=identity,
            info=info,
            clock=clock,
            config=config,
            hardware=hardware,
            ports=ports if ports is not None else Ports(),
            store=store,
            sender=sender,
            status=StatusReporter(clock, config, sender, cp, store, events),
            events=events,
            cp=cp,
            guards=StartGuards(),
            spawn=self.spawn,
            reboot=self.request_reboot,
        )
        composition = Composition(ctx)
        for profile in INSTALLED if profiles is None else profiles:
            profile.install(composition)
        self.services: tuple[Service, ...] = tuple(composition.services)
        # Where every declaration and hook lives: shared by the stations of a fleet.
        self._wiring = wiring(self.services)
        self._wire()
        self._power_up(cold=True)

    # -- composition --------------------------------------------------------------------------
    def _wire(self) -> None:
        ctx = self.ctx
        ctx.config.subscribe(self._config_changed)
        for service in self._implementing("on_accepted"):
            ctx.events.accepted.connect(service.on_accepted)
        for service in self._implementing("start_guard"):
            ctx.guards.add(service.start_guard)
        for service in self._implementing("refine_status"):
            ctx.status.add_refiner(service.refine_status)

    def _implementing(self, hook: str) -> list[Service]:
        services = self.services
        return [services[i] for i in self._wiring.hooks[hook]]

    def service(self, kind: type[S]) -> S:
        """The installed service of type `kind`."""
        for service in self.services:
            if isinstance(service, kind):
                return service
        raise LookupError(f"{kind.__name__} is not installed")

    def link(self) -> ConnectionPolicy:
        """How the station connects: the policy a profile installed (the security extensions
        follow the SecurityProfile), else the Core's (station.link.BasicLink)."""
        for service in self.services:
            if isinstance(service, ConnectionPolicy):
                return service
        return BasicLink(self.ctx.config)

    def handlers(self) -> dict[str, tuple[Handler, AfterHook | None]]:
        """The CSMS requests this station answers, by action, with their after hooks."""
        services = self.services
        routes: dict[str, tuple[Handler, AfterHook | None]] = {}
        for action, (index, name) in self._wiring.handlers.items():
            after = self._wiring.after.get(action)
            hook = getattr(services[after[0]], after[1]) if after is not None else None
            routes[action] = (getattr(services[index], name), hook)
        return routes

    def admit(self, action: str | None) -> Admission:
        """The inbound gate (rpc.endpoint.Gate): the first service with a say decides."""
        services = self.services
        for i in self._wiring.hooks["admit"]:
            verdict = services[i].admit(action)
            if verdict is not None:
                return verdict
        return True

    def router(self) -> Router:
        """A Router with every handler and after hook, behind the inbound gate."""
        router = Router(gate=self.admit)
        for action, (handler, hook) in self.handlers().items():
            router.route(action, handler, hook)
        return router

    def _config_changed(self, key: str, value: str) -> None:
        services = self.services
        for index, name in self._wiring.reactions.get(key, ()):
            reaction: ConfigReaction = getattr(services[index], name)
            reaction(value)

    # -- shortcuts to the shared infrastructure -----------------------------------------------
    @property
    def identity(self) -> str:
        return self.ctx.identity

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def config(self) -> Configuration:
        return self.ctx.config

    @property
    def hardware(self) -> Hardware:
        return self.ctx.hardware

    @property
    def sender(self) -> Sender:
        return self.ctx.sender

    @property
    def status(self) -> StatusReporter:
        return self.ctx.status

    @property
    def events(self) -> Events:
        return self.ctx.events

    @property
    def cp(self) -> ChargePoint:
        return self.ctx.cp

    # -- tasks --------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.task_failures += 1
            log.error("station task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.sender.stop()

    # -- the station's moments ----------------------------------------------------------------
    def _power_up(self, cold: bool) -> None:
        for service in self._implementing("on_power_up"):
            service.on_power_up(cold)
        self.ctx.status.power_up()

    def connected(self, outbound: Outbound) -> None:
        sender = self.ctx.sender
        sender.start()
        sender.connected(outbound)
        for service in self._implementing("on_connected"):
            service.on_connected()

    def disconnected(self) -> None:
        self.ctx.sender.disconnected()
        for service in self._implementing("on_disconnected"):
            service.on_disconnected()

    async def power_down(self, grace: float, *, wait_offline: bool = False) -> None:
        """A controlled shutdown (a UPS holding up): the services stop what they run (the
        sessions end with reason PowerLoss), and what the central system answers within
        `grace` seconds is delivered; the rest stays queued."""
        for service in self._implementing("on_power_down"):
            service.on_power_down()
        sender = self.ctx.sender
        # Offline, a charger's UPS does not wait for a central system that may be gone for
        # hours; a store that dies with the process (a memory-only fleet) asks to wait for the
        # connection to come back within the grace time instead (`wait_offline`).
        if sender.queued and (sender.open or wait_offline):
            await sender.drain(grace)

    async def request_reboot(self, kind: str) -> None:
        if self._on_reboot is not None:
            await self._on_reboot(kind)
        else:
            self.reboot()

    def reboot(self) -> None:
        """Back to the power-up state: what is physical or persisted stays, the rest goes."""
        for service in self._implementing("on_reboot"):
            service.on_reboot()
        self.ctx.status.reboot()
        self._power_up(cold=False)

    # -- what the control API shows -----------------------------------------------------------
    def snapshot(self, connected: bool) -> Payload:
        cp = self.ctx.cp
        connectors: list[Payload] = [{"id": 0, "status": cp.status, "errorCode": cp.error[0]}]
        contributors = self._implementing("snapshot_connector")
        for c in cp:
            entry: Payload = {
                "id": c.connector_id,
                "status": c.status,
                "errorCode": c.error_code,
                "plugged": c.plugged,
            }
            for service in contributors:
                service.snapshot_connector(c, entry)
            connectors.append(entry)
        view: Payload = {"id": self.ctx.identity, "connected": connected}
        view["connectors"] = connectors  # connector 0 is there for a service to add to
        for service in self._implementing("snapshot"):
            service.snapshot(view)
        view["connectors"] = view.pop("connectors")  # after the services' station-wide fields
        view["queuedMessages"] = self.ctx.sender.queued
        return view
