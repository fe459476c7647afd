"""The simulator's transfer-fault switches (control API): each makes its step fail with a
clear reason, a delay stalls each transfer on the station's clock, and a bad body changes
nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.transfer_faults import FaultyFiles, FaultyInstaller, TransferFaults
from ocpp_station.station.ports import InstallError, TransferError


class Files:
    protocols = frozenset({"HTTP"})

    def __init__(self) -> None:
        self.done: list[str] = []

    async def download(self, url: str, destination: Path) -> None:
        self.done.append(f"get {url}")

    async def upload(self, source: Path, url: str) -> None:
        self.done.append(f"put {url}")


class Installer:
    async def install(self, image: Path) -> str:
        return "3.0"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"download": 1}, "download must be true or false"),
        ({"upload": "yes"}, "upload must be true or false"),
        ({"install": None}, "install must be true or false"),
        ({"delaySeconds": -1}, "delaySeconds must be a number of seconds from 0 to 3600"),
        ({"delaySeconds": 3601}, "from 0 to 3600"),
        ({"delaySeconds": True}, "delaySeconds"),
        ({"download": True, "slow": 1}, "unknown fields: slow"),
    ],
)
def test_a_bad_body_is_refused_and_changes_nothing(body: dict[str, object], words: str) -> None:
    faults = TransferFaults()
    with pytest.raises(ValueError, match=words):
        faults.change(body)
    assert faults.view() == {
        "download": False,
        "upload": False,
        "install": False,
        "delaySeconds": 0.0,
    }


def test_switches_change_one_at_a_time() -> None:
    faults = TransferFaults()
    faults.change({"upload": True, "delaySeconds": 2})
    faults.change({"install": True})
    assert faults.view() == {
        "download": False,
        "upload": True,
        "install": True,
        "delaySeconds": 2.0,
    }


async def test_each_switch_fails_its_step_and_only_that(tmp_path: Path) -> None:
    faults = TransferFaults()
    files = Files()
    faulty = FaultyFiles(files, faults, VirtualClock())
    installer = FaultyInstaller(Installer(), faults)
    assert faulty.protocols == {"HTTP"}
    faults.change({"download": True})
    with pytest.raises(TransferError, match="the download fails"):
        await faulty.download("http://x/a", tmp_path / "a")
    await faulty.upload(tmp_path / "a", "http://x/b")
    faults.change({"download": False, "upload": True})
    await faulty.download("http://x/a", tmp_path / "a")
    with pytest.raises(TransferError, match="the upload fails"):
        await faulty.upload(tmp_path / "a", "http://x/b")
    assert files.done == ["put http://x/b", "get http://x/a"]
    assert await installer.install(tmp_path / "a") == "3.0"
    faults.change({"install": True})
    with pytest.raises(InstallError, match="the installation fails"):
        await installer.install(tmp_path / "a")


async def test_a_delay_stalls_each_transfer_on_the_stations_clock(tmp_path: Path) -> None:
    clock = VirtualClock()
    faults = TransferFaults(delay_seconds=30.0)
    files = Files()
    transfer = asyncio.ensure_future(
        FaultyFiles(files, faults, clock).download("u", tmp_path / "f")
    )
    await asyncio.sleep(0)
    clock.advance(29.0)
    await asyncio.sleep(0)
    assert files.done == []
    clock.advance(1.5)
    await transfer
    assert files.done == ["get u"]
