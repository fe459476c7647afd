"""The central system's HTTP API (JSON): its stations and sessions, and requests to a station.

| method and path | answer |
|---|---|
| `GET /api/stations` | `[station]`, every station ever seen, by id |
| `GET /api/stations/{id}` | `station`; 404 for a station never seen |
| `GET /api/sessions?station=&open=&limit=&after=` | `{"sessions": [session], "next": N}` |
| `GET /api/sessions/{id}` | `session` with `"meterValues"`; 404 for an unknown id |
| `POST /api/stations/{id}/call` | body `{"action", "payload", "timeout"?}`: the answer's payload |
| `POST /api/stations/{id}/local-list` | SendLocalList of the central system's tags (below) |
| `POST /api/stations/{id}/trigger` | body `{"requestedMessage", "connectorId"?}`: the answer |
| `POST /api/stations/{id}/reserve` | ReserveNow (below): `{"status", "reservationId", ...}` |
| `POST /api/stations/{id}/cancel-reservation` | body `{"reservationId"}`: the answer |
| `GET /api/reservations?station=` | `[reservation]`, newest first |
| `POST /api/stations/{id}/charging-profile` | SetChargingProfile (below): `{"status", "request"}` |
| `POST /api/stations/{id}/clear-charging-profile` | body: the criteria (`{}`: all): the answer |
| `GET /api/stations/{id}/composite-schedule?connectorId=&duration=&unit=` | the answer |
| `POST /api/stations/{id}/update-firmware` | UpdateFirmware (below): location, retrieveDate |
| `POST /api/stations/{id}/get-diagnostics` | GetDiagnostics (below): the answer and `location` |
| `GET /api/diagnostics` | `[{"name", "size", "receivedAt", "method"}]`, the uploads received |
| `GET /api/diagnostics/{name}` | the uploaded file itself; 404 for a name never received |
| `GET /files/{name}`, `PUT/POST /diagnostics/{name}` | the file depot (ocpp_station.csms.files) |
| `GET`, `POST /api/settings` | `{"bootStatus", "heartbeatInterval", "acceptUnknownTags"}` |
| `GET /api/tags`, `PUT`, `DELETE /api/tags/{idTag}` | the tag list, changed while it runs |

A station: `{"id", "connected", "registration", "bootCount", "boot", "firstSeen", "lastBoot",
"lastHeartbeat", "lastConnected", "lastDisconnected", "statuses"}`, `boot` being the last
BootNotification.req payload and `statuses` the last StatusNotification.req payload of each
connector with its `"receivedAt"`. A session: `{"id", "station", "connectorId", "idTag",
"idTagInfo", "reservationId", "meterStart", "startTime", "open", "meterStop", "stopTime",
"reason", "stopIdTag", "energyWh"}`, its id being the transactionId. Sessions come in id order:
`after` is the last id already seen (default 0), `limit` 1 to 1000 (default 100), `next` the
`after` of the next page or null on the last one; `open` is true or false, `station` an id.

`POST /api/stations/{id}/call` sends any request a central system may send in OCPP 1.6
(Core, the optional profiles and the Security Whitepaper's) and answers 200 with the
CALLRESULT payload; 422 for an unknown action or a payload that fails the action's schema, 409
when the station is not connected (or its connection closes before it answers), 502 with
`"code"`, `"description"` and `"details"` when the station answers with a CALLERROR (or 502
without `"code"` when its answer fails the schema), 504 when no answer comes within `timeout`
seconds (default 30, at most 300). Every error body is `{"error": "<one sentence>", ...}`.

`POST /api/stations/{id}/local-list` sends the central system's own tags (its `--tags` file)
as a Local Authorization List: by default a Full update with every tag, each with the IdTagInfo
the central system answers for it; `tags` limits it to those idTags (one the central system
does not know goes as Invalid, or, in a Differential update, deletes the card), `entries` gives
the AuthorizationData outright. `listVersion` defaults to one more than the station reports
(GetLocalListVersion). It answers `{"status", "listVersion", "entries"}`, and the same error
codes as a call.

`POST /api/stations/{id}/reserve` takes `{"connectorId", "idTag", "parentIdTag"?,
"expiryDate"?, "reservationId"?}`: the expiry defaults to 15 minutes from now, the id to one
more than any reservation the central system made. Every ReserveNow and CancelReservation
sent, through these routes or `call`, is recorded. A reservation: `{"id", "station",
"connectorId", "idTag", "parentIdTag", "expiryDate", "answer", "state", "createdAt",
"endedAt", "transactionId"}`, `answer` being the station's ReserveNow status and `state` one of
Held, Used (by the session `transactionId`, whose StartTransaction carried the id), Cancelled,
Expired or Refused (not Accepted).

`POST /api/stations/{id}/charging-profile` takes a SetChargingProfile.req payload
(`{"connectorId", "csChargingProfiles"}`) or a short form, `{"connectorId", "limit"}` or
`{"connectorId", "periods": [[startPeriod, limit], ...]}` with optional `unit` (A, W),
`purpose`, `stackLevel`, `chargingProfileId`, `duration`, `transactionId` and `numberPhases`
(ocpp_station.csms.charging_profiles): an Absolute profile starting now. It answers
`{"status", "request"}`, the request being the payload sent. The composite schedule's
`duration` defaults to 3600 s.

`POST /api/stations/{id}/update-firmware` takes `{"version"?, "location"?, "retrieveDate"?,
"retries"?, "retryInterval"?}`: without a location the station fetches this API's own
`/files/firmware-<version>.bin` (version default 2.0.0), an image the simulator installs as
that version; retrieveDate defaults to now. `POST .../get-diagnostics` takes `{"location"?,
"startTime"?, "stopTime"?, "retries"?, "retryInterval"?}`; without a location the station
uploads to this API's `/diagnostics/`. The station's last FirmwareStatusNotification and
DiagnosticsStatusNotification show as `firmwareStatus` and `diagnosticsStatus` of the station,
and how its connection is secured as `security` (`{"tls", "tlsVersion", "basicUser",
"clientCN", "clientO"}`, null while it is offline).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from ocpp_station.csms.charging_profiles import (
    ProfileRequestError,
    composite_query,
    set_charging_profile,
)
from ocpp_station.csms.files import FIRMWARE_NAME, MAX_FILE, FileDepot
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.store import CsmsStore, StoredReservation, StoredSession, StoredStation
from ocpp_station.csms.tags import TagInfo, find_tag, id_tag_info, make_tag
from ocpp_station.httpserver import HttpServer
from ocpp_station.rpc.actions import CS_TO_CP_ACTIONS
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.rpc.schemas import validate_request
from ocpp_station.timefmt import iso

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_CALL_TIMEOUT = 30.0
MAX_CALL_TIMEOUT = 300.0
DEFAULT_PAGE = 100
DEFAULT_RESERVATION = timedelta(minutes=15)
MAX_PAGE = 1000


class BadRequest(Exception):
    """A malformed request: 422."""


class NotFound(Exception):
    """An unknown station or session: 404."""


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _time(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def station_json(station: StoredStation, connected: bool) -> dict[str, Any]:
    return {
        "id": station.identity,
        "connected": connected,
        "registration": station.registration,
        "bootCount": station.boot_count,
        "boot": station.boot,
        "firstSeen": iso(station.first_seen),
        "lastBoot": _time(station.last_boot),
        "lastHeartbeat": _time(station.last_heartbeat),
        "lastConnected": _time(station.last_connected),
        "lastDisconnected": _time(station.last_disconnected),
        "statuses": [
            {**status.payload, "receivedAt": iso(status.received_at)} for status in station.statuses
        ],
    }


def session_json(session: StoredSession) -> dict[str, Any]:
    return {
        "id": session.transaction_id,
        "station": session.identity,
        "connectorId": session.connector_id,
        "idTag": session.id_tag,
        "idTagInfo": session.id_tag_info,
        "reservationId": session.reservation_id,
        "meterStart": session.meter_start,
        "startTime": iso(session.start_time),
        "open": session.open,
        "meterStop": session.meter_stop,
        "stopTime": _time(session.stop_time),
        "reason": session.stop_reason,
        "stopIdTag": session.stop_id_tag,
        "energyWh": session.energy_wh,
    }


def reservation_json(reservation: StoredReservation, now: datetime) -> dict[str, Any]:
    return {
        "id": reservation.reservation_id,
        "station": reservation.identity,
        "connectorId": reservation.connector_id,
        "idTag": reservation.id_tag,
        "parentIdTag": reservation.parent_id_tag,
        "expiryDate": iso(reservation.expiry_date),
        "answer": reservation.answer,
        "state": reservation.state(now),
        "createdAt": iso(reservation.created_at),
        "endedAt": _time(reservation.ended_at),
        "transactionId": reservation.transaction_id,
    }


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be {low} to {high}, not {value}")
    return value


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"{name} must be true or false, not {raw!r}")


class CsmsApi(HttpServer):
    """The HTTP API of a CentralSystem that has a store."""

    def __init__(self, csms: CentralSystem, store: CsmsStore | None = None) -> None:
        found = store if store is not None else csms.store
        if found is None:
            raise ValueError("the HTTP API needs a central system with a store")
        self.csms = csms
        self.store: CsmsStore = found
        # Diagnostics archives come in through the file depot: larger than a JSON body.
        super().__init__(web.Application(middlewares=[self._errors], client_max_size=MAX_FILE))
        r = self.app.router
        r.add_get("/api/stations", self.stations)
        r.add_get("/api/stations/{id}", self.station)
        r.add_post("/api/stations/{id}/call", self.call)
        r.add_post("/api/stations/{id}/local-list", self.local_list)
        r.add_post("/api/stations/{id}/trigger", self.trigger)
        r.add_post("/api/stations/{id}/reserve", self.reserve)
        r.add_post("/api/stations/{id}/cancel-reservation", self.cancel_reservation)
        r.add_get("/api/reservations", self.reservations)
        r.add_post("/api/stations/{id}/charging-profile", self.charging_profile)
        r.add_post("/api/stations/{id}/clear-charging-profile", self.clear_charging_profile)
        r.add_get("/api/stations/{id}/composite-schedule", self.composite_schedule)
        r.add_post("/api/stations/{id}/update-firmware", self.update_firmware)
        r.add_post("/api/stations/{id}/get-diagnostics", self.get_diagnostics)
        r.add_get("/api/diagnostics", self.diagnostics)
        r.add_get("/api/diagnostics/{name}", self.diagnostics_file)
        self.files = FileDepot()
        self.app.add_routes(self.files.routes())
        self._profile_ids = itertools.count(1)
        r.add_get("/api/settings", self.settings)
        r.add_post("/api/settings", self.change_settings)
        r.add_get("/api/tags", self.tag_list)
        r.add_put("/api/tags/{idTag}", self.put_tag)
        r.add_delete("/api/tags/{idTag}", self.delete_tag)
        r.add_get("/api/sessions", self.sessions)
        r.add_get("/api/sessions/{id}", self.session)

    async def __aenter__(self) -> CsmsApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(422, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except web.HTTPException as exc:
            if exc.status >= 400:
                return _error(exc.status, exc.reason)
            raise

    # -- views --------------------------------------------------------------------------------

    def _connected(self, identity: str) -> bool:
        session = self.csms.stations.get(identity)
        return session is not None and not session.closed.is_set()

    async def stations(self, request: web.Request) -> web.Response:
        return web.json_response([self._station_view(station) for station in self.store.stations()])

    async def station(self, request: web.Request) -> web.Response:
        identity = request.match_info["id"]
        station = self.store.station(identity)
        if station is None:
            raise NotFound(f"no station {identity!r} has connected")
        return web.json_response(self._station_view(station))

    def _station_view(self, station: StoredStation) -> dict[str, Any]:
        """A station as the store keeps it, with what this run heard of its transfers."""
        body = station_json(station, self._connected(station.identity))
        record = self.csms.records.get(station.identity)
        body["firmwareStatus"] = record.firmware_status if record is not None else None
        body["diagnosticsStatus"] = record.diagnostics_status if record is not None else None
        # How its connection is secured now (security whitepaper §2): None while offline.
        session = self.csms.stations.get(station.identity)
        connected = session is not None and not session.closed.is_set()
        body["security"] = dict(session.security) if session is not None and connected else None
        return body

    # -- how it answers, changed while it runs ---------------------------------------------

    def _settings_view(self) -> dict[str, Any]:
        csms = self.csms
        return {
            "bootStatus": csms.boot_status,
            "heartbeatInterval": csms.heartbeat_interval,
            "acceptUnknownTags": csms.accept_unknown_tags,
        }

    async def settings(self, request: web.Request) -> web.Response:
        return web.json_response(self._settings_view())

    async def change_settings(self, request: web.Request) -> web.Response:
        """Any of bootStatus (Accepted, Pending, Rejected: a station's next BootNotification
        gets it, so Pending -> Accepted can be tested), heartbeatInterval, acceptUnknownTags;
        all are checked before any is applied."""
        body = _object_body(await request.text(), '{"bootStatus": "Pending", ...}')
        unknown = set(body) - {"bootStatus", "heartbeatInterval", "acceptUnknownTags"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        status = body.get("bootStatus", self.csms.boot_status)
        if status not in ("Accepted", "Pending", "Rejected"):
            raise BadRequest(f"bootStatus must be Accepted, Pending or Rejected, not {status!r}")
        interval = body.get("heartbeatInterval", self.csms.heartbeat_interval)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
            raise BadRequest(f"heartbeatInterval must be a non-negative integer, not {interval!r}")
        unknown_tags = body.get("acceptUnknownTags", self.csms.accept_unknown_tags)
        if not isinstance(unknown_tags, bool):
            raise BadRequest(f"acceptUnknownTags must be true or false, not {unknown_tags!r}")
        self.csms.boot_status = status
        self.csms.heartbeat_interval = interval
        self.csms.accept_unknown_tags = unknown_tags
        return web.json_response(self._settings_view())

    @staticmethod
    def _tag_view(info: TagInfo) -> dict[str, Any]:
        view: dict[str, Any] = {"status": info.status}
        if info.parent_id_tag is not None:
            view["parentIdTag"] = info.parent_id_tag
        if info.expiry_date is not None:
            view["expiryDate"] = iso(info.expiry_date)
        return view

    async def tag_list(self, request: web.Request) -> web.Response:
        """The tag list: idTag -> {"status", "parentIdTag"?, "expiryDate"?}."""
        return web.json_response({k: self._tag_view(v) for k, v in self.csms.tags.items()})

    async def put_tag(self, request: web.Request) -> web.Response:
        """Add or replace one idTag: {"status"?, "parentIdTag"?, "expiryDate"?}."""
        body = _object_body(await request.text(), '{"status": "Blocked"}')
        unknown = set(body) - {"status", "parentIdTag", "expiryDate"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            id_tag, info = make_tag(
                request.match_info["idTag"],
                body.get("status"),
                body.get("parentIdTag"),
                body.get("expiryDate"),
                where="tag",
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        tags = self.csms.tags
        for key in [k for k in tags if k.casefold() == id_tag.casefold()]:
            del tags[key]  # idTags ignore case: one entry per card
        tags[id_tag] = info
        return web.json_response({id_tag: self._tag_view(info)})

    async def delete_tag(self, request: web.Request) -> web.Response:
        id_tag = request.match_info["idTag"]
        tags = self.csms.tags
        found = [k for k in tags if k.casefold() == id_tag.casefold()]
        if not found:
            raise NotFound(f"no idTag {id_tag!r} in the tag list")
        for key in found:
            del tags[key]
        return web.json_response({"deleted": found[0]})

    async def sessions(self, request: web.Request) -> web.Response:
        limit = _int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        after = _int_param(request, "after", 0, 0, 2**63 - 1)
        open_ = _bool_param(request, "open")
        station = request.query.get("station") or None
        # One more than asked tells whether there is a next page.
        found = self.store.sessions(station=station, is_open=open_, after=after, limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return web.json_response(
            {
                "sessions": [session_json(session) for session in page],
                "next": page[-1].transaction_id if more else None,
            }
        )

    async def session(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        try:
            transaction_id = int(raw)
        except ValueError:
            raise NotFound(f"no session {raw!r}") from None
        session = self.store.session(transaction_id)
        if session is None:
            raise NotFound(f"no session {transaction_id}")
        body = session_json(session)
        body["meterValues"] = [
            {
                "timestamp": value.timestamp,
                "sampledValue": value.sampled_value,
                "connectorId": value.connector_id,
                "source": value.source,
                "receivedAt": iso(value.received_at),
            }
            for value in self.store.meter_values(transaction_id)
        ]
        return web.json_response(body)

    async def call(self, request: web.Request) -> web.Response:
        action, payload, timeout = _call_body(await request.text())
        return await self._send(request.match_info["id"], action, payload, timeout)

    async def trigger(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text(), '{"requestedMessage": ...}')
        payload: dict[str, Any] = {
            k: body[k] for k in ("requestedMessage", "connectorId") if k in body
        }
        if set(body) - set(payload):
            raise BadRequest(f"unknown fields: {', '.join(sorted(set(body) - set(payload)))}")
        return await self._send(request.match_info["id"], "TriggerMessage", payload)

    async def reserve(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text(), '{"connectorId": ..., "idTag": ...}')
        fields = {"connectorId", "idTag", "parentIdTag", "expiryDate", "reservationId"}
        unknown = set(body) - fields
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        payload = dict(body)
        if "expiryDate" not in payload:
            payload["expiryDate"] = iso(self.csms.answers.now() + DEFAULT_RESERVATION)
        payload.setdefault("reservationId", self.store.next_reservation_id())
        answer = await self._ask(request.match_info["id"], "ReserveNow", payload)
        if not isinstance(answer, dict):
            return answer
        return web.json_response(
            {
                "status": answer["status"],
                "reservationId": payload["reservationId"],
                "expiryDate": payload["expiryDate"],
            }
        )

    async def cancel_reservation(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text(), '{"reservationId": ...}')
        if set(body) != {"reservationId"}:
            raise BadRequest('the body must be {"reservationId": N}')
        return await self._send(request.match_info["id"], "CancelReservation", body)

    async def reservations(self, request: web.Request) -> web.Response:
        station = request.query.get("station") or None
        now = self.csms.answers.now()
        return web.json_response(
            [reservation_json(r, now) for r in self.store.reservations(station)]
        )

    async def charging_profile(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text(), '{"connectorId": ..., "limit": ...}')
        try:
            payload = set_charging_profile(body, self.csms.answers.now(), next(self._profile_ids))
        except ProfileRequestError as exc:
            raise BadRequest(str(exc)) from None
        answer = await self._ask(request.match_info["id"], "SetChargingProfile", payload)
        if not isinstance(answer, dict):
            return answer
        return web.json_response({"status": answer["status"], "request": payload})

    async def clear_charging_profile(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text() or "{}", '{"id": ...} or {}')
        return await self._send(request.match_info["id"], "ClearChargingProfile", body)

    async def composite_schedule(self, request: web.Request) -> web.Response:
        try:
            payload = composite_query(dict(request.query))
        except ProfileRequestError as exc:
            raise BadRequest(str(exc)) from None
        return await self._send(request.match_info["id"], "GetCompositeSchedule", payload)

    async def update_firmware(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text() or "{}", '{"version": ...} or {}')
        unknown = set(body) - {"version", "location", "retrieveDate", "retries", "retryInterval"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        version = body.pop("version", "2.0.0")
        if (
            not isinstance(version, str)
            or FIRMWARE_NAME.fullmatch(f"firmware-{version}.bin") is None
        ):
            raise BadRequest("version must be 1 to 50 letters, digits, dots, dashes or underscores")
        payload = {
            "location": f"{self.url}/files/firmware-{version}.bin",
            "retrieveDate": iso(self.csms.answers.now()),
            **body,
        }
        answer = await self._ask(request.match_info["id"], "UpdateFirmware", payload)
        if not isinstance(answer, dict):
            return answer
        return web.json_response(
            {"location": payload["location"], "retrieveDate": payload["retrieveDate"]}
        )

    async def get_diagnostics(self, request: web.Request) -> web.Response:
        body = _object_body(await request.text() or "{}", '{"location": ...} or {}')
        unknown = set(body) - {"location", "startTime", "stopTime", "retries", "retryInterval"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        payload = {"location": f"{self.url}/diagnostics/", **body}
        answer = await self._ask(request.match_info["id"], "GetDiagnostics", payload)
        if not isinstance(answer, dict):
            return answer
        return web.json_response({**answer, "location": payload["location"]})

    async def diagnostics(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "name": u.name,
                    "size": len(u.data),
                    "receivedAt": iso(u.received),
                    "method": u.method,
                }
                for u in self.files.uploads
            ]
        )

    async def diagnostics_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        for upload in reversed(self.files.uploads):
            if upload.name == name:
                return web.Response(body=upload.data, content_type="application/octet-stream")
        raise NotFound(f"no upload named {name!r} was received")

    async def local_list(self, request: web.Request) -> web.Response:
        identity = request.match_info["id"]
        body = _object_body(await request.text() or "{}", "{}")
        unknown = set(body) - {"updateType", "listVersion", "tags", "entries"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        update = body.get("updateType", "Full")
        entries = body.get("entries")
        if entries is None:
            entries = self._entries(body.get("tags"), update == "Full")
        version = body.get("listVersion")
        payload = {
            "listVersion": 1 if version is None else version,
            "updateType": update,
            "localAuthorizationList": entries,
        }
        try:  # before anything is sent: a bad request sends nothing at all
            validate_request("SendLocalList", payload, lenient_timestamps=False)
        except OcppError as exc:
            description = exc.description
            raise BadRequest(
                f"the payload is not a valid SendLocalList.req: {description}"
            ) from None
        if version is None:
            answer = await self._ask(identity, "GetLocalListVersion", {})
            if not isinstance(answer, dict):
                return answer
            version = payload["listVersion"] = max(0, int(answer["listVersion"])) + 1
        answer = await self._ask(identity, "SendLocalList", payload)
        if not isinstance(answer, dict):
            return answer
        return web.json_response(
            {"status": answer["status"], "listVersion": version, "entries": len(entries)}
        )

    def _entries(self, wanted: Any, full: bool) -> list[dict[str, Any]]:
        """AuthorizationData for the central system's tags (or for the idTags `wanted`)."""
        book = self.csms.answers.tags
        now = self.csms.answers.now()
        if wanted is None:
            return [
                {"idTag": tag, "idTagInfo": id_tag_info(info, now, accept_unknown=False)}
                for tag, info in sorted(book.items())
            ]
        if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
            raise BadRequest("tags must be a list of idTags")
        entries: list[dict[str, Any]] = []
        for tag in wanted:
            known = find_tag(book, tag)
            if known is None and not full:
                entries.append({"idTag": tag})  # a Differential entry without info deletes
            else:
                info = id_tag_info(known, now, accept_unknown=False)
                entries.append({"idTag": tag, "idTagInfo": info})
        return entries

    async def _ask(
        self, identity: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any] | web.Response:
        """The station's answer, or the error response to give instead."""
        response = await self._send(identity, action, payload)
        if response.status != 200:
            return response
        return json.loads(response.text or "{}")  # type: ignore[no-any-return]

    async def _send(
        self,
        identity: str,
        action: str,
        payload: dict[str, Any],
        timeout: float = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - the caller's bound
    ) -> web.Response:
        try:
            validate_request(action, payload, lenient_timestamps=False)
        except OcppError as exc:
            raise BadRequest(
                f"the payload is not a valid {action}.req: {exc.description}"
            ) from None
        station = self.csms.stations.get(identity)
        if station is None or station.closed.is_set():
            return _error(409, f"station {identity!r} is not connected")
        try:
            answer = await station.call(action, payload, timeout=timeout)
        except CallErrorReceived as exc:
            return _error(
                502,
                f"{identity} answered {action} with {exc.code}",
                code=exc.code,
                description=exc.description,
                details=exc.details,
            )
        except OcppError as exc:
            return _error(502, f"the answer of {identity} to {action} is invalid: {exc}")
        except RpcTimeout:
            return _error(504, f"{identity} did not answer {action} within {timeout:g} s")
        except ConnectionLost:
            return _error(409, f"station {identity!r} disconnected before answering {action}")
        self._record(identity, action, payload, answer)
        return web.json_response(answer)

    def _record(
        self, identity: str, action: str, payload: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        """What the central system keeps of a request it sent: its reservations."""
        now = self.csms.answers.now()
        if action == "ReserveNow":
            self.store.reserved(identity, payload, str(answer.get("status")), now)
        elif action == "CancelReservation" and answer.get("status") == "Accepted":
            self.store.cancelled(identity, payload["reservationId"], now)


def _object_body(text: str, shape: str) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    if not text.strip():
        raise BadRequest(f"a JSON object body {shape} is required")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _call_body(text: str) -> tuple[str, dict[str, Any], float]:
    """(action, payload, timeout) of a call request's body, checked."""
    body = _object_body(text, '{"action": ..., "payload": {...}}')
    unknown = set(body) - {"action", "payload", "timeout"}
    if unknown:
        raise BadRequest(f"unknown fields in the body: {sorted(unknown)}")
    action = body.get("action")
    if not isinstance(action, str):
        raise BadRequest("action must be the name of an OCPP 1.6 request, as a string")
    if action not in CS_TO_CP_ACTIONS:
        raise BadRequest(f"unknown action {action!r}: not a request a central system sends")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise BadRequest("payload must be a JSON object")
    try:
        # What we send is held to the schema strictly (timestamps with their zone).
        validate_request(action, payload, lenient_timestamps=False)
    except OcppError as exc:
        raise BadRequest(f"the payload is not a valid {action}.req: {exc.description}") from None
    timeout = body.get("timeout", DEFAULT_CALL_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_CALL_TIMEOUT
    ):
        raise BadRequest(
            f"timeout must be a number of seconds, above 0 and at most {MAX_CALL_TIMEOUT:g}"
        )
    return action, payload, float(timeout)
