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
from ocpp_station.station.ports import Ports
from ocpp_station.station.profile import Composition, Profile
from ocpp_station.station.sender import Outbound, Sender
from ocpp_station.station.service import (
    AFTER,
    HANDLES,
    ON_CONFIG,
    Admission,
    AfterHook,
    ConfigReaction,
    Handler,
    Payload,
    Service,
    declarations,
    overridden_hooks,
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
        sender = Sender(
            clock,
            attempts=lambda: config.get_int("TransactionMessageAttempts"),
            retry_interval=lambda: config.get_int("TransactionMessageRetryInterval"),
            journal=store,
        )
        cp = ChargePoint([hw.connector_id for hw in hardware.connectors])
        self.ctx = ctx = StationContext(
            identity=identity,
            info=info,
            clock=clock,
            config=config,
            hardware=hardware,
            ports=ports if ports is not None else Ports(),
            store=store,
            sender=sender,
            status=StatusReporter(clock, config, sender, cp, store),
            events=Events(),
            cp=cp,
            guards=StartGuards(),
            spawn=self.spawn,
            reboot=self.request_reboot,
        )
        composition = Composition(ctx)
        for profile in INSTALLED if profiles is None else profiles:
            profile.install(composition)
        self.services: tuple[Service, ...] = tuple(composition.services)
        self._by_kind: dict[type[Service], Service] = {}
        self._wire()
        self._power_up(cold=True)

    # -- composition --------------------------------------------------------------------------
    def _wire(self) -> None:
        ctx = self.ctx
        self._handlers: dict[str, Handler] = {}
        self._after: dict[str, AfterHook] = {}
        reactions: dict[str, list[ConfigReaction]] = {}
        for service in self.services:
            for kind, name, method in declarations(service):
                if kind == HANDLES:
                    if name in self._handlers:
                        raise ValueError(f"{name} is handled twice")
                    self._handlers[name] = method
                elif kind == AFTER:
                    if name in self._after:
                        raise ValueError(f"{name} has two after hooks")
                    self._after[name] = method
                elif kind == ON_CONFIG:
                    reactions.setdefault(name, []).append(method)
        missing = sorted(set(self._after) - set(self._handlers))
        if missing:
            raise ValueError(f"after hooks without a handler: {', '.join(missing)}")
        self._reactions = reactions
        ctx.config.subscribe(self._config_changed)

        def implementing(hook: str) -> list[Any]:
            return [getattr(s, hook) for s in self.services if hook in overridden_hooks(s)]

        self._on_power_up = implementing("on_power_up")
        self._on_connected = implementing("on_connected")
        self._on_disconnected = implementing("on_disconnected")
        self._on_reboot_hooks = implementing("on_reboot")
        self._on_power_down = implementing("on_power_down")
        self._admit = implementing("admit")
        self._snapshot = implementing("snapshot")
        self._snapshot_connector = implementing("snapshot_connector")
        for hook in implementing("on_accepted"):
            ctx.events.accepted.connect(hook)
        for guard in implementing("start_guard"):
            ctx.guards.add(guard)
        for refiner in implementing("refine_status"):
            ctx.status.add_refiner(refiner)

    def service(self, kind: type[S]) -> S:
        """The installed service of type `kind`."""
        found = self._by_kind.get(kind)
        if found is None:
            for service in self.services:
                if isinstance(service, kind):
                    found = self._by_kind[kind] = service
                    break
            else:
                raise LookupError(f"{kind.__name__} is not installed")
        return found  # type: ignore[return-value]  # keyed by its own type

    def handlers(self) -> dict[str, tuple[Handler, AfterHook | None]]:
        """The CSMS requests this station answers, by action, with their after hooks."""
        return {action: (h, self._after.get(action)) for action, h in self._handlers.items()}

    def admit(self, action: str | None) -> Admission:
        """The inbound gate (rpc.endpoint.Gate): the first service with a say decides."""
        for admit in self._admit:
            verdict: Admission | None = admit(action)
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
        for reaction in self._reactions.get(key, ()):
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
            log.error("station task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.sender.stop()

    # -- the station's moments ----------------------------------------------------------------
    def _power_up(self, cold: bool) -> None:
        for hook in self._on_power_up:
            hook(cold)
        self.ctx.status.power_up()

    def connected(self, outbound: Outbound) -> None:
        sender = self.ctx.sender
        sender.start()
        sender.connected(outbound)
        for hook in self._on_connected:
            hook()

    def disconnected(self) -> None:
        self.ctx.sender.disconnected()
        for hook in self._on_disconnected:
            hook()

    async def power_down(self, grace: float, *, wait_offline: bool = False) -> None:
        """A controlled shutdown (a UPS holding up): the services stop what they run (the
        sessions end with reason PowerLoss), and what the central system answers within
        `grace` seconds is delivered; the rest stays queued."""
        for hook in self._on_power_down:
            hook()
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
        for hook in self._on_reboot_hooks:
            hook()
        self.ctx.status.reboot()
        self._power_up(cold=False)

    # -- what the control API shows -----------------------------------------------------------
    def snapshot(self, connected: bool) -> Payload:
        cp = self.ctx.cp
        connectors: list[Payload] = [{"id": 0, "status": cp.status, "errorCode": cp.error[0]}]
        for c in cp:
            entry: Payload = {
                "id": c.connector_id,
                "status": c.status,
                "errorCode": c.error_code,
                "plugged": c.plugged,
            }
            for contribute in self._snapshot_connector:
                contribute(c, entry)
            connectors.append(entry)
        view: Payload = {"id": self.ctx.identity, "connected": connected}
        for contribute in self._snapshot:
            contribute(view)
        view["connectors"] = connectors
        view["queuedMessages"] = self.ctx.sender.queued
        return view
