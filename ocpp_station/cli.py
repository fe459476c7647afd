"""Command line: `ocpp-station run` (one station), `ocpp-station csms` (the central system),
`csms-minimal` (the load-test central system), `fleet` (many stations) and `conformance` (the
test tool)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ocpp_station import __version__
from ocpp_station.argtypes import (
    AC_DEFAULT,
    UsageError,
    ac_supply,
    add_control_token_argument,
    add_ev_arguments,
    add_tls_arguments,
    host_port,
    whole_number,
)
from ocpp_station.conformance import cli as conformance_cli
from ocpp_station.csms import cli as csms_cli
from ocpp_station.csms.minimal import cli as minimal_cli
from ocpp_station.fleet import cli as fleet_cli
from ocpp_station.station_logs import StationFilter
from ocpp_station.transport.select import TRANSPORTS, loop_factory


class _Parser(argparse.ArgumentParser):
    """Bad arguments: exit 2 with a one-line reason (interface contract)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ocpp-station: {message}\n")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _connectors(text: str) -> int:
    number = whole_number(text)
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("the number of connectors must be 1 to 64")
    return number


def _csms_url(text: str) -> str:
    if not text.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(
            f"the central system URL must be ws:// or wss://: {text!r}"
        )
    try:
        parts = urlsplit(text.replace("{id}", "id"))
        _ = parts.port  # raises on a port out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad central system URL {text!r}: {exc}") from None
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"the central system URL has no host: {text!r}")
    return text


def _default_state_dir(identity: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ocpp-station" / identity.replace("/", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ocpp-station", description="An OCPP 1.6J charging station.")
    parser.add_argument("--version", action="version", version=f"ocpp-station {__version__}")
    _log_options(parser, default="INFO")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one charging station until SIGINT/SIGTERM")
    run.add_argument("--csms", type=_csms_url, help="central system base URL (ws:// or wss://)")
    run.add_argument("--id", default="CP-1", help="charge box identity")
    run.add_argument("--state-dir", type=Path, help="persistent state folder")
    run.add_argument(
        "--reset",
        action="store_true",
        help="forget what the state folder holds (configuration, transactions, queued messages, "
        "certificates) and start as from the factory",
    )
    run.add_argument(
        "--control",
        type=host_port,
        default=("127.0.0.1", 8180),
        help="HOST:PORT of the HTTP control API (port 0: a free port)",
    )
    add_control_token_argument(run)
    run.add_argument(
        "--config",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an OCPP configuration key at start",
    )
    run.add_argument("--connectors", type=_connectors, default=2)
    run.add_argument("--password", help="HTTP Basic authentication password (security profile 1)")
    add_tls_arguments(run)
    run.add_argument("--vendor")
    run.add_argument("--model")
    run.add_argument("--serial")
    run.add_argument("--firmware")
    run.add_argument(
        "--socket", action="store_true", help="socket outlets with a lock instead of fixed cables"
    )
    run.add_argument(
        "--ac",
        nargs="?",
        const=ac_supply(AC_DEFAULT),
        type=ac_supply,
        metavar="PHASESxAMPS[@VOLTS]",
        help=f"simulate an AC charger instead of the DC one (default {AC_DEFAULT} at 230 V)",
    )
    add_ev_arguments(run)
    run.add_argument("--seed", type=int, help="seed of the simulator's randomness")
    run.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="websockets",
        help="WebSocket library of the connection (picows: less CPU, no compression)",
    )
    run.add_argument(
        "--hardware",
        metavar="MODULE:FACTORY",
        help="real hardware drivers: FACTORY(clock, connectors) returns a Hardware",
    )
    run.add_argument(
        "--datatransfer",
        metavar="MODULE:FACTORY",
        action="append",
        default=[],
        help="DataTransfer handlers (repeatable): FACTORY(hardware) returns {vendorId: "
        "handler(messageId, data) -> (status, data)}; e.g. "
        "ocpp_station.hardware.vendor_echo:handlers",
    )

    csms_cli.add_arguments(sub.add_parser("csms", help="run the central system alone"))
    minimal_cli.add_arguments(
        sub.add_parser(
            "csms-minimal",
            help="run the load-test central system (canned answers, a ledger, an HTTP API)",
        )
    )
    conformance_cli.add_arguments(
        sub.add_parser(
            "conformance", help="run the OCTT-style charge-point test cases and write a report"
        )
    )
    fleet_cli.add_arguments(
        sub.add_parser("fleet", help="run many stations in one process"), _csms_url, _connectors
    )
    for command in sub.choices.values():
        # Before or after the subcommand alike: `ocpp-station run -v` as `ocpp-station -v run`.
        _log_options(command, default=argparse.SUPPRESS)
    return parser


