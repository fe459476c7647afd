"""How the station reaches its central system: the URL, the TLS context and the Basic auth
password of the next connection, and what a failed or opened connection teaches.

The runtime asks the station's ConnectionPolicy before every connection it (re)targets. The
Core's policy (BasicLink) connects where `--csms` says, with the AuthorizationKey as password
when one is set; the security extensions install a policy of their own, which follows the
SecurityProfile (ocpp_station.profiles.security.link).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ocpp_station.station.config import Configuration

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def password_of(key: str) -> bytes | None:
    """The Basic auth password an AuthorizationKey stands for (whitepaper A00.FR.205: the key
    is bytes written as hexadecimal, and the test tool's key is the hex of its password text):
    a key of 16 to 20 bytes in hex is those bytes; anything else (an installer's `--password`
    in plain text) is its own UTF-8 text. None when no key is set."""
    if not key:
        return None
    if 32 <= len(key) <= 40 and _HEX.fullmatch(key):
        return bytes.fromhex(key)
    return key.encode()


def authorization_key(config: Configuration) -> str:
    try:
        return config.get("AuthorizationKey")
    except KeyError:
        return ""


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # the complete connection URL, identity included
    ssl: ssl.SSLContext | None  # for wss://; None: the system trust store
    password: bytes | None  # Basic auth, None for no Authorization header


@runtime_checkable
class ConnectionPolicy(Protocol):
    # Configuration keys whose change makes a new target: the runtime reconnects with it.
    retarget_keys: frozenset[str]

    def target(self, url: str) -> Target:
        """Where and how the next connection goes; `url` is the one configured (`--csms` with
        the identity)."""
        ...

    def failed(self, exc: BaseException) -> bool:
        """A connection attempt failed with `exc`; True when the target changed because of it
        (a fallback to the previous security profile)."""
        ...

    def opened(self, server_certificate: bytes | None) -> None:
        """A connection is open; `server_certificate` is the central system's DER certificate
        on a TLS connection."""
        ...


class BasicLink:
    """The Core's policy: the URL as given, Basic auth with the AuthorizationKey when set."""

    retarget_keys = frozenset({"AuthorizationKey"})

    def __init__(self, config: Configuration) -> None:
        self._config = config

    def target(self, url: str) -> Target:
        return Target(url, None, password_of(authorization_key(self._config)))

    def failed(self, exc: BaseException) -> bool:
        return False

    def opened(self, server_certificate: bytes | None) -> None:
        return None
