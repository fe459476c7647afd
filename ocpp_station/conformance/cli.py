"""`ocpp-station conformance`: run the case library against a station and write the report.

Exit codes: 0 when no case failed (Pass and N/A only), 1 when a case failed or could not be
carried out, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from ocpp_station.argtypes import host_port, positive_number
from ocpp_station.conformance.case import HARDWARE_FEATURES, Case, Library, load_library
from ocpp_station.conformance.drivers import Console, ControlApiDriver, Driver, OperatorDriver
from ocpp_station.conformance.file_servers import PROTOCOLS
from ocpp_station.conformance.report import (
    partial_note,
    render_html,
    render_markdown,
    summary_markdown,
)
from ocpp_station.conformance.runner import ListenError, Runner
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.target import ExternalStation, OwnStation, Target
from ocpp_station.rpc.actions import PROFILES

OWN_LISTEN = ("127.0.0.1", 0)
EXTERNAL_LISTEN = ("127.0.0.1", 9000)
REPORT_SUFFIXES = (".md", ".json", ".html")
_DEFAULTS = Settings()


class UsageError(Exception):
    """Bad arguments: exit 2 with this reason."""


def name_seconds(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not sep or not name or not seconds >= 0:
        raise argparse.ArgumentTypeError(f"expected NAME=SECONDS, got {text!r}")
    return name, seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run OCTT-style charge-point test cases against a station and write a report shaped "
        "like a certificate's abstract."
    )
    parser.add_argument(
        "--station",
        choices=("own", "external"),
        default="own",
        help="own: the tool starts our station, a fresh one per case; external: wait for a "
        "station to connect to --listen (default: own)",
    )
    parser.add_argument(
        "--listen",
        type=host_port,
        metavar="HOST:PORT",
        help="the tool's central system (default 127.0.0.1:0 for own, 127.0.0.1:9000 for external)",
    )
    parser.add_argument(
        "--id",
        dest="station_id",
        metavar="IDENTITY",
        help="the charge point identity (external: the one expected, default the first to "
        "connect; own: default CP-1)",
    )
    parser.add_argument(
        "--control",
        metavar="URL",
        help="external: the station's control adapter speaking our HTTP control API; without "
        "it an operator is asked on the console",
    )
    parser.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="PATTERN",
        help="glob on case ids, e.g. 'TC_00[34]*'; repeatable (default: every case)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=PROFILES,
        metavar="NAME",
        help=f"only the cases of this profile; repeatable ({', '.join(PROFILES)})",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write PATH.md, PATH.json and PATH.html",
    )
    parser.add_argument(
        "--station-args",
        default="",
        metavar="ARGS",
        help='own: extra arguments for our station, e.g. --station-args="--socket"',
    )
    parser.add_argument(
        "--feature",
        action="append",
        choices=sorted(HARDWARE_FEATURES),
        metavar="NAME",
        help="external: a hardware feature the station has, added to those inferred from its "
        "configuration and the driver (repeatable; a declared cable kind wins); "
        + ", ".join(f"{k}: {v}" for k, v in HARDWARE_FEATURES.items()),
    )
    parser.add_argument(
        "--timing",
        action="append",
        default=[],
        type=name_seconds,
        metavar="NAME=SECONDS",
        help="override a shrunk timing of the cases: NAME for all, TC_002_CS.NAME for one",
    )
    parser.add_argument(
        "--timeout",
        type=positive_number,
        default=_DEFAULTS.expect_timeout,
        metavar="SECONDS",
        help="how long a step waits for the station's message (default %(default)g)",
    )
    for option, name, what in (
        ("--boot-timeout", "boot_timeout", "a reboot may take, power-on to the statuses after "
         "the BootNotification"),
        ("--call-timeout", "call_timeout", "the tool waits for the answer to its request"),
        ("--connect-timeout", "connect_timeout", "the tool waits for an external station to "
         "connect"),
        ("--settle-timeout", "settle_timeout", "the station may take to come back to idle "
         "before and after a case"),
        ("--status-settle", "status_settle", "the tool waits, once per connection, for the "
         "station's first statuses"),
    ):  # fmt: skip
        parser.add_argument(
            option,
            type=positive_number,
            default=getattr(_DEFAULTS, name),
            metavar="SECONDS",
            help=f"how long {what} (default %(default)g)",
        )
    parser.add_argument(
        "--operator-timeout",
        type=positive_number,
        default=_DEFAULTS.operator_timeout,
        metavar="SECONDS",
        help="how long the operator has for one instruction (default %(default)g)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="own: keep each case's station state and log here (default: a temporary folder)",
    )
    parser.add_argument(
        "--file-host",
        metavar="HOST",
        help="the address the station reaches the tool's file server at, for the firmware and "
        "diagnostics cases (default: the --listen host)",
    )
    parser.add_argument(
        "--file-protocol",
        choices=PROTOCOLS,
        default="http",
        help="how the tool serves firmware images and takes diagnostics (ftp needs pyftpdlib)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")


def _report_stem(path: Path) -> Path:
    if path.suffix in REPORT_SUFFIXES:
        path = path.with_suffix("")
    if not path.parent.is_dir():
        raise UsageError(f"--report: no such folder {path.parent}")
    return path


def _target(args: argparse.Namespace, console: Console) -> tuple[Target, tuple[str, int]]:
    identity = args.station_id
    if identity is not None and (
        not identity or len(identity) > 48 or any(ch.isspace() for ch in identity)
    ):
        raise UsageError(f"--id must be 1 to 48 characters without spaces, got {identity!r}")
    if args.station == "own":
        for given, option in ((args.control, "--control"), (args.feature, "--feature")):
            if given:
                raise UsageError(f"{option} is for an external station (--station external)")
        try:
            station_args = shlex.split(args.station_args)
        except ValueError as exc:
            raise UsageError(f"--station-args: {exc}") from None
        for forbidden in ("--csms", "--id", "--control", "--state-dir"):
            if any(a == forbidden or a.startswith(forbidden + "=") for a in station_args):
                raise UsageError(f"--station-args: the tool sets {forbidden} itself")
        target: Target = OwnStation(station_args, identity=identity or "CP-1", workdir=args.workdir)
        return target, args.listen or OWN_LISTEN
    if args.station_args or args.workdir:
        raise UsageError("--station-args and --workdir are for our own station (--station own)")
    driver: Driver
    if args.control:
        if args.feature and "power_cycle" in args.feature:
            raise UsageError(
                "--feature power_cycle: the control API cannot cut the station's power; "
                "leave out --control to have an operator do the physical steps"
            )
        try:
            driver = ControlApiDriver(args.control)
        except ValueError as exc:
            raise UsageError(f"--control: {exc}") from None
    else:
        driver = OperatorDriver(console, args.operator_timeout)
    features = frozenset(args.feature) if args.feature else None
    target = ExternalStation(driver, identity=identity, features=features, say=console.say)
    return target, args.listen or EXTERNAL_LISTEN


async def main(args: argparse.Namespace) -> int:
    library = load_library()
    if args.list:
        for c in library:
            needs = f" (needs {', '.join(sorted(c.needs))})" if c.needs else ""
            print(f"{c.id} {c.name} [{c.module}; {c.profile}]{needs}")
        return 0
    console = Console()
    try:
        stem = _report_stem(args.report) if args.report is not None else None
        settings = Settings(
            expect_timeout=args.timeout,
            operator_timeout=args.operator_timeout,
            boot_timeout=args.boot_timeout,
            call_timeout=args.call_timeout,
            connect_timeout=args.connect_timeout,
            settle_timeout=args.settle_timeout,
            status_settle=args.status_settle,
            timings=dict(args.timing),
            file_host=args.file_host,
            file_protocol=args.file_protocol,
        )
        target, listen = _target(args, console)
        cases = library.select(args.cases, args.profile)
        if not cases:
            raise UsageError("no case matches --cases and --profile")
    except (UsageError, ValueError) as exc:
        print(f"ocpp-station conformance: {exc}", file=sys.stderr)
        return 2
    runner = Runner(target, settings, listen=listen, say=console.say)
    try:
        results = await runner.run(cases)
    except ListenError as exc:
        print(f"ocpp-station conformance: --listen: {exc}", file=sys.stderr)
        return 2
    results.omitted = omitted(library, cases)
    print()
    if partial_note(results):
        print(partial_note(results))
        print()
    print(summary_markdown(results))
    if stem is not None:
        written = []
        for suffix, text in (
            (".md", render_markdown(results)),
            (".json", _json(results.to_json())),
            (".html", render_html(results)),
        ):
            path = stem.with_name(stem.name + suffix)
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
        print("report written: " + ", ".join(written))
    return 1 if results.failed else 0


def omitted(library: Library, cases: Sequence[Case]) -> dict[str, list[str]]:
    """Profile -> ids of the library's cases that `cases` leaves out."""
    chosen = {c.id for c in cases}
    left: dict[str, list[str]] = {}
    for case in library:
        if case.id not in chosen:
            left.setdefault(case.profile, []).append(case.id)
    return left


def _json(data: object) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    """For ocpp_station/cli.py: `return conformance_cli.run(args)`."""
    try:
        return asyncio.run(main(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
