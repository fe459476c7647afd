"""A scripted charge point, a target and a driver for the conformance framework's unit tests.

FakeStation speaks real OCPP-J over a real WebSocket to the tool's central system, but does only
what a test tells it: it answers the central system's requests from a small table (with
optional delays) and sends the CALLs the test (or the FakeDriver's hooks) ask for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ocpp_station import timefmt
from ocpp_station.conformance.case import Case, Library, Verdict
from ocpp_station.conformance.drivers import DriverError
from ocpp_station.conformance.report import CaseResult, Results
from ocpp_station.conformance.runner import Runner
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.steps import ConfigKey, Run
from ocpp_station.conformance.transcript import StationLink
from ocpp_station.csms.server import CentralSystem
from ocpp_station.rpc.endpoint import Router, RpcEndpoint
from ocpp_station.rpc.errors import NotSupported

WAIT = 5.0
BOOT = {"chargePointVendor": "Fake", "chargePointModel": "F-2", "firmwareVersion": "0.0.1"}
FACTORY: dict[str, tuple[str, bool]] = {
    "SupportedFeatureProfiles": ("Core", True),
    "NumberOfConnectors": ("2", True),
    "HeartbeatInterval": ("20", False),
    "MeterValueSampleInterval": ("20", False),
    "AuthorizeRemoteTxRequests": ("false", False),
}

Hook = Callable[..., Awaitable[None]]


class FakeStation:
    def __init__(
        self,
        base_url: str,
        identity: str = "FAKE-1",
        *,
        configuration: Mapping[str, tuple[str, bool]] = FACTORY,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self.url = f"{base_url}/{identity}"
        self.identity = identity
        self.configuration = dict(configuration)
        self.delays = dict(delays or {})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.after: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}
        self.answers: dict[str, dict[str, Any]] = {
            "RemoteStartTransaction": {"status": "Accepted"},
            "RemoteStopTransaction": {"status": "Accepted"},
            "Reset": {"status": "Accepted"},
            "UnlockConnector": {"status": "NotSupported"},
            "ChangeAvailability": {"status": "Accepted"},
        }
        self.ws: ClientConnection | None = None
        self.endpoint: RpcEndpoint | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._router = Router()
        for action in (
            "GetConfiguration",
            "ChangeConfiguration",
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "Reset",
            "UnlockConnector",
            "ChangeAvailability",
        ):
            self._router.route(action, self._handler(action), after=self._after(action))
        self._router.route("ClearCache", self._refuse)

    # -- answering ------------------------------------------------------------------------------
    def _handler(self, action: str) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
        async def handle(payload: dict[str, Any]) -> dict[str, Any]:
            self.requests.append((action, payload))
            await asyncio.sleep(self.delays.get(action, 0))
            if action == "GetConfiguration":
                wanted = payload.get("key") or list(self.configuration)
                known = [k for k in wanted if k in self.configuration]
                return {
                    "configurationKey": [
                        # A key listed without a value ([S] 6.24: value is optional).
                        {"key": k, "readonly": self.configuration[k][1]}
                        | (
                            {}
                            if self.configuration[k][0] is None
                            else {"value": self.configuration[k][0]}
                        )
                        for k in known
                    ],
                    "unknownKey": [k for k in wanted if k not in self.configuration],
                }
            if action == "ChangeConfiguration":
                key = payload["key"]
                if key not in self.configuration:
                    return {"status": "NotSupported"}
                if self.configuration[key][1]:
                    return {"status": "Rejected"}
                self.configuration[key] = (payload["value"], False)
                return {"status": "Accepted"}
            return self.answers[action]

        return handle

    def _after(self, action: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
        def after(request: dict[str, Any], response: dict[str, Any]) -> None:
            hook = self.after.get(action)
            if hook is not None:
                self.spawn(hook(request))

        return after

    @staticmethod
    def _refuse(payload: dict[str, Any]) -> dict[str, Any]:
        raise NotSupported("ClearCache is not supported here")

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- connection -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self.ws = await connect(self.url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        ws = self.ws

        async def send(data: bytes) -> None:
            await ws.send(data, text=True)

        self.endpoint = RpcEndpoint(send, self._router)
        self._reader = asyncio.create_task(self._read(ws, self.endpoint))

    async def _read(self, ws: ClientConnection, endpoint: RpcEndpoint) -> None:
        try:
            async for frame in ws:
                await endpoint.feed(frame)
        except ConnectionClosed:
            pass
        finally:
            endpoint.connection_lost()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
        self.ws = None

    # -- sending --------------------------------------------------------------------------------
    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.endpoint is not None
        return await self.endpoint.call(action, payload, timeout=WAIT)

    async def status(self, connector_id: int, status: str) -> None:
        await self.send(
            "StatusNotification",
            {"connectorId": connector_id, "errorCode": "NoError", "status": status},
        )

    async def boot(self, connectors: int = 2) -> None:
        await self.send("BootNotification", BOOT)
        for connector_id in range(connectors + 1):
            await self.status(connector_id, "Available")

    async def start_transaction(self, connector_id: int, id_tag: str) -> int:
        answer = await self.send(
            "StartTransaction",
            {
                "connectorId": connector_id,
                "idTag": id_tag,
                "meterStart": 0,
                "timestamp": timefmt.iso(timefmt.parse("2026-01-01T12:00:00Z")),
            },
        )
        return int(answer["transactionId"])


class FakeDriver:
    """Records the physical steps; a hook per step makes the fake station react."""

    description = "fake driver"

    def __init__(self) -> None:
        self.done: list[tuple[Any, ...]] = []
        self.hooks: dict[str, Hook] = {}
        self.broken: set[str] = set()

    async def _do(self, name: str, *args: Any) -> None:
        if name in self.broken:
            raise DriverError(f"{name} is broken")
        self.done.append((name, *args))
        hook = self.hooks.get(name)
        if hook is not None:
            await hook(*args)

    async def plug(self, connector_id: int) -> None:
        await self._do("plug", connector_id)

    async def unplug(self, connector_id: int) -> None:
        await self._do("unplug", connector_id)

    async def present_card(self, id_tag: str, connector_id: int | None) -> None:
        await self._do("present_card", id_tag, connector_id)

    async def suspend_ev(self, connector_id: int) -> None:
        await self._do("suspend_ev", connector_id)

    async def resume_ev(self, connector_id: int) -> None:
        await self._do("resume_ev", connector_id)

    async def raise_fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        await self._do("raise_fault", connector_id, error_code)

    async def clear_fault(self, connector_id: int) -> None:
        await self._do("clear_fault", connector_id)

    async def set_lock_failure(self, connector_id: int, failing: bool) -> None:
        await self._do("set_lock_failure", connector_id, failing)

    async def press_stop(self, connector_id: int, reason: str) -> None:
        await self._do("press_stop", connector_id, reason)

    async def power_cycle(self, graceful: bool) -> None:
        await self._do("power_cycle", graceful)

    async def close(self) -> None:
        return None


class FakeTarget:
    """A FakeStation per case (outlives_cases=False) or one for every case (True)."""

    kind = "fake"
    description = "fake station"
    undetermined: frozenset[str] = frozenset()
    power_on_description = "power on"

    def __init__(
        self,
        *,
        outlives_cases: bool = False,
        features: frozenset[str] = frozenset({"fixed_cable"}),
        configuration: Mapping[str, tuple[str, bool]] = FACTORY,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self.identity = "FAKE-1"
        self.outlives_cases = outlives_cases
        self.feature_set = features
        self.configuration = configuration
        self.delays = delays
        self.driver = FakeDriver()
        self.station: FakeStation | None = None
        self.dead: str | None = None
        self.notes: list[str] = []
        self.base_url = ""
        self.stations: list[FakeStation] = []
        self.booting: asyncio.Task[None] | None = None

    async def open(self, csms: CentralSystem, link: StationLink, settings: Settings) -> None:
        self.base_url = csms.url
        self.driver.hooks.setdefault("plug", self._preparing)
        self.driver.hooks.setdefault("unplug", self._available)
        self.driver.hooks.setdefault("power_cycle", self._power_cycle)

    async def _preparing(self, connector_id: int) -> None:
        assert self.station is not None
        self.station.spawn(self.station.status(connector_id, "Preparing"))

    async def _available(self, connector_id: int) -> None:
        assert self.station is not None
        self.station.spawn(self.station.status(connector_id, "Available"))

    async def _power_cycle(self, graceful: bool) -> None:
        await self._new_station()

    def features(self, configuration: Mapping[str, ConfigKey]) -> frozenset[str]:
        return self.feature_set

    async def _new_station(self) -> None:
        if self.station is not None:
            await self.station.close()
        self.station = FakeStation(
            self.base_url, self.identity, configuration=self.configuration, delays=self.delays
        )
        self.stations.append(self.station)
        await self.station.connect()
        self.booting = self.station.spawn(self.station.boot())

    async def begin(self, run: Run) -> None:
        if self.outlives_cases and self.station is not None:
            return
        if run.case.booted:
            await self._new_station()
            await run.expect_boot()

    async def power_on(self, run: Run) -> None:
        await self._new_station()

    async def power_cycle(self, run: Run, graceful: bool) -> None:
        await self.driver.power_cycle(graceful)

    async def end(self, run: Run) -> None:
        if self.outlives_cases:
            await run.restore()
        elif self.station is not None:
            await self.station.close()
            self.station = None

    def failure(self) -> str | None:
        return self.dead

    async def close(self) -> None:
        if self.station is not None:
            await self.station.close()


def fast_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "expect_timeout": 1.0,
        "boot_timeout": 3.0,
        "call_timeout": 3.0,
        "settle_timeout": 2.0,
        "failure_grace": 0.3,
    }
    values.update(changes)
    return Settings(**values)


async def run_cases(
    target: FakeTarget, cases: list[Case], settings: Settings | None = None
) -> Results:
    lines: list[str] = []
    runner = Runner(target, settings or fast_settings(), say=lines.append)
    async with asyncio.timeout(60):
        results = await runner.run(cases)
    results.notes.extend(f"progress: {line}" for line in lines)
    return results


async def run_one(target: FakeTarget, case: Case, settings: Settings | None = None) -> CaseResult:
    results = await run_cases(target, [case], settings)
    assert len(results.cases) == 1, results
    return results.cases[0]


def library_with(
    script: Callable[[Run], Awaitable[None]],
    *,
    profile: str = "Core",
    needs: frozenset[str] = frozenset(),
    booted: bool = True,
    case_id: str = "TC_999_CS",
) -> Case:
    library = Library()
    library.case(
        case_id,
        "A case for the test",
        module="99 Test",
        profile=profile,
        needs=needs,
        booted=booted,
    )(script)
    return library[case_id]


__all__ = [
    "FACTORY",
    "FakeDriver",
    "FakeStation",
    "FakeTarget",
    "Verdict",
    "fast_settings",
    "library_with",
    "run_cases",
    "run_one",
]
