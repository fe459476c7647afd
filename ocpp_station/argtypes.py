"""Argument types shared by the commands: a bad value becomes argparse's one-line error."""

from __future__ import annotations

import argparse
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from ocpp_station.hardware.interfaces import AcSupply
from ocpp_station.hardware.simulator_ev import EvProfile


class UsageError(Exception):
    """Bad arguments found after parsing (a file that will not load, a port in use): the
    command exits 2 with this one-line reason."""


def host_port(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) as an argparse type; port 0 means a free port."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number in {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {text!r}")
    return host.strip("[]"), number


def positive_number(text: str) -> float:
    """A number above zero (seconds, a rate) as an argparse type."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def whole_number(text: str) -> int:
    """An integer as an argparse type (the caller checks its range)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer of at least 1 as an argparse type."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


AC_DEFAULT = "3x32"


def ac_supply(text: str) -> AcSupply:
    """PHASESxAMPS[@VOLTS] (3x32, 1x32@230) as an argparse type: an AC charger's supply."""
    spec, at, volts = text.partition("@")
    phases, x, amps = spec.lower().partition("x")
    try:
        if not x or (at and not volts):
            raise ValueError("incomplete")
        return AcSupply(int(phases), float(amps), float(volts) if at else 230.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected PHASESxAMPS[@VOLTS] with 1 or 3 phases (e.g. 3x32, 1x32@230), got {text!r}"
        ) from None


def _within(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = low - 1.0
    if not low <= value <= high:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected {what} from {low:g} to {high:g}, got {text!r}")
    return value


def ramp_seconds(text: str) -> float:
    return _within(text, 0.0, 60.0, "seconds")


def percent(text: str) -> float:
    return _within(text, 0.0, 100.0, "a percentage")


# The EV of `--ev-*` when only some of its figures are given: the simulator's compact 58 kWh.
EV_DEFAULTS = {"capacity_kwh": 58.0, "soc_percent": 30.0, "max_power_kw": 120.0}


def add_ev_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulated charger's power and the EV that plugs in (`run`)."""
    parser.add_argument(
        "--max-power", type=positive_number, metavar="KW",
        help="the DC charger's maximum power per connector (default 50 kW)",
    )  # fmt: skip
    parser.add_argument(
        "--ev-capacity", type=positive_number, metavar="KWH",
        help="every EV that plugs in has this battery (default: a car of the simulator's "
        f"few, or {EV_DEFAULTS['capacity_kwh']:g} kWh when another --ev-* option is given)",
    )  # fmt: skip
    parser.add_argument(
        "--ev-soc", type=percent, metavar="PERCENT",
        help=f"... arrives with this state of charge (default {EV_DEFAULTS['soc_percent']:g} %%)",
    )  # fmt: skip
    parser.add_argument(
        "--ev-max-power", type=positive_number, metavar="KW",
        help=f"... and draws at most this (default {EV_DEFAULTS['max_power_kw']:g} kW)",
    )  # fmt: skip
    parser.add_argument(
        "--ev-ramp", type=ramp_seconds, default=3.0, metavar="SECONDS",
        help="seconds the EV's power takes to follow a change, up and down (default 3; 0: "
        "at once)",
    )  # fmt: skip


def ev_from_args(args: argparse.Namespace) -> EvProfile | None:
    """The EV `--ev-capacity`, `--ev-soc` and `--ev-max-power` describe, or None (the
    simulator's own cars) when none is given."""
    given = (args.ev_capacity, args.ev_soc, args.ev_max_power)
    if all(value is None for value in given):
        return None
    capacity, soc, power = (
        default if value is None else value
        for value, default in zip(given, EV_DEFAULTS.values(), strict=True)
    )
    return EvProfile(capacity, soc, power * 1000.0, name="chosen with --ev-*")


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address (no name) as an argparse type."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address, got {text!r}") from None


def format_address(address: tuple[str, int]) -> str:
    """The inverse of host_port, for messages."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pem_file(text: str) -> str:
    """A PEM file's text (`--ca`, `--cert`, `--key`) as an argparse type."""
    try:
        content = Path(text).read_text(encoding="ascii")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        content = ""
    if "-----BEGIN " not in content:
        raise argparse.ArgumentTypeError(f"{text} is not a PEM file")
    return content


def control_token(text: str) -> str:
    if not 16 <= len(text) <= 200 or not text.isascii() or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError("a token is 16 to 200 printable ASCII characters")
    return text


def add_control_token_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control-token",
        type=control_token,
        metavar="TOKEN",
        help="the control API and web page need this token (header 'Authorization: Bearer "
        "TOKEN', or the page opened once as /?token=TOKEN); made and printed when --control "
        "is not a loopback address",
    )


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """`--ca`, `--cert`, `--key`: the certificates of security profiles 2 and 3."""
    parser.add_argument(
        "--ca",
        type=pem_file,
        metavar="FILE",
        help="PEM root certificate(s) of the central system, trusted for wss://",
    )
    parser.add_argument(
        "--cert",
        type=pem_file,
        metavar="FILE",
        help="PEM certificate (chain) of the station, for security profile 3",
    )
    parser.add_argument("--key", type=pem_file, metavar="FILE", help="PEM private key of --cert")


def check_tls_arguments(args: argparse.Namespace) -> None:
    """UsageError when --ca, --cert or --key cannot be used (the station would refuse them at
    start)."""
    from ocpp_station.profiles.security.local import install_local
    from ocpp_station.profiles.security.pki import CertificateError
    from ocpp_station.storage.memory import MemoryStore

    try:
        install_local(
            MemoryStore(),
            datetime.now(UTC),
            ca_pem=args.ca,
            cert_pem=args.cert,
            key_pem=args.key,
        )
    except CertificateError as exc:
        raise UsageError(f"--ca/--cert/--key: {exc}") from None