LOG_LEVELS = ("DEBUG", "INFO", "WARNING")


def _log_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level", default=default, choices=LOG_LEVELS, help="what the log shows (INFO)"
    )
    parser.add_argument(
        "-v",
        dest="log_level",
        action="store_const",
        const="DEBUG",
        default=default,
        help="the same as --log-level DEBUG",
    )


class _LineFormatter(logging.Formatter):
    def __init__(self, fmt: str, datefmt: str) -> None:
        super().__init__(fmt, datefmt)
        self.converter = time.gmtime  # UTC, as the OCPP frames are

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "station"):
            record.station = ""  # a record no StationFilter saw
        return super().format(record)


def utc_formatter() -> logging.Formatter:
    """Log lines stamped in UTC, as the OCPP frames are (2026-12-06T05:00:29.428Z), naming the
    station whose work wrote them (StationFilter)."""
    return _LineFormatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(station)s%(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )


def configure_logging(level: str) -> None:
    """Log lines on stderr, stamped in UTC, at `level` (a logging level's name)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(utc_formatter())
    handler.addFilter(StationFilter())  # "[CP-7] ": which station of a fleet wrote the line
    logging.basicConfig(level=getattr(logging, level), handlers=[handler])
    # The WebSocket libraries' own connection chatter (a line per connection accepted, for
    # picows) repeats what our log lines already say.
    for library in ("websockets", "picows"):
        logging.getLogger(library).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    if args.command == "conformance":
        return conformance_cli.run(args)
    if args.command == "fleet":
        try:
            factory = loop_factory(args.loop)
        except ValueError as exc:
            parser.error(f"--loop: {exc}")
        try:
            return _run_until_signal(fleet_cli.main(args), factory)
        except UsageError as exc:
            parser.error(str(exc))
    if args.command == "csms":
        return _run_until_signal(csms_cli.main(args))
    if args.command == "csms-minimal":
        return minimal_cli.start(args)
    from ocpp_station.app import StartupError, StationApp

    if not args.id or len(args.id) > 48 or any(ch.isspace() for ch in args.id):
        parser.error(f"--id must be 1 to 48 characters without spaces, got {args.id!r}")
    try:
        app = StationApp.from_args(args, _default_state_dir(args.id))
    except StartupError as exc:
        parser.error(str(exc))
    return _run_until_signal(app.run())


def _run_until_signal(
    coro: Coroutine[Any, Any, Any],
    loop: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> int:
    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(coro)

        def on_signal() -> None:
            # Only the first signal counts: the shutdown it starts is bounded by its grace time,
            # and a second one would cut it short and leave the last StopTransactions queued.
            # Signals often come twice: sent to the process and then to its process group
            # (coreutils timeout, some service managers).
            if task.cancelling():
                logging.getLogger("ocpp_station").info("already shutting down")
            else:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            result = await task
        except asyncio.CancelledError:
            return 0
        return result if isinstance(result, int) else 0

    try:
        with asyncio.Runner(loop_factory=loop) as run:
            return run.run(runner())
    except KeyboardInterrupt:
        return 0
    except UsageError:
        raise
    except Exception as exc:  # a fatal error: exit 1 with the reason
        logging.getLogger("ocpp_station").critical("fatal: %s", exc, exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
