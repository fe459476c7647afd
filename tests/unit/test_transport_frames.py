"""Both station clients at the frame level: what websockets does above the frames and picows does
not by itself (fragments, limits, UTF-8, closing codes, handshake checks), run against each."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK

from ocpp_station.transport import Backoff, StationClient
from ocpp_station.transport.select import make_client, resolve

WAIT = 5.0
OCPP16 = "ocpp1.6"


@pytest.fixture(params=["websockets", "picows"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "picows":
        pytest.importorskip("picows")
    return str(request.param)


class Events:
    """What the callbacks saw, in order: ("open",), ("message", frame), ("close", exc)."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.changed = asyncio.Event()
        self.connect_errors: asyncio.Queue[BaseException] = asyncio.Queue()
        self.open_hook: Callable[[], Awaitable[None]] | None = None
        self.message_hook: Callable[[bytes | str], Awaitable[None]] | None = None

    def _add(self, *event: Any) -> None:
        self.log.append(event)
        self.changed.set()

    async def on_open(self) -> None:
        if self.open_hook is not None:
            await self.open_hook()
        self._add("open")

    async def on_message(self, frame: bytes | str) -> None:
        if self.message_hook is not None:
            await self.message_hook(frame)
        self._add("message", frame)

    async def on_close(self, exc: BaseException | None) -> None:
        self._add("close", exc)

    def of(self, name: str) -> list[Any]:
        return [event[1] if len(event) > 1 else None for event in self.log if event[0] == name]

    async def wait_for(self, test: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not test():
                self.changed.clear()
                await self.changed.wait()


def station(kind: str, url: str, events: Events, **kwargs: Any) -> StationClient:
    kwargs.setdefault("backoff", Backoff(0.01, 0.04, rng=random.Random(0)))
    return make_client(
        kind,
        url,
        "CP-1",
        on_open=events.on_open,
        on_message=events.on_message,
        on_close=events.on_close,
        on_connect_error=events.connect_errors.put,
        **kwargs,
    )


class Server:
    """A websockets server agreeing to ocpp1.6 whose connections run `handler`."""

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[None]]) -> None:
        self.handler = handler
        self.connections: list[ServerConnection] = []
        self.close_codes: asyncio.Queue[int | None] = asyncio.Queue()

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        try:
            await self.handler(connection)
        finally:
            await connection.wait_closed()
            await self.close_codes.put(connection.close_code)

    async def __aenter__(self) -> str:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[OCPP16],  # type: ignore[list-item]
            compression=None,
            ping_interval=None,
        )
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ocpp/CP-1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def run_until(client: StationClient, body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(client.run())
    try:
        await body()
    finally:
        async with asyncio.timeout(WAIT):
            await client.stop()
            await task


async def hold(connection: ServerConnection) -> None:
    await connection.wait_closed()


# ---------------------------------------------------------------------------------- messages


async def test_fragmented_and_binary_messages_arrive_whole(kind: str) -> None:
    async def fragmented(connection: ServerConnection) -> None:
        await connection.send(['[2,"1",', '"Reset",', '{"type":"Soft"}]'])
        await connection.send([b"\x00\x01", b"\x02"])
        await connection.send(b"\x03")
        await connection.send("after")
        await connection.wait_closed()

    events = Events()
    async with Server(fragmented) as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("message")) == 4)
            assert events.of("message") == [
                '[2,"1","Reset",{"type":"Soft"}]',
                b"\x00\x01\x02",
                b"\x03",
                "after",
            ]

        await run_until(client, body)


async def test_frames_sent_at_once_wait_for_on_open_and_keep_their_order(kind: str) -> None:
    sent = asyncio.Event()

    async def eager(connection: ServerConnection) -> None:
        for i in range(40):  # more than the queue's high-water mark: reading pauses meanwhile
            await connection.send(f'[2,"{i}","Heartbeat",{{}}]')
        sent.set()
        await connection.wait_closed()

    async def slow_open() -> None:
        async with asyncio.timeout(WAIT):
            await sent.wait()

    events = Events()
    events.open_hook = slow_open
    async with Server(eager) as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("message")) == 40)
            assert events.log[0] == ("open",)
            assert events.of("message") == [f'[2,"{i}","Heartbeat",{{}}]' for i in range(40)]

        await run_until(client, body)


async def test_a_slow_on_message_holds_frames_back_without_losing_any(kind: str) -> None:
    async def flood(connection: ServerConnection) -> None:
        for i in range(300):
            await connection.send(f"{i:04d}" + "x" * 1000)
        await connection.wait_closed()

    async def slow(frame: bytes | str) -> None:
        await asyncio.sleep(0)

    events = Events()
    events.message_hook = slow
    async with Server(flood) as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("message")) == 300)
            assert [m[:4] for m in events.of("message")] == [f"{i:04d}" for i in range(300)]

        await run_until(client, body)


