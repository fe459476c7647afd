"""A listening address already taken is a bad argument for every command: exit 2 with a
one-line reason naming the address, before anything runs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpp_station.cli import main


@pytest.fixture
def taken() -> Iterator[str]:
    """127.0.0.1:PORT, bound and listened on by someone else."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield f"127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--control", "{taken}", "--state-dir", "{tmp}"],
        ["csms", "--listen", "{taken}", "--api", "127.0.0.1:0"],
        ["csms", "--listen", "127.0.0.1:0", "--api", "{taken}"],
        ["csms-minimal", "--listen", "{taken}", "--api", "127.0.0.1:0"],
        ["csms-minimal", "--listen", "127.0.0.1:0", "--api", "{taken}"],
        ["fleet", "--count", "1", "--csms", "ws://127.0.0.1:9", "--control", "{taken}"],
        ["conformance", "--station", "external", "--listen", "{taken}"],
    ],
    ids=["run", "csms", "csms api", "minimal", "minimal api", "fleet", "conformance"],
)
def test_an_address_in_use_exits_2(
    argv: list[str], taken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("{taken}", taken).replace("{tmp}", str(tmp_path)) for a in argv]
    assert exit_code(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if taken in line]
    assert len(err) == 1 and "Traceback" not in err[0], err
