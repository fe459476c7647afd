"""Take the README's pictures of the web page: `make screenshots` (Chromium, as the tests).

A station with its embedded central system runs a few minutes of sessions fast enough to fill
the plots; then the station view, an opened frame, the configuration and a fleet's picker are
photographed into the folder given (docs/screenshots)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUSY = Path(__file__).parent / "busy.toml"


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """An ocpp-station command and the addresses it printed (`name: value` lines)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocpp_station", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    printed: dict[str, str] = {}
    last = "api" if args[0] == "csms" else "control"  # the line that comes last
    for line in proc.stdout:  # ends if the process does
        found = re.match(r"(control|csms|api): (\S+)", line)
        if found:
            printed[found.group(1)] = found.group(2)
        if last in printed:
            return proc, printed
    raise SystemExit(f"ocpp-station {args[0]} did not start")


def post(url: str, body: object | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method="POST")):
        pass


def shoot(page: Page, path: Path, full: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full)
    print(f"wrote {path}")


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("OCPP_STATION_CHROMIUM") or shutil.which("chromium") or "chromium"
    with tempfile.TemporaryDirectory() as state:
        station, printed = start("run", "--control", "127.0.0.1:0", "--state-dir", state)
        csms: subprocess.Popen[str] | None = None
        try:
            url = printed["control"]
            api = url + "/api"
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
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
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
                csms, csms_printed = start(
                    "csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"
                )
                fleet, fleet_printed = start(
                    "fleet", "--csms", csms_printed["csms"], "--count", "40",
                    "--control", "127.0.0.1:0", "--scenario", str(BUSY),
                )  # fmt: skip
                try:
                    time.sleep(8)
                    page.goto(fleet_printed["control"])
                    page.locator("#fleet-stations tbody tr").first.click()
                    page.wait_for_timeout(2500)
                    shoot(page, folder / "fleet.png", full=True)
                finally:
                    fleet.terminate()
                    fleet.wait(timeout=30)
                browser.close()
        finally:
            for proc in (station, csms):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
