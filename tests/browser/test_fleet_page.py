"""A fleet's page: its totals, a station picker with paging, and each station's own view; in
one process and in two shards on a local Ray (the page on the shards' one view)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import open_page, show_card

RAY = pytest.param(
    ("--ray", "--shards", "2"),
    id="ray-shards",
    marks=pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="no Ray"),
)


@pytest.mark.parametrize("where", [pytest.param((), id="one-process"), RAY])
def test_pick_a_station_of_a_fleet_and_drive_it(
    browser: Browser, start: Any, tmp_path: Path, where: tuple[str, ...]
) -> None:
    """With two shards FLEET-1..13 are in the first and FLEET-14..25 in the second: the first
    page of the list spans both, and FLEET-23's view (its events too) is forwarded."""
    csms = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0")
    ws = csms.printed(r"csms: (ws://\S+)")
    fleet = start("fleet", "--csms", ws, "--count", "25", "--no-autopilot",
                  "--control", "127.0.0.1:0", "--ramp-up", "100", *where)  # fmt: skip
    url = fleet.printed(r"control: (http://\S+)", timeout=90)
    page, errors = open_page(browser, url)
    expect(page.locator("#fleet-totals")).to_contain_text("connected 25")
    shards = page.locator("#fleet-shards .badge.on")
    if where:  # each shard's range and health; none for a fleet in one process
        expect(shards).to_have_count(2)
        expect(shards.first).to_contain_text("shard 1: 1\N{EN DASH}13 on node ")
        second = re.compile(r"shard 2: 14.25 on node \w+, 12 connected")
        expect(shards.nth(1)).to_contain_text(second)
    else:
        expect(page.locator("#fleet-shards")).to_be_hidden()
    rows = page.locator("#fleet-stations tbody tr")
    expect(rows).to_have_count(20)
    expect(page.locator("#fleet-range")).to_have_text("1\N{EN DASH}20 of 25")
    expect(rows.first.locator("td").first).to_have_text("FLEET-1")
    page.get_by_role("button", name="next →").click()
    expect(page.locator("#fleet-range")).to_have_text("21\N{EN DASH}25 of 25")
    expect(rows).to_have_count(5)
    expect(page.get_by_role("button", name="next →")).to_be_disabled()
    rows.filter(has_text="FLEET-23").click()
    expect(page.locator("#station-id")).to_have_text("FLEET-23")
    one = page.locator('article[data-connector="1"]')
    one.get_by_role("button", name="plug in").click()
    show_card(page, "FLEETCARD", one)
    expect(one.locator(".status")).to_have_text("Charging")
    expect(page.locator("#messages li").filter(has_text='"StartTransaction"')).to_have_count(1)
    # The totals follow (pushed every couple of seconds), and the row of the station too.
    expect(page.locator("#fleet-totals")).to_contain_text("sessions 1")
    expect(rows.filter(has_text="FLEET-23").locator("td").nth(4)).to_have_text("1")
    # Another station: its own frames only.
    page.get_by_role("button", name="← previous").click()
    expect(page.locator("#fleet-range")).to_have_text("1\N{EN DASH}20 of 25")
    rows.filter(has=page.get_by_role("cell", name="FLEET-2", exact=True)).click()
    expect(page.locator("#station-id")).to_have_text("FLEET-2")
    boot = page.locator("#messages li").filter(has=page.locator(".action", has_text="Boot"))
    expect(boot).to_have_count(2)  # its BootNotification and the answer
    expect(page.locator("#messages li").filter(has_text='"StartTransaction"')).to_have_count(0)
    # Any station by its identity, on whatever page of the list it is.
    page.fill("#fleet-find", "FLEET-17")
    page.press("#fleet-find", "Enter")
    expect(page.locator("#station-id")).to_have_text("FLEET-17")
    page.fill("#fleet-find", "NOPE-1")
    page.press("#fleet-find", "Enter")
    expect(page.locator("#notice")).to_have_text("unknown station 'NOPE-1'")
    expect(page.locator("#station-id")).to_have_text("FLEET-17")
    assert errors == []
