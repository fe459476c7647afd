"""The scripting API: expect(), expect_none(), per-station handlers, calls to the station."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ocpp_station.csms import (
    NO_ANSWER,
    CentralSystem,
    ExpectationFailed,
    StationSession,
)
from ocpp_station.rpc.errors import (
    CallErrorReceived,
    ConnectionLost,
    FormationViolation,
    NotSupported,
    RpcTimeout,
    TypeConstraintViolation,
)
from tests.unit.test_csms_support import BOOT, WAIT, RawStation

NOW = "2026-01-01T12:00:00.000Z"


def status(connector: int, state: str = "Available") -> dict[str, Any]:
    return {"connectorId": connector, "errorCode": "NoError", "status": state}


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    async with CentralSystem() as central:
        yield central


@pytest.fixture
async def pair(csms: CentralSystem) -> AsyncIterator[tuple[RawStation, StationSession]]:
    raw = await RawStation.connect(f"{csms.url}/CP-1")
    session = await csms.wait_for_station("CP-1")
    yield raw, session
    await raw.close()


# ------------------------------------------------------------------------------------- expect


async def test_expect_reads_forward_with_a_cursor(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair
    await raw.result("Heartbeat", {})  # 1
    await raw.result("StatusNotification", status(1))  # 2
    await raw.result("StatusNotification", status(2, "Charging"))  # 3
    await raw.result("Heartbeat", {})  # 4
    assert session.cursor() == 4

    first = await session.expect("StatusNotification", timeout=WAIT)
    assert (first.seq, first.payload["connectorId"]) == (2, 1)
    second = await session.expect("StatusNotification", timeout=WAIT)
    assert (second.seq, second.payload["connectorId"]) == (3, 2)
    heartbeat = await session.expect("Heartbeat", timeout=WAIT)
    assert heartbeat.seq == 4  # not #1: the cursor is past it
    assert heartbeat.message_id == session.messages[3].message_id

    # Looking back explicitly does not move the cursor back.
    assert (await session.expect("Heartbeat", after=0, timeout=WAIT)).seq == 1
    with pytest.raises(ExpectationFailed, match="no StatusNotification after #4"):
        await session.expect("StatusNotification", timeout=0.05)


async def test_expect_matches_dicts_and_predicates(
    pair: tuple[RawStation, StationSession],
) -> None:
    raw, session = pair
    await raw.result("StatusNotification", status(1, "Preparing"))
    await raw.result("StatusNotification", status(2, "Preparing"))
    await raw.result("StatusNotification", status(2, "Charging"))
    got = await session.expect("StatusNotification", {"connectorId": 2}, timeout=WAIT)
    assert got.seq == 2
    got = await session.expect(
        "StatusNotification", lambda p: p["status"] == "Charging", timeout=WAIT
    )
    assert got.seq == 3
    # A key the payload lacks never matches.
    with pytest.raises(ExpectationFailed):
        await session.expect("StatusNotification", {"info": "x"}, after=0, timeout=0.05)
    with pytest.raises(TypeError):
        await session.expect("StatusNotification", 42, after=0, timeout=0.05)  # type: ignore[arg-type]


async def test_expect_waits_for_a_call_to_arrive(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair
    waiting = asyncio.create_task(
        session.expect("StartTransaction", {"connectorId": 1}, timeout=WAIT)
    )
    await raw.result("Heartbeat", {})
    await raw.result(
        "StartTransaction", {"connectorId": 2, "idTag": "A", "meterStart": 0, "timestamp": NOW}
    )
    assert not waiting.done()
    await raw.result(
        "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": NOW}
    )
    got = await waiting
    assert got.seq == 3
    assert got.payload["connectorId"] == 1


async def test_expect_timeout_says_what_arrived(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair
    await raw.result("Heartbeat", {})
    with pytest.raises(ExpectationFailed) as failed:
        await session.expect("BootNotification", timeout=0.05)
    text = str(failed.value)
    assert "CP-1: no BootNotification after #0 within 0.05 s" in text
    assert "#1 Heartbeat {}" in text


async def test_expect_fails_at_once_when_the_connection_closes(
    csms: CentralSystem, pair: tuple[RawStation, StationSession]
) -> None:
    raw, session = pair
    waiting = asyncio.create_task(session.expect("BootNotification", timeout=60))
    await raw.close()
    with pytest.raises(ExpectationFailed, match="connection closed"):
        async with asyncio.timeout(WAIT):
            await waiting


async def test_expect_none(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair
    await raw.result("Heartbeat", {})
    await session.expect_none("StartTransaction", within=0.05)
    # Already received after the cursor: fails.
    with pytest.raises(ExpectationFailed, match="unexpected Heartbeat #1"):
        await session.expect_none("Heartbeat", within=0.05)
    # Only matching CALLs count.
    await raw.result("StatusNotification", status(1))
    await session.expect_none("StatusNotification", {"connectorId": 2}, within=0.05)
    # One that arrives during the wait fails it.
    watching = asyncio.create_task(
        session.expect_none("StatusNotification", {"connectorId": 2}, within=WAIT)
    )
    await asyncio.sleep(0)
    await raw.result("StatusNotification", status(2))
    with pytest.raises(ExpectationFailed, match="unexpected StatusNotification #3"):
        async with asyncio.timeout(WAIT):
            await watching
    assert session.cursor() == 3


# ------------------------------------------------------------------------------------ handlers


async def test_set_handler_pending_then_accepted(
    csms: CentralSystem, pair: tuple[RawStation, StationSession]
) -> None:
    raw, session = pair
    answers = iter(["Pending", "Accepted"])

    def boot(payload: dict[str, Any]) -> dict[str, Any]:
        answer = csms.answers.boot_notification(payload)
        answer["status"] = next(answers)
        answer["interval"] = 1
        return answer

    session.set_handler("BootNotification", boot)
    first = await raw.result("BootNotification", BOOT)
    assert (first["status"], first["interval"]) == ("Pending", 1)
    assert csms.records["CP-1"].registration == "Pending"
    second = await raw.result("BootNotification", BOOT)
    assert second["status"] == "Accepted"
    assert csms.records["CP-1"].registration == "Accepted"
    assert csms.records["CP-1"].boot_count == 2

    session.set_handler("BootNotification", None)  # back to the default
    assert (await raw.result("BootNotification", BOOT))["interval"] == 20


async def test_set_handler_only_affects_its_station(csms: CentralSystem) -> None:
    one = await RawStation.connect(f"{csms.url}/CP-1")
    two = await RawStation.connect(f"{csms.url}/CP-2")
    session = await csms.wait_for_station("CP-1")
    session.set_handler("DataTransfer", lambda payload: {"status": "Accepted", "data": "hi"})
    assert await one.result("DataTransfer", {"vendorId": "v"}) == {
        "status": "Accepted",
        "data": "hi",
    }
    assert await two.result("DataTransfer", {"vendorId": "v"}) == {"status": "UnknownVendorId"}
    await one.close()
    await two.close()


async def test_handler_errors_and_async_handlers(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair

    def refuse(payload: dict[str, Any]) -> dict[str, Any]:
        raise TypeConstraintViolation("no thanks", {"field": "idTag"})

    session.set_handler("Authorize", refuse)
    frame = await raw.call("Authorize", {"idTag": "A"})
    assert frame[2:] == ["TypeConstraintViolation", "no thanks", {"field": "idTag"}]

    async def slow_start(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"transactionId": 4242, "idTagInfo": {"status": "Accepted"}}

    session.set_handler("StartTransaction", slow_start)
    start = {"connectorId": 1, "idTag": "A", "meterStart": 7, "timestamp": NOW}
    assert (await raw.result("StartTransaction", start))["transactionId"] == 4242
    # What a station's handler answered is tracked like a default answer.
    assert session.record.open_transactions[4242].meter_start == 7

    # A station's handler may answer an action the central system has no default for.
    session.set_handler("Reset", lambda payload: {"status": "Accepted"})
    assert await raw.result("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    session.set_handler("Reset", None)
    assert (await raw.call("Reset", {"type": "Hard"}))[2] == NotSupported.code

    with pytest.raises(ValueError, match=r"not an OCPP 1\.6 action"):
        session.set_handler("Bootnotification", lambda payload: {})
    with pytest.raises(TypeError):
        session.set_handler("Heartbeat", "nope")  # type: ignore[arg-type]


async def test_no_answer_leaves_the_call_unanswered(
    csms: CentralSystem, pair: tuple[RawStation, StationSession]
) -> None:
    raw, session = pair
    session.set_handler("StartTransaction", lambda payload: NO_ANSWER)
    start = {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": NOW}
    message_id = await raw.send_call("StartTransaction", start)
    got = await session.expect("StartTransaction", timeout=WAIT)
    assert got.message_id == message_id
    # The connection keeps working while that CALL stays unanswered.
    assert "currentTime" in await raw.result("Heartbeat", {})
    with pytest.raises(TimeoutError):
        await raw.answer_of(message_id, timeout=0.1)
    assert session.record.open_transactions == {}
    # An async handler may withhold its answer too.

    async def later(payload: dict[str, Any]) -> Any:
        return NO_ANSWER

    session.set_handler("Authorize", later)
    authorize_id = await raw.send_call("Authorize", {"idTag": "A"})
    await session.expect("Authorize", timeout=WAIT)
    with pytest.raises(TimeoutError):
        await raw.answer_of(authorize_id, timeout=0.1)


# ------------------------------------------------------------------------- calls to the station


async def test_call_to_the_station(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair

    async def station_side() -> None:
        reset = await raw.next_call()
        assert reset[2:] == ["Reset", {"type": "Soft"}]
        await raw.reply(reset[1], {"status": "Accepted"})
        unlock = await raw.next_call()
        await raw.reply_error(unlock[1], "NotSupported", "no lock")
        ignored = await raw.next_call()
        assert ignored[2] == "ClearCache"

    answering = asyncio.create_task(station_side())
    assert await session.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    with pytest.raises(CallErrorReceived) as error:
        await session.call("UnlockConnector", {"connectorId": 1})
    assert (error.value.code, error.value.description) == ("NotSupported", "no lock")
    with pytest.raises(RpcTimeout):
        await session.call("ClearCache", {}, timeout=0.1)
    async with asyncio.timeout(WAIT):
        await answering


async def test_call_raw_returns_the_station_answer(pair: tuple[RawStation, StationSession]) -> None:
    raw, session = pair

    async def station_side() -> None:
        frame = await raw.next_call()
        await raw.reply_error(frame[1], "FormationViolation", "bad payload")

    answering = asyncio.create_task(station_side())
    answer = await session.call_raw('[2,"raw-1","Reset",{"type":5}]', "raw-1", timeout=WAIT)
    assert answer == [4, "raw-1", "FormationViolation", "bad payload", {}]
    async with asyncio.timeout(WAIT):
        await answering
    with pytest.raises(RpcTimeout):
        await session.call_raw('[2,"raw-2","ClearCache",{}]', "raw-2", timeout=0.05)


async def test_call_after_the_connection_closed_raises_connection_lost(
    pair: tuple[RawStation, StationSession],
) -> None:
    raw, session = pair
    await raw.close()
    async with asyncio.timeout(WAIT):
        await session.closed.wait()
    with pytest.raises(ConnectionLost):
        await session.call("Reset", {"type": "Soft"})


# ---------------------------------------------------------------------------------- connections


async def test_a_new_connection_replaces_the_old(csms: CentralSystem) -> None:
    old = await RawStation.connect(f"{csms.url}/CP-1")
    old_session = await csms.wait_for_station("CP-1")
    await old.result("BootNotification", BOOT)
    new = await RawStation.connect(f"{csms.url}/CP-1")
    await old.closed()  # the central system closed the stale connection
    async with asyncio.timeout(WAIT):
        await old_session.closed.wait()
    session = await csms.wait_for_station("CP-1")
    assert session is not old_session
    assert csms.stations == {"CP-1": session}
    assert session.messages == []  # a new session starts its own message list
    assert session.record is old_session.record  # the station's record carries over
    assert session.record.boot_count == 1
    await new.result("Heartbeat", {})
    assert (await session.expect("Heartbeat", timeout=WAIT)).seq == 1
    await new.close()


async def test_wait_for_station_waits_for_the_connection(csms: CentralSystem) -> None:
    waiting = asyncio.create_task(csms.wait_for_station("CP-7", timeout=WAIT))
    await asyncio.sleep(0)
    assert not waiting.done()
    raw = await RawStation.connect(f"{csms.url}/CP-7")
    session = await waiting
    assert session.identity == "CP-7"
    await raw.close()
    async with asyncio.timeout(WAIT):
        await session.closed.wait()
    with pytest.raises(TimeoutError, match="CP-7 did not connect"):
        await csms.wait_for_station("CP-7", timeout=0.05)


@pytest.mark.parametrize("abrupt", [False, True])
async def test_close_drops_the_connection(csms: CentralSystem, abrupt: bool) -> None:
    raw = await RawStation.connect(f"{csms.url}/CP-1")
    session = await csms.wait_for_station("CP-1")
    async with asyncio.timeout(WAIT):
        await session.close(abrupt=abrupt)
    assert session.closed.is_set()
    assert "CP-1" not in csms.stations
    await raw.closed()
    if not abrupt:
        assert raw.ws.close_code == 1000


async def test_stop_closes_every_session(csms: CentralSystem) -> None:
    raw = await RawStation.connect(f"{csms.url}/CP-1")
    session = await csms.wait_for_station("CP-1")
    session.set_handler("Heartbeat", lambda payload: NO_ANSWER)
    await raw.send_call("Heartbeat", {})
    await session.expect("Heartbeat", timeout=WAIT)
    async with asyncio.timeout(WAIT):
        await csms.stop()
    assert session.closed.is_set()
    await raw.closed()
    assert raw.ws.close_code == 1001


async def test_max_messages_keeps_the_latest() -> None:
    async with CentralSystem(max_messages=3) as csms:
        raw = await RawStation.connect(f"{csms.url}/CP-1")
        session = await csms.wait_for_station("CP-1")
        for _ in range(10):
            await raw.result("Heartbeat", {})
        assert session.cursor() == 10
        assert 3 <= len(session.messages) < 6
        assert session.messages[-1].seq == 10
        assert [m.seq for m in session.messages] == list(range(11 - len(session.messages), 11))
        assert (await session.expect("Heartbeat", after=8, timeout=WAIT)).seq == 9
        await raw.close()


async def test_an_unreadable_answer_fails_the_call_and_is_logged_as_it_came(
    pair: tuple[RawStation, StationSession], caplog: pytest.LogCaptureFixture
) -> None:
    """A CALLERROR with a null errorCode is no OCPP-J: the call fails at once, and the log
    line (which a conformance transcript is made of) shows the frame the station sent."""
    raw, session = pair

    async def station_side() -> None:
        call = await raw.next_call()
        await raw.ws.send(f'[4, "{call[1]}", null, "Item not implemented", {{}}]')

    answering = asyncio.create_task(station_side())
    with pytest.raises(FormationViolation):
        await session.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    async with asyncio.timeout(WAIT):
        await answering
    [line] = [r.getMessage() for r in caplog.records if "unreadable frame" in r.getMessage()]
    assert line.startswith(f"{session.identity} -> unreadable frame (")
    assert line.endswith('null, "Item not implemented", {}]')
