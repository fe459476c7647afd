"""The WebSocket transport's ceiling: loopback echo with websockets and picows clients.

One echo server runs in its own process (uvloop; a picows listener for the echo figures, so the
server is never the bottleneck, and a websockets listener that can negotiate permessage-deflate
for the memory figures). Every client figure comes from a fresh client process of its own, so
CPU time (time.process_time) and RSS belong to the client side alone:

- latency: one connection, round trips of a ~300-byte OCPP frame one after another, p50 / p99;
- throughput: 100 connections each echoing in a loop (one frame in flight per connection):
  messages/s (echoes completed) and client CPU µs per echo (one frame sent + one received), the
  median of three windows;
- memory: RSS growth over 1,000 connections, each idle after one echo, per connection.

Clients, each on asyncio and on uvloop: bare `websockets`; bare `picows` twice, with its defaults
(aiofastnet transports, 16 KiB read buffer) and set up as PicowsStationClient sets it up (the
loop's own transports, 2 KiB read buffer); a bare client awaits the send and then the echo. And
the station's own clients, StationClient and PicowsStationClient, answering each frame from
on_message as the RPC layer does.

Run: .venv/bin/python bench/bench_transport.py   (about 40 s)
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp_station.file_limit import raise_file_limit

# A StatusNotification CALL of the usual size: what a station sends most.
FRAME = (
    '[2,"7c1f3a52-6a8d-4d1e-9f0b-3c2d1e0f9a8b","StatusNotification",{"connectorId":1,'
    '"errorCode":"NoError","status":"Charging","timestamp":"2024-05-01T10:00:00.123Z",'
    '"info":"charging at 48 kW","vendorId":"com.example.charger","vendorErrorCode":"0",'
    '"meter":"000000000000000000000000000000000000000000000"}]'
)
LATENCY_ROUNDS = 2000
LATENCY_WARMUP = 200
THROUGHPUT_CONNECTIONS = 100
THROUGHPUT_WARMUP = 0.5
THROUGHPUT_WINDOW = 0.7
THROUGHPUT_WINDOWS = 3  # the median window is reported
MEMORY_CONNECTIONS = 1000
CONNECT_BATCH = 100  # at once: stays below the listen backlog
WAIT = 30.0
PAGE = os.sysconf("SC_PAGE_SIZE")

# kind -> what it is, for the table
CLIENTS = {
    "websockets": "websockets",
    "picows": "picows (defaults)",
    "picows-loop": "picows (loop transports)",
    "station-websockets": "StationClient",
    "station-picows": "PicowsStationClient",
}
LOOPS = ("asyncio", "uvloop")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------------- server


async def _serve() -> None:
    import threading

    from picows import (
        WSListener,
        WSMsgType,
        WSUpgradeResponse,
        WSUpgradeResponseWithListener,
        ws_create_server,
    )
    from websockets.asyncio.server import serve

    class Echo(WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            kind = frame.msg_type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                transport.send(kind, frame.get_payload_as_memoryview())
            elif kind is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    def accept(request: Any) -> Any:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        headers = {"Sec-WebSocket-Protocol": "ocpp1.6"} if "ocpp1.6" in offered else {}
        return WSUpgradeResponseWithListener(WSUpgradeResponse.create_101_response(headers), Echo())

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    fast = await ws_create_server(accept, "127.0.0.1", 0, backlog=1024)
    deflating = await serve(
        echo,
        "127.0.0.1",
        0,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression="deflate",
        ping_interval=None,
        backlog=1024,
    )
    ports = (fast.sockets[0].getsockname()[1], deflating.sockets[0].getsockname()[1])
    print(*ports, flush=True)
    # Ends with the bench: the parent closes our stdin.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    await asyncio.Future()


# ------------------------------------------------------------------------------------ clients


class Conn:
    """One echo connection, whatever the library underneath."""

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def recv(self) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class WebsocketsConn(Conn):
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, compression: bool) -> WebsocketsConn:
        from websockets.asyncio.client import connect

        ws = await connect(
            url,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            compression="deflate" if compression else None,
            ping_interval=None,
            proxy=None,
        )
        return cls(ws)

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self) -> str:
        return await self.ws.recv()  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.ws.close()


class PicowsConn(Conn):
    def __init__(self, transport: Any, listener: Any) -> None:
        self.transport = transport
        self.listener = listener

    @classmethod
    async def open(cls, url: str, loop_transports: bool) -> PicowsConn:
        from picows import WSListener, WSMsgType, ws_connect

        text = WSMsgType.TEXT

        class Listener(WSListener):
            def __init__(self) -> None:
                self.frames: deque[str] = deque()
                self.waiter: asyncio.Future[None] | None = None

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == text:
                    self.frames.append(frame.get_payload_as_utf8_text())
                    waiter = self.waiter
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

        extra: dict[str, Any] = {}
        if loop_transports:
            # As PicowsStationClient sets it up: the event loop's own transports, not
            # aiofastnet's (picows' default), and a 2 KiB read buffer, not 16 KiB.
            extra = {"use_aiofastnet": False, "read_buffer_init_size": 2048}
        transport, listener = await ws_connect(
            Listener, url, extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"}, **extra
        )
        return cls(transport, listener)

    async def send(self, text: str) -> None:
        self.transport.send(1, text.encode())  # WSMsgType.TEXT

    async def recv(self) -> str:
        listener = self.listener
        while not listener.frames:
            listener.waiter = asyncio.get_running_loop().create_future()
            await listener.waiter
        return listener.frames.popleft()  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.transport.send_close(1000)
        self.transport.disconnect()
        await self.transport.wait_disconnected()


class StationConn(Conn):
    """The station's client: frames come to on_message, which may answer them at once."""

    def __init__(
        self,
        kind: str,
        url: str,
        on_frame: Callable[[str], Awaitable[None]],
        compression: bool = False,
    ) -> None:
        from ocpp_station.transport.select import make_client

        self.opened = asyncio.Event()
        self.on_frame = on_frame
        self.client = make_client(
            kind,
            url,
            "CP-1",
            on_open=self._opened,
            on_message=self._message,
            on_close=self._closed,
            compression=compression,
        )
        self.task = asyncio.get_running_loop().create_task(self.client.run())

    async def _opened(self) -> None:
        self.opened.set()

    async def _message(self, frame: bytes | str) -> None:
        await self.on_frame(frame if isinstance(frame, str) else frame.decode())

    async def _closed(self, exc: BaseException | None) -> None:
        pass

    async def send(self, text: str) -> None:
        await self.client.send(text)

    async def close(self) -> None:
        await self.client.stop()
        await self.task


