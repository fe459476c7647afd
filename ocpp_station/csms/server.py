"""A small, real OCPP 1.6J central system on a WebSocket server.

It answers every charge-point-initiated CALL sensibly (answers.py), remembers each station
(records.py), logs one line per message on the `ocpp_station.csms` logger, and lets tests and
the conformance tool script individual stations through StationSession.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import http
import inspect
import logging
import sqlite3
import ssl
from collections.abc import Awaitable, Collection, Mapping
from contextvars import ContextVar
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ocpp_station import __version__
from ocpp_station.clock import Clock, LoopClock
from ocpp_station.csms.answers import DefaultAnswers
from ocpp_station.csms.authority import CertificateAuthority
from ocpp_station.csms.records import StationRecord, Transaction
from ocpp_station.csms.session import NO_ANSWER, StationSession
from ocpp_station.csms.store import CsmsStore
from ocpp_station.csms.tags import TagInfo
from ocpp_station.rpc.actions import ALL_ACTIONS
from ocpp_station.rpc.endpoint import Handler, Router
from ocpp_station.rpc.errors import NotSupported
from ocpp_station.rpc.ocppj import MAX_FRAME_SIZE, SUBPROTOCOL, identity_from_path

_log = logging.getLogger("ocpp_station.csms")

# The session whose frame is being handled. The Router is shared by every connection and its
# handlers get only the payload; each connection's reader task sets this once, and the tasks the
# RPC layer starts for awaitable handlers inherit it.
_current: ContextVar[StationSession] = ContextVar("ocpp_station_csms_session")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic ...` header, None when absent or broken."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon:
        return None
    return user, password


class CentralSystem:
    """An OCPP 1.6J central system for tests, the conformance tool and `ocpp-station csms`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        boot_status: str = "Accepted",
        heartbeat_interval: int = 20,
        tags: Mapping[str, TagInfo] | None = None,
        accept_unknown_tags: bool = True,
        passwords: Mapping[str, str] | None = None,
        log: logging.Logger | None = None,
        identities: Collection[str] | None = None,
        clock: Clock | None = None,
        response_timeout: float = 30.0,
        max_messages: int | None = None,
        store: CsmsStore | None = None,
        max_finished_transactions: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        authority: CertificateAuthority | None = None,
    ) -> None:
        """`store`: where stations, sessions and meter values are kept as well (transaction ids
        then continue after the highest one it holds). `max_messages` and
        `max_finished_transactions` bound what is kept in memory per station (None: all)."""
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, got {port}")
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be positive")
        if max_finished_transactions is not None and max_finished_transactions < 0:
            raise ValueError("max_finished_transactions must not be negative")
        self.host = host
        self.ssl_context = ssl_context
        """TLS for wss:// (security profiles 2 and 3); None: plain ws://."""
        self.authority = authority
        """Signs the stations' CSRs (SignCertificate is then Accepted, and CertificateSigned
        follows); None: SignCertificate is Rejected."""
        self._port = port
        self._clock: Clock = clock if clock is not None else LoopClock()
        self.answers = DefaultAnswers(
            now=self._clock.now,
            boot_status=boot_status,
            heartbeat_interval=heartbeat_interval,
            tags=tags,
            accept_unknown_tags=accept_unknown_tags,
        )
        self.store = store
        """The database, when there is one."""
        if store is not None:
            self.answers.continue_transaction_ids_after(store.last_transaction_id())
        self._max_finished = max_finished_transactions
        self.passwords: dict[str, str] = dict(passwords or {})
        """identity -> Basic auth password; identities not listed connect without one."""
        self.identities: set[str] | None = set(identities) if identities is not None else None
        """When set, other identities are refused with HTTP 404 ([J] 3.2)."""
        self.accepting = True
        """False: new connections are refused with HTTP 503 (a central system that is down)."""
        self.log = log if log is not None else _log
        self.stations: dict[str, StationSession] = {}
        """The sessions connected now, by identity."""
        self.records: dict[str, StationRecord] = {}
        """What is known of each station that ever connected, by identity."""
        self._response_timeout = response_timeout
        self._max_messages = max_messages
        self._router = self._build_router()
        self._server: Server | None = None
        self._arrival: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ settings

    @property
    def boot_status(self) -> str:
        return self.answers.boot_status

    @boot_status.setter
    def boot_status(self, value: str) -> None:
        if value not in ("Accepted", "Pending", "Rejected"):
            raise ValueError(f"boot status must be Accepted, Pending or Rejected, not {value!r}")
        self.answers.boot_status = value

    @property
    def heartbeat_interval(self) -> int:
        return self.answers.heartbeat_interval

    @heartbeat_interval.setter
    def heartbeat_interval(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"heartbeat interval must be a non-negative integer, not {value!r}")
        self.answers.heartbeat_interval = value

    @property
    def tags(self) -> dict[str, TagInfo]:
        """idTag -> TagInfo; may be changed while running."""
        return self.answers.tags

    @property
    def accept_unknown_tags(self) -> bool:
        return self.answers.accept_unknown_tags

    @accept_unknown_tags.setter
    def accept_unknown_tags(self, value: bool) -> None:
        self.answers.accept_unknown_tags = value

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when 0 was asked for)."""
        if self._server is not None:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        """The OCPP-J endpoint URL, ws://host:port; a station appends /<identity>."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the central system is already running")
        self._server = await serve(
            self._serve,
            self.host,
            self._port,
            select_subprotocol=self._select_subprotocol,
            process_request=self._check_request,
            compression=None,  # [J] 5.1
            ping_interval=None,  # the station's WebSocketPingInterval decides about pings
            max_size=MAX_FRAME_SIZE,
            server_header=f"ocpp-station-csms/{__version__}",
            ssl=self.ssl_context,
        )
        self._port = self.port
        self.log.info("central system listening on %s", self.url)

    async def relisten(self, ssl_context: ssl.SSLContext | None) -> None:
        """Listen on the same port with TLS (a context) or without (None), as a central system
        does for a station moving to security profile 2 or 3 (whitepaper A05): every
        connection is closed, and the station reconnects under its new profile."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()
        self.ssl_context = ssl_context
        await self.start()

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        server = self._server
        if server is None:
            return
        self._server = None
        server.close()
        await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self.log.info("central system stopped")

    async def __aenter__(self) -> CentralSystem:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for_station(
        self,
        identity: str,
        timeout: float = 10,  # noqa: ASYNC109 - a deadline for the whole wait
    ) -> StationSession:
        """The station's current session; waits for it to connect when it is not connected."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    session = self.stations.get(identity)
                    if session is not None and not session.closed.is_set():
                        return session
                    if self._arrival is None:
                        self._arrival = asyncio.Event()
                    await self._arrival.wait()
        except TimeoutError:
            raise TimeoutError(f"{identity} did not connect within {timeout:g} s") from None

    def record(self, identity: str) -> StationRecord:
        """What is known of a station (an empty record if it never connected)."""
        record = self.records.get(identity)
        if record is None:
            record = self.records[identity] = StationRecord(identity)
        return record

    def transaction(self, transaction_id: int) -> Transaction | None:
        """A transaction of any station, open or finished."""
        for record in self.records.values():
            found = record.transaction(transaction_id)
            if found is not None:
                return found
        return None

    # ------------------------------------------------------------------ handshake

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the upgrade request when needed, before the handshake completes."""
        if not self.accepting:
            return self._refuse(connection, request, http.HTTPStatus.SERVICE_UNAVAILABLE, "")
        try:
            identity = identity_from_path(request.path)
        except ValueError as exc:
            return self._refuse(connection, request, http.HTTPStatus.BAD_REQUEST, str(exc))
        if self.identities is not None and identity not in self.identities:
            # [J] 3.2: an unknown charge point gets 404.
            return self._refuse(
                connection, request, http.HTTPStatus.NOT_FOUND, f"unknown charge point {identity}"
            )
        password = self.passwords.get(identity)
        if password is not None and _client_certificate(connection):
            # Security profile 3 ([W] 2.5): the station's certificate, verified by the TLS
            # handshake against our root, authenticates it instead of a password.
            password = None
        if password is not None:
            credentials = _basic_credentials(request.headers.get("Authorization"))
            if (
                credentials is None
                or credentials[0] != identity
                or not hmac.compare_digest(credentials[1].encode(), password.encode())
            ):
                # [W] 2.3: the server validates the Authorization header before upgrading.
                why = "no Basic credentials" if credentials is None else "wrong credentials"
                response = self._refuse(connection, request, http.HTTPStatus.UNAUTHORIZED, why)
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
                return response
        return None

    def _refuse(
        self,
        connection: ServerConnection,
        request: Request,
        status: http.HTTPStatus,
        reason: str,
    ) -> Response:
        text = f"{status.value} {status.phrase}" + (f": {reason}" if reason else "")
        self.log.warning("handshake for %s refused: %s", request.path, text)
        return connection.respond(status, text + "\n")

    @staticmethod
    def _select_subprotocol(connection: ServerConnection, offered: Any) -> Subprotocol | None:
        # [J] 3.2: not agreeing means completing the handshake without Sec-WebSocket-Protocol
        # and closing at once (in _serve), not an HTTP error.
        return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None

    # ------------------------------------------------------------------ connections

    async def _serve(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None  # the handshake is complete
        identity = identity_from_path(request.path)
        if connection.subprotocol != SUBPROTOCOL:
            offered = request.headers.get("Sec-WebSocket-Protocol")
            self.log.warning(
                "%s: closed: the %s subprotocol was not offered (offered: %s)",
                identity,
                SUBPROTOCOL,
                offered or "none",
            )
            await connection.close(CloseCode.PROTOCOL_ERROR, f"{SUBPROTOCOL} subprotocol required")
            return
        session = StationSession(
            identity,
            connection,
            self._router,
            self.record(identity),
            clock=self._clock,
            log=self.log,
            response_timeout=self._response_timeout,
            max_messages=self._max_messages,
        )
        _current.set(session)
        if self.store is not None:
            self.store.connected(identity, self._clock.now())
        previous = self.stations.get(identity)
        self.stations[identity] = session
        self.log.info("%s: connected from %s", identity, _peer(connection))
        if previous is not None:
            # A charge point has one connection: the new one wins, the stale one is closed.
            self.log.info("%s: the new connection replaces the previous one", identity)
            self._spawn(previous.connection.close(CloseCode.NORMAL_CLOSURE, "replaced"))
        arrival, self._arrival = self._arrival, None
        if arrival is not None:
            arrival.set()
        try:
            async for frame in connection:
                await session.endpoint.feed(frame)
        except ConnectionClosed:
            pass
        finally:
            session._ended()
            if self.stations.get(identity) is session:
                del self.stations[identity]
            self.log.info("%s: disconnected (%s)", identity, _close_text(connection))
            self._note_disconnected(identity)

    def _note_disconnected(self, identity: str) -> None:
        if self.store is None:
            return
        try:
            self.store.disconnected(identity, self._clock.now())
        except sqlite3.Error:
            # The connection is gone either way; a database that fails here fails loudly on
            # the next message that needs it.
            self.log.exception("%s: the disconnection could not be stored", identity)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ routing

    def _build_router(self) -> Router:
        router = Router()
        defaults: dict[str, Handler] = dict(self.answers.handlers())
        defaults["SignCertificate"] = self._sign_certificate
        # Every 1.6 action goes through the dispatcher so that a station's own handler can
        # answer any of them; without one, an action with no default gets NotSupported, as
        # the RPC layer would answer.
        for action in sorted(ALL_ACTIONS):
            router.route(action, self._dispatcher(action, defaults.get(action)))
        return router

    def _dispatcher(self, action: str, default: Handler | None) -> Handler:
        log = self.log
        now = self._clock.now

        def dispatch(payload: dict[str, Any]) -> Any:
            session = _current.get()
            record = session.record
            record.on_request(action, payload, now(), log)
            store = self.store
            if store is not None:
                # Stored before the answer goes out: a failure here answers InternalError and
                # the station sends the message again ([S] 3.7 for transaction messages).
                store.on_request(session.identity, action, payload, now())
            if action == "StopTransaction" and self._max_finished is not None:
                _trim(record.finished_transactions, self._max_finished)
            handler = session.handler(action) or default
            if handler is None:
                raise NotSupported(f"{action} is not supported by this central system")
            result = handler(payload)
            if result is NO_ANSWER:
                log.info("%s <- %s: left unanswered", session.identity, action)
                return session._withhold()
            if inspect.isawaitable(result):
                return _finish(session, action, payload, result)
            if type(result) is dict:
                record.on_answer(action, payload, result, now())
                if store is not None:
                    store.on_answer(session.identity, action, payload, result, now())
            return result

        async def _finish(
            session: StationSession, action: str, payload: dict[str, Any], pending: Any
        ) -> Any:
            result = await pending
            if result is NO_ANSWER:
                log.info("%s <- %s: left unanswered", session.identity, action)
                return await session._withhold()
            if type(result) is dict:
                session.record.on_answer(action, payload, result, now())
                if self.store is not None:
                    self.store.on_answer(session.identity, action, payload, result, now())
            return result

        return dispatch

    def _sign_certificate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """SignCertificate (whitepaper A02): with an authority, Accepted, and the signed
        certificate follows in CertificateSigned.req once the answer is out; without one,
        Rejected (an Accepted would promise a certificate that never comes)."""
        authority = self.authority
        if authority is None:
            return {"status": "Rejected"}
        try:
            chain = authority.sign_csr(payload["csr"])
        except ValueError as exc:
            self.log.warning("SignCertificate: the CSR cannot be signed: %s", exc)
            return {"status": "Rejected"}
        session = _current.get()
        self._spawn(self._send_signed(session, chain))
        return {"status": "Accepted"}

    async def _send_signed(self, session: StationSession, chain: str) -> None:
        await asyncio.sleep(0.1)  # the SignCertificate.conf goes first
        try:
            answer = await session.call("CertificateSigned", {"certificateChain": chain})
        except Exception as exc:  # the station left, or answered with an error
            self.log.warning("%s: CertificateSigned not delivered: %s", session.identity, exc)
            return
        self.log.info("%s: CertificateSigned %s", session.identity, answer.get("status"))


def _client_certificate(connection: ServerConnection) -> bool:
    """The TLS handshake verified a client certificate (CERT_OPTIONAL: only a verified one is
    shown)."""
    ssl_object = connection.transport.get_extra_info("ssl_object")
    return ssl_object is not None and bool(ssl_object.getpeercert())


def _trim(finished: list[Transaction], keep: int) -> None:
    # Trimmed in halves so that appending stays cheap on average.
    if len(finished) >= 2 * keep + 1:
        del finished[: len(finished) - keep]


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _close_text(connection: ServerConnection) -> str:
    code = connection.close_code
    if code is None:
        return "no close frame"
    reason = connection.close_reason
    return f"code {code}" + (f" {reason}" if reason else "")
