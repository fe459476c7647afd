"""The fleet's HTTP control API: the fleet as a whole, a paginated list of its stations, and
every station's own contract routes (interface.md) under `/api/stations/{station}/...`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_station.control.api import ControlApi, control_errors
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


class FleetApi(HttpServer):
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        super().__init__(web.Application(middlewares=[control_errors]))
        self.app.router.add_get("/api/fleet", self.summary)
        self.app.router.add_get("/api/stations", self.stations)
        ControlApi(resolve=self._runtime, prefix="/api/stations/{station}", app=self.app)

    def _runtime(self, request: web.Request) -> StationRuntime:
        identity = request.match_info["station"]
        station = self.fleet.stations.get(identity)
        if station is None:
            raise web.HTTPNotFound(reason=f"unknown station {identity!r}")
        if station.runtime is None:
            raise web.HTTPConflict(reason=f"station {identity} has no power")
        return station.runtime

    async def summary(self, request: web.Request) -> web.Response:
        return web.json_response(self.fleet.summary())

    async def stations(self, request: web.Request) -> web.Response:
        offset = _int_query(request, "offset", 0, 0, None)
        limit = _int_query(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        page = self.fleet.page(offset, limit)
        total = len(self.fleet)
        following = offset + len(page)
        return web.json_response(
            {
                "total": total,
                "offset": offset,
                "limit": limit,
                "stations": [station_line(s) for s in page],
                "next": f"/api/stations?offset={following}&limit={limit}"
                if following < total
                else None,
            }
        )


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
