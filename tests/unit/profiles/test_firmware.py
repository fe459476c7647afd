"""Firmware Management (§5.9, §5.19, §4.4, §4.5, [E] 3.50, 3.63, digest §5.1): every status of
an update and a diagnostics upload in order, retries and their intervals on the virtual clock,
sessions never cut, idle connectors Unavailable meanwhile, the new version in the next
BootNotification, an update kept across power cuts without a second Installed, and the
archive's content."""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.firmware import image_version
from ocpp_station.profiles.firmware.diagnostics import file_name, target, write_archive
from ocpp_station.profiles.firmware.update import FirmwareUpdate
from ocpp_station.station.ports import LogLine, Ports, TransferError
from tests.unit.harness import Harness, open_store

IMAGE = b"version: 2.0.0\n" + b"\x00" * 1000


class Files:
    """A FileTransfer that serves IMAGE and keeps uploads; `fail` tries fail first."""

    protocols = frozenset({"HTTP", "HTTPS", "FTP", "FTPS"})

    def __init__(self, image: bytes = IMAGE) -> None:
        self.image = image
        self.fail = 0
        self.tries: list[tuple[str, float]] = []
        self.uploads: dict[str, bytes] = {}
        self.clock: VirtualClock | None = None

    def _try(self, url: str) -> None:
        self.tries.append((url, self.clock.monotonic() if self.clock else 0.0))
        if self.fail:
            self.fail -= 1
            raise TransferError(f"{url}: refused")

    async def download(self, url: str, destination: Path) -> None:
        self._try(url)
        destination.write_bytes(self.image)  # noqa: ASYNC240 - a small file, in a test

    async def upload(self, source: Path, url: str) -> None:
        self._try(url)
        self.uploads[url] = source.read_bytes()  # noqa: ASYNC240 - a small file, in a test


class Installer:
    """The simulator's installer without its worker thread: the virtual clock alone decides
    when things happen here."""

    async def install(self, image: Path) -> str:
        return image_version(image)


async def run_for(h: Harness, seconds: float, step: float = 1.0) -> None:
    """Virtual time, and between steps a moment of real time for the archive's worker thread
    (bounded: a few milliseconds a step)."""
    elapsed = 0.0
    while elapsed < seconds - 1e-9:
        await h.run_for(min(step, seconds - elapsed), step=step)
        elapsed += step
        await asyncio.sleep(0.002)


async def eventually(h: Harness, done: Callable[[], bool], step: float = 1.0) -> None:
    """Advance virtual time by `step` until `done()`, giving the worker thread real moments;
    at most 500 rounds (5 s of real time)."""
    for _ in range(500):
        if done():
            return
        await h.run_for(step, step=step)
        await asyncio.sleep(0.01)
    raise AssertionError("not done within 500 rounds")


class Logs:
    names: Sequence[str] = ("station", "ocpp")

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def read(self, name: str, start: datetime | None, stop: datetime | None) -> list[LogLine]:
        now = self.clock.now()
        lines = [LogLine(now - timedelta(hours=2), f"{name} old"), LogLine(now, f"{name} now")]
        return [
            line
            for line in lines
            if (start is None or line.time >= start) and (stop is None or line.time <= stop)
        ]


async def booted(
    tmp_path: Path,
    files: Files | None = None,
    store: Any = None,
    clock: VirtualClock | None = None,
    *,
    clear: bool = True,
) -> Harness:
    clock = clock or VirtualClock()
    files = files or Files()
    files.clock = clock
    ports = Ports(files=files, installer=Installer(), logs=Logs(clock), folder=tmp_path)
    h = Harness(2, store=store, clock=clock, ports=ports)
    h.csms.answer_boot("Accepted", 3600)
    await h.boot()
    if clear:
        h.csms.clear()
    return h


def firmware_statuses(h: Harness) -> list[str]:
    return [p["status"] for p in h.csms.of("FirmwareStatusNotification")]


def diagnostics_statuses(h: Harness) -> list[str]:
    return [p["status"] for p in h.csms.of("DiagnosticsStatusNotification")]


