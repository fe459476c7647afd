"""A fault-injecting proxy between charging stations and a central system: what a bad network
and a buggy central system do to a station, on purpose, at rates you choose.

    python -m ocpp_station.csms.faults --listen 127.0.0.1:9100 --upstream ws://127.0.0.1:9000 \\
        [--seed 1] [--rate drop=0.01,delay=0.05,...]

Stations connect to ws://HOST:PORT/<identity>; each connection is relayed to
`<upstream>/<identity>` (subprotocol ocpp1.6, the station's Authorization header passed on) and
every frame crosses the proxy, where, with the rate of each kind (a probability per frame):

- drop: a frame to the station is cut in the middle of its bytes and the TCP connection dies;
- reset: the connection is aborted (no close handshake), both ways;
- delay: a frame waits up to `max_delay` seconds, in either direction;
- duplicate: an answer of the central system reaches the station twice;
- stray: an answer to a message id the station never used is sent to the station;
- refuse: a transaction message of the station (StartTransaction, StopTransaction,
  MeterValues) is answered with a CALLERROR instead of reaching the central system; at most
  `refusals` times for the same message, so a station with enough TransactionMessageAttempts
  delivers it in the end;
- stall: the proxy stops reading the station for up to `max_delay` seconds (a slow reader);
- oversize: a frame larger than the station accepts (1 MiB) is sent to it.

What was injected is counted (`FaultProxy.counts`, and on the console every minute). Faults
must leave a correct station whole: nothing lost, everything delivered in the end.

A `Tamper` given to the proxy sees every message first and may rewrite, drop, answer or add
messages: a station (or central system) with a defect made to order, for testing what judges
them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ocpp_station.argtypes import format_address, host_port
from ocpp_station.rpc.ocppj import MAX_FRAME_SIZE, SUBPROTOCOL, identity_from_path

log = logging.getLogger("ocpp_station.csms.faults")

TRANSACTION_MESSAGES = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
KINDS = ("drop", "reset", "delay", "duplicate", "stray", "refuse", "stall", "oversize")
_TEXT_FRAME = 0x81  # FIN + text opcode


def _frame_head(length: int) -> bytes:
    """The header of an unmasked WebSocket text frame of `length` bytes (RFC 6455 §5.2)."""
    if length < 126:
        return bytes([_TEXT_FRAME, length])
    if length < 65536:
        return bytes([_TEXT_FRAME, 126]) + length.to_bytes(2, "big")
    return bytes([_TEXT_FRAME, 127]) + length.to_bytes(8, "big")


@dataclass(slots=True)
class FaultRates:
    """The probability of each fault per frame (0 = never)."""

    drop: float = 0.0
    reset: float = 0.0
    delay: float = 0.0
    duplicate: float = 0.0
    stray: float = 0.0
    refuse: float = 0.0
    stall: float = 0.0
    oversize: float = 0.0
    max_delay: float = 2.0
    refusals: int = 2

    @classmethod
    def parse(cls, text: str) -> FaultRates:
        """`drop=0.01,delay=0.05,...`; ValueError naming what is wrong."""
        rates = cls()
        names = {f.name for f in fields(cls)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in names:
                raise ValueError(f"{part!r}: expected NAME=VALUE, NAME one of {sorted(names)}")
            number = float(value)
            if name == "refusals":
                setattr(rates, name, int(number))
            elif name == "max_delay":
                setattr(rates, name, number)
            elif not 0.0 <= number <= 1.0:
                raise ValueError(f"{name}: a probability is 0 to 1, got {value}")
            else:
                setattr(rates, name, number)
        return rates


class Tamper(Protocol):
    """Rewrites the conversation on purpose. Each hook gets a parsed message (a list, as
    OCPP-J frames are) and returns what the relay passes on: the message, a rewritten one, or
    None for nothing (the hook may have answered it itself through the relay)."""

    async def upward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        """A message of the station on its way to the central system."""
        ...

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        """A message of the central system on its way to the station."""
        ...


class Relay:
    """One station's connection and its relay to the central system."""

    def __init__(self, proxy: FaultProxy, station: ServerConnection, csms: ClientConnection):
        self.proxy = proxy
        self.station = station
        self.csms = csms
        self.outstanding: set[str] = set()  # ids of the central system's CALLs in flight

    async def send_station(self, message: list[Any]) -> None:
        """A message to the station, as if the central system had sent it."""
        await self.station.send(orjson.dumps(message).decode())

    async def send_csms(self, message: list[Any]) -> None:
        """A message to the central system, as if the station had sent it."""
        await self.csms.send(orjson.dumps(message).decode())

    async def _tampered(self, frame: str, upward: bool) -> str | None:
        tamper = self.proxy.tamper
        if tamper is None:
            return frame
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return frame
        if not isinstance(parsed, list):
            return frame
        hook = tamper.upward if upward else tamper.downward
        result = await hook(self, parsed)
        return None if result is None else orjson.dumps(result).decode()

    def _cut(self) -> None:
        for side in (self.station, self.csms):
            transport = side.transport
            if transport is not None:
                transport.abort()

    async def to_station(self, frame: str) -> None:
        p = self.proxy
        tampered = await self._tampered(frame, upward=False)
        if tampered is None:
            return
        frame = tampered
        if p.happens("delay"):
            await asyncio.sleep(p.rng.uniform(0, p.rates.max_delay))
        if p.happens("drop"):
            # Half of a WebSocket text frame, then the line goes dead.
            data = frame.encode()
            transport = self.station.transport
            if transport is not None:
                transport.write(_frame_head(len(data)) + data[: len(data) // 2])
            self._cut()
            return
        if p.happens("oversize"):
            big = "x" * MAX_FRAME_SIZE
            await self.station.send(f'[2,"big","DataTransfer",{{"vendorId":"{big}"}}]')
        await self.station.send(frame)
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return
        if isinstance(parsed, list) and parsed and parsed[0] == 3:
            if p.happens("duplicate"):
                await self.station.send(frame)
            if p.happens("stray"):
                await self.station.send(orjson.dumps([3, f"stray-{p.rng.random()}", {}]).decode())

    async def to_csms(self, frame: str) -> None:
        p = self.proxy
        tampered = await self._tampered(frame, upward=True)
        if tampered is None:
            return
        frame = tampered
        if p.happens("stall") or p.happens("delay"):
            await asyncio.sleep(p.rng.uniform(0, p.rates.max_delay))
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            parsed = None
        if (
            isinstance(parsed, list)
            and len(parsed) == 4
            and parsed[0] == 2
            and parsed[2] in TRANSACTION_MESSAGES
        ):
            key = orjson.dumps([parsed[2], parsed[3]], option=orjson.OPT_SORT_KEYS)
            if p.refused[key] < p.rates.refusals and p.happens("refuse"):
                p.refused[key] += 1
                answer = [4, parsed[1], "InternalError", "refused by the fault proxy", {}]
                await self.station.send(orjson.dumps(answer).decode())
                return
        await self.csms.send(frame)

    async def pump(self, source: Any, sink: Any) -> None:
        try:
            async for frame in source:
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                if self.proxy.happens("reset"):
                    self._cut()
                    return
                await sink(text)
        except ConnectionClosed:
            pass

    async def run(self) -> None:
        upward = asyncio.ensure_future(self.pump(self.station, self.to_csms))
        downward = asyncio.ensure_future(self.pump(self.csms, self.to_station))
        try:
            await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)
            await self.csms.close()
            await self.station.close()


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        rates: FaultRates,
        *,
        seed: int = 0,
        tamper: Tamper | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.rates = rates
        self.tamper = tamper
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.refused: Counter[bytes] = Counter()
        self.enabled = True
        self._forced: Counter[str] = Counter()
        self._server: Server | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def force(self, kind: str) -> None:
        """Make the next chance of fault `kind` strike, whatever its rate."""
        if kind not in KINDS:
            raise ValueError(f"no fault named {kind!r}; there are {', '.join(KINDS)}")
        self._forced[kind] += 1

    def happens(self, kind: str) -> bool:
        """Whether the fault `kind` strikes now (and count it when it does)."""
        if not self.enabled:
            return False
        if self._forced[kind]:
            self._forced[kind] -= 1
        else:
            rate: float = getattr(self.rates, kind)
            if not (rate > 0 and self.rng.random() < rate):
                return False
        self.counts[kind] += 1
        return True

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await serve(
            self._relay,
            host,
            port,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
            ping_interval=None,
            max_size=None,  # the proxy passes on what the station sends; the CSMS judges it
        )
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, station: ServerConnection) -> None:
        request = station.request
        assert request is not None
        try:
            identity = identity_from_path(request.path)
        except ValueError:
            await station.close(1008, "no charge point identity")
            return
        headers = {}
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            csms = await connect(
                f"{self.upstream}/{request.path.rsplit('/', 1)[-1]}",
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                additional_headers=headers,
                compression=None,
                ping_interval=None,
                max_size=None,
                open_timeout=10,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            log.warning("%s: the central system cannot be reached: %s", identity, exc)
            await station.close(1011, "upstream unreachable")
            return
        self.counts["connections"] += 1
        await Relay(self, station, csms).run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ocpp_station.csms.faults",
        description="A fault-injecting proxy between charging stations and a central system.",
    )
    parser.add_argument("--listen", type=host_port, default=("127.0.0.1", 9100))
    parser.add_argument("--upstream", required=True, help="the central system's ws:// URL")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rate",
        type=FaultRates.parse,
        default=FaultRates(),
        help="NAME=PROBABILITY,... per frame: drop, reset, delay, duplicate, stray, refuse, "
        "stall, oversize; max_delay=SECONDS, refusals=N",
    )
    return parser


async def _main(args: argparse.Namespace) -> int:
    proxy = FaultProxy(args.upstream, args.rate, seed=args.seed)
    try:
        await proxy.start(*args.listen)
    except OSError as exc:
        print(f"faults: cannot listen on {format_address(args.listen)}: {exc}", file=sys.stderr)
        return 2  # an address in use is a bad argument, as for every command
    print(f"faults: {proxy.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 60)
        except TimeoutError:
            log.warning("injected so far: %s", dict(proxy.counts))
    print(f"faults: injected {dict(proxy.counts)}", flush=True)
    await proxy.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(_main(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
