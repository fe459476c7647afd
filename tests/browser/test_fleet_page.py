"""A fleet's page: its totals, a station picker with paging, and each station's own view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import open_page, show_card


def test_pick_a_station_of_a_fleet_and_drive_it(
    browser: Browser, start: Any, tmp_path: Path
) -> None:
    csms = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0")
    ws = csms.printed(r"csms: (ws://\S+)")
    fleet = start("fleet", "--csms", ws, "--count", "25", "--no-autopilot",
                  "--control", "127.0.0.1:0", "--ramp-up", "100")  # fmt: skip
    url = fleet.printed(r"control: (http://\S+)")
    page, errors = open_page(browser, url)
    expect(page.locator("#fleet-totals")).to_contain_text("connected 25")
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
    rows.filter(has_text="FLEET-2").first.click()
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