async def test_a_message_over_max_size_fails_the_connection_with_1009(kind: str) -> None:
    async def big(connection: ServerConnection) -> None:
        if len(server.connections) == 1:
            await connection.send("x" * 2000)  # one frame over the limit
        elif len(server.connections) == 2:
            await connection.send(["x" * 600, "x" * 600])  # fragments over the limit together
        await connection.wait_closed()

    server = Server(big)
    events = Events()
    async with server as url:
        client = station(kind, url, events, max_size=1000)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("open")) == 3)
            closes = events.of("close")
            for exc in closes:
                assert isinstance(exc, ConnectionClosedError)
                assert exc.sent is not None and exc.sent.code == 1009
            assert events.of("message") == []
            async with asyncio.timeout(WAIT):
                assert await server.close_codes.get() == 1009
                assert await server.close_codes.get() == 1009

        await run_until(client, body)


async def test_text_that_is_not_utf8_fails_the_connection_with_1007(kind: str) -> None:
    async def garbled(connection: ServerConnection) -> None:
        if len(server.connections) == 1:
            await connection.send(b"[2,\xff]", text=True)
        await connection.wait_closed()

    server = Server(garbled)
    events = Events()
    async with server as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("open")) == 2)
            (exc,) = events.of("close")
            assert isinstance(exc, ConnectionClosedError)
            assert exc.sent is not None and exc.sent.code == 1007
            async with asyncio.timeout(WAIT):
                assert await server.close_codes.get() == 1007

        await run_until(client, body)


async def test_send_waits_while_the_server_does_not_read(kind: str) -> None:
    reading = asyncio.Event()
    received: list[str | bytes] = []

    async def stalled(connection: ServerConnection) -> None:
        connection.transport.pause_reading()
        async with asyncio.timeout(WAIT):
            await reading.wait()
        connection.transport.resume_reading()
        async for message in connection:
            received.append(message)

    big = "x" * (256 * 1024)
    events = Events()
    async with Server(stalled) as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("open")) == 1)
            sent = 0
            for _ in range(400):  # 100 MiB: far beyond the socket buffers
                try:
                    async with asyncio.timeout(0.5):
                        await client.send(big)
                except TimeoutError:
                    break  # waiting for the buffer to drain; the message is on its way
                sent += 1
            else:
                pytest.fail("send() never waited for the socket to drain")
            reading.set()
            async with asyncio.timeout(WAIT):
                while len(received) < sent + 1:
                    await asyncio.sleep(0.01)
            assert all(message == big for message in received)

        await run_until(client, body)


# ----------------------------------------------------------------------------------- closing


@pytest.mark.parametrize(("code", "ok"), [(1000, True), (1001, True), (1011, False), (4000, False)])
async def test_a_close_from_the_server_is_answered_and_reported(
    kind: str, code: int, ok: bool
) -> None:
    async def closing(connection: ServerConnection) -> None:
        if len(server.connections) == 1:
            await connection.close(code, "maintenance")
        await connection.wait_closed()

    server = Server(closing)
    events = Events()
    async with server as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("open")) == 2)  # and it reconnected
            (exc,) = events.of("close")
            assert isinstance(exc, ConnectionClosed)
            assert isinstance(exc, ConnectionClosedOK) is ok
            assert exc.rcvd is not None
            assert (exc.rcvd.code, exc.rcvd.reason) == (code, "maintenance")
            assert exc.sent is not None and exc.sent.code == code  # echoed
            async with asyncio.timeout(WAIT):
                assert await server.close_codes.get() == code

        await run_until(client, body)


async def test_stop_is_bounded_by_close_timeout_when_the_server_never_answers(kind: str) -> None:
    async def deaf(connection: ServerConnection) -> None:
        connection.transport.pause_reading()  # our Close frame is never read
        await connection.wait_closed()

    server = Server(deaf)
    events = Events()
    async with server as url:
        client = station(kind, url, events, close_timeout=0.05)
        task = asyncio.create_task(client.run())
        await events.wait_for(lambda: events.of("open") == [None])
        async with asyncio.timeout(WAIT):
            await client.stop()
            await task
        assert events.of("close") == [None]  # closed by us
        assert not client.connected
        server.connections[0].transport.resume_reading()  # let the server see the socket gone
        async with asyncio.timeout(WAIT):
            assert await server.close_codes.get() == 1001  # our Close got there, no answer awaited


async def test_drop_loses_the_connection_and_reconnects(kind: str) -> None:
    server = Server(hold)
    events = Events()
    async with server as url:
        client = station(kind, url, events)

        async def body() -> None:
            await events.wait_for(lambda: len(events.of("open")) == 1)
            client.drop()
            await events.wait_for(lambda: len(events.of("open")) == 2)
            (exc,) = events.of("close")
            assert isinstance(exc, ConnectionClosedError)
            assert exc.rcvd is None and exc.sent is None  # no closing handshake
            async with asyncio.timeout(WAIT):
                assert await server.close_codes.get() == 1006

        await run_until(client, body)


async def test_abort_ends_run_without_a_closing_handshake(kind: str) -> None:
    server = Server(hold)
    events = Events()
    async with server as url:
        client = station(kind, url, events)
        task = asyncio.create_task(client.run())
        await events.wait_for(lambda: len(events.of("open")) == 1)
        async with asyncio.timeout(WAIT):
            await client.abort()
            await task
            assert await server.close_codes.get() == 1006
        assert events.of("close") == [None]
        assert not client.connected


