"""The HTTP control API (interface contract): what a driver and an EV do to the station."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ocpp_station.control.gate import MAX_BODY, Gate
from ocpp_station.control.history import PowerHistory
from ocpp_station.control.page import add_page_routes
from ocpp_station.control.stream import EventStreams, StationStream
from ocpp_station.hardware.simulator import InvalidAction, Simulator, UnknownConnector
from ocpp_station.httpserver import HttpServer
from ocpp_station.process_figures import process_figures
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.rpc.errors import CallErrorReceived, OcppError, RpcTimeout
from ocpp_station.runtime import StationRuntime
from ocpp_station.station.config import Configuration
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.station.sender import NotConnected
from ocpp_station.station.transactions import Sessions

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("ocpp_station.control")
# StopTransaction reasons a person at the charger can cause (§7.42).
STOP_BUTTON_REASONS = ("Local", "EmergencyStop", "Other")
# A body nested deeper than this is refused (the API's bodies are flat objects).
MAX_DEPTH = 16
# How long a power cut lasts unless the request says (seconds), and the longest it may.
DEFAULT_OFF_SECONDS = 3.0
MAX_OFF_SECONDS = 3600.0


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class BadRequest(Exception):
    """A malformed body: 422."""


class NoPower(InvalidAction):
    """The station is switched off (a power cut): 409."""


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar: 0)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        todo.extend((child, level + 1) for child in children)
    return deepest


async def _json_body(request: web.Request, required: bool) -> dict[str, Any]:
    try:
        text = await request.text()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY,
            actual_size=request.content_length or 0,
            reason=f"the body is larger than {MAX_BODY} bytes",
        ) from None
    if not text.strip():
        if required:
            raise BadRequest("a JSON object body is required")
        return {}
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadRequest(f"the body nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if _depth(body) > MAX_DEPTH:
        raise BadRequest(f"the body nests deeper than {MAX_DEPTH} levels")
    return body


def _after(raw: str) -> int:
    """The frame sequence number a page has seen (`?after=N`, Last-Event-ID)."""
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"after must be an integer, not {raw!r}") from None


def control_app(gate: Gate) -> web.Application:
    """The aiohttp application of a control API: its gate, its error shape, its body limit."""
    return web.Application(middlewares=[gate.middleware, control_errors], client_max_size=MAX_BODY)


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as the contract shapes them: `{"error": "<one sentence>"}` with its status."""
    try:
        return await handler(request)
    except BadRequest as exc:
        return _error(422, str(exc))
    except UnknownConnector as exc:
        return _error(404, str(exc) or "unknown connector")
    except InvalidAction as exc:
        return _error(409, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise
    except Exception:
        # A fault of ours: the log has the traceback, the caller a sentence (never the trace).
        log.exception("control API: %s %s failed", request.method, request.path)
        return _error(500, "the station could not do it (an internal error; see its log)")


# The station a request names (NoPower, or an HTTP error, when there is none to act on).
Resolve = Callable[[web.Request], StationRuntime]
# Cut the power of the station a request names for that many seconds; it starts again after.
PowerCut = Callable[[web.Request, float], Awaitable[None]]


class ControlApi(HttpServer):
    """The contract's routes for one station; a fleet mounts the same routes once more under
    `/api/stations/{station}` with `resolve` finding the station a request names.
    `gate`: who may call (default: loopback, no token)."""

    def __init__(
        self,
        runtime: StationRuntime | None = None,
        *,
        current: Callable[[], StationRuntime | None] | None = None,
        resolve: Resolve | None = None,
        prefix: str = "/api",
        app: web.Application | None = None,
        gate: Gate | None = None,
        power_cut: PowerCut | None = None,
    ) -> None:
        """The station is `runtime`; or `current()`, the one station of this API while it has
        power (`run`: a power cut replaces it); or `resolve(request)`, the station a request
        names (a fleet). The first two make the API of one station, with its web page, its
        power history and the process's health."""
        if sum(x is not None for x in (runtime, current, resolve)) != 1:
            raise ValueError("give one of runtime, current and resolve")
        if runtime is not None:
            one = runtime

            def current() -> StationRuntime | None:
                return one

        self.history: PowerHistory | None = None
        if current is not None:
            now = current

            def resolve(request: web.Request) -> StationRuntime:
                rt = now()
                if rt is None:
                    raise NoPower("the station has no power (a power cut); it comes back itself")
                return rt

            self.history = PowerHistory(now)
        assert resolve is not None
        self._resolve: Resolve = resolve
        self._power_cut = power_cut
        super().__init__(app if app is not None else control_app(gate or Gate()))
        self._streams = EventStreams(self.app)
        r = self.app.router
        p = prefix
        r.add_get(f"{p}/status", self.status)
        r.add_get(f"{p}/events", self.events)
        if self.history is not None:
            r.add_get(f"{p}/health", self.health)
            add_page_routes(self.app, "station")
            self.app.cleanup_ctx.append(self._sampling)
        r.add_get(f"{p}/config", self.config)
        r.add_put(f"{p}/config/{{key}}", self.change_config)
        r.add_post(f"{p}/link/drop", self.drop_link)
        r.add_post(f"{p}/power-cut", self.cut_power)
        r.add_get(f"{p}/messages", self.messages)
        r.add_post(f"{p}/rfid", self.rfid)
        r.add_post(f"{p}/datatransfer", self.data_transfer)
        # The simulator's Firmware Management failures (hardware/transfer_faults.py).
        r.add_get(f"{p}/security-events", self.security_events)
        r.add_post(f"{p}/security-events", self.raise_security_event)
        r.add_get(f"{p}/transfer-faults", self.transfer_faults)
        r.add_post(f"{p}/transfer-faults", self.set_transfer_faults)
        r.add_post(f"{p}/connectors/{{id}}/plug", self._connector_action("plug"))
        r.add_post(f"{p}/connectors/{{id}}/unplug", self._connector_action("unplug"))
        r.add_post(f"{p}/connectors/{{id}}/ev/suspend", self._connector_action("suspend"))
        r.add_post(f"{p}/connectors/{{id}}/ev/resume", self._connector_action("resume"))
        r.add_post(f"{p}/connectors/{{id}}/fault", self.fault)
        r.add_post(f"{p}/connectors/{{id}}/stop", self.stop_button)
        r.add_delete(f"{p}/connectors/{{id}}/fault", self._connector_action("clear_fault"))
        # A lock that will not move (socket variant): for lock-failure and unlock-failure cases.
        r.add_post(f"{p}/connectors/{{id}}/lock-failure", self._connector_action("jam"))
        r.add_delete(f"{p}/connectors/{{id}}/lock-failure", self._connector_action("unjam"))

    async def _sampling(self, app: web.Application) -> AsyncIterator[None]:
        assert self.history is not None
        task = asyncio.ensure_future(self.history.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # -- views --------------------------------------------------------------------------------
    @staticmethod
    def _snapshot(rt: StationRuntime) -> dict[str, Any]:
        view = rt.station.snapshot(rt.connected)
        o = rt.options
        view["chargePoint"] = {
            "vendor": o.vendor,
            "model": o.model,
            "serial": o.serial,
            "firmware": o.firmware,
        }
        hardware = rt.hardware
        if isinstance(hardware, Simulator):
            for entry in view["connectors"][1:]:
                soc = hardware.connector(entry["id"]).soc_percent
                if soc is not None:
                    entry["socPercent"] = round(soc, 1)
        return view

    @staticmethod
    def _connector(rt: StationRuntime, request: web.Request, allow_zero: bool = False) -> int:
        raw = request.match_info["id"]
        try:
            connector_id = int(raw)
        except ValueError:
            raise UnknownConnector(f"unknown connector {raw!r}") from None
        if connector_id == 0 and allow_zero:
            return 0
        if not rt.station.cp.has_connector(connector_id):
            raise UnknownConnector(f"unknown connector {connector_id}")
        return connector_id

    @staticmethod
    def _simulator(rt: StationRuntime) -> Simulator:
        hardware = rt.hardware
        if not isinstance(hardware, Simulator):
            # Real drivers sense the real world; only the simulator takes these from outside.
            raise InvalidAction("this station runs on real hardware, not the simulator")
        return hardware

    def _connector_status(self, rt: StationRuntime, connector_id: int) -> web.Response:
        return web.json_response(self._snapshot(rt)["connectors"][connector_id])

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self._snapshot(self._resolve(request)))

    async def health(self, request: web.Request) -> web.Response:
        """The process: CPU seconds, resident memory, open files, asyncio tasks."""
        return web.json_response(process_figures())

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response(self._entries(self._resolve(request)))

    @staticmethod
    def _entries(rt: StationRuntime) -> list[dict[str, Any]]:
        return [
            {"key": key, "value": value, "readonly": readonly}
            for key, value, readonly in rt.config.entries()
        ]

    async def messages(self, request: web.Request) -> web.Response:
        after = _after(request.query.get("after", "0"))
        return web.json_response(self._resolve(request).messages.after(after))

    async def rfid(self, request: web.Request) -> web.Response:
        rt = self._resolve(request)
        body = await _json_body(request, required=True)
        id_tag = body.get("idTag")
        if not isinstance(id_tag, str) or not 1 <= len(id_tag) <= 20:
            raise BadRequest("idTag must be a string of 1 to 20 characters (CiString20)")
        connector_id = body.get("connectorId")
        if connector_id is not None:
            if not isinstance(connector_id, int) or isinstance(connector_id, bool):
                raise BadRequest("connectorId must be an integer")
            if not rt.station.cp.has_connector(connector_id):
                raise UnknownConnector(f"unknown connector {connector_id}")
        try:
            work = self._simulator(rt).present_card(id_tag, connector_id)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        outcome: dict[str, Any] = {"outcome": "pending"}
        if work is not None:
            # The answer waits for the Authorize, as the driver waits at the reader (it is
            # bounded by the station's own MessageTimeout); the card's work goes on regardless.
            task = asyncio.ensure_future(work)
            bound = float(rt.config.get_int("MessageTimeout")) + 1.0
            done, _ = await asyncio.wait({task}, timeout=bound)
            if done and not task.cancelled() and task.exception() is None:
                outcome = task.result()
        view = self._snapshot(rt)
        if connector_id is not None:
            view = view["connectors"][connector_id]
        return web.json_response({**view, "card": outcome})

    async def data_transfer(self, request: web.Request) -> web.Response:
        """A DataTransfer.req from the station to the central system; answers its .conf."""
        body = await _json_body(request, required=True)
        vendor_id = body.get("vendorId")
        if not isinstance(vendor_id, str) or not 1 <= len(vendor_id) <= 255:
            raise BadRequest("vendorId must be a string of 1 to 255 characters")
        message_id = body.get("messageId")
        if message_id is not None and (not isinstance(message_id, str) or len(message_id) > 50):
            raise BadRequest("messageId must be a string of at most 50 characters")
        data = body.get("data")
        if data is not None and not isinstance(data, str):
            raise BadRequest("data must be a string")
        try:
            station = self._resolve(request).station
            answer = await station.service(DataTransferService).send(vendor_id, message_id, data)
        except NotConnected as exc:
            raise InvalidAction(f"the central system cannot be reached now: {exc}") from None
        except (CallErrorReceived, RpcTimeout, OcppError) as exc:
            return _error(502, f"the central system did not accept it: {exc}")
        return web.json_response(answer)

    async def security_events(self, request: web.Request) -> web.Response:
        """The security log, oldest first: [{"timestamp", "type", "techInfo"?}]."""
        return web.json_response(self._security(self._resolve(request)).entries())

    async def raise_security_event(self, request: web.Request) -> web.Response:
        """What the charger's own detectors report (a tamper switch, memory running out):
        {"type": a security event of the whitepaper's table, "techInfo"?}; answers the log."""
        rt = self._resolve(request)
        body = await _json_body(request, required=True)
        kind, info = body.get("type"), body.get("techInfo")
        if not isinstance(kind, str) or (info is not None and not isinstance(info, str)):
            raise BadRequest("type must be a string, techInfo a string if given")
        events = self._security(rt)
        try:
            events.raise_event(kind, info)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return web.json_response(events.entries())

    @staticmethod
    def _security(rt: StationRuntime) -> SecurityEvents:
        try:
            return rt.station.service(SecurityEvents)
        except LookupError:
            raise InvalidAction("this station is built without the security extensions") from None

    async def transfer_faults(self, request: web.Request) -> web.Response:
        """The switches: {"download", "upload", "install", "delaySeconds"}."""
        return web.json_response(self._resolve(request).transfer_faults.view())

    async def set_transfer_faults(self, request: web.Request) -> web.Response:
        """Turn switches on or off (the fields given); answers all of them."""
        rt = self._resolve(request)
        body = await _json_body(request, required=True)
        if not isinstance(rt.hardware, Simulator):
            raise InvalidAction("real hardware has no simulated transfer faults")
        try:
            rt.transfer_faults.change(body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return web.json_response(rt.transfer_faults.view())

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events for the page: `status` (GET /api/status and "powered") when it
        changes, `frame` (as GET /api/messages gives one) for each OCPP frame, `config` (GET
        /api/config) when a key changes. `?after=N` or Last-Event-ID: frames after N."""
        after = _after(request.headers.get("Last-Event-ID") or request.query.get("after", "0"))
        self._resolve_or_none(request)  # an unknown station is a 404 before the stream opens
        streams = self._streams
        response = await streams.open(request)
        stream = StationStream(after, self._snapshot, self._entries, self.history)
        try:
            while not streams.closing:
                chunk = stream.next(self._resolve_or_none(request))
                if chunk:
                    await response.write(chunk)
                await streams.wait(stream.log, 1.0)
                await asyncio.sleep(0.05)  # a burst of frames goes out as one write
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away, or the server stops
        finally:
            stream.close()
        return response

    def _resolve_or_none(self, request: web.Request) -> StationRuntime | None:
        try:
            return self._resolve(request)
        except NoPower:
            return None

    async def change_config(self, request: web.Request) -> web.Response:
        """A key changed at the charger (its display, or the page), by the rules of
        ChangeConfiguration (§5.3): {"value": "..."}; answers the key's entry and the status."""
        rt = self._resolve(request)
        key = request.match_info["key"]
        body = await _json_body(request, required=True)
        value = body.get("value")
        if not isinstance(value, str) or len(value) > 500:
            raise BadRequest("value must be a string of at most 500 characters (CiString500)")
        config: Configuration = rt.config
        reason = config.why_refused(key, value)
        if reason is not None:
            if reason.unknown:
                return _error(404, reason.text)
            if reason.readonly:
                raise InvalidAction(reason.text)
            raise BadRequest(reason.text)
        status = config.change(key, value)
        if status not in ("Accepted", "RebootRequired"):
            return _error(500, f"{key} could not be stored ({status})")
        for name, shown, readonly in config.entries():
            if name.casefold() == key.casefold():
                return web.json_response(
                    {"key": name, "value": shown, "readonly": readonly, "status": status}
                )
        raise AssertionError(f"{key} was changed but is not listed")

    async def drop_link(self, request: web.Request) -> web.Response:
        """The network goes for a moment: the connection drops without a closing handshake,
        and the station reconnects as after any loss of its link."""
        rt = self._resolve(request)
        if not rt.connected:
            raise InvalidAction("the station has no connection to drop")
        rt.client.drop()
        return web.json_response(self._snapshot(rt))

    async def cut_power(self, request: web.Request) -> web.Response:
        """The power goes at once, as with SIGKILL ({"offSeconds": 3}), and comes back: the
        station starts again from what it stored, like a charger after a power cut."""
        if self._power_cut is None:
            raise InvalidAction("this API cannot switch the station's power")
        self._resolve(request)  # 409 when it is off already
        body = await _json_body(request, required=False)
        off = body.get("offSeconds", DEFAULT_OFF_SECONDS)
        if (
            not isinstance(off, int | float)
            or isinstance(off, bool)
            or not 0 <= off <= MAX_OFF_SECONDS
        ):
            raise BadRequest(f"offSeconds must be a number from 0 to {MAX_OFF_SECONDS:g}")
        await self._power_cut(request, float(off))
        return web.json_response({"powered": False, "offSeconds": off})

    async def stop_button(self, request: web.Request) -> web.Response:
        """The charger's own stop button (or an emergency stop): ends the session there."""
        rt = self._resolve(request)
        connector_id = self._connector(rt, request)
        body = await _json_body(request, required=False)
        reason = body.get("reason", "Local")
        if reason not in STOP_BUTTON_REASONS:
            raise BadRequest(f"reason must be one of {', '.join(STOP_BUTTON_REASONS)}")
        station = rt.station
        if not station.service(Sessions).stop(station.cp.connector(connector_id), reason):
            raise InvalidAction(f"Connector {connector_id} has no transaction to stop.")
        return self._connector_status(rt, connector_id)

    async def fault(self, request: web.Request) -> web.Response:
        rt = self._resolve(request)
        connector_id = self._connector(rt, request, allow_zero=True)
        body = await _json_body(request, required=True)
        code = body.get("errorCode")
        info = body.get("info")
        if not isinstance(code, str):
            raise BadRequest("errorCode must be an OCPP ChargePointErrorCode string")
        if info is not None and (not isinstance(info, str) or len(info) > 50):
            raise BadRequest("info must be a string of at most 50 characters")
        try:
            self._simulator(rt).raise_fault(connector_id, code, info)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return self._connector_status(rt, connector_id)

    def _connector_action(self, action: str) -> Handler:
        async def view(request: web.Request) -> web.Response:
            rt = self._resolve(request)
            connector_id = self._connector(rt, request, allow_zero=action == "clear_fault")
            hw = self._simulator(rt)
            if action == "plug":
                hw.plug(connector_id)
            elif action == "unplug":
                hw.unplug(connector_id)
            elif action == "suspend":
                hw.suspend_ev(connector_id)
            elif action == "resume":
                hw.resume_ev(connector_id)
            elif action in ("jam", "unjam"):
                hw.set_lock_failure(connector_id, action == "jam")
            else:
                hw.clear_fault(connector_id)
            return self._connector_status(rt, connector_id)

        return view
