"""The HTTP control API (interface contract): what a driver and an EV do to the station."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ocpp_station.control.page import PAGE
from ocpp_station.hardware.simulator import InvalidAction, Simulator, UnknownConnector
from ocpp_station.httpserver import HttpServer
from ocpp_station.process_figures import process_figures
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.rpc.errors import CallErrorReceived, OcppError, RpcTimeout
from ocpp_station.runtime import StationRuntime
from ocpp_station.station.datatransfer import DataTransferService
from ocpp_station.station.sender import NotConnected
from ocpp_station.station.transactions import Sessions

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# StopTransaction reasons a person at the charger can cause (§7.42).
STOP_BUTTON_REASONS = ("Local", "EmergencyStop", "Other")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class BadRequest(Exception):
    """A malformed body: 422."""


async def _json_body(request: web.Request, required: bool) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        if required:
            raise BadRequest("a JSON object body is required")
        return {}
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


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


Resolve = Callable[[web.Request], StationRuntime]


class ControlApi(HttpServer):
    """The contract's routes for one station; a fleet mounts the same routes once more under
    `/api/stations/{station}` with `resolve` finding the station a request names."""

    def __init__(
        self,
        runtime: StationRuntime | None = None,
        *,
        resolve: Resolve | None = None,
        prefix: str = "/api",
        app: web.Application | None = None,
    ) -> None:
        if (runtime is None) == (resolve is None):
            raise ValueError("give either a runtime or a resolve function")
        if resolve is None:
            assert runtime is not None
            one = runtime

            def resolve(request: web.Request) -> StationRuntime:
                return one

        self._resolve: Resolve = resolve
        super().__init__(app if app is not None else web.Application(middlewares=[control_errors]))
        r = self.app.router
        p = prefix
        r.add_get(f"{p}/status", self.status)
        if runtime is not None:
            r.add_get(f"{p}/health", self.health)
        r.add_get(f"{p}/config", self.config)
        r.add_get(f"{p}/messages", self.messages)
        r.add_post(f"{p}/rfid", self.rfid)
        r.add_post(f"{p}/datatransfer", self.data_transfer)
        # The simulator's Firmware Management failures (hardware/transfer_faults.py).
        r.add_get(f"{p}/security-events", self.security_events)
        r.add_post(f"{p}/security-events", self.raise_security_event)
        r.add_get(f"{p}/transfer-faults", self.transfer_faults)
        r.add_post(f"{p}/transfer-faults", self.set_transfer_faults)
        if runtime is not None:
            r.add_get("/", self.page)
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

    # -- views --------------------------------------------------------------------------------
    @staticmethod
    def _snapshot(rt: StationRuntime) -> dict[str, Any]:
        return rt.station.snapshot(rt.connected)

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
        entries = [
            {"key": key, "value": value, "readonly": readonly}
            for key, value, readonly in self._resolve(request).config.entries()
        ]
        return web.json_response(entries)

    async def messages(self, request: web.Request) -> web.Response:
        raw = request.query.get("after", "0")
        try:
            after = int(raw)
        except ValueError:
            raise BadRequest(f"after must be an integer, not {raw!r}") from None
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
        self._simulator(rt).present_card(id_tag, connector_id)
        if connector_id is not None:
            return self._connector_status(rt, connector_id)
        return web.json_response(self._snapshot(rt))

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

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

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