async def update(h: Harness, in_seconds: float = 0, **extra: Any) -> dict[str, Any]:
    when = h.clock.now() + timedelta(seconds=in_seconds)
    request = {"location": "https://files.example/fw.bin", "retrieveDate": timefmt.iso(when)}
    return await h.request("UpdateFirmware", {**request, **extra})


# ---------------------------------------------------------------------------- an update


async def test_an_update_downloads_installs_reboots_and_then_is_installed(tmp_path: Path) -> None:
    """Not before retrieveDate ([E] 3.63); Downloading, Downloaded, Installing; the reboot's
    BootNotification carries the new version; Installed after it (digest §5.1)."""
    h = await booted(tmp_path)
    assert await update(h, in_seconds=30) == {}
    await run_for(h, 29)
    assert firmware_statuses(h) == []
    await run_for(h, 2)
    assert h.reboots == ["Hard"]
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Installing", "Installed"]
    actions = h.csms.actions()
    assert actions.index("BootNotification") < len(actions) - 1 - actions[::-1].index(
        "FirmwareStatusNotification"
    )
    boot = h.csms.of("BootNotification")[-1]
    assert boot["firmwareVersion"] == "2.0.0"
    assert not (tmp_path / "firmware.img").exists()
    await h.close()


async def test_retries_are_tried_retry_interval_apart_then_download_failed(tmp_path: Path) -> None:
    """1 + retries tries, retryInterval seconds apart; all failing: Downloading, then one
    DownloadFailed, no Installing."""
    files = Files()
    files.fail = 5
    h = await booted(tmp_path, files)
    await update(h, retries=2, retryInterval=60)
    await run_for(h, 200, step=5)
    assert [t for _, t in files.tries] == [
        pytest.approx(files.tries[0][1] + s) for s in (0, 60, 120)
    ]
    assert firmware_statuses(h) == ["Downloading", "DownloadFailed"]
    assert h.reboots == []
    await h.close()


async def test_a_failed_try_is_retried_and_the_update_goes_on(tmp_path: Path) -> None:
    files = Files()
    files.fail = 1
    h = await booted(tmp_path, files)
    await update(h, retries=1, retryInterval=10)
    await run_for(h, 12)
    assert len(files.tries) == 2
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Installing", "Installed"]
    await h.close()


