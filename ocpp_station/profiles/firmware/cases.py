"""19 Firmware Management / 20 Diagnostics: TC_044_1_CS, TC_044_2_CS, TC_044_3_CS, TC_045_1_CS,
TC_045_2_CS (digest §5.1, §7).

The tool serves the files itself (an HTTP server beside its central system, at --file-host):
a firmware image it makes for a new version, an image no updater can take, and a folder that
takes uploads. Each case judges every FirmwareStatusNotification or
DiagnosticsStatusNotification in order, and nothing else of the kind in between: TC_044_1 the
BootNotification after the installation carrying the new firmwareVersion before Installed,
TC_045_1 the fileName of the answer and the uploaded file itself (a zip the station named so,
that opens and holds its logs).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ocpp_station import timefmt
from ocpp_station.conformance.case import case
from ocpp_station.conformance.file_servers import CaseFiles, start_files
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.transcript import Message
from ocpp_station.csms.files import firmware_image
from ocpp_station.rpc.actions import FIRMWARE_MANAGEMENT

MODULE = "19 Firmware Management / 20 Diagnostics"
WILDCARDS = ("", "0.0.0.0", "::")  # addresses a station cannot be sent to


@asynccontextmanager
async def file_server(run: Run) -> AsyncIterator[CaseFiles]:
    """The tool's file server for one case (HTTP, or FTP with --file-protocol ftp), where the
    station reaches the tool."""
    host = run.settings.file_host or urlsplit(run.csms.url).hostname or ""
    if host in WILDCARDS:
        run.not_applicable("the tool listens on every address: give --file-host")
    server = await start_files(run.settings.file_protocol, host)
    try:
        yield server
    finally:
        await server.stop()


def new_version(run: Run) -> str:
    """A firmware version the station does not run yet."""
    boot = run.facts.boot or {}
    current = str(boot.get("firmwareVersion") or "")
    return "9.9.9" if current != "9.9.9" else "9.9.8"


async def update(run: Run, location: str, *, retries: int = 0, interval: int = 1) -> int:
    """UpdateFirmware (retrieveDate now), answered at once; returns the mark before it."""
    mark = run.mark()
    await run.call(
        "UpdateFirmware",
        {
            "location": location,
            "retrieveDate": timefmt.iso(datetime.now(UTC)),
            "retries": retries,
            "retryInterval": interval,
        },
    )
    return mark


async def next_status(run: Run, action: str, status: str) -> Message:
    """The station's next `action` (within the boot time-out: transfers take a while) must
    carry `status`: another one fails the case at once, not after a wait."""
    message = await run.expect(action, timeout=run.settings.boot_timeout)
    await run.check_equal(f"the status of {action} #{message.seq}", message.get("status"), status)
    return message


async def statuses_in_order(run: Run, action: str, statuses: list[str], *, after: int) -> None:
    """The station sends `action` with each status in order, and no other status of it."""
    for status in statuses:
        await next_status(run, action, status)
    sent = [m.get("status") for m in run.messages(action, after=after)]
    await run.check_equal(f"the {action} statuses", sent, statuses)


@case("TC_044_1_CS", "Firmware Update - Download and Install", module=MODULE,
      profile=FIRMWARE_MANAGEMENT)  # fmt: skip
async def tc_044_1(run: Run) -> None:
    """UpdateFirmware for a new image -> Downloading, Downloaded, Installing; the station
    reboots: BootNotification with the new firmwareVersion, then Installed ([S] 5.19, digest
    §5.1)."""
    version = new_version(run)
    async with file_server(run) as files:
        files.offer(f"firmware-{version}.bin", firmware_image(version))
        mark = await update(run, files.file_url(f"firmware-{version}.bin"))
        for status in ("Downloading", "Downloaded", "Installing"):
            await next_status(run, "FirmwareStatusNotification", status)
        boot = await run.expect_boot()
        await run.check_equal(
            "the firmwareVersion after the update", boot.get("firmwareVersion"), version
        )
        await next_status(run, "FirmwareStatusNotification", "Installed")
        sent = [m.get("status") for m in run.messages("FirmwareStatusNotification", after=mark)]
        await run.check_equal(
            "the FirmwareStatusNotification statuses",
            sent,
            ["Downloading", "Downloaded", "Installing", "Installed"],
        )


@case("TC_044_2_CS", "Firmware Update - Download Failed", module=MODULE,
      profile=FIRMWARE_MANAGEMENT)  # fmt: skip
async def tc_044_2(run: Run) -> None:
    """UpdateFirmware for an image the server does not have (one retry, 1 s apart) ->
    Downloading, then DownloadFailed once the tries are spent; no Installing."""
    async with file_server(run) as files:
        mark = await update(run, files.file_url("missing-image.bin"), retries=1)
        statuses = ["Downloading", "DownloadFailed"]
        await statuses_in_order(run, "FirmwareStatusNotification", statuses, after=mark)


@case("TC_044_3_CS", "Firmware Update - Installation Failed", module=MODULE,
      profile=FIRMWARE_MANAGEMENT)  # fmt: skip
async def tc_044_3(run: Run) -> None:
    """UpdateFirmware for an image no updater takes (empty) -> Downloading, Downloaded,
    Installing, InstallationFailed; the station keeps its firmware (no reboot into another)
    and its connectors come back Available."""
    async with file_server(run) as files:
        files.offer("broken.bin", b"")
        mark = await update(run, files.file_url("broken.bin"))
        statuses = ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
        await statuses_in_order(run, "FirmwareStatusNotification", statuses, after=mark)
        for connector_id in run.connector_ids:
            await run.wait_status(connector_id, "Available")


async def diagnostics(
    run: Run, location: str, *, retries: int = 0, window: bool = True
) -> tuple[int, str | None]:
    """GetDiagnostics (the last hour); (the mark before it, the fileName answered)."""
    mark = run.mark()
    now = datetime.now(UTC)
    payload: dict[str, object] = {"location": location, "retries": retries, "retryInterval": 1}
    if window:
        payload["startTime"] = timefmt.iso(now - timedelta(hours=1))
        payload["stopTime"] = timefmt.iso(now + timedelta(minutes=5))
    answer = await run.call("GetDiagnostics", payload)
    name = answer.get("fileName")
    return mark, name if isinstance(name, str) else None


@case("TC_045_1_CS", "Get Diagnostics", module=MODULE, profile=FIRMWARE_MANAGEMENT)
async def tc_045_1(run: Run) -> None:
    """GetDiagnostics to the tool's upload folder -> the answer names the file; Uploading,
    Uploaded; the file arrived under that name, and is an archive the tool can open."""
    async with file_server(run) as files:
        mark, name = await diagnostics(run, files.upload_url())
        await run.check("GetDiagnostics.conf carries a fileName", name is not None, name)
        statuses = ["Uploading", "Uploaded"]
        await statuses_in_order(run, "DiagnosticsStatusNotification", statuses, after=mark)
        upload = await files.uploaded(str(name), timeout=5)
        await run.check(f"the file {name} was uploaded", upload is not None)
        data = upload or b""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.namelist()
        except zipfile.BadZipFile:
            members = None
        if str(name).endswith(".zip"):
            await run.check("the uploaded .zip opens and holds files", bool(members), members)
        else:
            await run.check("the uploaded file is not empty", bool(data), len(data))


@case("TC_045_2_CS", "Get Diagnostics - Upload Failed", module=MODULE,
      profile=FIRMWARE_MANAGEMENT)  # fmt: skip
async def tc_045_2(run: Run) -> None:
    """GetDiagnostics to a location that refuses uploads (retries 0: one try, [E] 3.50) ->
    Uploading, then UploadFailed."""
    async with file_server(run) as files:
        mark, _ = await diagnostics(run, files.refusing_url(), retries=0)
        statuses = ["Uploading", "UploadFailed"]
        await statuses_in_order(run, "DiagnosticsStatusNotification", statuses, after=mark)
