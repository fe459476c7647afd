"""Security profiles 1-3 end to end (whitepaper §2, A01, A02, A05, M03-M05): the station's
runtime against the embedded central system over real TLS on 127.0.0.1, with certificates the
central system's authority makes in the test."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from unittest.mock import ANY

import aiohttp
import pytest

from ocpp_station.conformance.case import Verdict, load_library
from ocpp_station.conformance.report import render_html, render_markdown
from ocpp_station.control.api import ControlApi
from ocpp_station.csms import CentralSystem
from ocpp_station.csms.authority import CertificateAuthority
from ocpp_station.csms.session import StationSession
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.runtime import StationOptions, StationRuntime
from tests.integration.test_conformance_core import run_own

ID = "CP-SEC"
SERIAL = "SN-0042"
PASSWORD = "station-password-1"  # an installer's --password: used as it is
WAIT = 15.0


@asynccontextmanager
async def running(options: StationOptions) -> AsyncIterator[StationRuntime]:
    runtime = StationRuntime(options)
    runtime.shutdown_grace = 0.2
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.stop()


def options(csms: CentralSystem, state: Path, **changes: object) -> StationOptions:
    chosen = StationOptions(
        identity=ID, csms_url=csms.url, state_dir=state, serial=SERIAL, password=PASSWORD
    )
    for name, value in changes.items():
        setattr(chosen, name, value)
    return chosen


async def until(done: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(WAIT):
        while not done():
            await asyncio.sleep(0.05)


def logged(runtime: StationRuntime, kind: str) -> bool:
    return any(line.startswith(kind) for _, line in runtime.station.service(SecurityEvents).lines())


async def next_session(csms: CentralSystem, old: StationSession) -> StationSession:
    async with asyncio.timeout(WAIT):
        await old.closed.wait()
    return await csms.wait_for_station(ID, timeout=WAIT)


async def test_profile_2_refuses_an_untrusted_server_and_reports_it_once_connected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ocpp_station")
    trusted, stranger = CertificateAuthority.generate(), CertificateAuthority.generate()
    central = CentralSystem(ssl_context=stranger.server_context(), passwords={ID: PASSWORD})
    async with central as csms:
        config = [("SecurityProfile", "2")]
        async with running(options(csms, tmp_path, ca_pem=trusted.root_pem, config=config)) as rt:
            # A00.FR.309-310: the certificate is refused, the event kept for later.
            await until(lambda: logged(rt, "InvalidCentralSystemCertificate"), "the event")
            assert ID not in csms.stations
            await csms.relisten(trusted.server_context())
            session = await csms.wait_for_station(ID, timeout=WAIT)
            assert session.security["tls"] and session.security["basicUser"] == ID
            assert session.security["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
            event = await session.expect(
                "SecurityEventNotification", {"type": "InvalidCentralSystemCertificate"}
            )
            assert "certificate" in event.payload["techInfo"]
    # No secret in any log line: neither the password nor a private key.
    assert PASSWORD not in caplog.text and "PRIVATE KEY" not in caplog.text


async def test_profile_1_goes_up_to_2_with_its_prerequisites_and_never_down(
    tmp_path: Path,
) -> None:
    authority = CertificateAuthority.generate()
    async with CentralSystem(passwords={ID: PASSWORD}) as csms:
        config = [("SecurityProfile", "1")]
        async with running(options(csms, tmp_path, config=config)) as rt:
            session = await csms.wait_for_station(ID, timeout=WAIT)
            assert session.security == {
                "tls": False,
                "tlsVersion": None,
                "basicUser": ID,
                "clientCN": None,
                "clientO": None,
            }
            await session.expect("BootNotification")

            async def change(key: str, value: str, on: StationSession) -> str:
                answer = await on.call("ChangeConfiguration", {"key": key, "value": value})
                return str(answer["status"])

            # A05.FR.03: no CentralSystemRootCertificate yet.
            assert await change("SecurityProfile", "2", session) == "Rejected"
            root = {"certificateType": "CentralSystemRootCertificate"}
            answer = await session.call("GetInstalledCertificateIds", root)
            assert answer == {"status": "NotFound"}
            installed = await session.call(
                "InstallCertificate", {**root, "certificate": authority.root_pem}
            )
            assert installed == {"status": "Accepted"}
            answer = await session.call("GetInstalledCertificateIds", root)
            assert answer["status"] == "Accepted" and len(answer["certificateHashData"]) == 1
            # A05.FR.01: never down, nor to the same profile.
            assert await change("SecurityProfile", "0", session) == "Rejected"
            assert await change("SecurityProfile", "1", session) == "Rejected"
            # A05.FR.04: profile 3 needs a station certificate.
            assert await change("SecurityProfile", "3", session) == "Rejected"
            assert await change("SecurityProfile", "2", session) == "Accepted"
            event = await session.expect(
                "SecurityEventNotification", {"type": "ReconfigurationOfSecurityParameters"}
            )
            assert event.payload["techInfo"] == "SecurityProfile 1 to 2"
            await csms.relisten(authority.server_context())
            session = await next_session(csms, session)
            assert session.security["tls"] and session.security["basicUser"] == ID
            # TC_073: a new AuthorizationKey (hex of the password's bytes) reaches the link.
            new_password = "OCA_OCTT_admin_test"
            csms.passwords[ID] = new_password
            key = new_password.encode().hex()
            assert await change("AuthorizationKey", key, session) == "Accepted"
            session = await next_session(csms, session)
            assert session.security["basicUser"] == ID
            answer = await session.call("GetConfiguration", {"key": ["SecurityProfile"]})
            assert answer["configurationKey"][0]["value"] == "2"
            assert rt.config.get_int("SecurityProfile") == 2


async def test_a_profile_that_cannot_connect_falls_back_to_the_previous_one(
    tmp_path: Path,
) -> None:
    authority = CertificateAuthority.generate()
    async with CentralSystem(passwords={ID: PASSWORD}) as csms:
        config = [("SecurityProfile", "1")]
        chosen = options(csms, tmp_path, config=config, ca_pem=authority.root_pem)
        async with running(chosen) as rt:
            session = await csms.wait_for_station(ID, timeout=WAIT)
            answer = await session.call(
                "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}
            )
            assert answer == {"status": "Accepted"}
            # The central system stays on ws://: the TLS attempts fail, and A05.FR.08 brings the
            # station back to profile 1 on ws://.
            session = await next_session(csms, session)
            assert not session.security["tls"]
            assert rt.config.get_int("SecurityProfile") == 1
            event = await session.expect(
                "SecurityEventNotification",
                lambda p: "back to 1" in str(p.get("techInfo")),
                timeout=WAIT,
            )
            assert event.payload["type"] == "ReconfigurationOfSecurityParameters"


async def test_profile_3_with_a_certificate_signed_from_the_station_csr(tmp_path: Path) -> None:
    authority = CertificateAuthority.generate()
    central = CentralSystem(
        ssl_context=authority.server_context(), authority=authority, passwords={ID: PASSWORD}
    )
    async with central as csms:
        config = [("SecurityProfile", "2"), ("CpoName", "Example CPO")]
        chosen = options(csms, tmp_path, config=config, ca_pem=authority.root_pem)
        async with running(chosen) as rt:
            session = await csms.wait_for_station(ID, timeout=WAIT)
            await session.expect("BootNotification")
            answer = await session.call(
                "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
            )
            assert answer == {"status": "Accepted"}
            sign = await session.expect("SignCertificate")
            assert "BEGIN CERTIFICATE REQUEST" in sign.payload["csr"]
            keeper = CertificateKeeper(rt.store)
            await until(lambda: keeper.station_certificate() is not None, "the certificate")
            mine = keeper.station_certificate()
            assert mine is not None
            assert mine.leaf.subject.rfc4514_string() == f"CN={SERIAL},O=Example CPO"
            # TC_077: a chain that is not for the station's key is refused, with the event.
            other, _ = authority.issue_station(SERIAL, "Example CPO")
            refused = await session.call("CertificateSigned", {"certificateChain": other})
            assert refused == {"status": "Rejected"}
            await session.expect(
                "SecurityEventNotification", {"type": "InvalidChargePointCertificate"}
            )
            answer = await session.call(
                "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}
            )
            assert answer == {"status": "Accepted"}
            session = await next_session(csms, session)
            # A00.FR.401-405: the station certificate, and no password.
            assert session.security["clientCN"] == SERIAL
            assert session.security["clientO"] == "Example CPO"
            assert session.security["basicUser"] is None
            # M04.FR.06: the root the connection relies on cannot go.
            ids = await session.call(
                "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}
            )
            [root_hash] = ids["certificateHashData"]
            deleted = await session.call("DeleteCertificate", {"certificateHashData": root_hash})
            assert deleted == {"status": "Failed"}


def logs_under(folder: Path) -> list[str]:
    return [path.read_text(errors="replace") for path in folder.rglob("*.log")]


async def test_no_secret_in_the_report_the_station_logs_or_the_messages_api(
    tmp_path: Path,
) -> None:
    """TC_073 sets a new password: neither it nor its hex AuthorizationKey appears in the
    report (Markdown, HTML, JSON), the station's log, or anything the station shows."""
    results = await run_own([load_library()["TC_073_CS"]], (), tmp_path)
    assert [c.verdict for c in results.cases] == [Verdict.PASS]
    texts = [render_markdown(results), render_html(results), repr(results)]
    texts += logs_under(tmp_path)
    # The tool's passwords are "tool-" and 12 hex digits; the key is their hex.
    secret = re.compile(r"tool-[0-9a-f]{12}|746f6f6c2d[0-9a-f]{24}")
    assert all(text for text in texts)
    assert [secret.findall(text) for text in texts] == [[] for _ in texts]
    assert any("<hidden>" in text for text in texts)  # the change is shown, its value is not


