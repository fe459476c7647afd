"""The minimal central system: canned answers at the lowest CPU cost, and a ledger.

Built to stand opposite a fleet of thousands of stations on the same machine: every CALL gets a
fixed, schema-valid answer assembled from byte fragments (no schema validation, no per-message
objects beyond the decoded frame), and the ledger (minimal_ledger.py) shows afterwards that no
transaction message was lost or repeated. Two WebSocket servers can carry it: picows (callbacks,
no task per connection; the cheaper one where installed) and websockets' asyncio server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ocpp_station.csms.answers import BOOT_STATUSES
from ocpp_station.csms.minimal.ledger import Ledger, StationLedger
from ocpp_station.file_limit import RESERVE, raise_file_limit
from ocpp_station.rpc.ocppj import MAX_FRAME_SIZE, SUBPROTOCOL, identity_from_path
from ocpp_station.timefmt import iso
from ocpp_station.transport.select import resolve

BACKLOG = 4096  # a fleet ramping up connects hundreds per second
# How often a central system at capacity says so in its log, and what a station refused reads.
FULL_LOG_EVERY = 10.0
AT_CAPACITY = "at capacity: try again later\n"

log = logging.getLogger("ocpp_station.csms.minimal")

if TYPE_CHECKING:
    from ocpp_station.csms.minimal.picows import PicowsServer

_CALL, _CALLRESULT, _CALLERROR = 2, 3, 4
_EMPTY = b"{}"
_ACCEPTED = b'{"idTagInfo":{"status":"Accepted"}}'


class Link(Protocol):
    """One station's open connection, as the core sees it."""

    async def send(self, data: bytes) -> None: ...


