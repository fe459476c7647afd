"""`ocpp-station fleet`: N stations in one process, their drivers, a control API and a live
summary line on the console."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from ocpp_station.argtypes import (
    UsageError,
    add_control_token_argument,
    add_tls_arguments,
    check_tls_arguments,
    format_address,
    host_port,
    ip_address,
    positive_number,
    whole_number,
)
from ocpp_station.control.gate import Gate
from ocpp_station.file_limit import FileLimitError
from ocpp_station.fleet import layout
from ocpp_station.fleet.api import FleetApi
from ocpp_station.fleet.fleet import (
    DEFAULT_CONTROL_PORT,
    DEFAULT_PREFIX,
    SPREADS,
    Fleet,
    FleetOptions,
    SourceAddressError,
)
from ocpp_station.fleet.scenario import Scenario, ScenarioError, load_scenario
from ocpp_station.fleet.sharded_api import add_up
from ocpp_station.httpserver import HttpServer
from ocpp_station.runtime import StationOptions
from ocpp_station.storage.fleet import FleetDatabase, FleetStorageError
from ocpp_station.storage.folder_lock import FolderInUse, lock_folder
from ocpp_station.transport.select import LOOPS, TRANSPORTS, resolve

MAX_STATIONS = 100_000
# Per-station log lines (connected, online, ...) times ten thousand drown the summary line.
STATION_LOGGERS = ("ocpp_station.runtime", "ocpp_station.transport", "ocpp_station.station")


def quiet_stations() -> None:
    """Below DEBUG, the stations' own loggers say only warnings and errors."""
    if logging.getLogger().level >= logging.INFO:
        for name in STATION_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _count(text: str) -> int:
    value = whole_number(text)
    if not 1 <= value <= MAX_STATIONS:
        raise argparse.ArgumentTypeError(f"the count must be 1 to {MAX_STATIONS}")
    return value


def add_arguments(
    parser: argparse.ArgumentParser,
    csms_url: Callable[[str], str],
    connectors: Callable[[str], int],
) -> None:
    """The options of `ocpp-station fleet`; `csms_url` and `connectors` are the argument types
    `run` uses, so both commands accept the same values."""
    parser.add_argument(
        "--csms", type=csms_url, required=True, action="append",
        help="central system base URL (ws:// or wss://); repeat it to spread the stations over "
        "several central systems (--spread)",
    )  # fmt: skip
    parser.add_argument(
        "--spread", choices=SPREADS, default="round-robin",
        help="with several --csms: by station number in turn (round-robin, the default), or by "
        "a hash of the identity (identity: the same central system on every machine and shard)",
    )  # fmt: skip
    parser.add_argument(
        "--source-address", action="append", default=[], metavar="ADDRESS", type=ip_address,
        help="a local address the connections leave from, repeatable: the stations take them in "
        "turn (one address has about 64,000 ports towards one central system)",
    )  # fmt: skip
    parser.add_argument("--count", type=_count, required=True, help="number of stations")
    parser.add_argument(
        "--id-prefix",
        default=DEFAULT_PREFIX,
        help=f"identities PREFIX1 .. PREFIXN (default {DEFAULT_PREFIX}: not run's CP-1)",
    )
    parser.add_argument(
        "--first", type=int, default=1, help="number of the first station (to split a fleet "
        "across machines: --first 5001 on the second of two 5000-station halves)",
    )  # fmt: skip
    parser.add_argument("--connectors", type=connectors, default=2)
    parser.add_argument("--scenario", type=Path, help="scenario file (TOML); default: the "
                        "reference profile, see ocpp_station/fleet/scenario.py")  # fmt: skip
    parser.add_argument(
        "--state-dir", type=Path, help="keep every station's state in DIR/fleet.db "
        "(default: memory only, nothing survives the process)",
    )  # fmt: skip
    parser.add_argument(
        "--control", type=host_port, default=("127.0.0.1", DEFAULT_CONTROL_PORT),
        help=f"HOST:PORT of the fleet's HTTP control API (default 127.0.0.1:"
        f"{DEFAULT_CONTROL_PORT}, beside run's 8180; port 0: a free port)",
    )  # fmt: skip
    add_control_token_argument(parser)
    parser.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS",
        help="shard the fleet over Ray actors (the optional extra 'ocpp-station[ray]'): on the "
        "cluster at ADDRESS, or on a Ray started here without one",
    )  # fmt: skip
    parser.add_argument(
        "--shards", type=_count, metavar="N",
        help="with --ray: the number of shards (default: one per CPU of the cluster)",
    )  # fmt: skip
    parser.add_argument(
        "--ramp-up", type=positive_number, default=200.0, metavar="PER_SECOND",
        help="stations started per second (default 200)",
    )  # fmt: skip
    parser.add_argument(
        "--no-autopilot", action="store_true",
        help="no automatic sessions: stations only boot, report and wait for the control API",
    )  # fmt: skip
    parser.add_argument(
        "--summary-every", type=positive_number, default=5.0, metavar="SECONDS",
        help="seconds between the console's summary lines (default 5)",
    )  # fmt: skip
    parser.add_argument("--socket", action="store_true", help="socket outlets, not fixed cables")
    add_tls_arguments(parser)
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default="auto",
        help="WebSocket library: picows where installed (auto; half the CPU per frame), or "
        "websockets",
    )  # fmt: skip
    parser.add_argument(
        "--loop", choices=LOOPS, default="auto",
        help="event loop: uvloop where installed (auto), or the standard one",
    )  # fmt: skip


