"""`ocpp-station run --state-dir X`: an unusable X is exit 2 with one line, like other bad
arguments (interface contract), never a traceback from inside the running station."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ocpp_station.app import StartupError, StationApp
from ocpp_station.cli import build_parser, main
from ocpp_station.runtime import STATE_FILE
from ocpp_station.storage.store import MIGRATIONS, StationStore


def run_args(state_dir: Path) -> list[str]:
    return [
        "run",
        "--state-dir",
        str(state_dir),
        "--control",
        "127.0.0.1:0",
        "--csms",
        "ws://127.0.0.1:9",
    ]


def exit_line(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line; it must exit 2 with exactly one line on stderr."""
    with pytest.raises(SystemExit) as exited:
        main(run_args(state_dir))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "control:" not in out
    assert lines[0].startswith("ocpp-station: --state-dir")
    return lines[0]


def test_a_regular_file_is_not_a_state_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "plain.txt"
    file.write_text("not a folder\n")
    assert "exists and is not a folder" in exit_line(file, capsys)
    assert file.read_text() == "not a folder\n"  # left alone


def test_a_folder_below_a_regular_file_cannot_be_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "plain.txt"
    file.write_text("x")
    assert "Not a directory" in exit_line(file / "state", capsys)


def test_an_unwritable_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # access(2) is what says so (root passes a mode check, a read-only mount does not).
    asked: list[int] = []

    def access(path: object, mode: int) -> bool:
        asked.append(mode)
        return False

    monkeypatch.setattr(os, "access", access)
    assert exit_line(tmp_path, capsys).endswith(": not writable")
    assert asked and asked[0] & os.W_OK


def test_a_state_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"this is text, not an SQLite database " * 100)
    line = exit_line(tmp_path, capsys)
    assert STATE_FILE in line and "not a database" in line


def test_a_folder_in_place_of_the_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / STATE_FILE).mkdir()
    assert STATE_FILE in exit_line(tmp_path, capsys)


def test_a_state_file_of_a_newer_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    StationStore(tmp_path / STATE_FILE).close()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    db.close()
    assert f"schema version {len(MIGRATIONS) + 1}" in exit_line(tmp_path, capsys)


def test_a_usable_folder_is_made_and_its_state_file_opened(tmp_path: Path) -> None:
    state = tmp_path / "a" / "b"
    args = build_parser().parse_args(run_args(state))
    app = StationApp.from_args(args, tmp_path / "default")
    assert app.options.state_dir == state
    with StationStore(state / STATE_FILE) as store:
        assert store.schema_version == len(MIGRATIONS)


def test_without_state_dir_the_default_folder_is_checked(tmp_path: Path) -> None:
    blocker = tmp_path / "default"
    blocker.write_text("x")
    args = build_parser().parse_args(["run", *run_args(tmp_path)[3:]])  # no --state-dir
    with pytest.raises(StartupError, match="exists and is not a folder"):
        StationApp.from_args(args, blocker)


def test_a_second_station_on_one_state_folder_is_refused(tmp_path: Path) -> None:
    """Two processes on one state would each undo the other's writes: the second is refused,
    naming the process that holds the folder."""
    first = StationApp.from_args(build_parser().parse_args(run_args(tmp_path)), tmp_path)
    with pytest.raises(StartupError, match=r"in use by ocpp-station process \d+"):
        StationApp.from_args(build_parser().parse_args(run_args(tmp_path)), tmp_path)
    assert first._lock is not None
    first._lock.close()  # the first one is gone: the folder is free again
    StationApp.from_args(build_parser().parse_args(run_args(tmp_path)), tmp_path)


def test_reset_forgets_what_the_station_kept(tmp_path: Path) -> None:
    store = StationStore(tmp_path / STATE_FILE)
    store.save_config("HeartbeatInterval", "99")
    store.close()
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "firmware.img").write_bytes(b"x")
    kept = StationApp.from_args(build_parser().parse_args(run_args(tmp_path)), tmp_path)
    assert StationStore(tmp_path / STATE_FILE).load_config() == {"HeartbeatInterval": "99"}
    assert kept._lock is not None
    kept._lock.close()
    args = build_parser().parse_args([*run_args(tmp_path), "--reset"])
    StationApp.from_args(args, tmp_path)
    assert StationStore(tmp_path / STATE_FILE).load_config() == {}
    assert not (tmp_path / "files").exists()
