"""The simulator's switches for the failures of file transfers and firmware installation, so
that a central-system engineer can drive each error path of Firmware Management from the
control API: every download fails, every upload fails, every installation fails, or each
transfer first stalls for a while (a slow link). They wrap the real ports: with every switch
off, files really move."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ocpp_station.clock import Clock
from ocpp_station.station.ports import FileTransfer, FirmwareInstaller, InstallError, TransferError
from ocpp_station.station.timers import sleep

MAX_DELAY = 3600.0


@dataclass(slots=True)
class TransferFaults:
    download: bool = False
    upload: bool = False
    install: bool = False
    delay_seconds: float = 0.0

    def view(self) -> dict[str, Any]:
        """The control API's shape: download, upload, install, delaySeconds."""
        out = asdict(self)
        out["delaySeconds"] = out.pop("delay_seconds")
        return out

    def change(self, body: dict[str, Any]) -> None:
        """Set the switches a control-API body names; ValueError (nothing changed) for a
        field that is unknown or of the wrong kind."""
        unknown = set(body) - {"download", "upload", "install", "delaySeconds"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        for name in ("download", "upload", "install"):
            if name in body and not isinstance(body[name], bool):
                raise ValueError(f"{name} must be true or false")
        delay = body.get("delaySeconds", self.delay_seconds)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not 0 <= delay <= MAX_DELAY
        ):
            raise ValueError(f"delaySeconds must be a number of seconds from 0 to {MAX_DELAY:g}")
        self.download = body.get("download", self.download)
        self.upload = body.get("upload", self.upload)
        self.install = body.get("install", self.install)
        self.delay_seconds = float(delay)


class FaultyFiles:
    """A FileTransfer that fails or stalls as the switches say, else the real one."""

    def __init__(self, inner: FileTransfer, faults: TransferFaults, clock: Clock) -> None:
        self._inner = inner
        self._faults = faults
        self._clock = clock
        self.protocols = inner.protocols

    async def download(self, url: str, destination: Path) -> None:
        await self._stall()
        if self._faults.download:
            raise TransferError("the download fails (simulated: control API transfer-faults)")
        await self._inner.download(url, destination)

    async def upload(self, source: Path, url: str) -> None:
        await self._stall()
        if self._faults.upload:
            raise TransferError("the upload fails (simulated: control API transfer-faults)")
        await self._inner.upload(source, url)

    async def _stall(self) -> None:
        if self._faults.delay_seconds:
            await sleep(self._clock, self._faults.delay_seconds)


class FaultyInstaller:
    """A FirmwareInstaller that refuses every image while the switch is on."""

    def __init__(self, inner: FirmwareInstaller, faults: TransferFaults) -> None:
        self._inner = inner
        self._faults = faults

    async def install(self, image: Path) -> str:
        if self._faults.install:
            raise InstallError("the installation fails (simulated: control API transfer-faults)")
        return await self._inner.install(image)
