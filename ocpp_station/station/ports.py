"""The I/O the profiles need beyond the hardware, as small interfaces the runtime injects.

Like the hardware (ocpp_station.hardware.interfaces), each is a port: the behaviour core calls
it and never knows what is behind. The runtime gives real implementations (file transfers over
HTTP(S) and FTP(S), the simulator's firmware installer, the station's own logs); a charger
maker replaces the installer with its updater, as it replaces the simulator with its drivers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

# URL scheme -> the protocol as SupportedFileTransferProtocols names it ([E] 3.90).
PROTOCOLS = {"http": "HTTP", "https": "HTTPS", "ftp": "FTP", "ftps": "FTPS"}


def protocol_of(url: str) -> str | None:
    """The protocol of `url` (HTTP, HTTPS, FTP, FTPS), or None for any other scheme."""
    return PROTOCOLS.get(urlsplit(url).scheme.lower())


def shown(url: str) -> str:
    """The URL as a log line may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class TransferError(Exception):
    """A download or upload failed; the message says why, in one line."""


class FileTransfer(Protocol):
    """Moves files between the station and a URL (UpdateFirmware, GetDiagnostics, GetLog)."""

    # The URL schemes that work, as SupportedFileTransferProtocols names them ([E] 3.90):
    # a subset of FTP, FTPS, HTTP, HTTPS.
    protocols: frozenset[str]

    async def download(self, url: str, destination: Path) -> None:
        """Fetch `url` into `destination`; TransferError when it cannot."""
        ...

    async def upload(self, source: Path, url: str) -> None:
        """Send the file `source` to `url`; TransferError when it cannot."""
        ...


class InstallError(Exception):
    """A firmware image could not be installed; the message says why, in one line."""


class FirmwareInstaller(Protocol):
    """Installs a downloaded firmware image (§5.19: UpdateFirmware)."""

    async def install(self, image: Path) -> str:
        """Install `image`; return the firmware version that runs after the reboot.
        InstallError when the image is refused or the installation fails."""
        ...


@dataclass(frozen=True, slots=True)
class LogLine:
    time: datetime  # UTC
    text: str


class LogSource(Protocol):
    """The station's own records, for GetDiagnostics and GetLog."""

    # The logs it keeps, e.g. "station" (its log) and "ocpp" (the frames it sent and received).
    names: Sequence[str]

    def read(self, name: str, start: datetime | None, stop: datetime | None) -> list[LogLine]:
        """The lines of log `name` between start and stop (either open), oldest first."""
        ...


class CertificateStore(Protocol):
    """Where the station keeps the certificates it trusts and its own (security whitepaper
    §2-3): PEM text by certificate use."""

    def certificates(self, use: str) -> list[str]:
        """The PEM certificates installed for `use` (e.g. CentralSystemRootCertificate)."""
        ...

    def add(self, use: str, pem: str) -> None: ...

    def remove(self, use: str, pem: str) -> None: ...


@dataclass(slots=True)
class Ports:
    """The ports one station uses; None where the runtime has nothing to plug in."""

    files: FileTransfer | None = None
    installer: FirmwareInstaller | None = None
    logs: LogSource | None = None
    certificates: CertificateStore | None = None
    # Where a profile keeps its files (a downloaded image, an archive being uploaded): in the
    # state folder; None for a station without one (a temporary folder then).
    folder: Path | None = None