async def test_an_image_the_installer_refuses_is_installation_failed(tmp_path: Path) -> None:
    """The simulator's installer refuses an empty image: InstallationFailed, no reboot, the
    connectors back to what they were (one stays Unavailable as the central system set it)."""
    h = await booted(tmp_path, Files(image=b""))
    await h.request("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
    await update(h)
    await run_for(h, 2)
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert h.reboots == [] and (h.status(1), h.status(2)) == ("Available", "Unavailable")
    await h.close()


async def test_a_running_session_is_never_cut(tmp_path: Path) -> None:
    """§5.19: the image waits for the session to end; meanwhile the idle connector shows
    Unavailable and no new session starts; then Installing."""
    h = await booted(tmp_path)
    await h.plug(1)
    await h.card("TAG", 1)
    assert h.status(1) == "Charging"
    await update(h)
    await run_for(h, 5)
    assert firmware_statuses(h) == ["Downloading", "Downloaded"]
    assert (h.status(1), h.status(2)) == ("Charging", "Unavailable")
    await h.plug(2)
    await h.card("OTHER", 2)
    assert h.connector(2).transaction is None
    await h.card("TAG", 1)  # the driver ends the session
    await h.unplug(1)
    await run_for(h, 3)
    assert firmware_statuses(h)[2:] == ["Installing", "Installed"]
    assert h.reboots == ["Hard"]
    await h.close()


async def test_a_new_update_replaces_one_that_waits(tmp_path: Path, info_log: Any) -> None:
    files = Files()
    h = await booted(tmp_path, files)
    await update(h, in_seconds=600, location="ftp://u:secret@old.example/a.bin")
    await update(h, location="https://new.example/b.bin")
    await run_for(h, 700, step=50)
    assert [url for url, _ in files.tries] == ["https://new.example/b.bin"]
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert "a new firmware update replaces the one from ftp://u:***@old.example/a.bin" in (
        info_log.messages
    )
    assert "secret" not in info_log.text  # the password never reaches a log line
    await h.close()


# ---------------------------------------------------------------------------- power cuts


async def cut(h: Harness, path: Path, clock: VirtualClock, tmp_path: Path, files: Files) -> Harness:
    """The power goes (no close) and comes back on the same store, a second later."""
    h.store.close()
    later = VirtualClock(clock.now() + timedelta(seconds=1))
    return await booted(tmp_path, files, open_store("station", path), later, clear=False)


async def test_a_power_cut_mid_download_resumes_without_a_second_downloading(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    clock = VirtualClock()
    files = Files()
    files.fail = 1
    h = await booted(tmp_path, files, open_store("station", path), clock)
    await update(h, retries=3, retryInterval=600)
    await run_for(h, 5)
    assert firmware_statuses(h) == ["Downloading"]
    again = await cut(h, path, clock, tmp_path, files)
    await run_for(again, 3)
    assert firmware_statuses(again) == ["Downloaded", "Installing", "Installed"]
    assert again.service(FirmwareUpdate).update is None
    await again.close()
    again.store.close()


async def test_installed_is_reported_once_across_power_cuts(tmp_path: Path) -> None:
    """Cut after the installation, before the reboot: Installed after the next boot, and the
    new version from then on; a further cut reports nothing again."""
    path = tmp_path / "state.db"
    clock = VirtualClock()
    files = Files()
    h = await booted(tmp_path, files, open_store("station", path), clock)
    service = h.service(FirmwareUpdate)
    installed: list[str] = []

    async def reboot_lost(kind: str) -> None:  # the power goes as the reboot begins
        installed.append(kind)

    h.station.ctx.reboot = reboot_lost
    await update(h)
    await run_for(h, 2)
    assert installed == ["Hard"] and service.update is not None
    again = await cut(h, path, clock, tmp_path, files)
    assert again.csms.actions()[0] == "BootNotification"
    assert again.csms.of("BootNotification")[0]["firmwareVersion"] == "2.0.0"
    assert firmware_statuses(again) == ["Installed"]
    third = await cut(again, path, clock, tmp_path, files)
    assert firmware_statuses(third) == []
    assert third.csms.of("BootNotification")[0]["firmwareVersion"] == "2.0.0"
    await third.close()
    third.store.close()


def kept_update(tmp_path: Path, phase: str) -> Any:
    """A station's store holding an update at `phase`, as a power cut left it."""
    store = open_store("station", tmp_path / "state.db")
    kept = {"location": "https://x/y.bin", "retrieve": "2026-01-01T00:00:00Z", "tries_left": 0,
            "interval": 0, "phase": phase, "version": None}  # fmt: skip
    store.record_put("firmware", "update", kept)
    return store


async def test_a_cut_while_flashing_is_installation_failed(tmp_path: Path) -> None:
    store = kept_update(tmp_path, "installing")
    h = await booted(tmp_path, Files(), store, clear=False)
    assert firmware_statuses(h) == ["InstallationFailed"]
    assert store.record_get("firmware", "update") is None
    await h.close()
    store.close()


# ---------------------------------------------------------------------------- diagnostics


async def diagnose(h: Harness, location: str = "ftp://u:p@files.example/in/", **extra: Any) -> Any:
    return await h.request("GetDiagnostics", {"location": location, **extra})


async def test_diagnostics_answer_a_name_then_upload_the_window(tmp_path: Path) -> None:
    """§5.9: the fileName at once; Uploading, Uploaded; the zip holds each log's lines
    between startTime and stopTime, each with its UTC time."""
    files = Files()
    h = await booted(tmp_path, files)
    now = h.clock.now()
    answer = await diagnose(h, startTime=timefmt.iso(now - timedelta(hours=1)))
    name = answer["fileName"]
    assert name.startswith("diagnostics-CP-T-") and name.endswith(".zip")
    await eventually(h, lambda: len(diagnostics_statuses(h)) == 2, step=0.1)
    assert diagnostics_statuses(h) == ["Uploading", "Uploaded"]
    [(url, data)] = files.uploads.items()
    assert url == f"ftp://u:p@files.example/in/{name}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["ocpp.log", "station.log"]
        text = archive.read("station.log").decode()
    # Only the line inside the window (the one of two hours ago is not), with its UTC time.
    [line] = text.splitlines()
    stamp, words = line.split(" ", 1)
    assert words == "station now" and stamp.endswith("Z")
    assert abs((timefmt.parse(stamp) - now).total_seconds()) < 60
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("diagnostics-")]  # noqa: ASYNC240
    await h.close()


@pytest.mark.parametrize(("retries", "tries"), [(0, 1), (2, 3)])
async def test_diagnostics_retries(tmp_path: Path, retries: int, tries: int) -> None:
    """[E] 3.50: retries=0 is one try; each failing: Uploading, then UploadFailed."""
    files = Files()
    files.fail = 10
    h = await booted(tmp_path, files)
    await diagnose(h, retries=retries, retryInterval=30)
    await eventually(h, lambda: len(diagnostics_statuses(h)) == 2, step=5)
    assert len(files.tries) == tries
    assert diagnostics_statuses(h) == ["Uploading", "UploadFailed"]
    await h.close()


async def test_a_location_the_station_cannot_use_gets_no_name(
    tmp_path: Path, info_log: Any
) -> None:
    """A scheme outside SupportedFileTransferProtocols: no fileName, UploadFailed; the log
    names the location without its password."""
    h = await booted(tmp_path)
    assert await diagnose(h, location="sftp://u:secret@files.example/in/") == {}
    await run_for(h, 1)
    assert diagnostics_statuses(h) == ["UploadFailed"]
    wanted = "GetDiagnostics to sftp://u:***@files.example/in/: the station cannot upload there"
    assert wanted in info_log.messages and "secret" not in info_log.text
    await h.close()


# ---------------------------------------------------------------------------- triggered


async def test_triggered_statuses_are_idle_or_what_runs(tmp_path: Path) -> None:
    """§5.17, TC_054: Idle when nothing runs; the status of the update under way else."""
    files = Files()
    h = await booted(tmp_path, files)
    for message in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
        answer = await h.request("TriggerMessage", {"requestedMessage": message})
        assert answer == {"status": "Accepted"}
    assert firmware_statuses(h) == ["Idle"] and diagnostics_statuses(h) == ["Idle"]
    files.fail = 1
    await update(h, retries=1, retryInterval=100)
    await run_for(h, 1)
    await h.request("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    assert firmware_statuses(h)[-1] == "Downloading"
    await h.close()


def test_the_image_folder_defaults_to_a_temporary_one() -> None:
    """A station without a state folder still has somewhere to put the image."""
    service = FirmwareUpdate.__new__(FirmwareUpdate)
    service.folder = None
    image = service._image()
    assert image.parent.is_dir() and image.name == "firmware.img" and service.folder is not None


# ---------------------------------------------------------------------------- diagnostics' parts


def test_the_file_name_is_safe_for_any_folder() -> None:
    """CiString255 and a name every FTP server and file system takes: ASCII letters, digits,
    - and _ of the identity (64 at most) and the UTC time."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert file_name("CP 7/ü-x_y", when) == "diagnostics-CP_7__-x_y-20260102T030405Z.zip"
    assert file_name("A" * 80, when) == f"diagnostics-{'A' * 64}-20260102T030405Z.zip"


@pytest.mark.parametrize(
    ("location", "wanted"),
    [
        ("ftp://h/in", "ftp://h/in/d.zip"),
        ("ftp://h/in/", "ftp://h/in/d.zip"),
        ("http://h/up/d.zip", "http://h/up/d.zip"),
    ],
)
def test_the_upload_goes_into_the_location(location: str, wanted: str) -> None:
    assert target(location, "d.zip") == wanted


def test_the_archive_is_compressed_and_bounded_by_the_window(tmp_path: Path) -> None:
    clock = VirtualClock()
    now = clock.now()
    path = tmp_path / "a.zip"
    write_archive(path, Logs(clock), None, now - timedelta(hours=3))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("station.log")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("station.log") == b""  # both lines are after the stop
    write_archive(path, Logs(clock), None, None)
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("ocpp.log").decode().splitlines()
    assert lines == [
        f"{timefmt.iso(now - timedelta(hours=2))} ocpp old",
        f"{timefmt.iso(now)} ocpp now",
    ]
    write_archive(path, None, None, None)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == []


async def test_a_stop_time_in_the_past_leaves_the_newer_lines_out(tmp_path: Path) -> None:
    files = Files()
    h = await booted(tmp_path, files)
    stop = h.clock.now() - timedelta(hours=1)
    await diagnose(h, stopTime=timefmt.iso(stop))
    await eventually(h, lambda: len(diagnostics_statuses(h)) == 2, step=0.1)
    [data] = files.uploads.values()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("station.log").decode().endswith(" station old\n")
    await h.close()


async def test_diagnostics_retry_interval_apart_and_then_idle(tmp_path: Path) -> None:
    """Tries retryInterval apart (back to back without one); once done, a trigger says Idle
    again; a station without a state folder uses a temporary one."""
    files = Files()
    files.fail = 1
    h = await booted(tmp_path, files)
    await diagnose(h, retries=1, retryInterval=40)
    await eventually(h, lambda: len(diagnostics_statuses(h)) == 2, step=5)
    assert diagnostics_statuses(h) == ["Uploading", "Uploaded"]
    first, second = (t for _, t in files.tries)
    assert second - first == pytest.approx(40, abs=5)
    files.fail = 1
    files.tries.clear()
    await diagnose(h, retries=1)
    await eventually(h, lambda: len(diagnostics_statuses(h)) == 4, step=0.1)
    first, second = (t for _, t in files.tries)
    assert second - first < 0.5
    await h.request("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    assert diagnostics_statuses(h)[-1] == "Idle"
    await h.close()


async def test_without_a_folder_the_archive_is_made_in_a_temporary_one(tmp_path: Path) -> None:
    clock = VirtualClock()
    files = Files()
    files.clock = clock
    ports = Ports(files=files, installer=Installer(), logs=Logs(clock), folder=None)
    h = Harness(2, clock=clock, ports=ports)
    h.csms.answer_boot("Accepted", 3600)
    await h.boot()
    await diagnose(h)
    await eventually(h, lambda: "Uploaded" in diagnostics_statuses(h), step=0.1)
    await h.close()


async def test_a_pending_station_still_answers_a_triggered_status(tmp_path: Path) -> None:
    """§4.2: while Pending the central system may trigger messages, and they go."""
    clock = VirtualClock()
    ports = Ports(files=Files(), installer=Installer(), logs=Logs(clock), folder=tmp_path)
    h = Harness(2, clock=clock, ports=ports)
    h.csms.answer_boot("Pending", 60)
    await h.boot()
    for message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        answer = await h.request("TriggerMessage", {"requestedMessage": message})
        assert answer == {"status": "Accepted"}
    assert diagnostics_statuses(h) == ["Idle"] and firmware_statuses(h) == ["Idle"]
    await h.close()


# ---------------------------------------------------------------------------- what the log says


@pytest.fixture
def info_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="ocpp_station.station")
    return caplog


async def test_the_log_says_how_each_update_ended(tmp_path: Path, info_log: Any) -> None:
    files = Files(image=b"")
    h = await booted(tmp_path, files)
    await update(h)
    await run_for(h, 2)
    assert "firmware update InstallationFailed: the image is empty" in info_log.messages
    assert not (tmp_path / "firmware.img").exists()  # nothing left behind
    files.image = IMAGE
    files.fail = 1
    await update(h)  # no retries: one try
    await run_for(h, 2)
    assert len(files.tries) == 2
    assert "firmware update DownloadFailed: no try downloaded the image" in info_log.messages
    await update(h)
    await run_for(h, 2)
    assert "firmware update Installed: firmware 2.0.0 runs" in info_log.messages
    await h.close()


@pytest.mark.parametrize(
    ("ports", "why"),
    [
        (Ports(installer=Installer()), "DownloadFailed: no try downloaded the image"),
        (Ports(files=Files()), "InstallationFailed: this station has no firmware installer"),
    ],
)
async def test_a_station_without_a_port_fails_cleanly(
    tmp_path: Path, ports: Ports, why: str, info_log: Any
) -> None:
    ports.folder = tmp_path / "state" / "files"  # made with its parents when first needed
    h = Harness(2, ports=ports)
    h.csms.answer_boot("Accepted", 3600)
    await h.boot()
    await update(h)
    await run_for(h, 2)
    assert f"firmware update {why}" in info_log.messages
    if ports.files is None:
        assert any(
            m.endswith("tries left): this station has no file transfer") for m in info_log.messages
        )
    await h.close()


async def test_retries_without_an_interval_follow_at_once(tmp_path: Path) -> None:
    files = Files()
    files.fail = 1
    h = await booted(tmp_path, files)
    await update(h, retries=1)
    await h.run_for(0.1, step=0.01)
    first, second = (t for _, t in files.tries)
    assert second - first < 0.05
    await h.close()


async def test_the_last_failed_try_is_reported_at_once(tmp_path: Path) -> None:
    """No wait after the last try: DownloadFailed right after it."""
    files = Files()
    files.fail = 2
    h = await booted(tmp_path, files)
    await update(h, retries=1, retryInterval=100)
    await run_for(h, 101, step=1)
    assert firmware_statuses(h) == ["Downloading", "DownloadFailed"]
    await h.close()


async def test_a_retrieve_date_under_a_second_away_is_waited_for(tmp_path: Path) -> None:
    files = Files()
    h = await booted(tmp_path, files)
    await update(h, in_seconds=0.6)
    await h.run_for(0.3, step=0.1)
    assert files.tries == []
    await h.run_for(0.5, step=0.1)
    assert len(files.tries) == 1
    await h.close()


class Blocking:
    """An installer that never ends: the power is cut while it flashes."""

    def __init__(self) -> None:
        self.started = False

    async def install(self, image: Path) -> str:
        self.started = True
        await asyncio.Event().wait()
        return "never"


async def test_the_image_waits_in_the_state_folder_and_a_cut_while_flashing_fails_it(
    tmp_path: Path, info_log: Any
) -> None:
    path = tmp_path / "state.db"
    clock = VirtualClock()
    files = Files()
    files.clock = clock
    blocking = Blocking()
    ports = Ports(files=files, installer=blocking, logs=Logs(clock), folder=tmp_path)
    h = Harness(2, store=open_store("station", path), clock=clock, ports=ports)
    h.csms.answer_boot("Accepted", 3600)
    await h.boot()
    await h.plug(1)
    await h.card("TAG", 1)
    await update(h)
    await run_for(h, 2)
    assert (tmp_path / "firmware.img").exists()  # in the state folder, waiting
    await h.plug(2)
    await h.card("OTHER", 2)
    assert any(m.endswith(": a firmware update is being installed") for m in info_log.messages)
    await h.card("TAG", 1)
    await h.unplug(1)
    await h.run_for(1.05, step=0.05)
    assert blocking.started and firmware_statuses(h)[-1] == "Installing"
    await h.station.close()
    h.store.close()
    again = await booted(tmp_path, files, open_store("station", path), VirtualClock(clock.now()),
                         clear=False)  # fmt: skip
    assert firmware_statuses(again) == ["InstallationFailed"]
    wanted = "firmware update InstallationFailed: the installation was interrupted"
    assert wanted in info_log.messages
    await again.close()
    again.store.close()


async def test_a_resumed_update_whose_image_is_gone_fails(tmp_path: Path, info_log: Any) -> None:
    store = kept_update(tmp_path, "downloaded")
    h = await booted(tmp_path, Files(), store, clear=False)
    await run_for(h, 1)
    assert firmware_statuses(h) == ["InstallationFailed"]
    assert "firmware update InstallationFailed: the downloaded image is gone" in info_log.messages
    await h.close()
    store.close()


async def test_an_unreadable_kept_update_is_dropped(tmp_path: Path, info_log: Any) -> None:
    store = open_store("station", tmp_path / "state.db")
    store.record_put("firmware", "update", {"location": "https://x/y.bin", "colour": "red"})
    h = await booted(tmp_path, Files(), store, clear=False)
    assert store.record_get("firmware", "update") is None
    assert any(m.startswith("the kept firmware update is unreadable") for m in info_log.messages)
    assert firmware_statuses(h) == []
    await h.close()
    store.close()
