"""Take the README's pictures of the web page: `make screenshots` (in the Chromium and with the
process helpers of the browser tests, tests/browser/conftest.py).

A station with its embedded central system runs two sessions, one paused for a while, so the
plots have some shape; then the station view, an opened frame, the configuration and a fleet's
picker are photographed into the folder given (docs/screenshots)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, Program, chromium_path

BUSY = Path(__file__).parent / "busy.toml"


def post(url: str, body: object | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method="POST")):
        pass


def shoot(page: Page, path: Path, full: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full)
    print(f"wrote {path}")


def photograph(folder: Path, work: Path, started: list[Program]) -> None:
    def start(*args: str) -> Program:
        program = Program(list(args), work / f"{args[0]}.log")
        started.append(program)
        return program

    station = start("run", "--control", "127.0.0.1:0", "--state-dir", str(work / "state"))
    api = station.printed(r"control: (http://\S+)") + "/api"
    # A session on each connector, a pause on one: the plots get some shape.
    post(f"{api}/connectors/1/plug")
    post(f"{api}/rfid", {"idTag": "TAG1", "connectorId": 1})
    time.sleep(6)
    post(f"{api}/connectors/2/plug")
    post(f"{api}/rfid", {"idTag": "TAG2", "connectorId": 2})
    time.sleep(6)
    post(f"{api}/connectors/1/ev/suspend")
    time.sleep(6)
    post(f"{api}/connectors/1/ev/resume")
    time.sleep(6)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(api.removesuffix("/api"))
        page.locator("#station-id").filter(has_text="CP-1").wait_for()
        page.wait_for_timeout(1500)
        shoot(page, folder / "station.png")
        row = page.locator("#messages li").filter(has_text='"StartTransaction"').first
        row.locator("summary").click()
        row.scroll_into_view_if_needed()
        shoot(page, folder / "messages.png")
        page.fill("#cfg-filter", "Meter")
        page.locator("#config").scroll_into_view_if_needed()
        shoot(page, folder / "config.png")
        csms = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0")
        fleet = start(
            "fleet", "--csms", csms.printed(r"csms: (ws://\S+)"), "--count", "40",
            "--control", "127.0.0.1:0", "--scenario", str(BUSY),
        )  # fmt: skip
        page.goto(fleet.printed(r"control: (http://\S+)"))
        time.sleep(8)
        page.locator("#fleet-stations tbody tr").first.click()
        page.wait_for_timeout(2500)
        shoot(page, folder / "fleet.png", full=True)
        browser.close()


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    started: list[Program] = []
    with tempfile.TemporaryDirectory() as work:
        try:
            photograph(folder, Path(work), started)
        finally:
            for program in reversed(started):
                program.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
