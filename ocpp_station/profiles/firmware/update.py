"""UpdateFirmware and FirmwareStatusNotification (OCPP 1.6 §5.19, §4.5, digest §5.1).

The answer goes at once; the update runs after it:
- from retrieveDate on ("not before", [E] 3.63), Downloading, then the download through the
  file-transfer port, tried 1 + retries times, retryInterval seconds apart: Downloaded, or
  DownloadFailed after the last try;
- a running session is never cut: the image waits until none runs, idle connectors showing
  Unavailable and no session starting meanwhile (§5.19 RECOMMENDED);
- Installing, through the firmware-installer port (the simulator reads the image's version; a
  real charger plugs in its updater): on success the station reboots, and once the central
  system has accepted the BootNotification that carries the new firmwareVersion, Installed;
  on failure InstallationFailed, and the connectors back to their availability.

The update is kept in the station's RecordStore (kind `firmware`), so a power cut mid-way
resumes it: a download starts again (within its tries), a downloaded image is installed, an
installation the cut interrupted is InstallationFailed, and an installed one is reported
Installed exactly once (the record goes in the step that queues the message). The version the
station runs is kept there too: every later BootNotification reports it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.rpc.errors import NotSupported
from ocpp_station.station.connector import Authorization, Connector
from ocpp_station.station.ports import InstallError, TransferError, shown
from ocpp_station.station.reset import DRAIN_SECONDS
from ocpp_station.station.service import Payload, Service, after, handles
from ocpp_station.station.status import AVAILABLE, PREPARING, UNAVAILABLE
from ocpp_station.station.timers import sleep
from ocpp_station.storage.interface import RecordStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

KIND = "firmware"
UPDATE = "update"
VERSION = "version"
# FirmwareStatus (§7.25).
DOWNLOADING, DOWNLOADED, DOWNLOAD_FAILED = "Downloading", "Downloaded", "DownloadFailed"
INSTALLING, INSTALLED, INSTALLATION_FAILED = "Installing", "Installed", "InstallationFailed"
IDLE = "Idle"
IMAGE = "firmware.img"
# FirmwareStatusEnumType of the signed update (security whitepaper §6.6).
SIGNATURE_VERIFIED, INVALID_SIGNATURE = "SignatureVerified", "InvalidSignature"
INSTALL_SCHEDULED, INSTALL_REBOOTING = "InstallScheduled", "InstallRebooting"
# Phases of a kept update.
WAITING, FETCHING, CHECKING, READY, FLASHING, REBOOTING = (
    "waiting",
    "downloading",
    "checking",
    "downloaded",
    "installing",
    "installed",
)


@dataclass(slots=True)
class Update:
    """One UpdateFirmware (or SignedUpdateFirmware) as kept: where it stands and what it still
    may try."""

    location: str
    retrieve: str  # retrieveDate as sent
    tries_left: int
    interval: int
    phase: str = WAITING
    version: str | None = None
    # A SignedUpdateFirmware's (security whitepaper L01): its requestId, which every
    # SignedFirmwareStatusNotification carries, the signature and signing certificate the
    # image is checked with, and installDateTime.
    request_id: int | None = None
    signature: str | None = None
    signing_certificate: str | None = None
    install_at: str | None = None

    @property
    def signed(self) -> bool:
        return self.request_id is not None

    @classmethod
    def from_request(cls, request: Payload) -> Update:
        return cls(
            location=request["location"],
            retrieve=request["retrieveDate"],
            tries_left=1 + max(0, request.get("retries") or 0),
            interval=max(0, request.get("retryInterval") or 0),
        )

    @classmethod
    def from_signed_request(cls, request: Payload) -> Update:
        firmware = request["firmware"]
        return cls(
            location=firmware["location"],
            retrieve=firmware["retrieveDateTime"],
            tries_left=1 + max(0, request.get("retries") or 0),
            interval=max(0, request.get("retryInterval") or 0),
            request_id=request["requestId"],
            signature=firmware["signature"],
            signing_certificate=firmware["signingCertificate"],
            install_at=firmware.get("installDateTime"),
        )

    @classmethod
    def from_record(cls, value: dict[str, Any]) -> Update:
        return cls(**value)


# Checks a downloaded image against its update's signature: True when it is the manufacturer's.
Verifier = Callable[[Update, Path], bool]


class FirmwareUpdate(Service):
    __slots__ = (
        "_signed_last",
        "_status",
        "_task",
        "ctx",
        "folder",
        "legacy_refused",
        "records",
        "update",
        "verifier",
    )

    def __init__(self, ctx: StationContext, records: RecordStore, folder: Path | None) -> None:
        self.ctx = ctx
        self.records = records
        # Where images land: the state folder's, else a temporary one made on first use.
        self.folder = folder
        self.update: Update | None = None
        # The last FirmwareStatus sent for the update under way (TriggerMessage repeats it).
        self._status = IDLE
        # The last SignedFirmwareStatusNotification sent, with its requestId (L01.FR.28-29).
        self._signed_last: tuple[str, int] | None = None
        self._task: Any = None
        # Set by the security extensions: how a signed image is checked, and whether the legacy
        # UpdateFirmware is refused (L01.FR.20).
        self.verifier: Verifier | None = None
        self.legacy_refused: Callable[[], bool] = _never

    # -- what is running -----------------------------------------------------------------------
    @property
    def status(self) -> str:
        """The FirmwareStatus a TriggerMessage reports: Idle when no update runs."""
        return self._status if self.update is not None else IDLE

    def _holding(self) -> bool:
        """An image waits to be installed, or is being installed: no new session."""
        return self.update is not None and self.update.phase in (READY, FLASHING)

    def start_guard(self, c: Connector, auth: Authorization | None) -> str | None:
        return "a firmware update is being installed" if self._holding() else None

    def refine_status(self, c: Connector, status: str) -> str:
        # §5.19: idle connectors Unavailable while the installation waits and runs.
        if self._holding() and status in (AVAILABLE, PREPARING) and c.transaction is None:
            return UNAVAILABLE
        return status

    # -- the station's moments -----------------------------------------------------------------
    def on_power_up(self, cold: bool) -> None:
        version = self.records.record_get(KIND, VERSION)
        if isinstance(version, str):
            self.ctx.info.firmware = version  # what runs now, as the BootNotification says
        if cold or self.update is None:
            self.update = self._stored()
        update = self.update
        if update is None:
            return
        if update.phase == FLASHING:
            # The power went (or a reset came) while flashing: that installation did not end.
            self._finish(INSTALLATION_FAILED, "the installation was interrupted")
            return
        if update.phase != REBOOTING and self._task is None:
            log.info(
                "resuming the firmware update from %s (%s)", shown(update.location), update.phase
            )
            self._task = self.ctx.spawn(self._run())

    def _stored(self) -> Update | None:
        stored = self.records.record_get(KIND, UPDATE)
        if stored is None:
            return None
        try:
            return Update.from_record(stored)
        except TypeError as exc:
            log.error("the kept firmware update is unreadable, dropped: %s", exc)
            self.records.record_delete(KIND, UPDATE)
            return None

    def on_accepted(self) -> None:
        update = self.update
        if update is not None and update.phase == REBOOTING:
            # Booted into the new firmware and accepted: now it is Installed (digest §5.1).
            self.ctx.events.security_event.emit("FirmwareUpdated", update.version)
            self._finish(INSTALLED, f"firmware {update.version} runs")

    def on_reboot(self) -> None:
        if self._task is not None and self.update is not None and self.update.phase != REBOOTING:
            # A reset in the middle of it: the update carries on after the reboot.
            self._task.cancel()
            self._task = None

    # -- the central system's request ----------------------------------------------------------
    @handles("UpdateFirmware")
    def update_firmware(self, request: Payload) -> Payload:
        if self.legacy_refused():
            # Security whitepaper L01.FR.20: a station that takes signed firmware refuses the
            # unsigned kind, and starts nothing.
            raise NotSupported("this station installs signed firmware only (SignedUpdateFirmware)")
        return {}  # §6.56: an empty answer; what follows is told by the notifications

    @after("UpdateFirmware")
    def start(self, request: Payload, response: Payload) -> None:
        self.begin(Update.from_request(request))

    def busy_installing(self) -> bool:
        """An installation is under way: it cannot be cancelled (L01.FR.27)."""
        return self.update is not None and self.update.phase in (FLASHING, REBOOTING)

    def begin(self, update: Update) -> bool:
        """Start `update`, cancelling the one under way (L01.FR.26); True when one was
        cancelled. An installation under way is never cut: the new update is ignored."""
        cancelled = False
        if self.update is not None:
            if self.busy_installing():
                log.info("firmware update ignored: an installation is under way")
                return False
            log.info("a new firmware update replaces the one from %s", shown(self.update.location))
            if self._task is not None:
                self._task.cancel()
            self._release()
            cancelled = True
        self.update = update
        self._keep()
        self._task = self.ctx.spawn(self._run())
        return cancelled

    # -- the update ---------------------------------------------------------------------------
    async def _run(self) -> None:
        update = self.update
        if update is None:
            return
        if update.phase in (WAITING, FETCHING):
            wait = (timefmt.parse(update.retrieve) - self.ctx.clock.now()).total_seconds()
            if wait > 0 and update.phase == WAITING:
                log.info("firmware download not before %s", update.retrieve)
                await sleep(self.ctx.clock, wait)
            if not await self._download(update):
                return
        if update.phase == CHECKING and not self._verify(update):
            return
        if update.install_at is not None:
            wait = (timefmt.parse(update.install_at) - self.ctx.clock.now()).total_seconds()
            if wait > 0:
                self._send(INSTALL_SCHEDULED)  # L01.FR.16
                await sleep(self.ctx.clock, wait)
        await self._install(update)

    def _verify(self, update: Update) -> bool:
        """L01.FR.04: the signature over the whole image, before anything is installed."""
        verifier = self.verifier
        if verifier is not None and verifier(update, self._image()):
            update.phase = READY
            self._keep()
            self._send(SIGNATURE_VERIFIED)
            self._refresh()
            return True
        self.ctx.events.security_event.emit("InvalidFirmwareSignature", shown(update.location))
        self._finish(INVALID_SIGNATURE, "the image's signature is wrong")  # L01.FR.03
        return False

    def _image(self) -> Path:
        folder = self.folder
        if folder is None:
            folder = self.folder = Path(tempfile.mkdtemp(prefix="ocpp-station-firmware-"))
        folder.mkdir(parents=True, exist_ok=True)
        return folder / IMAGE

    async def _download(self, update: Update) -> bool:
        files = self.ctx.ports.files
        first = update.phase == WAITING
        update.phase = FETCHING
        self._keep()
        if first:
            self._send(DOWNLOADING)
        while update.tries_left > 0:
            update.tries_left -= 1
            self._keep()
            try:
                if files is None:
                    raise TransferError("this station has no file transfer")
                await files.download(update.location, self._image())
            except TransferError as exc:
                log.warning("firmware download failed (%d tries left): %s", update.tries_left, exc)
                if update.tries_left > 0:
                    await sleep(self.ctx.clock, update.interval)
                continue
            update.phase = CHECKING if update.signed else READY
            self._keep()
            self._send(DOWNLOADED)
            self._refresh()
            return True
        self._finish(DOWNLOAD_FAILED, "no try downloaded the image")
        return False

    async def _install(self, update: Update) -> None:
        image = self._image()
        if not image.exists():
            self._finish(INSTALLATION_FAILED, "the downloaded image is gone")
            return
        await self._sessions_ended()
        installer = self.ctx.ports.installer
        update.phase = FLASHING
        self._keep()
        self._send(INSTALLING)
        try:
            if installer is None:
                raise InstallError("this station has no firmware installer")
            version = await installer.install(image)
        except InstallError as exc:
            self._finish(INSTALLATION_FAILED, str(exc))
            return
        update.phase = REBOOTING
        update.version = version
        with self.records.atomic():
            self.records.record_put(KIND, VERSION, version)
            self._keep()
            if update.signed:
                self._send(INSTALL_REBOOTING)  # L01.FR.15: before rebooting
        image.unlink()
        log.info("firmware %s installed: rebooting into it", version)
        sender = self.ctx.sender
        if sender.open:
            # Installing reaches the central system before the reboot does (digest §5.1).
            await sender.drain(DRAIN_SECONDS)
        await self.ctx.reboot("Hard")

    async def _sessions_ended(self) -> None:
        """Wait until no session runs (none starts meanwhile: the start guard)."""
        self._refresh()
        while any(c.transaction is not None for c in self.ctx.cp):
            await sleep(self.ctx.clock, 1.0)

    def _finish(self, status: str, why: str) -> None:
        """The update ends with `status`: the record goes in the same step as the message is
        queued, so a power cut cannot report it twice."""
        log.info("firmware update %s: %s", status, why)
        with self.records.atomic():
            self.records.record_delete(KIND, UPDATE)
            self._send(status)
        self._release()

    def _release(self) -> None:
        self.update = None
        self._task = None
        if self.folder is not None:
            (self.folder / IMAGE).unlink(missing_ok=True)
        self._refresh()

    def _keep(self) -> None:
        if self.update is not None:
            self.records.record_put(KIND, UPDATE, asdict(self.update))

    def _send(self, status: str) -> None:
        update = self.update
        # Queued like transaction messages: kept across a power cut, delivered in order.
        if update is not None and update.request_id is not None:
            self._signed_last = (status, update.request_id)
            payload = {"status": status, "requestId": update.request_id}
            self.ctx.sender.enqueue("SignedFirmwareStatusNotification", payload, None)
            return
        self._status = status
        self.ctx.sender.enqueue("FirmwareStatusNotification", {"status": status}, None)

    def trigger_signed(self) -> None:
        """ExtendedTriggerMessage(FirmwareStatusNotification): the last signed status sent with
        its requestId, Idle (without one) after Installed or when none was sent (L01.FR.21,
        L01.FR.28-29)."""
        last = self._signed_last
        payload: dict[str, Any] = {"status": IDLE}
        if last is not None and last[0] != INSTALLED:
            payload = {"status": last[0], "requestId": last[1]}
        self.ctx.sender.notify("SignedFirmwareStatusNotification", payload, triggered=True)

    def trigger(self) -> None:
        """TriggerMessage(FirmwareStatusNotification): the status now, Idle when nothing runs
        (§5.17, TC_054)."""
        self.ctx.sender.notify(
            "FirmwareStatusNotification", {"status": self.status}, triggered=True
        )

    def _refresh(self) -> None:
        for c in self.ctx.cp:
            self.ctx.status.update(c)


def _never() -> bool:
    return False
