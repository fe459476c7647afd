"""GetDiagnostics and DiagnosticsStatusNotification (OCPP 1.6 §5.9, §4.4, digest §5.1).

The answer goes at once with the file's name (profile-notes: a station that uploads before
answering times out on large files); then the archive is built and uploaded: Uploading, then
Uploaded or, after 1 + retries tries retryInterval seconds apart ([E] 3.50: retries=0 is one
try), UploadFailed. The archive is a zip of the station's log and its OCPP frames between
startTime and stopTime (either open). A location whose scheme the station cannot use gets no
fileName and UploadFailed at once.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.clock import Clock
from ocpp_station.station.ports import FileTransfer, LogSource, TransferError, protocol_of, shown
from ocpp_station.station.service import Payload, Service, after, handles
from ocpp_station.station.timers import sleep

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

# DiagnosticsStatus (§7.23).
IDLE, UPLOADING, UPLOADED, UPLOAD_FAILED = "Idle", "Uploading", "Uploaded", "UploadFailed"


def upload_name(label: str, identity: str, now: datetime) -> str:
    """<label>-<identity>-<UTC time>.zip, the identity in at most 64 ASCII letters, digits, '-'
    and '_' (others become '_'): a file name any server takes (CiString255 in the answers)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in identity)
    return f"{label}-{safe[:64]}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"


def file_name(identity: str, now: datetime) -> str:
    """diagnostics-<identity>-<UTC time>.zip: what GetDiagnostics.conf names."""
    return upload_name("diagnostics", identity, now)


def can_upload(ctx: StationContext, location: str) -> bool:
    """The file-transfer port can send to `location`, by a protocol SupportedFileTransferProtocols
    lists ([E] 3.90)."""
    files = ctx.ports.files
    protocol = protocol_of(location)
    allowed = ctx.config.get_list("SupportedFileTransferProtocols")
    return files is not None and protocol in files.protocols and protocol in allowed


def target(location: str, name: str) -> str:
    """Where the file goes: the location is a folder; the file keeps its name in it."""
    return location if location.endswith(name) else f"{location.rstrip('/')}/{name}"


def write_archive(
    path: Path, logs: LogSource | None, start: datetime | None, stop: datetime | None
) -> None:
    """The zip: one text file per log of the station (`station.log`, `ocpp.log`), each line
    its UTC time and text, only the lines between start and stop."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in logs.names if logs is not None else ():
            lines = logs.read(name, start, stop) if logs is not None else []
            text = "".join(f"{timefmt.iso(line.time)} {line.text}\n" for line in lines)
            archive.writestr(f"{name}.log", text)


def work_file(folder: Path | None, name: str) -> Path:
    """Where a file to upload is written: the station's folder, else the system's temporary
    one."""
    base = folder or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return base / name


async def upload_tries(
    files: FileTransfer, path: Path, url: str, request: Payload, clock: Clock, what: str
) -> bool:
    """Upload `path` to `url` in 1 + retries tries retryInterval seconds apart ([E] 3.50:
    retries=0 is one try); True once one went through."""
    tries = 1 + max(0, request.get("retries") or 0)
    interval = max(0, request.get("retryInterval") or 0)
    for attempt in range(1, tries + 1):
        try:
            await files.upload(path, url)
        except TransferError as exc:
            log.warning("%s upload %d of %d failed: %s", what, attempt, tries, exc)
            if attempt < tries:
                await sleep(clock, interval)
            continue
        return True
    return False


class Diagnostics(Service):
    __slots__ = ("_task", "ctx", "folder")

    def __init__(self, ctx: StationContext, folder: Path | None) -> None:
        self.ctx = ctx
        self.folder = folder
        self._task: asyncio.Task[Any] | None = None

    @property
    def status(self) -> str:
        """What a TriggerMessage reports: Uploading while an upload runs, else Idle."""
        return UPLOADING if self._task is not None else IDLE

    def on_reboot(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @handles("GetDiagnostics")
    def get_diagnostics(self, request: Payload) -> Payload:
        location = request["location"]
        if not can_upload(self.ctx, location):
            log.info("GetDiagnostics to %s: the station cannot upload there", shown(location))
            return {}  # §6.33: no fileName when there is nothing to upload
        return {"fileName": file_name(self.ctx.identity, self.ctx.clock.now())}

    @after("GetDiagnostics")
    def upload(self, request: Payload, response: Payload) -> None:
        if self._task is not None:
            log.info("GetDiagnostics replaces the upload under way")
            self._task.cancel()
            self._task = None
        name = response.get("fileName")
        files = self.ctx.ports.files
        if name is None or files is None:
            self._send(UPLOAD_FAILED)
            return
        self._task = self.ctx.spawn(self._upload(files, request, name))

    async def _upload(self, files: FileTransfer, request: Payload, name: str) -> None:
        try:
            await self._transfer(files, request, name)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _transfer(self, files: FileTransfer, request: Payload, name: str) -> None:
        start = _time(request.get("startTime"))
        stop = _time(request.get("stopTime"))
        path = work_file(self.folder, name)
        self._send(UPLOADING)
        try:
            await asyncio.to_thread(write_archive, path, self.ctx.ports.logs, start, stop)
            url = target(request["location"], name)
            clock = self.ctx.clock
            if await upload_tries(files, path, url, request, clock, "diagnostics"):
                log.info("diagnostics %s uploaded", name)
                self._send(UPLOADED)
            else:
                self._send(UPLOAD_FAILED)
        finally:
            path.unlink(missing_ok=True)

    def _send(self, status: str) -> None:
        self.ctx.sender.enqueue("DiagnosticsStatusNotification", {"status": status}, None)

    def trigger(self) -> None:
        """TriggerMessage(DiagnosticsStatusNotification): Uploading or Idle (§5.17)."""
        self.ctx.sender.notify(
            "DiagnosticsStatusNotification", {"status": self.status}, triggered=True
        )


def _time(text: str | None) -> datetime | None:
    return timefmt.parse(text) if text else None