class CallError(Exception):
    """Answer the CALL with a CALLERROR ([J] 4.2.3)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class StationGone(Exception):
    """The station addressed by a central-system CALL is not (or no longer) connected."""


class MinimalCentralSystem:
    """The protocol core: decode a frame, count it, answer it; send CALLs and await answers."""

    def __init__(
        self,
        *,
        boot_status: str = "Accepted",
        heartbeat_interval: int = 20,
        ledger: Ledger | None = None,
    ) -> None:
        if boot_status not in BOOT_STATUSES:
            raise ValueError(f"boot status must be one of {', '.join(sorted(BOOT_STATUSES))}")
        if heartbeat_interval < 0:
            raise ValueError(f"the heartbeat interval must not be negative: {heartbeat_interval}")
        self.boot_status = boot_status
        self.heartbeat_interval = heartbeat_interval
        self.ledger = ledger or Ledger()
        self.links: dict[str, Link] = {}
        self.messages: dict[str, int] = {}  # inbound CALLs per action
        self.messages_total = 0
        self.answers = 0  # CALLRESULT/CALLERROR frames received for our own CALLs
        self.malformed = 0  # frames that were no OCPP-J message at all
        self.call_errors = 0  # CALLERRORs we sent
        self.connections = 0  # WebSocket connections accepted with ocpp1.6, ever
        # Our CALLs awaiting an answer: by message id (with the station asked), and by link so
        # that a disconnect fails its own at once.
        self._pending: dict[str, tuple[str, asyncio.Future[list[Any]]]] = {}
        self._waiting: dict[Link, set[str]] = {}
        self._ids = itertools.count(1)
        self._handlers: dict[str, Callable[[StationLedger, Any], bytes]] = {
            "BootNotification": self._boot,
            "Heartbeat": self._heartbeat,
            "StatusNotification": self._empty,
            "Authorize": self._authorize,
            "StartTransaction": self._start,
            "StopTransaction": self._stop,
            "MeterValues": self._meter_values,
            "DataTransfer": self._data_transfer,
            "FirmwareStatusNotification": self._empty,
            "DiagnosticsStatusNotification": self._empty,
        }

    # ------------------------------------------------------------------ connections

    def attach(self, identity: str, link: Link) -> StationLedger:
        """A station connected; a newer connection of the same identity replaces the older."""
        self.links[identity] = link
        self.connections += 1
        return self.ledger.station(identity)

    def detach(self, account: StationLedger, link: Link) -> None:
        if self.links.get(account.identity) is link:
            del self.links[account.identity]
        for uid in self._waiting.pop(link, ()):
            pending = self._pending.pop(uid, None)
            if pending is not None and not pending[1].done():
                pending[1].set_exception(StationGone(f"{account.identity} disconnected"))

    @property
    def connected(self) -> int:
        return len(self.links)

    # ------------------------------------------------------------------ inbound frames

    def handle(
        self, account: StationLedger, data: bytes | bytearray | memoryview | str
    ) -> bytes | None:
        """The answer to one text frame, or None when it asks for none."""
        try:
            frame = orjson.loads(data)
            kind = frame[0]
            uid = frame[1]
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError):
            self.malformed += 1
            return None
        if kind == _CALL and len(frame) == 4 and type(frame[2]) is str:
            action = frame[2]
            self.messages_total += 1
            self.messages[action] = self.messages.get(action, 0) + 1
            handler = self._handlers.get(action)
            if handler is None:
                return self._error(uid, "NotImplemented", f"{action} is not implemented")
            try:
                body = handler(account, frame[3])
            except CallError as exc:
                return self._error(uid, exc.code, exc.description)
            return b"[3," + orjson.dumps(uid) + b"," + body + b"]"
        if kind in (_CALLRESULT, _CALLERROR):
            self.answers += 1
            pending = self._pending.get(uid) if type(uid) is str else None
            if pending is not None and pending[0] == account.identity:
                del self._pending[uid]
                if not pending[1].done():
                    pending[1].set_result(frame)
            return None
        self.malformed += 1
        if kind == _CALL and type(uid) is str:
            return self._error(uid, "FormationViolation", "a CALL is [2, id, action, payload]")
        return None

    def _error(self, uid: Any, code: str, description: str) -> bytes:
        self.call_errors += 1
        return orjson.dumps([_CALLERROR, uid, code, description, {}])

    @staticmethod
    def _now() -> bytes:
        return iso(datetime.now(UTC)).encode()

    def _boot(self, account: StationLedger, payload: Any) -> bytes:
        if self.boot_status == "Accepted":
            self.ledger.boot_accepted(account)
        return b'{"status":"%s","currentTime":"%s","interval":%d}' % (
            self.boot_status.encode(),
            self._now(),
            self.heartbeat_interval,
        )

    def _heartbeat(self, account: StationLedger, payload: Any) -> bytes:
        return b'{"currentTime":"%s"}' % self._now()

    def _empty(self, account: StationLedger, payload: Any) -> bytes:
        return _EMPTY

    def _authorize(self, account: StationLedger, payload: Any) -> bytes:
        return _ACCEPTED

    def _data_transfer(self, account: StationLedger, payload: Any) -> bytes:
        return b'{"status":"Rejected"}'

    def _start(self, account: StationLedger, payload: Any) -> bytes:
        fields = _fields(payload)
        connector_id = fields.get("connectorId")
        id_tag = fields.get("idTag")
        timestamp = fields.get("timestamp")
        if type(connector_id) is not int or type(id_tag) is not str or type(timestamp) is not str:
            raise CallError("ProtocolError", "StartTransaction needs connectorId, idTag, timestamp")
        transaction_id = self.ledger.start(account, connector_id, id_tag, timestamp)
        return b'{"transactionId":%d,"idTagInfo":{"status":"Accepted"}}' % transaction_id

    def _stop(self, account: StationLedger, payload: Any) -> bytes:
        fields = _fields(payload)
        transaction_id = fields.get("transactionId")
        if type(transaction_id) is not int:
            raise CallError("ProtocolError", "StopTransaction needs an integer transactionId")
        self.ledger.stop(account, transaction_id)
        # idTagInfo is optional in StopTransaction.conf; it answers the idTag when one was sent.
        return _ACCEPTED if "idTag" in fields else _EMPTY

    def _meter_values(self, account: StationLedger, payload: Any) -> bytes:
        transaction_id = _fields(payload).get("transactionId")
        if transaction_id is not None:
            if type(transaction_id) is not int:
                raise CallError("TypeConstraintViolation", "transactionId must be an integer")
            self.ledger.meter_value(account, transaction_id)
        return _EMPTY

    # ------------------------------------------------------------------ outbound CALLs

    async def call(
        self, identity: str, action: str, payload: Any, answer_within: float
    ) -> tuple[float, list[Any]]:
        """Send a CALL to a connected station: (seconds until its answer, the answer frame).

        Raises StationGone when it is not connected or disconnects, TimeoutError when no answer
        comes within `answer_within` seconds.
        """
        link = self.links.get(identity)
        if link is None:
            raise StationGone(f"{identity} is not connected")
        uid = f"c{next(self._ids)}"
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[uid] = (identity, future)
        self._waiting.setdefault(link, set()).add(uid)
        started = time.perf_counter()
        try:
            await link.send(orjson.dumps([_CALL, uid, action, payload]))
            async with asyncio.timeout(answer_within):
                frame = await future
        finally:
            self._pending.pop(uid, None)
            waiting = self._waiting.get(link)
            if waiting is not None:
                waiting.discard(uid)
                if not waiting:
                    del self._waiting[link]
        return time.perf_counter() - started, frame

    def stats(self) -> dict[str, Any]:
        totals = self.ledger.totals()
        return {
            "connected": self.connected,
            "connections": self.connections,
            "booted": totals.pop("booted"),
            "messages": dict(self.messages),
            "messagesTotal": self.messages_total,
            "answers": self.answers,
            "malformed": self.malformed,
            "callErrors": self.call_errors,
            **totals,
        }


def _fields(payload: Any) -> dict[str, Any]:
    if type(payload) is not dict:
        raise CallError("FormationViolation", "the payload of a CALL is a JSON object")
    return payload


# ---------------------------------------------------------------------------------- servers


class MinimalServer:
    """The core on a WebSocket server: ws://HOST:PORT/<identity>, subprotocol ocpp1.6."""

    def __init__(
        self,
        core: MinimalCentralSystem,
        transport: str = "auto",
        max_connections: int | None = None,
    ) -> None:
        """`transport`: the WebSocket library (transport.select; auto takes picows where
        installed, about 4x less CPU per message than websockets on the fleet benchmark).
        `max_connections`: stations served at once, beyond which a new one is refused with
        HTTP 503 (default: what the open-file limit allows, see start())."""
        transport = resolve(transport)
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max connections must be at least 1, got {max_connections}")
        self.core = core
        self.transport = transport
        self.host = ""
        self.port = 0
        self.max_connections = max_connections
        self.refused = 0  # handshakes refused at capacity
        self._open = 0  # connections of the websockets server being served
        self._full_logged = -FULL_LOG_EVERY
        self._server: PicowsServer | Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("the server is already running")
        # Past the open-file limit accept() fails with EMFILE: the standard event loop then
        # pauses a second per failure, and picows's (aiofastnet 1.2) fails in its own error
        # path and spins at a full core. So a station beyond capacity is accepted while there
        # is room and answered 503 (it backs off and says why), and the room left covers one
        # burst of accepts (the loop takes up to backlog + 1 per wake-up) besides the reserve.
        limit = raise_file_limit()
        backlog = min(BACKLOG, max(16, limit // 16))
        if self.max_connections is None:
            self.max_connections = max(1, limit - RESERVE - backlog - 1)
        if self.transport == "picows":
            from ocpp_station.csms.minimal.picows import create_server

            server: PicowsServer | Server = await create_server(
                self.core,
                host,
                port,
                backlog=backlog,
                max_frame_size=MAX_FRAME_SIZE,
                admit=self.admit,
            )
            sockets = server.sockets
        else:
            server = await serve(
                self._serve_websockets,
                host,
                port,
                select_subprotocol=_select_subprotocol,
                process_request=self._check_request,
                compression=None,  # [J] 5.1
                ping_interval=None,  # the stations decide about pings
                max_size=MAX_FRAME_SIZE,
                backlog=backlog,
            )
            sockets = list(server.sockets)
        self._server = server
        self.host, self.port = sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()  # both end the accepted connections too
        await server.wait_closed()

    def admit(self, serving: int) -> bool:
        """Whether one more station may connect while `serving` are; counts and logs (at
        most every FULL_LOG_EVERY seconds) the ones refused."""
        assert self.max_connections is not None  # set by start()
        if serving < self.max_connections:
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._full_logged >= FULL_LOG_EVERY:
            self._full_logged = now
            log.warning(
                "at capacity: %d stations connected, new ones refused with 503 (%d so far): "
                "the open-file limit (ulimit -n) or --max-connections; spread the stations over "
                "more central systems (fleet --csms URL1 --csms URL2)",
                serving,
                self.refused,
            )
        return False

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            identity_from_path(request.path)
        except ValueError as exc:
            return connection.respond(400, f"{exc}\n")
        if not self.admit(self._open):
            return connection.respond(503, AT_CAPACITY)
        return None

    async def _serve_websockets(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None  # the handshake is complete
        if connection.subprotocol != SUBPROTOCOL:
            # [J] 3.2: without an agreed subprotocol the central system closes at once.
            await connection.close(CloseCode.PROTOCOL_ERROR, f"{SUBPROTOCOL} subprotocol required")
            return
        link = _WebsocketsLink(connection)
        account = self.core.attach(identity_from_path(request.path), link)
        handle = self.core.handle
        self._open += 1
        try:
            while True:
                reply = handle(account, await connection.recv(decode=False))
                if reply is not None:
                    await connection.send(reply, text=True)
        except ConnectionClosed:
            pass
        finally:
            self._open -= 1
            self.core.detach(account, link)


class _WebsocketsLink:
    __slots__ = ("connection",)

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    async def send(self, data: bytes) -> None:
        await self.connection.send(data, text=True)


def _select_subprotocol(connection: ServerConnection, offered: Any) -> Subprotocol | None:
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None