async def _open(kind: str, urls: dict[str, str], compression: bool) -> Conn:
    if kind == "websockets":
        return await WebsocketsConn.open(urls["deflate" if compression else "echo"], compression)
    if kind == "picows":
        return await PicowsConn.open(urls["echo"], False)
    if kind == "picows-loop":
        return await PicowsConn.open(urls["echo"], True)
    raise ValueError(kind)


async def _open_station(
    kind: str, url: str, on_frame: Callable[[str], Awaitable[None]], compression: bool = False
) -> StationConn:
    conn = StationConn(kind.removeprefix("station-"), url, on_frame, compression)
    async with asyncio.timeout(WAIT):
        await conn.opened.wait()
    return conn


async def _latency(kind: str, urls: dict[str, str]) -> dict[str, Any]:
    times: list[float] = []
    clock = time.perf_counter
    if kind.startswith("station-"):
        loop = asyncio.get_running_loop()
        box: list[asyncio.Future[None]] = []

        async def answered(frame: str) -> None:
            box[0].set_result(None)

        conn: Conn = await _open_station(kind, urls["echo"], answered)
        for i in range(LATENCY_WARMUP + LATENCY_ROUNDS):
            box[:] = [loop.create_future()]
            start = clock()
            await conn.send(FRAME)
            await box[0]
            if i >= LATENCY_WARMUP:
                times.append(clock() - start)
    else:
        conn = await _open(kind, urls, False)
        for i in range(LATENCY_WARMUP + LATENCY_ROUNDS):
            start = clock()
            await conn.send(FRAME)
            await conn.recv()
            if i >= LATENCY_WARMUP:
                times.append(clock() - start)
    await conn.close()
    return {"p50_us": statistics.median(times) * 1e6, "p99_us": _percentile(times, 0.99) * 1e6}


