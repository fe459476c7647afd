"""The README's claims against the program: every option it names is an option of the command
it is written for, every control API route its examples call exists, every file it points to
is there, every make target it names is one."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from aiohttp import web

from ocpp_station.cli import build_parser
from ocpp_station.control.api import ControlApi
from ocpp_station.csms.api import CsmsApi
from ocpp_station.csms.minimal.api import MinimalApi
from ocpp_station.csms.minimal.server import MinimalCentralSystem, MinimalServer
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.store import CsmsStore
from ocpp_station.fleet.api import FleetApi
from ocpp_station.fleet.fleet import Fleet, FleetOptions

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# Package-relative paths the README writes short (`station/context.py`).
SHORT_ROOTS = ("ocpp_station",)


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def options_of(command: str) -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen = parser if command == "" else subparsers.choices[command]
    found = {o for a in chosen._actions for o in a.option_strings}
    return found | {o for a in parser._actions for o in a.option_strings}  # global ones


def test_the_options_of_run_are_runs() -> None:
    table = [line for line in section("Running a station").splitlines() if line.startswith("| `")]
    named = {o for line in table for o in re.findall(r"`(--[a-z-]+)", line.split("|")[1])}
    assert len(named) > 15
    assert named <= options_of("run"), named - options_of("run")


def test_every_option_the_readme_names_exists_somewhere() -> None:
    every = set().union(
        *(options_of(c) for c in ("run", "csms", "csms-minimal", "fleet", "conformance"))
    )
    # Options of the commands, not of `make` (`MUTATE=--changed`).
    named = set(re.findall(r"(?<![\w=-])(--[a-z][a-z-]+)", README))
    assert named - every == set()


def routes(app: web.Application) -> list[tuple[str, re.Pattern[str]]]:
    """(method, pattern) of every route; `{name}` parts match any one path segment."""
    found = []
    for route in app.router.routes():
        if route.resource is not None:
            parts = re.split(r"\{[^}]+\}", route.resource.canonical)
            pattern = "[^/]+".join(re.escape(part) for part in parts)
            found.append((route.method, re.compile(pattern + "$")))
    return found


def every_api() -> list[web.Application]:
    """The HTTP APIs the README describes: a station's, a fleet's, both central systems'."""
    fleet = Fleet(FleetOptions(csms_url="ws://127.0.0.1:9", count=1))
    minimal = MinimalServer(MinimalCentralSystem(), "websockets")
    return [
        ControlApi(current=lambda: None).app,
        FleetApi(fleet).app,
        CsmsApi(CentralSystem(store=CsmsStore())).app,
        MinimalApi(minimal).app,
    ]


async def test_every_route_it_names_exists() -> None:
    known = [route for app in every_api() for route in routes(app)]
    # The examples: `curl -s [-X METHOD] $C/path`.
    calls = re.findall(r"curl -s(?: -X (\w+))? \"?\$C(/[^\s\"?]*)", README)
    assert len(calls) >= 10
    # The text: `POST /api/...`, `POST`/`DELETE /api/...`.
    for verbs, path in re.findall(
        r"`((?:GET|POST|PUT|DELETE)(?:`/`(?:GET|POST|PUT|DELETE))*) (/[^`\s]*)`", README
    ):
        calls += [(verb, path) for verb in verbs.split("`/`")]
    assert len(calls) >= 25
    for method, path in calls:
        verb = method or "GET"
        concrete = path.split("?")[0]
        assert any(m == verb and p.match(concrete) for m, p in known), f"{verb} {path}"


def test_every_file_it_points_to_is_there() -> None:
    paths = set(re.findall(r"`((?:ocpp_station|tests|bench|docs)/[\w./-]*)`", README))
    paths |= set(re.findall(r"\]\(((?:docs)/[\w./-]+)\)", README))
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []
    short = set(re.findall(r"`((?:station|storage|profiles)/[\w./-]+\.py)`", README))
    assert [p for p in short if not (ROOT / "ocpp_station" / p).exists()] == []


def test_every_make_target_it_names_is_one() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README)) | set(
        re.findall(r"^make ([a-z][\w-]*)", README, re.M)
    )
    assert {"run", "test"} <= named
    assert named <= targets, named - targets
