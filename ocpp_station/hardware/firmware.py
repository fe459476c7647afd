"""The simulator's firmware installer: the FirmwareInstaller port (station.ports) for a station
without real hardware.

A real charger plugs in its updater here. The simulator checks what a real updater would check
first, that the image is there and is not empty, and reads the version it carries: the value of
a `version:` line among the image's first lines (`version: 2.1.0`), else the image's file name
without its extension. That version is what the next BootNotification reports.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ocpp_station.station.ports import InstallError

# 1.6 §6.3 BootNotification.firmwareVersion is CiString50.
MAX_VERSION = 50
_HEADER_LINES = 8


def image_version(image: Path) -> str:
    """The version an image carries (see the module's description); InstallError if none."""
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise InstallError(f"cannot read the image: {exc.strerror or exc}") from None
    if not data:
        raise InstallError("the image is empty")
    for line in data[:4096].decode("utf-8", "replace").splitlines()[:_HEADER_LINES]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "version" and value.strip():
            version = value.strip()
            break
    else:
        version = image.name.split(".", 1)[0] if "." in image.name else image.name
    if not version or len(version) > MAX_VERSION or not version.isprintable():
        raise InstallError(f"the image carries no usable version ({version[:60]!r})")
    return version


class SimulatedInstaller:
    """Installs by reading the image's version, after `seconds` of (simulated) flashing."""

    def __init__(self, seconds: float = 0.0) -> None:
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        self._seconds = seconds

    async def install(self, image: Path) -> str:
        version = await asyncio.to_thread(image_version, image)
        if self._seconds:
            await asyncio.sleep(self._seconds)
        return version
