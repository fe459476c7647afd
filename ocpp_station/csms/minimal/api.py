"""The HTTP API of the minimal central system (JSON).

| method and path | answer |
|---|---|
| `GET /stats` | counters of the whole central system (below) |
| `GET /stations/{id}` | one station's ledger; 404 for a station never seen |
| `POST /remote-start` | body `{"count", "connectorId"?, "idTag", "timeout"?}` (below) |
| `POST /remote-stop-all` | body `{"timeout"?}`: RemoteStopTransaction for every open transaction |
| `POST /charging-profile-all` | body `{"connectorId", "csChargingProfiles", "timeout"?}` (below) |

`/stats`: `{"transport", "maxConnections" (beyond which a station is answered 503),
"refused" (stations so answered), "connected", "connections", "booted", "messages" (inbound
CALLs per action), "messagesTotal", "answers", "malformed", "callErrors", "started", "open",
"stopped", "duplicates", "duplicateStops", "unknownStops", "meterValues", "unknownMeterValues",
"cpuSeconds", "rssBytes", "peakRssBytes"}`.

`/remote-start` sends RemoteStartTransaction to `count` randomly chosen connected stations, one
after the other (each waits for the previous answer), and answers `{"count", "answered",
"p50Ms", "p99Ms", "maxMs", "statuses"}`: latencies of the answers that came, `statuses`
counting each answer's status (or `CallError:<code>`, `Timeout`, `Disconnected`). `timeout` is
the wait per station in seconds (default 30, at most 300). 409 when fewer than `count`
stations are connected. `/charging-profile-all` sends SetChargingProfile to every connected
station at once (a load test's profile on every station; the payload is not checked here: a
station answers a bad one with a CALLERROR). It and `/remote-stop-all` answer `{"count",
"statuses"}`. Every error body is `{"error": "<one sentence>"}`.
"""

from __future__ import annotations

import asyncio
import math
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from websockets.exceptions import ConnectionClosed

