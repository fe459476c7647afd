"""One view of a fleet made of shards: each shard is a whole fleet of its own (its stations a
contiguous range of numbers, its own HTTP API), and this API puts them together.

- `GET /api/fleet`: the shards' summaries added up, and `shards`: each one's address, range and
  health (a shard that does not answer is named, not hidden);
- `GET /api/stations?offset&limit`: the list across the shards, in station order;
- every single-station route under `/api/stations/{id}/...`, the page's events included,
  forwarded to the shard that holds the station;
- `GET /api/fleet/events` and the web page in fleet mode, as for one process.

It knows the shards only by URL, so the shards may be Ray actors on other machines
(fleet/shards.py) or plain fleets in this process (the tests)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from ocpp_station.control.api import control_app
from ocpp_station.control.gate import Gate
from ocpp_station.control.page import add_page_routes
from ocpp_station.control.stream import EventStreams
from ocpp_station.fleet.api import (
    DEFAULT_PAGE,
    FLEET_EVENTS_EVERY,
    MAX_PAGE,
    _int_query,
    station_page,
)
from ocpp_station.httpserver import HttpServer

# A shard that does not answer within this is reported as failing.
SHARD_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Shard:
    """A shard's API (`url`, and the token it wants) and its stations `first`..`first+count-1`;
    `node`: the cluster node it runs on (Ray's node ID), where known; `restarts`: how often
    its process died and it was started again."""

    url: str
    first: int
    count: int
    token: str | None = None
    node: str | None = None
    restarts: int = 0

    def holds(self, number: int) -> bool:
        return self.first <= number < self.first + self.count


def _failure(exc: BaseException) -> str:
    """Why a shard did not answer, on one line (it may become an HTTP reason phrase)."""
    return " ".join((str(exc) or type(exc).__name__).split())


def add_up(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the numbers of `part` into `total`, nested objects key by key."""
    for key, value in part.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            add_up(total.setdefault(key, {}), value)


class ShardedFleetApi(HttpServer):
    def __init__(self, shards: list[Shard], id_prefix: str, gate: Gate | None = None) -> None:
        """`shards` is read at each request, not copied: the head replaces the entry of a
        shard started again."""
        self.shards = shards
        self.prefix = id_prefix
        self._number = re.compile(re.escape(id_prefix) + r"(\d+)$")
        super().__init__(control_app(gate or Gate()))
        self._streams = EventStreams(self.app)
        self._http: aiohttp.ClientSession | None = None
        # The shards' event streams being passed on: cut at shutdown, so that no page left open
        # holds the server's stop (aiohttp would wait a minute for the handler).
        self._upstreams: set[aiohttp.ClientResponse] = set()
        r = self.app.router
        r.add_get("/api/fleet", self.summary)
        r.add_get("/api/fleet/events", self.events)
        r.add_get("/api/stations", self.stations)
        r.add_route("*", "/api/stations/{station}/{tail:.*}", self.forward)
        add_page_routes(self.app, "fleet")
        # At shutdown, before aiohttp waits for the handlers: forwarded event streams end.
        self.app.on_shutdown.append(self._close_http)

    @property
    def total(self) -> int:
        return sum(s.count for s in self.shards)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self._http

    async def _close_http(self, app: web.Application) -> None:
        for upstream in self._upstreams:
            upstream.close()
        if self._http is not None:
            await self._http.close()

    @staticmethod
    def _headers(shard: Shard, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {shard.token}"} if shard.token else {}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def _get(self, shard: Shard, path: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=SHARD_TIMEOUT)
        async with self._client().get(
            shard.url + path, headers=self._headers(shard), timeout=timeout
        ) as answer:
            if answer.status != 200:
                raise ConnectionError(f"{shard.url}{path} answered {answer.status}")
            return await answer.json()

    # -- the fleet as a whole -----------------------------------------------------------------
    async def whole(self) -> dict[str, Any]:
        answers = await asyncio.gather(
            *(self._get(s, "/api/fleet") for s in self.shards), return_exceptions=True
        )
        total: dict[str, Any] = {}
        health = []
        down = 0
        for shard, answer in zip(self.shards, answers, strict=True):
            entry: dict[str, Any] = {
                "url": shard.url,
                "first": shard.first,
                "count": shard.count,
                "restarts": shard.restarts,
            }
            if shard.node is not None:
                entry["node"] = shard.node
            if isinstance(answer, BaseException):
                entry |= {"ok": False, "error": _failure(answer)}
                down += 1
            else:
                add_up(total, answer)
                entry |= {
                    "ok": True,
                    "connected": answer["connected"],
                    "sessions": answer["sessions"],
                    "queuedMessages": answer["queuedMessages"],
                    "frames": sum(answer["messages"].values()),
                    "cpuSeconds": answer["process"]["cpuSeconds"],
                    "rssBytes": answer["process"]["rssBytes"],
                    "loop": answer["process"]["loop"],
                }
            health.append(entry)
        # Every station of the fleet, counted whether its shard answers or not: "3 of 6
        # connected" with a shard down, not "3 of 3".
        total["stations"] = self.total
        total["shardsDown"] = down
        total["shards"] = health
        return total

    async def summary(self, request: web.Request) -> web.Response:
        return web.json_response(await self.whole())

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await self._streams.repeat(request, "fleet", self.whole, FLEET_EVENTS_EVERY)

    async def stations(self, request: web.Request) -> web.Response:
        offset = _int_query(request, "offset", 0, 0, None)
        limit = _int_query(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        wanted: list[tuple[Shard, int, int]] = []
        start = 0
        for shard in self.shards:
            # The part of [offset, offset + limit) that falls in this shard's stations.
            low, high = max(offset, start), min(offset + limit, start + shard.count)
            if high > low:
                wanted.append((shard, low - start, high - low))
            start += shard.count
        pages = await asyncio.gather(
            *(self._get(s, f"/api/stations?offset={at}&limit={n}") for s, at, n in wanted),
            return_exceptions=True,
        )
        rows = []
        for (shard, skip, take), page in zip(wanted, pages, strict=True):
            if isinstance(page, BaseException):
                # A shard that does not answer: its stations listed, with the reason.
                error = f"its shard does not answer: {_failure(page)}"
                first = shard.first + skip
                rows += [
                    {"id": f"{self.prefix}{n}", "shardDown": True, "error": error}
                    for n in range(first, first + take)
                ]
            else:
                rows += page["stations"]
        return web.json_response(station_page(self.total, offset, limit, rows))

    # -- one station: forwarded ---------------------------------------------------------------
    def shard_of(self, identity: str) -> Shard:
        found = self._number.match(identity)
        if found is not None:
            number = int(found.group(1))
            for shard in self.shards:
                if shard.holds(number):
                    return shard
        raise web.HTTPNotFound(reason=f"unknown station {identity!r}")

    async def forward(self, request: web.Request) -> web.StreamResponse:
        shard = self.shard_of(request.match_info["station"])
        body = await request.read()
        try:
            answer = await self._client().request(
                request.method,
                shard.url + request.rel_url.path_qs,
                data=body or None,
                headers=self._headers(shard, request.headers.get("Content-Type") if body else None),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise web.HTTPBadGateway(
                reason=f"the shard of {request.match_info['station']} ({shard.url}) does not "
                f"answer: {_failure(exc)}"
            ) from None
        async with answer:
            if answer.content_type != "text/event-stream":
                return web.Response(
                    body=await answer.read(), status=answer.status, content_type=answer.content_type
                )
            # The page's events: passed on as they come, until either side goes.
            response = await self._streams.open(request)
            self._upstreams.add(answer)
            try:
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError, asyncio.CancelledError):
                pass
            finally:
                self._upstreams.discard(answer)
            return response