async def test_pings_of_the_server_are_answered(kind: str) -> None:
    latencies: asyncio.Queue[float] = asyncio.Queue()

    async def pinging(connection: ServerConnection) -> None:
        pong = await connection.ping()
        await latencies.put(await pong)
        await connection.wait_closed()

    events = Events()
    async with Server(pinging) as url:
        client = station(kind, url, events)

        async def body() -> None:
            async with asyncio.timeout(WAIT):
                assert await latencies.get() >= 0

        await run_until(client, body)


# ------------------------------------------------------------------------- odd handshakes


async def test_a_handshake_that_times_out_closes_its_socket(kind: str) -> None:
    requests: asyncio.Queue[bytes] = asyncio.Queue()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await requests.put(await reader.read())  # everything, until the client ends its side
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp/CP-1"
    events = Events()
    client = station(kind, url, events, open_timeout=0.1, backoff=Backoff(60, 120))
    try:

        async def body() -> None:
            async with asyncio.timeout(WAIT):
                assert isinstance(await events.connect_errors.get(), TimeoutError)
                assert (await requests.get()).startswith(b"GET /ocpp/CP-1 HTTP/1.1\r\n")
            assert events.of("open") == []

        await run_until(client, body)
    finally:
        server.close()
        await server.wait_closed()


def _accept(key: str) -> str:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


class RawServer:
    """A TCP server answering the upgrade by hand with `extra` headers, then writing `after`;
    it records the frames the client sends back (unmasked payloads, by opcode) until a Close."""

    def __init__(self, extra: str, after: bytes = b"") -> None:
        self.extra = extra
        self.after = after
        self.frames: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.accepted = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            request = (await reader.readuntil(b"\r\n\r\n")).decode()
            key = next(
                line.split(":", 1)[1].strip()
                for line in request.split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            writer.write(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {_accept(key)}\r\n"
                    f"{self.extra}\r\n"
                ).encode()
                + self.after
            )
            while True:
                head = await reader.readexactly(2)
                length = head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                mask = await reader.readexactly(4)
                data = await reader.readexactly(length)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
                await self.frames.put((head[0] & 0x0F, payload))
                if head[0] & 0x0F == 0x8:
                    break  # a Close: the server ends the TCP connection
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ocpp/CP-1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.mark.parametrize(
    "extra",
    [
        "Sec-WebSocket-Protocol: ocpp2.0.1\r\n",
        "Sec-WebSocket-Protocol: ocpp1.6, ocpp2.0.1\r\n",
        "Sec-WebSocket-Protocol: ocpp1.6\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
    ],
    ids=["unoffered-subprotocol", "two-subprotocols", "unoffered-extension"],
)
async def test_an_answer_naming_what_was_not_offered_fails_the_handshake(
    kind: str, extra: str
) -> None:
    events = Events()
    async with RawServer(extra) as url:
        client = station(kind, url, events)

        async def body() -> None:
            async with asyncio.timeout(WAIT):
                error = await events.connect_errors.get()
            assert isinstance(error, ConnectionError)
            assert "invalid handshake" in str(error)
            assert events.of("open") == []

        await run_until(client, body)


async def test_reserved_bits_without_an_extension_fail_the_connection_with_1002(
    kind: str,
) -> None:
    compressed_looking = bytes([0xC1, 0x02]) + b"[]"  # FIN + RSV1, TEXT, 2 bytes
    events = Events()
    raw = RawServer("Sec-WebSocket-Protocol: ocpp1.6\r\n", compressed_looking)
    async with raw as url:
        client = station(kind, url, events)

        async def body() -> None:
            async with asyncio.timeout(WAIT):
                opcode, payload = await raw.frames.get()
            assert opcode == 0x8  # Close
            assert int.from_bytes(payload[:2], "big") == 1002
            await events.wait_for(lambda: len(events.of("close")) >= 1)
            assert events.of("message") == []

        await run_until(client, body)


# ---------------------------------------------------------------------------------- choosing


def test_the_transport_is_chosen_by_name() -> None:
    assert resolve("websockets") == "websockets"
    assert resolve("auto", compression=True) == "websockets"  # picows cannot compress
    with pytest.raises(ValueError, match="unknown transport 'zmq'"):
        resolve("zmq")
    pytest.importorskip("picows")
    assert resolve("picows") == "picows"
    assert resolve("auto") == "picows"
    from ocpp_station.transport.picows_client import PicowsStationClient

    events = Events()
    args = ("ws://127.0.0.1:1/ocpp/CP-1", events)
    assert type(station("websockets", *args)) is StationClient
    assert type(station("picows", *args)) is PicowsStationClient
    assert type(station("auto", *args)) is PicowsStationClient
    assert type(station("auto", *args, compression=True)) is StationClient
    with pytest.raises(ValueError, match="permessage-deflate"):
        station("picows", *args, compression=True)
