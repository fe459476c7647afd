"""The ports the runtime plugs in besides the hardware: the station's logs and the simulator's
firmware installer (the file transfers are tested against real servers in
tests/integration/test_file_transfer.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocpp_station.hardware.firmware import SimulatedInstaller, image_version
from ocpp_station.hardware.transfer_faults import FaultyFiles, FaultyInstaller
from ocpp_station.runtime import MessageLog, StationOptions, StationRuntime
from ocpp_station.station.ports import InstallError
from ocpp_station.station_logs import LogRing, StationLogs, process_log


def test_the_station_log_keeps_records_by_time() -> None:
    ring = LogRing(size=3)
    logger = logging.getLogger("ocpp_station.test_ports")
    logger.addHandler(ring)
    logger.propagate = False
    try:
        for n in range(5):
            logger.warning("line %d", n)
    finally:
        logger.removeHandler(ring)
        logger.propagate = True
    logs = StationLogs(ring, lambda: [])
    lines = logs.read("station", None, None)
    assert [line.text for line in lines] == [
        "WARNING ocpp_station.test_ports: line 2",
        "WARNING ocpp_station.test_ports: line 3",
        "WARNING ocpp_station.test_ports: line 4",
    ]
    later = lines[-1].time + timedelta(seconds=1)
    assert logs.read("station", later, None) == []
    assert logs.read("station", None, lines[0].time) == lines[:1]


def test_the_ocpp_log_is_the_frames_with_their_direction() -> None:
    messages = MessageLog()
    messages.add("out", [2, "1", "Heartbeat", {}])
    messages.add("in", [3, "1", {"currentTime": "2026-01-01T00:00:00Z"}])
    logs = StationLogs(LogRing(), messages.frames)
    lines = logs.read("ocpp", None, None)
    assert [line.text for line in lines] == [
        'out [2,"1","Heartbeat",{}]',
        'in [3,"1",{"currentTime":"2026-01-01T00:00:00Z"}]',
    ]
    assert all(abs(line.time - datetime.now(UTC)) < timedelta(seconds=5) for line in lines)
    with pytest.raises(KeyError, match="no log named 'security'"):
        logs.read("security", None, None)


def test_an_image_carries_its_version(tmp_path: Path) -> None:
    headed = tmp_path / "fw.bin"
    headed.write_bytes(b"#!firmware\nversion: 2.1.0\n\x00\x01binary")
    assert image_version(headed) == "2.1.0"
    named = tmp_path / "1.4.7.bin"
    named.write_bytes(b"\x00" * 100)
    assert image_version(named) == "1"  # the name up to its first dot: a name says little
    plain = tmp_path / "release-7"
    plain.write_bytes(b"\x00" * 10)
    assert image_version(plain) == "release-7"


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "the image is empty"), (b"version: " + b"9" * 60 + b"\n", "no usable version")],
)
async def test_a_bad_image_is_refused(tmp_path: Path, content: bytes, why: str) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(content)
    with pytest.raises(InstallError, match=why):
        await SimulatedInstaller().install(image)


async def test_a_missing_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="cannot read the image"):
        await SimulatedInstaller().install(tmp_path / "gone.bin")


async def test_the_runtime_plugs_in_every_port() -> None:
    runtime = StationRuntime(StationOptions(csms_url="ws://127.0.0.1:9/ocpp"))
    ports = runtime.station.ctx.ports
    assert ports.files is not None and ports.files.protocols == {"FTP", "FTPS", "HTTP", "HTTPS"}
    # The simulator's installer, behind the control API's failure switch (off).
    assert isinstance(ports.installer, FaultyInstaller)
    assert isinstance(ports.installer._inner, SimulatedInstaller)
    assert isinstance(ports.files, FaultyFiles) and runtime.transfer_faults.view() == {
        "download": False,
        "upload": False,
        "install": False,
        "delaySeconds": 0.0,
    }
    assert ports.logs is not None and set(ports.logs.names) == {"station", "ocpp"}
    logging.getLogger("ocpp_station.station").warning("seen by diagnostics")
    assert any(
        "seen by diagnostics" in line.text for line in ports.logs.read("station", None, None)
    )
    assert process_log() is process_log()
    await runtime.stop()
