"""The service contract: a profile plugs into the station through its declarations alone.

The profile below is defined here, outside the package, the way a profile package would be: a
handler with its after hook, a configuration key and a reaction to it, a start guard, a status
refinement, lifecycle hooks and snapshot fields. The station must route, list, guard, refine
and show all of it without a line of station code knowing the profile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ocpp_station import profiles
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.rpc.endpoint import Router
from ocpp_station.station.boot import BootInfo
from ocpp_station.station.config_keys import KeyDef
from ocpp_station.station.connector import Authorization, Connector
from ocpp_station.station.context import StationContext
from ocpp_station.station.core import PROFILE as CORE
from ocpp_station.station.profile import Composition, Profile
from ocpp_station.station.service import Payload, Service, after, handles, on_config
from ocpp_station.station.station import Station
from ocpp_station.station.status import AVAILABLE, RESERVED
from ocpp_station.station.transactions import Sessions
from ocpp_station.storage.memory import MemoryStore
from tests.unit.harness import FakeCsms

Hold = "Reservation"


class HoldService(Service):
    """Holds a connector for one tag: shown Reserved, and no other tag may start there."""

    def __init__(self, ctx: StationContext, sessions: Sessions) -> None:
        self.ctx = ctx
        self.sessions = sessions  # a peer, given explicitly
        self.held: dict[int, str] = {}
        self.moments: list[str] = []
        self.after_calls: list[tuple[Payload, Payload]] = []
        self.limit_changes: list[str] = []

    @handles("ReserveNow")
    def reserve(self, request: Payload) -> Payload:
        self.held[request["connectorId"]] = request["idTag"]
        self.ctx.status.update(self.ctx.cp.connector(request["connectorId"]))
        return {"status": "Accepted"}

    @after("ReserveNow")
    def reserved(self, request: Payload, response: Payload) -> None:
        self.after_calls.append((request, response))

    @on_config("HoldLimit")
    def limit_changed(self, value: str) -> None:
        self.limit_changes.append(value)

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        holder = self.held.get(c.connector_id)
        if holder is not None and (auth is None or auth.id_tag != holder):
            return f"connector {c.connector_id} is held for {holder}"
        return None

    def refine_status(self, c: Connector, status: str) -> str:
        return RESERVED if status == AVAILABLE and c.connector_id in self.held else status

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        entry["heldFor"] = self.held.get(c.connector_id)

    def snapshot(self, view: Payload) -> None:
        view["holds"] = len(self.held)

    def on_power_up(self, cold: bool) -> None:
        self.moments.append(f"power_up cold={cold}")

    def on_connected(self) -> None:
        self.moments.append("connected")

    def on_accepted(self) -> None:
        self.moments.append("accepted")

    def on_disconnected(self) -> None:
        self.moments.append("disconnected")

    def on_reboot(self) -> None:
        self.moments.append("reboot")

    def on_power_down(self) -> None:
        self.moments.append("power_down")


def _install(c: Composition) -> None:
    c.add(HoldService(c.ctx, c.get(Sessions)))


HOLD = Profile(
    name=Hold,
    install=_install,
    keys=(KeyDef("HoldLimit", "int", False, "3", Hold, minimum=0),),
)


def build(
    installed: tuple[Profile, ...], keys_of: tuple[Profile, ...] | None = None
) -> tuple[Station, FakeCsms]:
    clock = VirtualClock()
    hardware = Simulator(clock, 2, seed=1)
    store = MemoryStore()
    config = profiles.configuration(
        connectors=2,
        measurands=hardware.measurands,
        store=store,
        profiles=installed if keys_of is None else keys_of,
    )
    station = Station(
        identity="CP-X",
        clock=clock,
        hardware=hardware,
        config=config,
        store=store,
        info=BootInfo("V", "M"),
        profiles=installed,
    )
    return station, FakeCsms(clock)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_profile_plugs_in_through_its_declarations() -> None:
    station, csms = build((CORE, HOLD))
    hold = station.service(HoldService)
    assert hold.moments == ["power_up cold=True"]
    # Its key is visible and listed with its profile, and SupportedFeatureProfiles says so.
    assert station.config.get("HoldLimit") == "3"
    assert station.config.get("SupportedFeatureProfiles") == "Core,Reservation"
    # Routing: its handler and after hook are the station's.
    handler, hook = station.handlers()["ReserveNow"]
    assert hook is not None
    station.connected(csms)
    await settle()
    assert hold.moments[-2:] == ["connected", "accepted"]
    request = {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "A"}
    answer = handler(request)
    assert isinstance(answer, dict)
    hook({"connectorId": 1}, answer)
    assert answer == {"status": "Accepted"} and hold.after_calls == [({"connectorId": 1}, answer)]
    await settle()
    # The refinement reaches the status and the central system.
    assert station.cp.connector(1).status == RESERVED
    assert csms.statuses(1)[-1] == RESERVED
    # The guard: another tag cannot start there, the holder can.
    sessions = station.service(Sessions)
    assert sessions.why_not_start(station.cp.connector(1)) == "connector 1 is held for A"
    holder = Authorization("A", None, False)
    assert station.ctx.guards.why_not_start(station.cp.connector(1), holder) is None
    # Its reaction to its key.
    assert station.config.change("HoldLimit", "5") == "Accepted"
    assert hold.limit_changes == ["5"]
    # Snapshot fields.
    view = station.snapshot(connected=True)
    assert view["holds"] == 1
    assert [c.get("heldFor") for c in view["connectors"]] == [None, "A", None]
    # Lifecycle: disconnect, reboot (a warm power-up), power down.
    station.disconnected()
    station.reboot()
    await station.power_down(0)
    assert hold.moments[-4:] == ["disconnected", "reboot", "power_up cold=False", "power_down"]
    await station.close()


async def test_without_the_profile_its_request_is_not_supported() -> None:
    station, _ = build((CORE,))
    assert "ReserveNow" not in station.handlers()
    assert station.config.get("SupportedFeatureProfiles") == "Core"
    with pytest.raises(KeyError):
        station.config.get("HoldLimit")
    with pytest.raises(LookupError, match="HoldService is not installed"):
        station.service(HoldService)
    await station.close()


def test_a_profile_needs_its_peers_installed_first() -> None:
    with pytest.raises(LookupError, match="Sessions is not installed"):
        build((HOLD,), keys_of=(CORE, HOLD))


def test_an_action_handled_twice_is_refused() -> None:
    twice = Profile(name="RemoteTrigger", install=_install)
    with pytest.raises(ValueError, match="ReserveNow is handled twice"):
        build((CORE, HOLD, twice))


async def test_the_router_carries_the_gate() -> None:
    station, _ = build((CORE,))
    router: Router = station.router()
    assert router.gate is not None
    # Before any BootNotification answer: configuration yes, remote start answered Rejected.
    assert router.gate("GetConfiguration") is True
    assert router.gate("RemoteStartTransaction") == {"status": "Rejected"}
    await station.close()


def test_every_core_action_is_routed() -> None:
    station, _ = build((CORE,))
    expected: set[str] = {
        "ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer",
        "GetConfiguration", "RemoteStartTransaction", "RemoteStopTransaction", "Reset",
        "UnlockConnector",
    }  # fmt: skip
    routes: dict[str, Any] = station.handlers()
    assert set(routes) == expected
    assert {a for a, (_, hook) in routes.items() if hook is not None} == {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
    }
