"""The fleet's HTTP control API: the fleet as a whole, a paginated list of its stations, and
every station's own contract routes (interface.md) under `/api/stations/{station}/...`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_station.control.api import ControlApi, NoPower, control_app
from ocpp_station.control.gate import Gate
from ocpp_station.control.page import add_page_routes
from ocpp_station.control.stream import EventStreams
from ocpp_station.fleet.fleet import Fleet, FleetStation
from ocpp_station.httpserver import HttpServer
from ocpp_station.runtime import StationRuntime
from ocpp_station.station.boot import BootService

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def station_line(s: FleetStation) -> dict[str, Any]:
    """One row of the station list: small, so that a page of a thousand stays small."""
    rt = s.runtime
    if rt is None:
        return {"id": s.identity, "powered": False, "connected": False, "registration": None}
    st = rt.station
    return {
        "id": s.identity,
        "powered": True,
        "connected": rt.connected,
        "registration": st.service(BootService).registration,
        "connectors": [c.status for c in st.cp],
        "sessions": sum(1 for c in st.cp if c.transaction is not None),
        "queuedMessages": st.sender.queued,
    }


# Seconds between two `fleet` events of GET /api/fleet/events.
FLEET_EVENTS_EVERY = 2.0


class FleetApi(HttpServer):
    def __init__(self, fleet: Fleet, gate: Gate | None = None) -> None:
        self.fleet = fleet
        super().__init__(control_app(gate or Gate()))
        self._streams = EventStreams(self.app)
        self.app.router.add_get("/api/fleet", self.summary)
        self.app.router.add_get("/api/fleet/events", self.events)
        self.app.router.add_get("/api/stations", self.stations)
        ControlApi(
            resolve=self._runtime,
            prefix="/api/stations/{station}",
            app=self.app,
            power_cut=self._power_cut,
        )
        add_page_routes(self.app, "fleet")

    def _runtime(self, request: web.Request) -> StationRuntime:
        station = self._station(request)
        if station.runtime is None:
            raise NoPower(f"station {station.identity} has no power")
        return station.runtime

    def _station(self, request: web.Request) -> FleetStation:
        identity = request.match_info["station"]
        station = self.fleet.stations.get(identity)
        if station is None:
            raise web.HTTPNotFound(reason=f"unknown station {identity!r}")
        return station

    async def _power_cut(self, request: web.Request, off: float) -> None:
        await self.fleet.cut_power(self._station(request), off)

    async def summary(self, request: web.Request) -> web.Response:
        return web.json_response(self.fleet.summary())

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The fleet's summary (GET /api/fleet) as a `fleet` event every couple of seconds."""

        async def summary() -> dict[str, Any]:
            return self.fleet.summary()

        return await self._streams.repeat(request, "fleet", summary, FLEET_EVENTS_EVERY)

    async def stations(self, request: web.Request) -> web.Response:
        offset = _int_query(request, "offset", 0, 0, None)
        limit = _int_query(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        rows = [station_line(s) for s in self.fleet.page(offset, limit)]
        return web.json_response(station_page(len(self.fleet), offset, limit, rows))


def station_page(total: int, offset: int, limit: int, rows: list[Any]) -> dict[str, Any]:
    """GET /api/stations: a page of the list and the link to the next one."""
    following = offset + len(rows)
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "stations": rows,
        "next": f"/api/stations?offset={following}&limit={limit}" if following < total else None,
    }


def _int_query(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPUnprocessableEntity(
            reason=f"{name} must be an integer, not {raw!r}"
        ) from None
    if value < low or (high is not None and value > high):
        bound = f"{low} to {high}" if high is not None else f"at least {low}"
        raise web.HTTPUnprocessableEntity(reason=f"{name} must be {bound}")
    return value