def options_from(args: argparse.Namespace) -> FleetOptions:
    if not args.id_prefix or any(ch.isspace() for ch in args.id_prefix):
        raise UsageError(f"--id-prefix must be non-empty without spaces, got {args.id_prefix!r}")
    if args.first < 0:
        raise UsageError("--first must not be negative")
    check_tls_arguments(args)
    if len(f"{args.id_prefix}{args.first + args.count - 1}") > 48:
        raise UsageError("--id-prefix and station number must fit 48 characters")
    try:
        transport = resolve(args.transport)
    except ValueError as exc:
        raise UsageError(f"--transport: {exc}") from None
    try:
        scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    except ScenarioError as exc:
        raise UsageError(f"--scenario: {exc}") from None
    first_csms, *more_csms = args.csms
    return FleetOptions(
        csms_url=first_csms,
        more_csms=tuple(more_csms),
        spread=args.spread,
        source_addresses=tuple(args.source_address),
        count=args.count,
        id_prefix=args.id_prefix,
        first=args.first,
        connectors=args.connectors,
        scenario=scenario,
        # Absolute: a shard on another node of a cluster runs in a folder of its own.
        state_dir=args.state_dir.resolve() if args.state_dir else None,
        ramp_up=args.ramp_up,
        autopilot=not args.no_autopilot,
        station=StationOptions(
            fixed_cable=not args.socket,
            transport=transport,
            ca_pem=args.ca,
            cert_pem=args.cert,
            key_pem=args.key,
        ),
    )


def summary_line(s: dict[str, Any]) -> str:
    """The console's line of a fleet's summary (Fleet.summary, or the shards' added up: with
    every shard down only their count is known, and the figures are 0)."""
    rate = s.get("messagesPerSecond", {})
    process = s.get("process", {})
    line = (
        f"fleet: {s.get('connected', 0)}/{s['stations']} connected, "
        f"{s.get('registration', {}).get('Accepted', 0)} accepted, {s.get('sessions', 0)} "
        f"sessions ({s.get('sessionsRejected', 0)} rejected, {s.get('sessionsFailed', 0)} "
        f"failed), {rate.get('in', 0):.0f} in/s {rate.get('out', 0):.0f} out/s, "
        f"queued {s.get('queuedMessages', 0)}, errors {sum(s.get('errors', {}).values())}, "
        f"cpu {process.get('cpuSeconds', 0):.0f} s, rss {process.get('rssBytes', 0) / 1e6:.0f} MB"
    )
    if s.get("shardsDown"):
        line += f"; {s['shardsDown']} of {len(s['shards'])} shards not answering"
    return line


