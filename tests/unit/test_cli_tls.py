"""`--ca`, `--cert`, `--key` of `run` and `fleet`: PEM files read at parse time, their content
checked before the station starts, every problem a one-line exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.argtypes import UsageError, check_tls_arguments
from ocpp_station.cli import build_parser
from ocpp_station.csms.authority import CertificateAuthority


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate()


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_the_files_become_pem_text_for_run_and_fleet(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    cert, key = authority.issue_station("SN-1", "CPO")
    files = [
        "--ca", write(tmp_path, "ca.pem", authority.root_pem),
        "--cert", write(tmp_path, "cert.pem", cert),
        "--key", write(tmp_path, "key.pem", key),
    ]  # fmt: skip
    fleet = ["fleet", "--count", "2", "--csms", "wss://127.0.0.1:9000"]
    for argv in (["run", *files], [*fleet, *files]):
        args = build_parser().parse_args(argv)
        assert (args.ca, args.cert, args.key) == (authority.root_pem, cert, key)
        check_tls_arguments(args)


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read"), ("no certificate here", "is not a PEM file"), ("\xe9t\xe9", "PEM")],
)
def test_unreadable_files_are_refused_in_one_line(
    tmp_path: Path, content: str | None, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.pem"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "--ca", str(path)])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err.splitlines()[-1]


def test_certificates_that_cannot_be_used_are_refused(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    cert, key = authority.issue_station("SN-1", "CPO")
    other_cert, _ = authority.issue_station("SN-2", "CPO")
    cases = [
        (["--ca", write(tmp_path, "leaf.pem", cert)], "not a CA certificate"),
        (["--cert", write(tmp_path, "c.pem", cert)], "needs its key"),
        (
            [
                "--cert",
                write(tmp_path, "o.pem", other_cert),
                "--key",
                write(tmp_path, "k.pem", key),
            ],
            "does not belong",
        ),
    ]
    for argv, words in cases:
        args = build_parser().parse_args(["run", *argv])
        with pytest.raises(UsageError, match=words):
            check_tls_arguments(args)
