"""A minimal central system for load tests: canned answers, a ledger, a small HTTP API.

    python -m ocpp_station.csms.minimal --listen 127.0.0.1:0 --api 127.0.0.1:0 \\
        [--heartbeat-interval N] [--boot-status Accepted] [--transport auto] [--loop auto]

Stations connect to ws://HOST:PORT/<identity> with the ocpp1.6 subprotocol. Every CALL gets a
fixed, schema-valid answer (minimal_server.py) and is counted; the transaction ledger
(minimal_ledger.py) and the API (minimal_api.py) show what arrived. On start it prints
`csms: ws://HOST:PORT` and `api: http://HOST:PORT`, one per line, and runs until SIGINT or
SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys
from collections.abc import Callable, Sequence

from ocpp_station.argtypes import format_address
from ocpp_station.csms.cli import add_addresses, interval_seconds
from ocpp_station.csms.minimal_api import MinimalApi
from ocpp_station.csms.minimal_ledger import Ledger, StationLedger
from ocpp_station.csms.minimal_server import (
    BOOT_STATUSES,
    TRANSPORTS,
    MinimalCentralSystem,
    MinimalServer,
    default_transport,
)

__all__ = [
    "Ledger",
    "MinimalApi",
    "MinimalCentralSystem",
    "MinimalServer",
    "StationLedger",
    "build_parser",
    "main",
    "run",
]

LOOPS = ("auto", "asyncio", "uvloop")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ocpp_station.csms.minimal",
        description="A minimal OCPP 1.6J central system for load tests.",
    )
    add_addresses(parser)
    parser.add_argument(
        "--heartbeat-interval",
        type=interval_seconds,
        default=20,
        metavar="N",
        help="seconds, sent in BootNotification.conf (default 20)",
    )
    parser.add_argument(
        "--boot-status",
        choices=BOOT_STATUSES,
        default="Accepted",
        help="the status of every BootNotification.conf (default Accepted)",
    )
    parser.add_argument(
        "--transport",
        choices=("auto", *TRANSPORTS),
        default="auto",
        help="the WebSocket server (default auto: picows where installed, else websockets)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="the event loop (default auto: uvloop where installed, else asyncio)",
    )
    return parser


def _fail(message: str) -> int:
    print(f"ocpp-station minimal csms: {message}", file=sys.stderr, flush=True)
    return 1


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given); 1 when it cannot
    start, with a one-line reason on stderr."""
    core = MinimalCentralSystem(
        boot_status=args.boot_status, heartbeat_interval=args.heartbeat_interval
    )
    transport = default_transport() if args.transport == "auto" else args.transport
    try:
        server = MinimalServer(core, transport)
    except ValueError as exc:
        return _fail(str(exc))
    api = MinimalApi(server)
    loop = asyncio.get_running_loop()
    watched: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
            watched.append(signum)
    try:
        try:
            await server.start(*args.listen)
        except OSError as exc:
            return _fail(f"cannot listen on {format_address(args.listen)}: {exc.strerror or exc}")
        try:
            await api.start(*args.api)
        except OSError as exc:
            return _fail(
                f"cannot serve the API on {format_address(args.api)}: {exc.strerror or exc}"
            )
        print(f"csms: {server.url}", flush=True)
        print(f"api: {api.url}", flush=True)
        await stop.wait()
        return 0
    finally:
        for signum in watched:
            loop.remove_signal_handler(signum)
        await api.stop()
        await server.stop()


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ValueError("the uvloop event loop needs the uvloop package") from None
        return None
    return uvloop.new_event_loop


def _raise_file_limit() -> None:
    # Every station is a socket: lift the soft limit on open files to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # a limit we may not raise stays as it is


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        loop_factory = _loop_factory(args.loop)
    except ValueError as exc:
        return _fail(str(exc))
    _raise_file_limit()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