async def _throughput(kind: str, urls: dict[str, str]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    counted = [0]
    running = [True]
    conns: list[Conn] = []
    tasks: list[asyncio.Task[None]] = []
    if kind.startswith("station-"):
        for _ in range(THROUGHPUT_CONNECTIONS):
            holder: list[Conn] = []

            def make_answer(holder: list[Conn] = holder) -> Callable[[str], Awaitable[None]]:
                async def answer(frame: str) -> None:
                    counted[0] += 1
                    if running[0]:
                        await holder[0].send(frame)

                return answer

            station_conn = await _open_station(kind, urls["echo"], make_answer())
            holder.append(station_conn)
            conns.append(station_conn)
        for conn in conns:
            await conn.send(FRAME)
    else:
        for _ in range(THROUGHPUT_CONNECTIONS):
            conns.append(await _open(kind, urls, False))

        async def pump(conn: Conn) -> None:
            while running[0]:
                await conn.send(FRAME)
                await conn.recv()
                counted[0] += 1

        tasks = [loop.create_task(pump(conn)) for conn in conns]
    await asyncio.sleep(THROUGHPUT_WARMUP)
    windows: list[tuple[float, float]] = []  # (CPU µs per echo, echoes per second)
    for _ in range(THROUGHPUT_WINDOWS):
        count0, cpu0, wall0 = counted[0], time.process_time(), time.perf_counter()
        await asyncio.sleep(THROUGHPUT_WINDOW)
        count1, cpu1, wall1 = counted[0], time.process_time(), time.perf_counter()
        echoes = count1 - count0
        windows.append(((cpu1 - cpu0) / echoes * 1e6, echoes / (wall1 - wall0)))
    running[0] = False
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*tasks)
        await asyncio.sleep(0.05)  # the last echoes in flight come back
        for conn in conns:
            await conn.close()
    cpu, rate = sorted(windows)[len(windows) // 2]
    return {"msgs_per_s": rate, "cpu_us_per_msg": cpu}


async def _memory(kind: str, urls: dict[str, str], compression: bool) -> dict[str, Any]:
    async def one() -> Conn:
        if kind.startswith("station-"):
            url = urls["deflate"]  # the same server as the bare websockets figures
            got: asyncio.Queue[str] = asyncio.Queue()
            conn: Conn = await _open_station(kind, url, got.put, compression)
            await conn.send(FRAME)
            async with asyncio.timeout(WAIT):
                await got.get()
            return conn
        conn = await _open(kind, urls, compression)
        await conn.send(FRAME)
        async with asyncio.timeout(WAIT):
            await conn.recv()
        return conn

    first = await one()  # loads what the first connection loads lazily
    gc.collect()
    before = _rss()
    conns: list[Conn] = []
    for _ in range(MEMORY_CONNECTIONS // CONNECT_BATCH):
        conns += await asyncio.gather(*(one() for _ in range(CONNECT_BATCH)))
    await asyncio.sleep(0.2)
    gc.collect()
    after = _rss()
    for conn in [first, *conns]:
        await conn.close()
    return {"bytes_per_conn": (after - before) / len(conns)}


async def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    urls = spec["urls"]
    test = spec["test"]
    if test == "latency":
        return await _latency(spec["kind"], urls)
    if test == "throughput":
        return await _throughput(spec["kind"], urls)
    return await _memory(spec["kind"], urls, spec.get("compression", False))


def _run_worker(spec: dict[str, Any]) -> None:
    raise_file_limit()
    if spec["loop"] == "uvloop":
        import uvloop

        result = uvloop.run(_worker(spec))
    else:
        result = asyncio.run(_worker(spec))
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------ orchestra


def _machine() -> str:
    from importlib.metadata import version

    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    libraries = ", ".join(f"{n} {version(n)}" for n in ("websockets", "picows", "uvloop"))
    load = os.getloadavg()[0]
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {libraries};"
        f" load average {load:.2f} at start"
    )


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec['kind']}/{spec['test']} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    raise_file_limit()
    server = subprocess.Popen(
        [sys.executable, __file__, "--server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        echo_port, deflate_port = server.stdout.readline().split()
        urls = {
            "echo": f"ws://127.0.0.1:{echo_port}/ocpp/CP-1",
            "deflate": f"ws://127.0.0.1:{deflate_port}/ocpp/CP-1",
        }
        print(_machine())
        print(f"loopback echo, {len(FRAME)}-byte text frame; server: picows on uvloop, own process")
        print(
            f"1 connection: round trip p50/p99; {THROUGHPUT_CONNECTIONS} connections: echoes/s and"
            " client CPU per echo (one frame out, one in)"
        )
        print(f"{'client':<26}{'loop':<9}{'p50 µs':>8}{'p99 µs':>8}{'msg/s':>9}{'CPU µs/msg':>12}")
        echo: dict[tuple[str, str], dict[str, float]] = {}
        for kind, label in CLIENTS.items():
            for loop in LOOPS:
                base = {"kind": kind, "loop": loop, "urls": urls}
                row = _measure({**base, "test": "latency"})
                row |= _measure({**base, "test": "throughput"})
                echo[kind, loop] = row
                print(
                    f"{label:<26}{loop:<9}{row['p50_us']:>8.0f}{row['p99_us']:>8.0f}"
                    f"{row['msgs_per_s']:>9.0f}{row['cpu_us_per_msg']:>12.1f}"
                )
        print("\nratios from this run, picows over websockets:")
        for pair, (fast, slow) in {
            "bare": ("picows-loop", "websockets"),
            "station": ("station-picows", "station-websockets"),
        }.items():
            for loop in LOOPS:
                f, w = echo[fast, loop], echo[slow, loop]
                cpu = w["cpu_us_per_msg"] / f["cpu_us_per_msg"]
                rate = f["msgs_per_s"] / w["msgs_per_s"]
                p50 = w["p50_us"] / f["p50_us"]
                print(
                    f"  {pair:<8}{loop:<8} CPU per message {cpu:.2f}x less,"
                    f" messages/s {rate:.2f}x, p50 {p50:.2f}x lower"
                )
        best = echo["station-picows", "uvloop"]["cpu_us_per_msg"]
        plain = echo["station-websockets", "asyncio"]["cpu_us_per_msg"]
        print(
            f"  PicowsStationClient/uvloop vs StationClient/asyncio: CPU {plain / best:.2f}x less"
        )
        for loop in LOOPS:
            aiofastnet = echo["picows", loop]["cpu_us_per_msg"]
            own = echo["picows-loop", loop]["cpu_us_per_msg"]
            print(f"  picows, aiofastnet vs loop transports, {loop}: CPU {aiofastnet / own:.2f}x")

        print(f"\nmemory: RSS growth per client connection, {MEMORY_CONNECTIONS} connections idle")
        print("after one echo each, uvloop (server: websockets offering permessage-deflate)")
        memory_rows = [
            ("websockets", False, "websockets"),
            ("websockets", True, "websockets, permessage-deflate"),
            ("picows", False, "picows (defaults: aiofastnet, 16 KiB buffer)"),
            ("picows-loop", False, "picows (loop transports, 2 KiB buffer)"),
            ("station-websockets", False, "StationClient"),
            ("station-websockets", True, "StationClient, permessage-deflate"),
            ("station-picows", False, "PicowsStationClient"),
        ]
        memory: dict[str, float] = {}
        for kind, compression, label in memory_rows:
            spec = {
                "kind": kind,
                "loop": "uvloop",
                "urls": urls,
                "test": "memory",
                "compression": compression,
            }
            size = _measure(spec)["bytes_per_conn"]
            memory[label] = size
            print(f"  {label:<48}{size / 1024:>7.1f} KiB")
        print("  (picows has no permessage-deflate)")
        deflate = memory["StationClient, permessage-deflate"] / memory["StationClient"]
        ours = memory["PicowsStationClient"] / memory["StationClient"]
        print(f"  vs StationClient: with deflate {deflate:.2f}x, PicowsStationClient {ours:.2f}x")
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--server"]:
        raise_file_limit()
        import uvloop

        uvloop.run(_serve())
    elif sys.argv[1:2] == ["--worker"]:
        _run_worker(json.loads(sys.argv[2]))
    else:
        for needed in ("picows", "uvloop"):
            if importlib.util.find_spec(needed) is None:
                sys.exit(f"bench_transport needs {needed}; `pip install -e .` installs it")
        started = time.perf_counter()
        main()
        print(f"\n({time.perf_counter() - started:.0f} s)")
