"""`ocpp-station csms`: the central system on its own, with its database and HTTP API.

On start it prints `csms: ws://HOST:PORT` and `api: http://HOST:PORT`, one per line, so that a
script can read the addresses it got, and runs until cancelled (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ocpp_station.argtypes import format_address, host_port
from ocpp_station.csms.api import CsmsApi
from ocpp_station.csms.authority import ROOT_FILE, CertificateAuthority
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.store import CsmsStore, CsmsStoreError
from ocpp_station.csms.tags import (
    TAG_FILE_FORMAT,
    TagInfo,
    load_tags,
    merge_tags,
    parse_tag_option,
)

BOOT_POLICIES = {"accept": "Accepted", "pending": "Pending", "reject": "Rejected"}
# What a long-running central system keeps in memory per station; the database keeps it all.
MESSAGES_IN_MEMORY = 1000
FINISHED_TRANSACTIONS_IN_MEMORY = 100


def interval_seconds(text: str) -> int:
    """A whole number of seconds, 0 or more (a heartbeat interval), as an argparse type."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the interval must not be negative, got {value}")
    return value


def _tag_file(text: str) -> dict[str, TagInfo]:
    try:
        return load_tags(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tag(text: str) -> tuple[str, TagInfo]:
    try:
        return parse_tag_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Passwords(argparse.Action):
    """--password ID=SECRET, repeatable, into one {identity: password} dict."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert isinstance(values, str)
        identity, sep, secret = values.partition("=")
        if not sep or not identity or not secret:
            parser.error(f"{option_string}: expected ID=SECRET, got {values!r}")
        passwords: dict[str, str] = dict(getattr(namespace, self.dest) or {})
        if identity in passwords:
            parser.error(f"{option_string}: {identity} is given twice")
        passwords[identity] = secret
        setattr(namespace, self.dest, passwords)


def add_addresses(parser: argparse.ArgumentParser) -> None:
    """--listen and --api, as every central system of the project takes them."""
    parser.add_argument(
        "--listen",
        type=host_port,
        default=("127.0.0.1", 9000),
        metavar="HOST:PORT",
        help="where stations connect (OCPP-J, ws://HOST:PORT/<identity>); default "
        "127.0.0.1:9000, port 0: a free port",
    )
    parser.add_argument(
        "--api",
        type=host_port,
        default=("127.0.0.1", 9001),
        metavar="HOST:PORT",
        help="the HTTP API; default 127.0.0.1:9001, port 0: a free port",
    )


def add_boot_answer(parser: argparse.ArgumentParser) -> None:
    """--boot and --heartbeat-interval: what every central system of the project answers a
    BootNotification with."""
    parser.add_argument(
        "--boot",
        choices=sorted(BOOT_POLICIES),
        default="accept",
        help="the answer to every BootNotification (default accept)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=interval_seconds,
        default=20,
        metavar="N",
        help="seconds, sent in BootNotification.conf (default 20)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ocpp-station csms`."""
    add_addresses(parser)
    parser.add_argument(
        "--db", metavar="PATH", help="SQLite database file (default: kept in memory only)"
    )
    add_boot_answer(parser)
    parser.add_argument(
        "--tags",
        type=_tag_file,
        metavar="FILE",
        help="the tag list. " + TAG_FILE_FORMAT.replace("%", "%%"),
    )
    parser.add_argument(
        "--tag",
        type=_tag,
        action="append",
        default=[],
        metavar="idTag[:status[:parent]]",
        help="one more tag (repeatable; replaces a --tags entry of the same idTag); status "
        "Accepted, Blocked, Expired or Invalid (default Accepted)",
    )
    parser.add_argument(
        "--reject-unknown-tags",
        action="store_true",
        help="answer Invalid for idTags not in the tag list (default: accept them)",
    )
    parser.add_argument(
        "--password",
        action=_Passwords,
        dest="passwords",
        default={},
        metavar="ID=SECRET",
        help="HTTP Basic authentication of station ID (security profile 1; repeatable); "
        "stations without one connect without a password",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        metavar="DIR",
        help="listen with TLS (wss://, security profiles 2 and 3): the certificate authority "
        "kept in DIR (made on first use) signs the server certificate and the stations' CSRs; "
        "give a station DIR/csms-root.pem as --ca",
    )


# A listening address in use is a bad argument: exit 2, as for every command.
USAGE = 2


def _fail(message: str, code: int = 1) -> int:
    print(f"ocpp-station csms: {message}", file=sys.stderr, flush=True)
    return code


async def main(args: argparse.Namespace) -> int:
    """Run the central system until cancelled; 1 with a one-line reason when it cannot start."""
    tags = merge_tags(args.tags or {}, dict(args.tag))
    try:
        store = CsmsStore(args.db)
    except (CsmsStoreError, OSError) as exc:
        return _fail(f"cannot open the database: {exc}")
    authority = None
    if args.tls_dir is not None:
        try:
            authority = CertificateAuthority.in_folder(args.tls_dir)
        except (OSError, ValueError) as exc:
            store.close()
            return _fail(f"--tls-dir: {exc}")
    try:
        hosts = [args.listen[0] or "127.0.0.1", "localhost", "127.0.0.1"]
        csms = CentralSystem(
            *args.listen,
            ssl_context=authority.server_context(dict.fromkeys(hosts))
            if authority is not None
            else None,
            authority=authority,
            boot_status=BOOT_POLICIES[args.boot],
            heartbeat_interval=args.heartbeat_interval,
            tags=tags,
            accept_unknown_tags=not args.reject_unknown_tags,
            passwords=args.passwords,
            store=store,
            max_messages=MESSAGES_IN_MEMORY,
            max_finished_transactions=FINISHED_TRANSACTIONS_IN_MEMORY,
        )
        api = CsmsApi(csms)
        try:
            try:
                await csms.start()
            except OSError as exc:
                return _fail(
                    f"cannot listen on {format_address(args.listen)}: {exc.strerror or exc}",
                    USAGE,
                )
            try:
                await api.start(*args.api)
            except OSError as exc:
                return _fail(
                    f"cannot serve the API on {format_address(args.api)}: {exc.strerror or exc}",
                    USAGE,
                )
            print(f"csms: {csms.url}", flush=True)
            print(f"api: {api.url}", flush=True)
            if args.tls_dir is not None:
                print(f"root: {args.tls_dir / ROOT_FILE}", flush=True)
            await asyncio.Event().wait()  # until cancelled
        finally:
            await api.stop()
            await csms.stop()
    finally:
        store.close()
    return 0  # never reached: the wait above ends only by cancellation
