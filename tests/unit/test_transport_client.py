"""StationClient against real sockets on 127.0.0.1: handshake, reading, pings, reconnection.

Every test runs against both clients: StationClient on websockets and PicowsStationClient.
"""

from __future__ import annotations

import asyncio
import base64
import http
import random
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ocpp_station.rpc.errors import ConnectionLost
from ocpp_station.transport import (
    Backoff,
    HandshakeRejected,
    PongTimeout,
    StationClient,
    SubprotocolRefused,
    build_url,
)

WAIT = 5.0

Client: type[StationClient] = StationClient  # the client under test, set by client_kind


@pytest.fixture(params=["websockets", "picows"], autouse=True)
def client_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs each test once per client library; make_client builds the client under test."""
    kind: str = request.param
    if kind == "picows":
        # Skipped where picows is not installed.
        module = pytest.importorskip("ocpp_station.transport.picows_client")
        monkeypatch.setattr(sys.modules[__name__], "Client", module.PicowsStationClient)
    return kind


class CountingConnection(ServerConnection):
    """A server connection that counts the Ping frames it receives."""

    pings = 0
    ping_seen = asyncio.Event()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            CountingConnection.pings += 1
            CountingConnection.ping_seen.set()
        super().process_event(event)


class FakeCentralSystem:
    """A bare WebSocket server that records what the client does."""

    def __init__(
        self,
        *,
        agree_subprotocol: bool = True,
        reject: Callable[[int], int | None] | None = None,
        handler: Callable[[ServerConnection], Any] | None = None,
    ) -> None:
        self.agree_subprotocol = agree_subprotocol
        self.reject = reject  # attempt number -> HTTP status to refuse with, or None
        self.handler = handler
        self.requests: list[Request] = []
        self.connections: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.received: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.server: Server | None = None
        CountingConnection.pings = 0
        CountingConnection.ping_seen = asyncio.Event()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def url(self, identity: str = "CP-1") -> str:
        return build_url(f"ws://127.0.0.1:{self.port}/ocpp", identity)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.reject is not None:
            status = self.reject(len(self.requests))
            if status is not None:
                return connection.respond(http.HTTPStatus(status), "refused\n")
        return None

    def _select(self, connection: ServerConnection, offered: Any) -> Any:
        if self.agree_subprotocol and "ocpp1.6" in offered:
            return "ocpp1.6"
        return None  # [J] 3.2: complete the handshake without Sec-WebSocket-Protocol

    async def _handle(self, connection: ServerConnection) -> None:
        await self.connections.put(connection)
        if self.handler is not None:
            await self.handler(connection)
            return
        try:
            async for message in connection:
                await self.received.put(message)
        except ConnectionClosed:
            pass  # the client failed the connection (e.g. no subprotocol agreed)

    async def __aenter__(self) -> FakeCentralSystem:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            select_subprotocol=self._select,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            create_connection=CountingConnection,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class Recorder:
    """The callbacks a station passes to StationClient, recording what they see."""

    def __init__(self) -> None:
        self.opened = 0
        self.open_event = asyncio.Event()
        self.messages: asyncio.Queue[bytes | str] = asyncio.Queue()
        self.closes: asyncio.Queue[BaseException | None] = asyncio.Queue()
        self.connect_errors: asyncio.Queue[BaseException] = asyncio.Queue()

    async def on_open(self) -> None:
        self.opened += 1
        self.open_event.set()

    async def on_message(self, frame: bytes | str) -> None:
        await self.messages.put(frame)

    async def on_close(self, exc: BaseException | None) -> None:
        self.open_event.clear()
        await self.closes.put(exc)

    async def on_connect_error(self, exc: BaseException) -> None:
        await self.connect_errors.put(exc)

    async def wait_open(self) -> None:
        async with asyncio.timeout(WAIT):
            await self.open_event.wait()


def fast_backoff(base: float = 0.01) -> Backoff:
    return Backoff(base, base * 4, rng=random.Random(0))


def make_client(
    url: str, recorder: Recorder, identity: str = "CP-1", **kwargs: Any
) -> StationClient:
    kwargs.setdefault("backoff", fast_backoff())
    return Client(
        url,
        identity,
        on_open=recorder.on_open,
        on_message=recorder.on_message,
        on_close=recorder.on_close,
        on_connect_error=recorder.on_connect_error,
        **kwargs,
    )


@pytest.fixture
async def central() -> AsyncIterator[FakeCentralSystem]:
    async with FakeCentralSystem() as server:
        yield server


async def running(client: StationClient) -> asyncio.Task[None]:
    return asyncio.create_task(client.run())


async def finish(client: StationClient, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(WAIT):
        await client.stop()
        await task


async def next_item(queue: asyncio.Queue[Any]) -> Any:
    async with asyncio.timeout(WAIT):
        return await queue.get()


# ---------------------------------------------------------------------------------- handshake


async def test_handshake_offers_ocpp16_and_delivers_text_frames(
    central: FakeCentralSystem,
) -> None:
    recorder = Recorder()
    client = make_client(central.url("CP 1"), recorder)
    task = await running(client)
    try:
        await recorder.wait_open()
        assert client.connected
        request = central.requests[0]
        assert request.path == "/ocpp/CP%201"
        assert request.headers["Sec-WebSocket-Protocol"] == "ocpp1.6"
        assert "Authorization" not in request.headers
        # compression is off by default ([J] 5.1)
        assert "Sec-WebSocket-Extensions" not in request.headers
        await client.send(b'[2,"1","Heartbeat",{}]')
        assert await next_item(central.received) == '[2,"1","Heartbeat",{}]'
    finally:
        await finish(client, task)


async def test_compression_can_be_enabled(central: FakeCentralSystem, client_kind: str) -> None:
    recorder = Recorder()
    if client_kind == "picows":
        with pytest.raises(ValueError, match="permessage-deflate"):
            make_client(central.url(), recorder, compression=True)
        return
    client = make_client(central.url(), recorder, compression=True)
    task = await running(client)
    try:
        await recorder.wait_open()
        assert "permessage-deflate" in central.requests[0].headers["Sec-WebSocket-Extensions"]
    finally:
        await finish(client, task)


async def test_basic_auth_header_carries_identity_and_password(
    central: FakeCentralSystem,
) -> None:
    recorder = Recorder()
    client = make_client(central.url(), recorder, password="0123456789abcdef", reconnect_delay=0.01)
    task = await running(client)
    try:
        await recorder.wait_open()
        expected = base64.b64encode(b"CP-1:0123456789abcdef").decode()
        assert central.requests[0].headers["Authorization"] == f"Basic {expected}"
        # A new password is used from the next connection on.
        client.set_password("new_password_12345678")
        await client.reconnect()
        await next_item(recorder.closes)
        await recorder.wait_open()
        expected = base64.b64encode(b"CP-1:new_password_12345678").decode()
        assert central.requests[1].headers["Authorization"] == f"Basic {expected}"
    finally:
        await finish(client, task)


def test_identity_with_a_colon_cannot_use_basic_auth() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError, match="':'"):
        make_client("ws://127.0.0.1:1/ocpp/a:b", recorder, identity="a:b", password="x" * 16)


def test_bad_arguments_are_refused() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError, match="ws:// or wss://"):
        make_client("http://127.0.0.1:1/x", recorder)
    with pytest.raises(ValueError, match="TLS context"):
        make_client("ws://127.0.0.1:1/x", recorder, ssl_context=ssl.create_default_context())
    with pytest.raises(ValueError, match="negative"):
        make_client("ws://127.0.0.1:1/x", recorder, ping_interval=-1)
    client = make_client("ws://127.0.0.1:1/x", recorder)
    with pytest.raises(ValueError, match="negative"):
        client.set_ping_interval(-5)


async def test_no_subprotocol_in_the_answer_is_a_failed_connection() -> None:
    async with FakeCentralSystem(agree_subprotocol=False) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder)
        task = await running(client)
        try:
            first = await next_item(recorder.connect_errors)
            second = await next_item(recorder.connect_errors)
            assert isinstance(first, SubprotocolRefused)
            assert isinstance(second, SubprotocolRefused)
            assert len(central.requests) >= 2  # it retried
            assert recorder.opened == 0
            assert recorder.closes.empty()  # on_close only follows an on_open
            assert not client.connected
        finally:
            await finish(client, task)


@pytest.mark.parametrize("status", [401, 404])
async def test_http_refusal_backs_off_retries_and_resets_on_success(status: int) -> None:
    # Refused three times, then accepted ([JE] 3.4: retry with back-off after a 404).
    async with FakeCentralSystem(reject=lambda n: status if n <= 3 else None) as central:
        recorder = Recorder()
        backoff = fast_backoff()
        client = make_client(central.url(), recorder, backoff=backoff)
        task = await running(client)
        try:
            for _ in range(3):
                error = await next_item(recorder.connect_errors)
                assert isinstance(error, HandshakeRejected)
                assert error.status == status
            await recorder.wait_open()
            assert len(central.requests) == 4
            assert backoff.attempt == 0  # reset by the successful connection
        finally:
            await finish(client, task)


async def test_backoff_grows_while_the_server_is_unreachable() -> None:
    # A port with nothing listening: every attempt fails at once.
    with_nothing = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = with_nothing.sockets[0].getsockname()[1]
    with_nothing.close()
    await with_nothing.wait_closed()

    recorder = Recorder()
    backoff = Backoff(0.001, 0.004, rng=random.Random(0))
    client = make_client(f"ws://127.0.0.1:{port}/ocpp/CP-1", recorder, backoff=backoff)
    task = await running(client)
    try:
        for _ in range(4):
            assert isinstance(await next_item(recorder.connect_errors), OSError)
        assert backoff.attempt >= 4
        assert backoff.ceiling() == 0.004
    finally:
        await finish(client, task)


# ----------------------------------------------------------------------------- reading frames


async def test_frames_reach_on_message_in_order_as_text() -> None:
    frames = [f'[2,"{i}","Reset",{{"type":"Soft"}}]' for i in range(200)]

    async def send_all(connection: ServerConnection) -> None:
        for frame in frames:
            await connection.send(frame)
        await connection.wait_closed()

    async with FakeCentralSystem(handler=send_all) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder)
        task = await running(client)
        try:
            got = [await next_item(recorder.messages) for _ in frames]
            assert got == frames
            assert all(isinstance(frame, str) for frame in got)
        finally:
            await finish(client, task)


async def test_reconnects_after_the_server_drops_the_connection() -> None:
    async def drop_first(connection: ServerConnection) -> None:
        if drops == []:
            drops.append(connection)
            await connection.close(1011, "going down")
            return
        await connection.wait_closed()

    drops: list[ServerConnection] = []
    async with FakeCentralSystem(handler=drop_first) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder)
        task = await running(client)
        try:
            closed = await next_item(recorder.closes)
            assert closed is not None  # not closed by us: the reason is given
            await recorder.wait_open()
            assert recorder.opened == 2
            assert len(central.requests) == 2
            assert client.connected
        finally:
            await finish(client, task)


async def test_send_without_connection_raises_connection_lost() -> None:
    recorder = Recorder()
    client = make_client("ws://127.0.0.1:1/ocpp/CP-1", recorder)
    with pytest.raises(ConnectionLost):
        await client.send(b"[]")


async def test_reconnect_uses_the_short_delay_not_the_backoff(central: FakeCentralSystem) -> None:
    recorder = Recorder()
    # A back-off of 30 s or more would make this test run into its timeout.
    client = make_client(central.url(), recorder, backoff=Backoff(30, 60), reconnect_delay=0.01)
    task = await running(client)
    try:
        await recorder.wait_open()
        await client.reconnect()
        assert await next_item(recorder.closes) is None  # we closed it ourselves
        await recorder.wait_open()
        assert recorder.opened == 2
    finally:
        await finish(client, task)


# ------------------------------------------------------------------------------------- pings


async def test_ping_interval_changes_at_runtime(central: FakeCentralSystem) -> None:
    recorder = Recorder()
    client = make_client(central.url(), recorder, ping_interval=0)
    task = await running(client)
    try:
        await recorder.wait_open()
        await client.send(b"[]")  # a round trip through the server's reader
        await next_item(central.received)
        assert CountingConnection.pings == 0
        client.set_ping_interval(0.05)
        async with asyncio.timeout(WAIT):
            while CountingConnection.pings < 3:
                CountingConnection.ping_seen.clear()
                await CountingConnection.ping_seen.wait()
        assert client.connected  # the server's pongs came back
    finally:
        await finish(client, task)


async def test_unanswered_ping_drops_the_connection_and_reconnects() -> None:
    async def deaf_first(connection: ServerConnection) -> None:
        if not deaf:
            deaf.append(connection)
            connection.transport.pause_reading()  # no pong will be sent
        await connection.wait_closed()

    deaf: list[ServerConnection] = []
    async with FakeCentralSystem(handler=deaf_first) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder, ping_interval=0.05, min_pong_timeout=0.1)
        task = await running(client)
        try:
            closed = await next_item(recorder.closes)
            assert isinstance(closed, PongTimeout)
            deaf[0].transport.resume_reading()  # let the server notice the drop
            await recorder.wait_open()
            assert recorder.opened == 2
        finally:
            await finish(client, task)


# ---------------------------------------------------------------------------------- stopping


async def test_stop_ends_run_while_connected(central: FakeCentralSystem) -> None:
    recorder = Recorder()
    client = make_client(central.url(), recorder)
    task = await running(client)
    await recorder.wait_open()
    await finish(client, task)
    assert task.done()
    assert not client.connected
    assert await next_item(recorder.closes) is None


async def test_stop_ends_run_during_a_long_backoff() -> None:
    async with FakeCentralSystem(reject=lambda n: 404) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder, backoff=Backoff(300, 600))
        task = await running(client)
        await next_item(recorder.connect_errors)
        await finish(client, task)  # bounded by WAIT, far below the 150 s minimum delay


async def test_stop_ends_run_during_a_hanging_handshake() -> None:
    # A TCP server that never answers the upgrade request.
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        recorder = Recorder()
        client = make_client(f"ws://127.0.0.1:{port}/ocpp/CP-1", recorder, open_timeout=300)
        task = await running(client)
        async with asyncio.timeout(WAIT):
            await accepted.wait()
        await finish(client, task)
        assert recorder.opened == 0
    finally:
        server.close()
        await server.wait_closed()


async def test_run_twice_at_once_is_refused(central: FakeCentralSystem) -> None:
    recorder = Recorder()
    client = make_client(central.url(), recorder)
    task = await running(client)
    try:
        await recorder.wait_open()
        with pytest.raises(RuntimeError, match="already running"):
            await client.run()
    finally:
        await finish(client, task)


# ---------------------------------------------------------------------------------------- TLS


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


async def test_wss_checks_the_server_certificate(certificate: tuple[Path, Path]) -> None:
    key, cert = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    requests: list[Request] = []

    def record(connection: ServerConnection, request: Request) -> None:
        requests.append(request)

    async def hold(connection: ServerConnection) -> None:
        await connection.wait_closed()

    async with serve(
        hold,
        "127.0.0.1",
        0,
        ssl=server_tls,
        subprotocols=[Subprotocol("ocpp1.6")],
        process_request=record,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"wss://127.0.0.1:{port}/ocpp/CP-1"

        # The system trust store does not know a self-signed certificate.
        recorder = Recorder()
        client = make_client(url, recorder)
        task = await running(client)
        try:
            error = await next_item(recorder.connect_errors)
            assert isinstance(error, ssl.SSLCertVerificationError)
            assert recorder.opened == 0
        finally:
            await finish(client, task)

        # Trusting it (as an installed CentralSystemRootCertificate would): connected, and
        # the Basic auth header travels inside TLS (security profile 2).
        trusted = ssl.create_default_context(cafile=str(cert))
        recorder = Recorder()
        client = make_client(url, recorder, ssl_context=trusted, password="p" * 16)
        task = await running(client)
        try:
            await recorder.wait_open()
            assert requests[-1].headers["Authorization"].startswith("Basic ")
        finally:
            await finish(client, task)


async def test_failing_on_open_closes_the_connection_and_retries(
    central: FakeCentralSystem,
) -> None:
    recorder = Recorder()
    failures = [RuntimeError("station not ready")]

    async def on_open() -> None:
        await recorder.on_open()
        if failures:
            raise failures.pop()

    client = Client(
        central.url(),
        "CP-1",
        on_open=on_open,
        on_message=recorder.on_message,
        on_close=recorder.on_close,
        backoff=fast_backoff(),
    )
    task = await running(client)
    try:
        closed = await next_item(recorder.closes)
        assert isinstance(closed, RuntimeError)
        await recorder.wait_open()
        assert recorder.opened == 2
        assert len(central.requests) == 2
    finally:
        await finish(client, task)


async def test_cancelling_run_closes_with_going_away() -> None:
    closed: asyncio.Queue[int | None] = asyncio.Queue()

    async def hold(connection: ServerConnection) -> None:
        await connection.wait_closed()
        await closed.put(connection.close_code)

    async with FakeCentralSystem(handler=hold) as central:
        recorder = Recorder()
        client = make_client(central.url(), recorder)
        task = await running(client)
        await recorder.wait_open()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(WAIT):
                await task
        assert await next_item(closed) == 1001
        assert recorder.closes.qsize() == 1  # on_close still ran
        assert not client.connected