async def test_the_control_api_raises_events_and_shows_no_secret(tmp_path: Path) -> None:
    """POST /api/security-events is what the charger's own detectors report (a tamper switch);
    GET /api/status names the profile; the key a central system sets shows nowhere."""
    async with CentralSystem(passwords={ID: PASSWORD}) as csms:
        chosen = options(csms, tmp_path, config=[("SecurityProfile", "1")])
        async with running(chosen) as rt:
            api = ControlApi(rt)
            await api.start("127.0.0.1", 0)
            base = f"http://127.0.0.1:{api.port}/api"
            try:
                session = await csms.wait_for_station(ID, timeout=WAIT)
                await session.expect("BootNotification")
                async with aiohttp.ClientSession() as http:
                    event = {"type": "TamperDetectionActivated", "techInfo": "enclosure open"}
                    async with http.post(f"{base}/security-events", json=event) as answer:
                        assert answer.status == 200
                        assert {**event, "timestamp": ANY} in await answer.json()
                    bad = {"type": "SomethingHappened"}
                    async with http.post(f"{base}/security-events", json=bad) as answer:
                        assert answer.status == 422
                        assert "not a security event" in (await answer.json())["error"]
                    await session.expect("SecurityEventNotification", event)
                    key = b"OCA_OCTT_admin_test".hex()
                    csms.passwords[ID] = "OCA_OCTT_admin_test"
                    change = {"key": "AuthorizationKey", "value": key}
                    assert await session.call("ChangeConfiguration", change) == {
                        "status": "Accepted"
                    }
                    session = await next_session(csms, session)
                    async with http.get(f"{base}/status") as answer:
                        assert (await answer.json())["securityProfile"] == 1
                    shown = []
                    for path in ("/status", "/config", "/messages", "/security-events"):
                        async with http.get(base + path) as answer:
                            shown.append(await answer.text())
                    assert not [text for text in shown if key in text or PASSWORD in text]
                    assert '"value":"<hidden>"' in shown[2].replace(" ", "")
            finally:
                await api.stop()


