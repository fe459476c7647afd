"""The web page in a real browser: headless Chromium (Debian's `chromium`, which `make test`
installs where apt is available) driven by Playwright, against real `ocpp-station` processes
on 127.0.0.1. Set OCPP_STATION_CHROMIUM to use another Chromium binary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

START_TIMEOUT = 30.0
# What the page shows may take a moment on a loaded machine (the suite runs side by side).
expect.set_options(timeout=15_000)
# Chromium as root in a container, and on a machine with no network beyond loopback: no
# sandbox, and none of its own background connections (they fail, slowly).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("OCPP_STATION_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if not found:
        pytest.fail(
            "no Chromium for the browser tests: `make test` installs Debian's chromium where "
            "apt-get is available; elsewhere install Chromium and set OCPP_STATION_CHROMIUM"
        )
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Program:
    """An `ocpp-station` command in its own process; its output lines are kept (a thread
    reads them) and searched for the addresses it prints."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocpp_station", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("w") as log:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()

    def printed(self, pattern: str, timeout: float = START_TIMEOUT) -> str:
        """The first group of the first line matching `pattern` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.match(pattern, line)
                if found:
                    return found.group(1)
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.args[0]} never printed {pattern!r}: {self.lines[-20:]}")

    def wait_line(self, text: str, times: int = 1, timeout: float = START_TIMEOUT) -> None:
        """Until `times` lines containing `text` were printed (bounded)."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in list(self.lines)) < times:
            if time.monotonic() > deadline:
                raise AssertionError(f"{times} lines with {text!r} never came: {self.lines[-20:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """start(*args) -> Program: an ocpp-station command, stopped after the test."""
    started: list[Program] = []

    def run(*args: str) -> Program:
        program = Program(list(args), tmp_path / f"{args[0]}-{len(started)}.log")
        started.append(program)
        return program

    yield run
    for program in reversed(started):
        program.stop()


def station(start: Any, tmp_path: Path, *args: str) -> tuple[str, Program]:
    """A station (`run`, its own central system unless args give --csms): its page's URL."""
    program = start(
        "run", "--control", "127.0.0.1:0", "--state-dir", str(tmp_path / "state"), *args
    )
    return program.printed(r"control: (http://\S+)"), program


def show_card(page: Page, id_tag: str, at: Locator | None = None) -> Locator:
    """The driver shows a card at the reader, or at a connector's card (`at`, its view);
    the line where the page says what the card did."""
    page.fill("#card", id_tag)
    if at is None:
        page.get_by_role("button", name="present at the reader").click()
    else:
        at.get_by_role("button", name="card here").click()
    return page.locator("#card-result")


def open_page(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """The page at `url`, and the list its script errors and dialogs (alert) go to."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))

    def dialog(d: Any) -> None:
        errors.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(url)
    return page, errors
