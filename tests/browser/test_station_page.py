"""A whole session from the page alone, in Chromium: what a newcomer does with the station."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import open_page, show_card, station


def api(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.load(response)


def test_a_whole_session_from_the_page(browser: Browser, start: Any, tmp_path: Path) -> None:
    # An EV that takes more than the charger's 50 kW, from 20 %: the power shown is known.
    ev = ("--ev-capacity", "60", "--ev-soc", "20", "--ev-max-power", "100")
    url, _ = station(start, tmp_path, *ev)
    page, errors = open_page(browser, url)
    expect(page.locator("#station-id")).to_have_text("CP-1")
    expect(page.locator("#facts")).to_contain_text("registration Accepted")
    one = page.locator('article[data-connector="1"]')
    expect(one.locator(".status")).to_have_text("Available")

    # The driver plugs in and shows the card at connector 1: the page says what the card did.
    one.get_by_role("button", name="plug in").click()
    expect(one.locator(".status")).to_have_text("Preparing")
    expect(show_card(page, "TAG1", one)).to_have_text(
        "TAG1 started a session (Accepted) on connector 1"
    )
    expect(one.locator(".status")).to_have_text("Charging")
    expect(one.locator(".tx")).not_to_have_text("\N{EN DASH}")
    expect(one.locator(".idtag")).to_have_text("TAG1")
    expect(one.locator(".power")).to_have_text("50.0 kW")  # after its ramp of 3 s
    expect(one.locator(".soc")).to_contain_text("20.")

    # The frames, pushed: the StartTransaction and its answer, pretty-printed when opened.
    messages = page.locator("#messages li")
    start_tx = messages.filter(has_text='"StartTransaction"')
    expect(start_tx).to_have_count(1)
    start_tx.locator("summary").click()
    pretty = start_tx.locator("pre")
    expect(pretty).to_be_visible()
    assert '"idTag": "TAG1"' in pretty.inner_text()
    answer = messages.filter(has=page.locator(".action", has_text="StartTransaction"))
    expect(answer).to_have_count(2)  # the CALL and its RESULT, named by the CALL's action
    page.select_option("#msg-action", "StartTransaction")
    expect(page.locator("#messages li:visible")).to_have_count(2)
    page.select_option("#msg-action", "")
    page.select_option("#msg-direction", "in")
    expect(page.locator("#messages li:visible .arrow").first).to_have_text("⟵ in")
    page.select_option("#msg-direction", "")

    # The EV pauses and resumes; a fault comes and goes.
    one.get_by_role("button", name="EV pauses").click()
    expect(one.locator(".status")).to_have_text("SuspendedEV")
    one.get_by_role("button", name="EV resumes").click()
    expect(one.locator(".status")).to_have_text("Charging")
    two = page.locator('article[data-connector="2"]')
    two.locator(".fault-code").select_option("HighTemperature")
    two.get_by_role("button", name="raise fault").click()
    expect(two.locator(".status")).to_have_text("Faulted")
    expect(two.locator(".error")).to_have_text("HighTemperature")
    two.get_by_role("button", name="clear fault").click()
    expect(two.locator(".status")).to_have_text("Available")

    # The stop button at the charger ends the session; the driver unplugs.
    one.get_by_role("button", name="stop button").click()
    expect(one.locator(".status")).to_have_text("Finishing")
    expect(messages.filter(has_text='"StopTransaction"')).to_have_count(1)
    one.get_by_role("button", name="unplug").click()
    expect(one.locator(".status")).to_have_text("Available")

    # A key changed on the page is the station's (as a ChangeConfiguration would make it).
    row = page.locator('#config tr[data-key="HeartbeatInterval"]')
    row.locator("input").fill("45")
    row.get_by_role("button", name="save").click()
    expect(page.locator("#notice")).to_contain_text("HeartbeatInterval = 45: Accepted")
    assert {"key": "HeartbeatInterval", "value": "45", "readonly": False} in api(url, "/api/config")
    # A value the key's rules refuse: the page says why, and nothing changes.
    row = page.locator('#config tr[data-key="HeartbeatInterval"]')
    row.locator("input").fill("often")
    row.get_by_role("button", name="save").click()
    expect(page.locator("#notice")).to_contain_text("HeartbeatInterval: 'often' is not an integer")
    assert {"key": "HeartbeatInterval", "value": "45", "readonly": False} in api(url, "/api/config")
    # A read-only key has no field to edit.
    expect(page.locator('#config tr[data-key="NumberOfConnectors"] input')).to_have_count(0)
    assert errors == []


def test_a_rejected_card_and_a_card_before_the_cable(
    browser: Browser, start: Any, tmp_path: Path
) -> None:
    csms = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--reject-unknown-tags",
                 "--tag", "GOOD", "--tag", "BLOCKED:Blocked")  # fmt: skip
    ws = csms.printed(r"csms: (ws://\S+)")
    url, _ = station(start, tmp_path, "--csms", ws)
    page, errors = open_page(browser, url)
    expect(page.locator("#facts")).to_contain_text("registration Accepted")
    expect(show_card(page, "BLOCKED")).to_have_text("BLOCKED was rejected (Blocked)")
    expect(show_card(page, "GOOD")).to_have_text(
        "GOOD is accepted: plug in the cable (Accepted) on connector 1"
    )
    expect(page.locator('article[data-connector="1"] .status')).to_have_text("Preparing")
    assert errors == []


def test_the_link_drops_and_the_power_goes(browser: Browser, start: Any, tmp_path: Path) -> None:
    url, program = station(start, tmp_path)
    page, errors = open_page(browser, url)
    facts = page.locator("#facts")
    expect(facts).to_contain_text("connected")
    frames_before = api(url, "/api/messages")[-1]["seq"]
    page.get_by_role("button", name="drop the network link").click()
    program.wait_line("offline")  # the station saw its link go
    # Back again by itself: a new connection, and the page still follows the same frames.
    program.wait_line("online: ", times=2)
    expect(facts.locator(".badge")).to_have_text("connected")
    # Off for longer than the page's slowest update (a second without frames).
    page.fill("#off-seconds", "3")
    page.get_by_role("button", name="power cut").click()
    expect(facts).to_contain_text("no power")
    expect(facts).to_contain_text("registration Accepted", timeout=20_000)
    # The station booted again: a second BootNotification, after the earlier frames.
    boots = page.locator("#messages li").filter(has_text='"BootNotification"')
    expect(boots.filter(has=page.locator(".kind", has_text="CALL"))).to_have_count(2)
    assert api(url, "/api/messages")[-1]["seq"] > frames_before
    assert errors == []