from ocpp_station.csms.minimal.server import MinimalServer, StationGone
from ocpp_station.httpserver import HttpServer

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
MAX_ID_TAG = 20  # IdToken is CiString20Type (OCPP 1.6 section 7.28)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def rss_bytes() -> int:
    """The resident set size now (Linux), or the peak where /proc is not there."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()
    return pages * resource.getpagesize()


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB elsewhere


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (not empty)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _errors(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refused as exc:
            return _json({"error": str(exc)}, exc.status)

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _Refused(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "the request body must be a JSON object")
    return body


def _timeout(body: dict[str, Any]) -> float:
    timeout = body.get("timeout", DEFAULT_TIMEOUT)
    if type(timeout) not in (int, float) or not 0 < timeout <= MAX_TIMEOUT:
        raise _Refused(400, f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}]")
    return float(timeout)


class MinimalApi(HttpServer):
    """Serves the API of one MinimalServer."""

    def __init__(self, server: MinimalServer, *, rng: random.Random | None = None) -> None:
        self.server = server
        self.core = server.core
        self._rng = rng or random.Random()
        super().__init__(web.Application())
        self.app.add_routes(
            [
                web.get("/stats", _errors(self._stats)),
                web.get("/stations/{identity}", _errors(self._station)),
                web.post("/remote-start", _errors(self._remote_start)),
                web.post("/remote-stop-all", _errors(self._remote_stop_all)),
                web.post("/charging-profile-all", _errors(self._charging_profile_all)),
            ]
        )

    def stats(self) -> dict[str, Any]:
        return {
            "transport": self.server.transport,
            "maxConnections": self.server.max_connections,
            "refused": self.server.refused,
            **self.core.stats(),
            "cpuSeconds": time.process_time(),
            "rssBytes": rss_bytes(),
            "peakRssBytes": peak_rss_bytes(),
        }

    async def _stats(self, request: web.Request) -> web.Response:
        return _json(self.stats())

    async def _station(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        account = self.core.ledger.stations.get(identity)
        if account is None:
            raise _Refused(404, f"no station {identity} was ever seen")
        return _json({**account.as_json(), "connected": identity in self.core.links})

    async def _remote_start(self, request: web.Request) -> web.Response:
        body = await _body(request)
        count = body.get("count")
        if type(count) is not int or count < 1:
            raise _Refused(400, "count must be a positive integer")
        id_tag = body.get("idTag")
        if type(id_tag) is not str or not 0 < len(id_tag) <= MAX_ID_TAG:
            raise _Refused(400, f"idTag must be a string of 1 to {MAX_ID_TAG} characters")
        payload: dict[str, Any] = {"idTag": id_tag}
        if "connectorId" in body:
            connector_id = body["connectorId"]
            # RemoteStartTransaction.req: connectorId is optional and, when given, > 0.
            if type(connector_id) is not int or connector_id < 1:
                raise _Refused(400, "connectorId must be a positive integer")
            payload["connectorId"] = connector_id
        timeout = _timeout(body)
        connected = list(self.core.links)
        if len(connected) < count:
            raise _Refused(409, f"{count} stations asked for, {len(connected)} connected")
        chosen = self._rng.sample(connected, count)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        for identity in chosen:
            status, latency = await self._call(identity, "RemoteStartTransaction", payload, timeout)
            statuses[status] += 1
            if latency is not None:
                latencies.append(round(latency * 1000, 3))
        latencies.sort()
        return _json(
            {
                "count": count,
                "answered": len(latencies),
                "p50Ms": percentile(latencies, 0.50) if latencies else None,
                "p99Ms": percentile(latencies, 0.99) if latencies else None,
                "maxMs": latencies[-1] if latencies else None,
                "statuses": dict(statuses),
            }
        )

    async def _remote_stop_all(self, request: web.Request) -> web.Response:
        timeout = _timeout(await _body(request))
        links = self.core.links
        targets = [
            (identity, transaction_id)
            for identity, account in self.core.ledger.stations.items()
            if identity in links
            for transaction_id in account.open
        ]
        results = await asyncio.gather(
            *(
                self._call(identity, "RemoteStopTransaction", {"transactionId": tx}, timeout)
                for identity, tx in targets
            )
        )
        statuses = Counter(status for status, _ in results)
        return _json({"count": len(targets), "statuses": dict(statuses)})

    async def _charging_profile_all(self, request: web.Request) -> web.Response:
        body = await _body(request)
        timeout = _timeout(body)
        connector_id = body.get("connectorId")
        profile = body.get("csChargingProfiles")
        if type(connector_id) is not int or connector_id < 0 or not isinstance(profile, dict):
            raise _Refused(400, "the body needs a connectorId >= 0 and csChargingProfiles")
        payload = {"connectorId": connector_id, "csChargingProfiles": profile}
        targets = list(self.core.links)
        results = await asyncio.gather(
            *(self._call(identity, "SetChargingProfile", payload, timeout) for identity in targets)
        )
        statuses = Counter(status for status, _ in results)
        return _json({"count": len(targets), "statuses": dict(statuses)})

    async def _call(
        self, identity: str, action: str, payload: dict[str, Any], answer_within: float
    ) -> tuple[str, float | None]:
        """(the answer's status, seconds it took) of one CALL; no latency when none came."""
        try:
            latency, frame = await self.core.call(identity, action, payload, answer_within)
        except StationGone:
            return "Disconnected", None
        except (ConnectionError, ConnectionClosed):  # it went away while we sent
            return "Disconnected", None
        except TimeoutError:
            return "Timeout", None
        if frame[0] == 4:
            return f"CallError:{frame[2] if len(frame) > 2 else '?'}", latency
        answer = frame[2] if len(frame) > 2 else None
        status = answer.get("status") if isinstance(answer, dict) else None
        return (status if isinstance(status, str) else "NoStatus"), latency