async def test_a_fleet_connects_over_tls_with_its_root(tmp_path: Path) -> None:
    """`fleet --csms wss://... --ca ...`: every station (the picows client) checks the central
    system's certificate against the root it was given, and connects."""
    from ocpp_station.fleet.fleet import Fleet, FleetOptions

    authority = CertificateAuthority.generate()
    async with CentralSystem(ssl_context=authority.server_context()) as csms:
        station = StationOptions(transport="picows", ca_pem=authority.root_pem)
        fleet = Fleet(FleetOptions(csms_url=csms.url, count=2, connectors=1, station=station))
        task = asyncio.ensure_future(fleet.run())
        try:
            for n in (1, 2):
                session = await csms.wait_for_station(f"FLEET-{n}", timeout=WAIT)
                assert session.security["tls"]
                await session.expect("BootNotification")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_frames_that_are_no_ocpp_raise_invalid_messages_once(tmp_path: Path) -> None:
    async with CentralSystem() as csms:
        async with running(options(csms, tmp_path, password=None)):
            session = await csms.wait_for_station(ID, timeout=WAIT)
            await session.expect("BootNotification")
            for garbage in ("not json", "[2, 1]", "{}"):
                await session.send_raw(garbage)
            event = await session.expect("SecurityEventNotification", {"type": "InvalidMessages"})
            assert event.payload["techInfo"]
            await asyncio.sleep(0.5)
            kinds = [m.payload.get("type") for m in session.messages]
            assert kinds.count("InvalidMessages") == 1


async def test_debug_logs_every_frame_with_the_identity_and_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ocpp_station.frames")
    async with CentralSystem() as csms:
        async with running(options(csms, tmp_path, password=None)):
            session = await csms.wait_for_station(ID, timeout=WAIT)
            await session.expect("BootNotification")
            key = b"OCA_OCTT_admin_test".hex()
            change = {"key": "AuthorizationKey", "value": key}
            assert await session.call("ChangeConfiguration", change) == {"status": "Accepted"}
    lines = [r.getMessage() for r in caplog.records if r.name == "ocpp_station.frames"]
    assert any(line.startswith(f'{ID} -> [2,"') and "BootNotification" in line for line in lines)
    assert any(line.startswith(f'{ID} <- [3,"') for line in lines)
    assert any('"AuthorizationKey","value":"<hidden>"' in line for line in lines)
    assert not [line for line in lines if key in line]
