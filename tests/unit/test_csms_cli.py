"""`ocpp-station csms` options, tag list files, and its main() run in-process."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms.cli import add_arguments, main
from ocpp_station.csms.tags import (
    TagInfo,
    load_tags,
    merge_tags,
    parse_tag_list,
    parse_tag_option,
)
from tests.unit.test_csms_support import BOOT, WAIT, RawStation, auth_header

EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise ValueError(message)


def parse(*argv: str) -> argparse.Namespace:
    parser = _Parser(prog="ocpp-station csms")
    add_arguments(parser)
    return parser.parse_args(list(argv))


# ---------------------------------------------------------------------------------- tag lists


def test_csv_tag_list() -> None:
    text = (
        "# the test fleet\n"
        "idTag,status,parentIdTag,expiryDate\n"
        "TAG1\n"
        "\n"
        "TAG2,Blocked\n"
        " TAG3 , Accepted , GROUP , 2030-01-01T00:00:00Z \n"
        "TAG4,,GROUP\n"
        "TAG5,Expired,,\n"
    )
    assert parse_tag_list(text) == {
        "TAG1": TagInfo(),
        "TAG2": TagInfo("Blocked"),
        "TAG3": TagInfo("Accepted", "GROUP", EXPIRY),
        "TAG4": TagInfo("Accepted", "GROUP"),
        "TAG5": TagInfo("Expired"),
    }


def test_json_tag_lists_array_and_object() -> None:
    array = [
        {"idTag": "TAG1"},
        {"idTag": "TAG2", "status": "Invalid", "parentIdTag": "G", "expiryDate": "2030-01-01"},
    ]
    expected = {"TAG1": TagInfo(), "TAG2": TagInfo("Invalid", "G", EXPIRY)}
    assert parse_tag_list(json.dumps(array)) == expected
    mapping = {"TAG1": {}, "TAG2": {k: v for k, v in array[1].items() if k != "idTag"}}
    assert parse_tag_list(json.dumps(mapping)) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("TAG1,Sideways", "tags:1"),
        ("TAG1\nTAG2,Accepted,G,tomorrow", "tags:2: expiryDate"),
        ("TAG1,Accepted,G,2030-01-01,extra", "tags:1"),
        ("ABCDEFGHIJKLMNOPQRSTU", "1 to 20"),
        ("tag1\nTAG1", "twice"),
        ("TAG1,Accepted,ABCDEFGHIJKLMNOPQRSTU", "parentIdTag"),
        ('[{"status": "Accepted"}]', "entry 1: idTag"),
        ('[{"idTag": "T", "colour": "red"}]', "unknown fields"),
        ('[{"idTag": "T", "status": 3}]', "status must be a string"),
        ('["TAG1"]', "expected an object"),
        ('{"TAG1": "Accepted"}', "must be an object"),
        ("[1, 2", "not valid JSON"),
    ],
)
def test_a_bad_tag_list_names_the_entry(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_tag_list(text)


def test_load_tags_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text("TAG1,Blocked\n", encoding="utf-8")
    assert load_tags(path) == {"TAG1": TagInfo("Blocked")}
    with pytest.raises(ValueError, match="cannot read"):
        load_tags(tmp_path / "missing.csv")
    path.write_text("TAG1,Nope\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tags\.csv:1"):
        load_tags(path)


def test_tag_option() -> None:
    assert parse_tag_option("TAG1") == ("TAG1", TagInfo())
    assert parse_tag_option("TAG1:Blocked") == ("TAG1", TagInfo("Blocked"))
    assert parse_tag_option("TAG1::G") == ("TAG1", TagInfo("Accepted", "G"))
    for bad in ("", "TAG1:Nope", "TAG1:Accepted:G:x", ":Accepted"):
        with pytest.raises(ValueError):
            parse_tag_option(bad)


def test_later_tags_replace_earlier_ones_ignoring_case() -> None:
    merged = merge_tags({"TAG1": TagInfo(), "TAG2": TagInfo()}, {"tag1": TagInfo("Blocked")})
    assert merged == {"TAG2": TagInfo(), "tag1": TagInfo("Blocked")}


# ------------------------------------------------------------------------------------ options


def test_defaults() -> None:
    args = parse()
    assert args.listen == ("127.0.0.1", 9000)
    assert args.api == ("127.0.0.1", 9001)
    assert args.db is None
    assert args.boot == "accept"
    assert args.heartbeat_interval == 20
    assert args.tags is None and args.tag == []
    assert args.reject_unknown_tags is False
    assert args.passwords == {}


def test_every_option(tmp_path: Path) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text('[{"idTag": "FILE1"}]', encoding="utf-8")
    args = parse(
        "--listen", "0.0.0.0:0", "--api", "[::1]:8000", "--db", "x.sqlite", "--boot", "pending",
        "--heartbeat-interval", "0", "--tags", str(tags), "--tag", "TAG1", "--tag", "TAG2:Blocked",
        "--reject-unknown-tags", "--password", "CP-1=secret=1", "--password", "CP-2=other",
    )  # fmt: skip
    assert args.listen == ("0.0.0.0", 0)
    assert args.api == ("::1", 8000)
    assert args.db == "x.sqlite"
    assert args.boot == "pending"
    assert args.heartbeat_interval == 0
    assert args.tags == {"FILE1": TagInfo()}
    assert args.tag == [("TAG1", TagInfo()), ("TAG2", TagInfo("Blocked"))]
    assert args.reject_unknown_tags is True
    assert args.passwords == {"CP-1": "secret=1", "CP-2": "other"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--listen", "9000"],
        ["--api", "host:port"],
        ["--api", "127.0.0.1:70000"],
        ["--boot", "maybe"],
        ["--heartbeat-interval", "-1"],
        ["--heartbeat-interval", "soon"],
        ["--tag", "TAG1:Sometimes"],
        ["--tags", "/nonexistent/tags.csv"],
        ["--password", "CP-1"],
        ["--password", "=x"],
        ["--password", "CP-1="],
        ["--password", "CP-1=a", "--password", "CP-1=b"],
    ],
)
def test_bad_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        parse(*argv)


# ------------------------------------------------------------------------------ main, running


async def _started(capsys: pytest.CaptureFixture[str], task: asyncio.Task[int]) -> tuple[str, str]:
    """The csms: and api: addresses main() printed."""
    async with asyncio.timeout(WAIT):
        while True:
            lines = capsys.readouterr().out.splitlines()
            if lines:
                break
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
    assert [line.split(": ", 1)[0] for line in lines] == ["csms", "api"]
    return lines[0].split(": ", 1)[1], lines[1].split(": ", 1)[1]


async def test_main_runs_the_central_system_and_its_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(
        "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--db", str(tmp_path / "c.sqlite"),
        "--boot", "pending", "--heartbeat-interval", "42", "--tag", "TAG1:Blocked:G",
        "--reject-unknown-tags", "--password", "CP-1=s3cret",
    )  # fmt: skip
    task = asyncio.create_task(main(args))
    csms_url, api_url = await _started(capsys, task)
    assert csms_url.startswith("ws://127.0.0.1:") and api_url.startswith("http://127.0.0.1:")
    raw = await RawStation.connect(f"{csms_url}/CP-1", headers=auth_header("CP-1", "s3cret"))
    boot = await raw.result("BootNotification", BOOT)
    assert (boot["status"], boot["interval"]) == ("Pending", 42)
    assert await raw.result("Authorize", {"idTag": "TAG1"}) == {
        "idTagInfo": {"status": "Blocked", "parentIdTag": "G"}
    }
    assert await raw.result("Authorize", {"idTag": "OTHER"}) == {"idTagInfo": {"status": "Invalid"}}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http,
        http.get(f"{api_url}/api/stations") as response,
    ):
        stations = await response.json()
    assert [(s["id"], s["connected"], s["registration"]) for s in stations] == [
        ("CP-1", True, "Pending")
    ]
    await raw.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (tmp_path / "c.sqlite").exists()


async def test_main_without_the_password_refuses_the_station(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse("--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--password", "CP-1=s")
    task = asyncio.create_task(main(args))
    csms_url, _ = await _started(capsys, task)
    with pytest.raises(Exception, match="401"):
        await RawStation.connect(f"{csms_url}/CP-1")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("option", ["--listen", "--api"])
async def test_main_fails_with_one_line_when_a_port_is_taken(
    capsys: pytest.CaptureFixture[str], option: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = {"--listen": "127.0.0.1:0", "--api": "127.0.0.1:0"}
        others[option] = f"127.0.0.1:{port}"
        args = parse(*[item for pair in others.items() for item in pair])
        async with asyncio.timeout(WAIT):
            assert await main(args) == 2  # an address in use is a bad argument
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0]


async def test_main_fails_with_one_line_when_the_database_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"not a database, only text long enough to be looked at" * 100)
    args = parse("--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--db", str(bad))
    assert await main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "database" in lines[0]
