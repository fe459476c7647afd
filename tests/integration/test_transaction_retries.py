"""The retry rules of transaction messages (TransactionMessageAttempts and
TransactionMessageRetryInterval, 1.6 §3.7.1, digest §3.2): a CALLERROR or no answer is a failed
attempt, a lost connection is not; what is given up is logged and never sent again.

A power cut is SIGKILL and a restart on the same state folder (interface.md). The central system
"goes away" by closing the station's connection and refusing its reconnects (HTTP 503) until
the test lets it back.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import NO_ANSWER, StationSession
from ocpp_station.rpc.errors import InternalError
from tests.integration.conftest import StationProcess, boot, configure, wait_for

IDENTITY = "CP-1"


# ---------------------------------------------------------------------------- helpers


async def transaction_id(station: StationProcess, connector_id: int = 1) -> int:
    status = await wait_for(
        station,
        lambda s: s["connectors"][connector_id]["transactionId"] is not None,
        f"connector {connector_id} knows its transactionId",
    )
    return int(status["connectors"][connector_id]["transactionId"])


async def go_offline(csms: CentralSystem, station: StationProcess, session: StationSession) -> None:
    """The central system goes away: the connection closes and reconnects are refused."""
    csms.accepting = False
    await session.close()
    await wait_for(station, lambda s: not s["connected"], "station notices it is offline")


async def come_back(csms: CentralSystem, previous: StationSession) -> StationSession:
    csms.accepting = True
    session = await csms.wait_for_station(IDENTITY, timeout=20)
    assert session is not previous
    return session


async def closed(session: StationSession) -> None:
    async with asyncio.timeout(10):
        await session.closed.wait()


def log_position(log: str, pattern: str, start: int = 0) -> int:
    """Where the first line matching `pattern` (case-insensitive) begins, at or after start."""
    found = re.compile(pattern, re.IGNORECASE | re.MULTILINE).search(log, start)
    assert found is not None, f"no log line matching {pattern!r} in:\n{log[start:][-3000:]}"
    return found.start()


# ---------------------------------------------------------------------------- retries


async def test_transaction_message_callerror_retried_then_given_up(
    csms: CentralSystem, make_station
) -> None:
    """A transaction message answered with CALLERROR is tried TransactionMessageAttempts times
    in all, waiting TransactionMessageRetryInterval x n before retry n (1.6 §3.7.1, [JE] 3.3),
    then given up: logged, never sent again (not even after a restart), queuedMessages back to
    0; the follow-ups of a given-up StartTransaction carry transactionId -1 ([E] 3.18).
    Shrunk: TransactionMessageRetryInterval 200 -> 1 s; attempts 3; MeterValueSampleInterval 0.
    """
    interval = 1
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "TransactionMessageAttempts", "3")
    await configure(session, "TransactionMessageRetryInterval", str(interval))
    await configure(session, "MeterValueSampleInterval", "0")

    def refuse(payload: dict[str, Any]) -> dict[str, Any]:
        raise InternalError("transaction database unavailable")

    session.set_handler("StartTransaction", refuse)
    await station.plug(1)
    await station.rfid("TAGRETRY", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGRETRY"})
    second = await session.expect("StartTransaction", {"idTag": "TAGRETRY"}, timeout=10)
    third = await session.expect("StartTransaction", {"idTag": "TAGRETRY"}, timeout=10)
    assert first.payload == second.payload == third.payload
    # Lower bounds only: retry n waits at least interval x n after the failure of try n.
    slack = timedelta(milliseconds=50)
    assert second.time - first.time >= timedelta(seconds=1 * interval) - slack
    assert third.time - second.time >= timedelta(seconds=2 * interval) - slack
    # A fourth try would come 3 s after the third: none comes.
    await session.expect_none("StartTransaction", within=3 * interval + 1.5, after=third.seq)
    assert (await station.status())["queuedMessages"] == 0
    log_position(station.log_text(), r"^.*giv(e|ing)n? up.*StartTransaction.*$")

    session.set_handler("StartTransaction", None)
    await station.rfid("TAGRETRY", 1)  # the driver ends the session
    stop = await session.expect("StopTransaction", {"idTag": "TAGRETRY"})
    assert stop.payload["transactionId"] == -1
    await session.expect_none("StartTransaction", within=0.5, after=third.seq)

    # Given up for good: a power cut and a restart do not bring it back.
    await station.kill()
    await closed(session)
    station = await make_station()
    session = await boot(csms, station)
    await session.expect_none("StartTransaction", within=1.5, after=0)
    assert (await station.status())["queuedMessages"] == 0


async def test_transaction_message_unanswered_counts_as_attempt(
    csms: CentralSystem, make_station
) -> None:
    """A transaction message left unanswered past MessageTimeout ([E] 3.83: the request SHALL
    be considered timed out) failed that attempt (1.6 §3.7.1: a response "or failure to
    respond"; digest §3.2): it is sent again after TransactionMessageRetryInterval x 1 and,
    answered then, the transaction takes the id of that answer; no third try. MessageTimeout
    is changed with ChangeConfiguration, which answers Accepted: the new timeout applies at
    once (§7.22 ConfigurationStatus; RebootRequired would say otherwise).
    Shrunk: MessageTimeout 30 -> 2 s (ChangeConfiguration), TransactionMessageRetryInterval 1 s,
    TransactionMessageAttempts 2.
    """
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MessageTimeout", "2")
    await configure(session, "TransactionMessageAttempts", "2")
    await configure(session, "TransactionMessageRetryInterval", "1")
    await configure(session, "MeterValueSampleInterval", "0")

    tries: list[dict[str, Any]] = []

    def silent_first(payload: dict[str, Any]) -> Any:
        tries.append(payload)
        if len(tries) == 1:
            return NO_ANSWER
        return csms.answers.start_transaction(payload)

    session.set_handler("StartTransaction", silent_first)
    await station.plug(1)
    await station.rfid("TAGSILENT", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGSILENT"})
    second = await session.expect("StartTransaction", {"idTag": "TAGSILENT"}, timeout=10)
    assert second.payload == first.payload
    slack = timedelta(milliseconds=50)
    assert second.time - first.time >= timedelta(seconds=2 + 1) - slack
    tx_id = await transaction_id(station)
    assert csms.record(IDENTITY).transaction(tx_id) is not None
    await session.expect_none("StartTransaction", within=2.5, after=second.seq)
    assert (await station.status())["queuedMessages"] == 0
    assert not re.search(r"giv(e|ing)n? up", station.log_text(), re.IGNORECASE)


async def test_transaction_message_lost_connection_is_not_an_attempt(
    csms: CentralSystem, make_station
) -> None:
    """A connection lost while a transaction message waits for its answer is not a failed
    attempt (1.6 §3.7: queued while offline; digest §3.2): with the factory
    TransactionMessageAttempts 1, the StartTransaction is still queued while offline and goes
    again, unchanged, on the next connection, where its answer gives the transaction its id.
    Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    session.set_handler("StartTransaction", lambda payload: NO_ANSWER)
    await station.plug(1)
    await station.rfid("TAGLOST", 1)
    first = await session.expect("StartTransaction", {"idTag": "TAGLOST"})

    await go_offline(csms, station, session)  # while the answer is awaited
    assert (await station.status())["queuedMessages"] >= 1
    session2 = await come_back(csms, session)
    again = await session2.expect("StartTransaction", {"idTag": "TAGLOST"}, after=0)
    assert again.payload == first.payload
    tx_id = await transaction_id(station)
    assert csms.record(IDENTITY).transaction(tx_id).id_tag == "TAGLOST"
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "StartTransaction delivered")
    assert not re.search(r"giv(e|ing)n? up", station.log_text(), re.IGNORECASE)
