"""The real process with an unusable --state-dir: exit 2 and one line on stderr (interface.md:
bad arguments), nothing started."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TIMEOUT = 20.0


def regular_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_text("a file, not a folder\n")
    return path


def not_a_database(tmp_path: Path) -> Path:
    (tmp_path / "station.db").write_bytes(b"text where the state file should be " * 100)
    return tmp_path


CASES: dict[str, Callable[[Path], Path]] = {
    "a regular file": regular_file,
    "station.db not a database": not_a_database,
}


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
async def test_unusable_state_dir_exits_2_with_one_line(
    make: Callable[[Path], Path], tmp_path: Path
) -> None:
    state_dir = make(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_station",
        "run",
        "--state-dir",
        str(state_dir),
        "--control",
        "127.0.0.1:0",
        "--csms",
        "ws://127.0.0.1:9",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"the station was still running after {TIMEOUT:g} s")
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, out, err)
    assert len(lines) == 1 and lines[0].startswith("ocpp-station: --state-dir"), err
    assert b"control:" not in out
