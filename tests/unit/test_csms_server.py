"""The central system: handshake rules, default answers, what it records, its log lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from ocpp_station.csms import CentralSystem, TagInfo, identity_from_path
from ocpp_station.rpc.schemas import validate_request, validate_response
from ocpp_station.timefmt import parse
from tests.unit.test_csms_support import BOOT, RawStation, auth_header

NOW = "2026-01-01T12:00:00.000Z"

SAMPLE_REQUESTS: dict[str, dict[str, Any]] = {
    "BootNotification": BOOT,
    "Heartbeat": {},
    "Authorize": {"idTag": "TAG1"},
    "StartTransaction": {"connectorId": 1, "idTag": "TAG1", "meterStart": 100, "timestamp": NOW},
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "150"}]}],
    },
    "StopTransaction": {
        "transactionId": 1,
        "idTag": "TAG1",
        "meterStop": 500,
        "timestamp": NOW,
        "reason": "Local",
    },
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "DataTransfer": {"vendorId": "com.example", "messageId": "x", "data": "y"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "SecurityEventNotification": {"type": "StartupOfTheDevice", "timestamp": NOW},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"},
    "LogStatusNotification": {"status": "Idle", "requestId": 1},
    "SignedFirmwareStatusNotification": {"status": "Idle", "requestId": 2},
}


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    async with CentralSystem() as central:
        yield central


async def station(csms: CentralSystem, identity: str = "CP-1", **kwargs: Any) -> RawStation:
    return await RawStation.connect(f"{csms.url}/ocpp/{identity}", **kwargs)


# ---------------------------------------------------------------------------------- handshake


async def test_url_and_port(csms: CentralSystem) -> None:
    assert csms.port > 0
    assert csms.url == f"ws://127.0.0.1:{csms.port}"
    assert CentralSystem("::1", 9000).url == "ws://[::1]:9000"


async def test_boot_is_accepted_and_recorded(csms: CentralSystem) -> None:
    raw = await station(csms)
    assert raw.ws.subprotocol == "ocpp1.6"
    answer = await raw.result("BootNotification", BOOT)
    validate_response("BootNotification", answer, lenient_timestamps=False)
    assert answer["status"] == "Accepted"
    assert answer["interval"] == 20
    assert abs(parse(answer["currentTime"]) - datetime.now(UTC)) < timedelta(minutes=1)
    session = await csms.wait_for_station("CP-1")
    assert session.messages[0].action == "BootNotification"
    assert session.messages[0].payload == BOOT
    assert session.messages[0].seq == 1
    record = csms.records["CP-1"]
    assert record.boot == BOOT
    assert record.boot_count == 1
    assert record.registration == "Accepted"
    await raw.close()


async def test_boot_status_and_interval_are_settings() -> None:
    async with CentralSystem(boot_status="Pending", heartbeat_interval=300) as csms:
        raw = await station(csms)
        answer = await raw.result("BootNotification", BOOT)
        assert (answer["status"], answer["interval"]) == ("Pending", 300)
        csms.boot_status = "Rejected"
        answer = await raw.result("BootNotification", BOOT)
        assert answer["status"] == "Rejected"
        assert csms.records["CP-1"].registration == "Rejected"
        with pytest.raises(ValueError):
            csms.boot_status = "Maybe"
        await raw.close()


@pytest.mark.parametrize("offered", [[], ["ocpp2.0.1"]])
async def test_without_ocpp16_the_handshake_completes_without_subprotocol_then_closes(
    csms: CentralSystem, offered: list[str]
) -> None:
    # [J] 3.2: complete the handshake without Sec-WebSocket-Protocol, then close at once.
    raw = await station(csms, subprotocols=offered)
    assert raw.ws.subprotocol is None
    await raw.closed()
    assert raw.ws.close_code == 1002
    assert "ocpp1.6" in (raw.ws.close_reason or "")
    assert csms.stations == {}
    assert "CP-1" not in csms.records


async def test_basic_auth_is_required_for_listed_identities() -> None:
    password = "0123456789abcdef"
    async with CentralSystem(passwords={"CP-1": password}) as csms:
        for headers in (
            None,
            auth_header("CP-1", "wrong-password-123"),
            auth_header("CP-2", password),  # user name must equal the identity
            {"Authorization": "Basic !!!not-base64"},
            {"Authorization": "Bearer abc"},
        ):
            with pytest.raises(InvalidStatus) as refused:
                await station(csms, headers=headers)
            assert refused.value.response.status_code == 401
            assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
        raw = await station(csms, headers=auth_header("CP-1", password))
        await raw.result("Heartbeat", {})
        # Identities without a password need no credentials.
        other = await station(csms, "CP-9")
        await other.result("Heartbeat", {})
        # A new password (AuthorizationKey changed) applies to the next handshake.
        csms.passwords["CP-1"] = "new_password_12345678"
        await raw.close()
        with pytest.raises(InvalidStatus):
            await station(csms, headers=auth_header("CP-1", password))
        raw = await station(csms, headers=auth_header("CP-1", "new_password_12345678"))
        await raw.close()
        await other.close()


async def test_unknown_identity_gets_404_when_identities_are_listed() -> None:
    async with CentralSystem(identities={"CP-1"}) as csms:
        with pytest.raises(InvalidStatus) as refused:
            await station(csms, "CP-2")
        assert refused.value.response.status_code == 404
        raw = await station(csms, "CP-1")
        await raw.close()


async def test_not_accepting_gets_503(csms: CentralSystem) -> None:
    csms.accepting = False
    with pytest.raises(InvalidStatus) as refused:
        await station(csms)
    assert refused.value.response.status_code == 503
    csms.accepting = True
    raw = await station(csms)
    await raw.close()


async def test_identity_is_the_percent_decoded_last_segment(csms: CentralSystem) -> None:
    raw = await station(csms, "RDAM%20123")
    session = await csms.wait_for_station("RDAM 123")
    assert session.identity == "RDAM 123"
    await raw.close()
    with pytest.raises(InvalidStatus) as refused:
        await RawStation.connect(f"{csms.url}/ocpp/")
    assert refused.value.response.status_code == 400


def test_identity_from_path() -> None:
    assert identity_from_path("/ocpp/CP001") == "CP001"
    assert identity_from_path("/CP%2F1?token=1") == "CP/1"
    assert identity_from_path("/a/b/Z%C3%A4hler") == "Zähler"
    # The query and the fragment end the path, at their first mark; '#' and '?' inside them
    # and '/' after them do not count.
    assert identity_from_path("/ocpp/CP1?a=1?b=/x#f") == "CP1"
    assert identity_from_path("/ocpp/CP1#frag#more/x") == "CP1"
    assert identity_from_path("/ocpp/CP1?q=#x") == "CP1"
    assert identity_from_path("/a/b/c/CP%23%3F9") == "CP#?9"  # encoded marks are the identity's
    cases = {
        "/ocpp/": "no charge point identity at the end of the URL path",
        "/": "no charge point identity at the end of the URL path",
        "/ocpp/?CP1": "no charge point identity at the end of the URL path",
        "/ocpp/%FF": "the charge point identity is not valid percent-encoded UTF-8",
        "/ocpp/a%0Ab": "the charge point identity holds control characters",
    }
    for bad, reason in cases.items():
        with pytest.raises(ValueError) as raised:
            identity_from_path(bad)
        assert str(raised.value) == reason, bad


# ---------------------------------------------------------------------------- default answers


async def test_every_default_answer_is_schema_valid(csms: CentralSystem) -> None:
    raw = await station(csms)
    for action, request in SAMPLE_REQUESTS.items():
        validate_request(action, request, lenient_timestamps=False)
        answer = await raw.result(action, request)
        validate_response(action, answer, lenient_timestamps=False)
    await raw.close()


async def test_specific_default_answers(csms: CentralSystem) -> None:
    raw = await station(csms)
    assert await raw.result("DataTransfer", {"vendorId": "x"}) == {"status": "UnknownVendorId"}
    assert await raw.result("StatusNotification", SAMPLE_REQUESTS["StatusNotification"]) == {}
    stop = {"transactionId": 77, "meterStop": 1, "timestamp": NOW}
    assert await raw.result("StopTransaction", stop) == {}  # no idTag: no idTagInfo
    assert await raw.result("SignCertificate", {"csr": "x"}) == {"status": "Rejected"}
    assert csms.records["CP-1"].unmatched_stops == [stop]
    await raw.close()


async def test_id_tag_info_from_the_tag_table() -> None:
    now = datetime.now(UTC)
    tags = {
        "GOOD": TagInfo(),
        "CHILD": TagInfo(parent_id_tag="PARENT", expiry_date=now + timedelta(days=1)),
        "OLD": TagInfo(expiry_date=now - timedelta(seconds=1)),
        "BLOCKED": TagInfo(status="Blocked"),
    }
    async with CentralSystem(tags=tags, accept_unknown_tags=False) as csms:
        raw = await station(csms)

        async def info(tag: str) -> dict[str, Any]:
            return (await raw.result("Authorize", {"idTag": tag}))["idTagInfo"]

        assert await info("GOOD") == {"status": "Accepted"}
        assert await info("good") == {"status": "Accepted"}  # IdToken is case-insensitive
        child = await info("CHILD")
        assert child["status"] == "Accepted"
        assert child["parentIdTag"] == "PARENT"
        assert parse(child["expiryDate"]) > now
        assert (await info("OLD"))["status"] == "Expired"
        assert await info("BLOCKED") == {"status": "Blocked"}
        assert await info("NOBODY") == {"status": "Invalid"}
        csms.accept_unknown_tags = True
        assert await info("NOBODY") == {"status": "Accepted"}
        csms.tags["NOBODY"] = TagInfo(status="Blocked")
        assert await info("NOBODY") == {"status": "Blocked"}
        start = dict(SAMPLE_REQUESTS["StartTransaction"], idTag="BLOCKED")
        answer = await raw.result("StartTransaction", start)
        assert answer["idTagInfo"] == {"status": "Blocked"}
        await raw.close()


def test_tag_info_is_checked() -> None:
    with pytest.raises(ValueError, match="status"):
        TagInfo(status="Fine")
    with pytest.raises(ValueError, match="timezone"):
        TagInfo(expiry_date=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="parentIdTag"):
        TagInfo(parent_id_tag="x" * 21)


async def test_transaction_ids_increase_across_stations_and_are_tracked(
    csms: CentralSystem,
) -> None:
    one = await station(csms, "CP-1")
    two = await station(csms, "CP-2")
    start = SAMPLE_REQUESTS["StartTransaction"]
    ids = [
        (await one.result("StartTransaction", start))["transactionId"],
        (await two.result("StartTransaction", dict(start, connectorId=2)))["transactionId"],
        (await one.result("StartTransaction", dict(start, connectorId=2)))["transactionId"],
    ]
    assert ids == [1, 2, 3]
    record = csms.records["CP-1"]
    assert sorted(record.open_transactions) == [1, 3]
    assert csms.records["CP-2"].open_transactions[2].connector_id == 2

    meter = dict(SAMPLE_REQUESTS["MeterValues"], transactionId=1)
    await one.result("MeterValues", meter)
    await one.result(
        "StopTransaction", {"transactionId": 1, "meterStop": 600, "timestamp": NOW, "idTag": "T"}
    )
    tx = csms.transaction(1)
    assert tx is not None
    assert tx.ended
    assert tx.energy_wh == 500
    assert tx.stop_reason == "Local"  # absent reason means Local
    assert tx.stop_id_tag == "T"
    assert tx.meter_values == meter["meterValue"]
    assert tx.start_time == parse(NOW)
    assert list(record.open_transactions) == [3]
    assert record.finished_transactions == [tx]
    # A retransmitted StopTransaction is answered and changes nothing.
    await one.result("StopTransaction", {"transactionId": 1, "meterStop": 600, "timestamp": NOW})
    assert record.finished_transactions == [tx]
    assert record.unmatched_stops == []
    await one.close()
    await two.close()


async def test_records_outlive_the_connection(csms: CentralSystem) -> None:
    raw = await station(csms)
    tx_id = (await raw.result("StartTransaction", SAMPLE_REQUESTS["StartTransaction"]))[
        "transactionId"
    ]
    await raw.result("StatusNotification", dict(SAMPLE_REQUESTS["StatusNotification"]))
    await raw.close()
    raw = await station(csms)  # offline, then back
    await raw.result(
        "StopTransaction", {"transactionId": tx_id, "meterStop": 900, "timestamp": NOW}
    )
    record = csms.records["CP-1"]
    assert record.finished_transactions[0].transaction_id == tx_id
    assert record.status(1) == "Available"
    assert record.status(2) is None
    await raw.close()


async def test_status_notifications_and_other_notifications_are_recorded(
    csms: CentralSystem,
) -> None:
    raw = await station(csms)
    await raw.result(
        "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Charging"}
    )
    await raw.result("FirmwareStatusNotification", {"status": "Downloading"})
    await raw.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    await raw.result("SecurityEventNotification", SAMPLE_REQUESTS["SecurityEventNotification"])
    await raw.result("Heartbeat", {})
    record = csms.records["CP-1"]
    assert record.status(2) == "Charging"
    assert record.firmware_status == "Downloading"
    assert record.diagnostics_status == "Uploaded"
    assert record.security_events == [SAMPLE_REQUESTS["SecurityEventNotification"]]
    assert record.last_heartbeat is not None
    await raw.close()


async def test_invalid_call_is_answered_by_the_rpc_layer_and_still_recorded(
    csms: CentralSystem,
) -> None:
    raw = await station(csms)
    answer = await raw.call("StatusNotification", {"connectorId": 1})
    assert answer[0] == 4
    assert answer[2] == "ProtocolError"  # required fields missing
    session = await csms.wait_for_station("CP-1")
    assert session.messages[-1].action == "StatusNotification"
    assert csms.records["CP-1"].connectors == {}
    # A charge-point action the central system has no answer for.
    answer = await raw.call("Reset", {"type": "Soft"})
    assert answer[:3] == [4, answer[1], "NotSupported"]
    await raw.close()


# ------------------------------------------------------------------------------------ logging


async def test_one_log_line_per_message(
    csms: CentralSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ocpp_station.csms")
    raw = await station(csms)
    await raw.result("BootNotification", BOOT)
    await raw.call("StatusNotification", {"connectorId": 1})
    lines = [r.getMessage() for r in caplog.records if r.name == "ocpp_station.csms"]
    assert any(line.startswith("CP-1: connected from 127.0.0.1:") for line in lines)
    assert (
        'CP-1 -> BootNotification {"chargePointVendor":"Acme","chargePointModel":"DC-2"}' in lines
    )
    assert any(
        line.startswith('CP-1 <- BootNotification.conf {"status":"Accepted"') for line in lines
    )
    assert any(
        line.startswith("CP-1 <- StatusNotification CALLERROR ProtocolError") for line in lines
    )
    await raw.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CentralSystem(boot_status="Fine")
    with pytest.raises(TypeError):
        CentralSystem(heartbeat_interval=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CentralSystem(port=70000)
