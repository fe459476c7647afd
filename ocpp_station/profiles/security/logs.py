"""GetLog and LogStatusNotification (security whitepaper use case N01, §5.8, §5.13).

The answer goes at once with the file's name; then the log is uploaded over the file-transfer
port, as GetDiagnostics does: Uploading, then Uploaded, or UploadFailure after 1 + retries tries
retryInterval seconds apart. Every LogStatusNotification carries the GetLog's requestId. A new
GetLog cancels the upload under way (AcceptedCanceled). A location the station cannot upload to
is Rejected.

DiagnosticsLog is the diagnostics archive (the station's log and its OCPP frames); SecurityLog
is the security log (events.py), one line per event, both limited to oldestTimestamp ..
latestTimestamp.
"""

from __future__ import annotations

import asyncio
import logging
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.profiles.firmware.diagnostics import (
    can_upload,
    target,
    upload_name,
    upload_tries,
    work_file,
    write_archive,
)
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.station.ports import FileTransfer, shown
from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

# UploadLogStatusEnumType (whitepaper §6.15).
IDLE, UPLOADING, UPLOADED, UPLOAD_FAILURE = "Idle", "Uploading", "Uploaded", "UploadFailure"
DIAGNOSTICS_LOG, SECURITY_LOG = "DiagnosticsLog", "SecurityLog"


def log_file_name(identity: str, kind: str, now: datetime) -> str:
    label = "security-log" if kind == SECURITY_LOG else "diagnostics-log"
    return upload_name(label, identity, now)


class LogUpload(Service):
    __slots__ = ("_request_id", "_task", "ctx", "events", "folder")

    def __init__(self, ctx: StationContext, events: SecurityEvents, folder: Path | None) -> None:
        self.ctx = ctx
        self.events = events
        self.folder = folder
        self._task: asyncio.Task[Any] | None = None
        self._request_id: int | None = None

    def on_reboot(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @handles("GetLog")
    def get_log(self, request: Payload) -> Payload:
        location = request["log"]["remoteLocation"]
        if not can_upload(self.ctx, location):
            log.info("GetLog to %s: the station cannot upload there", shown(location))
            return {"status": "Rejected"}
        name = log_file_name(self.ctx.identity, request["logType"], self.ctx.clock.now())
        status = "AcceptedCanceled" if self._task is not None else "Accepted"
        return {"status": status, "filename": name}

    @after("GetLog")
    def upload(self, request: Payload, response: Payload) -> None:
        if response["status"] == "Rejected":
            return
        if self._task is not None:
            log.info("GetLog cancels the upload under way")
            self._task.cancel()
            self._task = None
        files = self.ctx.ports.files
        assert files is not None  # checked when answering
        self._request_id = request["requestId"]
        self._task = self.ctx.spawn(self._upload(files, request, response["filename"]))

    async def _upload(self, files: FileTransfer, request: Payload, name: str) -> None:
        try:
            await self._transfer(files, request, name)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _transfer(self, files: FileTransfer, request: Payload, name: str) -> None:
        window = request["log"]
        start = _time(window.get("oldestTimestamp"))
        stop = _time(window.get("latestTimestamp"))
        request_id = request["requestId"]
        path = work_file(self.folder, name)
        self._send(UPLOADING, request_id)
        try:
            if request["logType"] == SECURITY_LOG:
                # Read here: the store belongs to the event loop's thread.
                lines = self.events.lines()
                await asyncio.to_thread(write_security_log, path, lines, start, stop)
            else:
                await asyncio.to_thread(write_archive, path, self.ctx.ports.logs, start, stop)
            url = target(window["remoteLocation"], name)
            if await upload_tries(files, path, url, request, self.ctx.clock, "log"):
                log.info("log %s uploaded", name)
                self._send(UPLOADED, request_id)
            else:
                self._send(UPLOAD_FAILURE, request_id)
        finally:
            path.unlink(missing_ok=True)

    def _send(self, status: str, request_id: int) -> None:
        payload = {"status": status, "requestId": request_id}
        self.ctx.sender.enqueue("LogStatusNotification", payload, None)

    def trigger(self) -> None:
        """ExtendedTriggerMessage(LogStatusNotification): Uploading with the requestId while an
        upload runs, else Idle without one (whitepaper §5.6)."""
        payload: dict[str, Any] = {"status": IDLE}
        if self._task is not None and self._request_id is not None:
            payload = {"status": UPLOADING, "requestId": self._request_id}
        self.ctx.sender.notify("LogStatusNotification", payload, triggered=True)


def write_security_log(
    path: Path, lines: list[tuple[str, str]], start: datetime | None, stop: datetime | None
) -> None:
    """A zip holding `security.log`: one line per event between start and stop."""
    kept = []
    for stamp, text in lines:
        when = timefmt.parse(stamp)
        if (start is None or when >= start) and (stop is None or when <= stop):
            kept.append(f"{stamp} {text}\n")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("security.log", "".join(kept))


def _time(text: str | None) -> datetime | None:
    return timefmt.parse(text) if text else None
