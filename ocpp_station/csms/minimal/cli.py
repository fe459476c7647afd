"""`ocpp-station csms-minimal` (also `python -m ocpp_station.csms.minimal`): the load-test
central system, with the flag names of `ocpp-station csms`.

    ocpp-station csms-minimal --listen 127.0.0.1:0 --api 127.0.0.1:0 \\
        [--heartbeat-interval N] [--boot accept] [--transport auto] [--loop auto]

Stations connect to ws://HOST:PORT/<identity> with the ocpp1.6 subprotocol. Every CALL gets a
fixed, schema-valid answer (server.py) and is counted; the transaction ledger (ledger.py) and
the API (api.py) show what arrived. On start it prints `csms: ws://HOST:PORT` and
`api: http://HOST:PORT`, one per line, and runs until SIGINT or SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from ocpp_station.argtypes import format_address, positive_int
from ocpp_station.csms.cli import BOOT_POLICIES, add_addresses, add_boot_answer
from ocpp_station.csms.minimal.api import MinimalApi
from ocpp_station.csms.minimal.server import MinimalCentralSystem, MinimalServer
from ocpp_station.transport.select import LOOPS, TRANSPORTS, loop_factory, resolve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ocpp-station csms-minimal`: those of `ocpp-station csms` that a canned
    central system has, and the WebSocket library and event loop it runs on."""
    add_addresses(parser)
    add_boot_answer(parser)
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        metavar="N",
        help="stations served at once; one more is answered HTTP 503 (default: what the "
        "open-file limit allows, less room for a burst of connections)",
    )
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="auto",
        help="the WebSocket server (default auto: picows where installed, else websockets)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="the event loop (default auto: uvloop where installed, else asyncio)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ocpp_station.csms.minimal",
        description="A minimal OCPP 1.6J central system for load tests.",
    )
    add_arguments(parser)
    return parser


# A listening address in use is a bad argument: exit 2, as for every command.
USAGE = 2


def _fail(message: str, code: int = 1) -> int:
    print(f"ocpp-station csms-minimal: {message}", file=sys.stderr, flush=True)
    return code


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given); 1 when it cannot
    start, with a one-line reason on stderr."""
    core = MinimalCentralSystem(
        boot_status=BOOT_POLICIES[args.boot], heartbeat_interval=args.heartbeat_interval
    )
    try:
        server = MinimalServer(core, resolve(args.transport), args.max_connections)
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
            return _fail(
                f"cannot listen on {format_address(args.listen)}: {exc.strerror or exc}", USAGE
            )
        try:
            await api.start(*args.api)
        except OSError as exc:
            return _fail(
                f"cannot serve the API on {format_address(args.api)}: {exc.strerror or exc}",
                USAGE,
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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ocpp_station.csms.minimal`: the log as `ocpp-station csms-minimal` has it."""
    from ocpp_station.cli import configure_logging  # the command line imports this module

    args = build_parser().parse_args(argv)
    configure_logging("INFO")
    return start(args)


def start(args: argparse.Namespace) -> int:
    """Run with parsed arguments on the event loop they ask for."""
    try:
        factory = loop_factory(args.loop)
    except ValueError as exc:
        return _fail(str(exc))
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run(args))