async def _report(summary: Callable[[], Awaitable[dict[str, Any]]], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # a shard that does not answer: the next line
            print(summary_line(await summary()), flush=True)


async def _serve(api: HttpServer, args: argparse.Namespace, gate: Gate) -> None:
    try:
        await api.start(*args.control)
    except OSError as exc:
        reason = exc.strerror or exc
        where = format_address(args.control)
        raise UsageError(f"cannot serve --control {where}: {reason}") from None
    print(f"control: {api.url}", flush=True)
    gate.announce()


def fleet_layout(options: FleetOptions, shards: int) -> layout.FleetLayout:
    return layout.FleetLayout(options.id_prefix, options.first, options.count, shards)


def claim_state_dir(options: FleetOptions, shards: int) -> IO[str] | None:
    """The fleet's state folder for this process alone (the lock, held while the returned
    file is open), and checked to hold no stations this fleet would miss (layout.py; the
    caller records the layout once the fleet has started)."""
    folder = options.state_dir
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = lock_folder(folder)
    except FolderInUse as exc:
        raise UsageError(f"--state-dir {folder}: {exc}; stop it, or give another folder") from None
    except OSError as exc:
        raise UsageError(f"--state-dir {folder}: {exc.strerror or exc}") from None
    try:
        layout.check(folder, fleet_layout(options, shards))
    except (layout.LayoutError, OSError) as exc:
        if lock is not None:
            lock.close()
        raise UsageError(f"--state-dir: {exc}") from None
    return lock


def record_layout(options: FleetOptions, shards: int) -> None:
    if options.state_dir is not None:
        layout.record(options.state_dir, fleet_layout(options, shards))


async def main_on_ray(args: argparse.Namespace, options: FleetOptions, gate: Gate) -> int:
    """`--ray`: the fleet in shards on Ray actors, one view of them here."""
    try:
        from ocpp_station.fleet.shards import RayFleet
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'ocpp-station[ray]'") from None
    if args.shards is not None and args.shards > options.count:
        raise UsageError(f"--shards {args.shards} is more than the {options.count} stations")
    head = RayFleet(
        options,
        shards=args.shards,
        address=args.ray or None,
        log_level=logging.getLevelName(logging.getLogger().level),
        loop=args.loop,
    )
    lock = None
    try:
        # The shards' folders are DIR/shard-K: the split is known once Ray is there.
        shards = min(head.connect(), options.count)
        lock = claim_state_dir(options, shards)
        try:
            await head.start()
        except (FileLimitError, SourceAddressError) as exc:
            # Raised in a shard: Ray's error carries the shard's own as its cause.
            raise UsageError(f"a shard: {getattr(exc, 'cause', exc)}") from None
        record_layout(options, shards)
        api = head.api(gate)
        await _serve(api, args, gate)
        reporter = asyncio.ensure_future(_report(api.whole, args.summary_every))
        try:
            await asyncio.Event().wait()  # until SIGINT/SIGTERM
        finally:
            reporter.cancel()
            await api.stop()
    finally:
        await head.stop()
        if lock is not None:
            lock.close()
        if head.last:
            total: dict[str, Any] = {}
            for part in head.last:
                add_up(total, part)
            print(summary_line(total), flush=True)
    return 0


async def main(args: argparse.Namespace) -> int:
    """Run the fleet until cancelled (SIGINT/SIGTERM: every station shuts down as SIGTERM
    does for one). Raises UsageError for bad arguments."""
    options = options_from(args)
    quiet_stations()
    gate = Gate.for_address(args.control[0], args.control_token)
    if args.ray is not None:
        return await main_on_ray(args, options, gate)
    with contextlib.ExitStack() as held:  # closed last to first: the store, then the lock
        lock = claim_state_dir(options, 0)
        if lock is not None:
            held.callback(lock.close)
        database = None
        if options.state_dir is not None:
            try:
                database = FleetDatabase(options.state_dir / "fleet.db")
            except FleetStorageError as exc:
                raise UsageError(f"--state-dir: {exc}") from None
            held.callback(database.close)
        try:
            fleet = Fleet(options, store_for=database.station if database is not None else None)
        except (FileLimitError, SourceAddressError) as exc:
            raise UsageError(str(exc)) from None
        record_layout(options, 0)
        api = FleetApi(fleet, gate)

        async def summary() -> dict[str, Any]:
            return fleet.summary()

        try:
            await _serve(api, args, gate)
            reporter = asyncio.ensure_future(_report(summary, args.summary_every))
            try:
                await fleet.run()
            finally:
                reporter.cancel()
                print(summary_line(fleet.summary()), flush=True)
        finally:
            await api.stop()
    return 0
