"""Nothing from the wire is markup on the page, and another site cannot act on the station."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import open_page, station

# Each would add an element (or run a script) if the page wrote it as HTML.
TAG_MARKUP = "<i id=pwn>x</i>"  # an idTag: 20 characters at most
VENDOR_MARKUP = "<b id=pwv>V</b>"  # a BootNotification vendor: 20 characters at most
DATA_MARKUP = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def csms_call(api: str, identity: str, action: str, payload: dict[str, Any]) -> Any:
    body = json.dumps({"action": action, "payload": payload}).encode()
    request = urllib.request.Request(
        f"{api}/api/stations/{identity}/call",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)


def test_markup_from_the_central_system_stays_text(
    browser: Browser, start: Any, tmp_path: Path
) -> None:
    csms = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0")
    ws = csms.printed(r"csms: (ws://\S+)")
    csms_api = csms.printed(r"api: (http://\S+)")
    url, _ = station(start, tmp_path, "--csms", ws, "--vendor", VENDOR_MARKUP)
    page, errors = open_page(browser, url)
    expect(page.locator("#facts")).to_contain_text("registration Accepted")
    one = page.locator('article[data-connector="1"]')
    one.get_by_role("button", name="plug in").click()
    expect(one.locator(".status")).to_have_text("Preparing")
    answer = csms_call(
        csms_api, "CP-1", "RemoteStartTransaction", {"idTag": TAG_MARKUP, "connectorId": 1}
    )
    assert answer == {"status": "Accepted"}, answer
    csms_call(csms_api, "CP-1", "DataTransfer", {"vendorId": DATA_MARKUP, "data": DATA_MARKUP})
    expect(one.locator(".status")).to_have_text("Charging")
    # Shown as the characters they are, where the page shows them ...
    expect(one.locator(".idtag")).to_have_text(TAG_MARKUP)
    expect(page.locator("#facts .vendor")).to_contain_text(VENDOR_MARKUP)
    data_row = page.locator("#messages li").filter(has_text="DataTransfer").first
    expect(data_row).to_contain_text('<img src=x onerror=\\"alert(1)\\">')
    data_row.locator("summary").click()
    expect(data_row.locator("pre")).to_contain_text("<script>alert(2)</script>")
    # ... and never as elements, nor as a script that ran.
    assert page.locator("#pwn, #pwv, #messages img, #messages script, main script").count() == 0
    assert errors == []


def test_another_site_cannot_act_on_the_station(
    browser: Browser, start: Any, tmp_path: Path
) -> None:
    url, _ = station(start, tmp_path)
    # A page of another origin (another port of 127.0.0.1 stands for any other site) posts
    # to the station as a form would, and by fetch.
    other = start("csms", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0")
    elsewhere = other.printed(r"api: (http://\S+)")
    page, _ = open_page(browser, elsewhere + "/api/settings")
    with page.expect_navigation():
        page.evaluate(
            """(url) => {
                const form = document.createElement('form');
                form.method = 'POST'; form.action = url + '/api/connectors/1/plug';
                document.body.append(form); form.submit();
            }""",
            url,
        )
    assert "another site" in page.content()
    page.goto(elsewhere + "/api/settings")
    page.evaluate(
        """(url) => fetch(url + '/api/connectors/2/plug', {method: 'POST', mode: 'no-cors'})""",
        url,
    )
    with urllib.request.urlopen(url + "/api/status", timeout=10) as response:
        status = json.load(response)
    assert [c.get("plugged") for c in status["connectors"][1:]] == [False, False]


def test_a_token_guards_the_page_and_the_api(browser: Browser, start: Any, tmp_path: Path) -> None:
    token = "a-token-for-this-test-0123456789"
    url, _ = station(start, tmp_path, "--control-token", token)
    try:
        urllib.request.urlopen(url + "/api/status", timeout=10)
        raise AssertionError("the API answered without its token")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        assert "token" in json.load(exc)["error"]
    page, _ = open_page(browser, url + "/")
    assert "needs its token" in page.content()
    # Opened once with the token, the page works: its cookie carries the token from then on.
    page.goto(f"{url}/?token={token}")
    expect(page.locator("#facts")).to_contain_text("registration Accepted")
    one = page.locator('article[data-connector="1"]')
    one.get_by_role("button", name="plug in").click()
    expect(one.locator(".status")).to_have_text("Preparing")
    request = urllib.request.Request(
        url + "/api/status", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["connectors"][1]["plugged"] is True
