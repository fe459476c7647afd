"""What the station tells its operator about an outage of the central system: GET /api/status
counts the queued transaction messages (`queuedMessages`, interface.md), and the log says when
the station went offline, when it was back and how many messages it delivered.

What the central system receives in such outages is judged by the conformance cases of
15 Offline Behaviour (ocpp_station/conformance/cases/core_offline.py).
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from ocpp_station.csms.server import CentralSystem
from ocpp_station.runtime import StationOptions, StationRuntime
from tests.integration.conftest import boot, configure, wait_for

TAG = "OUTAGE-TAG"
WAIT = 15.0


def log_line(log: str, pattern: str, start: int = 0) -> re.Match[str]:
    """The first log line matching `pattern` (case-insensitive) at or after `start`."""
    found = re.compile(rf"^.*{pattern}.*$", re.IGNORECASE | re.MULTILINE).search(log, start)
    assert found is not None, f"no log line matching {pattern!r} in:\n{log[start:][-3000:]}"
    return found


async def test_queued_messages_and_the_log_of_an_outage(csms: CentralSystem, make_station) -> None:
    """A whole transaction while the central system is away (AllowOfflineTxForUnknownId): the
    queue grows (StartTransaction, samples, StopTransaction) and the log says the station went
    offline; after reconnecting the log says it is back with that many messages queued, then
    that it sent them all, and the queue is empty. MeterValueSampleInterval 1 s."""
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "AllowOfflineTxForUnknownId", "true")
    await configure(session, "MeterValueSampleInterval", "1")
    await configure(session, "ClockAlignedDataInterval", "0")
    assert (await station.status())["queuedMessages"] == 0
    log_start = len(station.log_text())

    csms.accepting = False
    await session.close(abrupt=True)
    await wait_for(station, lambda s: not s["connected"], "the station notices it is offline")
    await station.plug(1)
    await station.rfid(TAG, 1)
    await station.wait_status(1, "Charging")
    await wait_for(station, lambda s: s["queuedMessages"] >= 3, "Start and two samples queued")
    await station.rfid(TAG, 1)
    await station.wait_status(1, "Finishing")
    queued = (await station.status())["queuedMessages"]

    csms.accepting = True
    again = await csms.wait_for_station(station.identity, timeout=20)
    await wait_for(station, lambda s: s["queuedMessages"] == 0, "queue delivered", timeout=15)
    delivered = [
        m
        for m in again.messages
        if m.action in ("StartTransaction", "StopTransaction")
        or (m.action == "MeterValues" and "transactionId" in m.payload)
    ]
    assert len(delivered) == queued, [(m.action, m.payload) for m in delivered]

    log = station.log_text()
    offline = log_line(log, r"\boffline\b", log_start)
    online = log_line(log, r"\b(online|back|reconnected)\b", offline.end())
    assert re.search(rf"\b{queued} transaction messages?\b", online.group()), online.group()
    sent = log_line(log, r"\b\d+ transaction messages? (sent|delivered)\b", online.end())
    assert re.search(rf"\b{queued} transaction messages?\b", sent.group()), sent.group()


async def test_offline_is_a_warning_only_when_the_link_was_lost(
    csms: CentralSystem, caplog: pytest.LogCaptureFixture
) -> None:
    """A link lost is a warning; the station closing it on its way down (SIGTERM) is not."""
    caplog.set_level(logging.INFO, logger="ocpp_station.runtime")
    runtime = StationRuntime(StationOptions(identity="CP-LOG", csms_url=csms.url))
    runtime.shutdown_grace = 0.2
    task = asyncio.create_task(runtime.run())
    try:
        session = await csms.wait_for_station("CP-LOG", timeout=WAIT)
        await session.close(abrupt=True)
        await session.closed.wait()
        await csms.wait_for_station("CP-LOG", timeout=WAIT)  # reconnected
        async with asyncio.timeout(WAIT):  # and the station has seen its side of it open
            while not runtime.client.connected:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.stop()
    offline = [r for r in caplog.records if r.getMessage().startswith("offline")]
    assert [r.levelno for r in offline] == [logging.WARNING, logging.INFO], offline
