"""Nothing lost: the real station killed with SIGKILL at many points, restarted on its state.

A power cut is SIGKILL and a start on the same --state-dir (interface.md). After it the
station must deliver every queued transaction message, in order, behind its new
BootNotification, and end a transaction that was running with StopTransaction reason
PowerLoss, its last known meter value and that value's time; a cable still in puts its
connector in Finishing (digest §3.1-§3.4, TC_032_2). SIGTERM is a controlled shutdown
(TC_032_1). Every check reads what the central system received (crash_support.check_ledger
says what adds up and how repeats are counted).

Shrunk for time: MeterValueSampleInterval 1 s (factory 20 s), TransactionMessageRetryInterval
2 s (factory 200 s), ClockAlignedDataInterval 1 s where clock-aligned values are the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from ocpp_station.csms.server import CentralSystem
from ocpp_station.rpc.errors import InternalError
from ocpp_station.timefmt import iso, parse
from tests.integration.conftest import StationProcess, boot
from tests.integration.crash_support import (
    SAMPLING,
    CentralControl,
    LedgerRecord,
    Observed,
    RandomCrashLane,
    Totals,
    check_ledger,
    install_ledger,
)

RANDOM_KILLS = 100
LANES = 3  # stations driven side by side, each against its own central system
OFFLINE_TX = ("--config", "AllowOfflineTxForUnknownId=true")


def _assert_clean(ledger: LedgerRecord, title: str, totals: Totals | None = None) -> None:
    totals = totals if totals is not None else Totals()
    totals.add(check_ledger(ledger), ledger.identity)
    print(totals.report(title))
    assert totals.lost == 0, totals.report(title)
    assert not totals.problems, totals.report(title)


def _register(call_payload: dict[str, Any]) -> tuple[int, str]:
    """(register Wh, timestamp) of the first meterValue of a MeterValues payload."""
    meter_value = call_payload["meterValue"][0]
    return round(float(meter_value["sampledValue"][0]["value"])), meter_value["timestamp"]


async def _restart(make_station: Any, args: tuple[str, ...], totals: Totals) -> StationProcess:
    station = await make_station(*args)
    totals.runs += 1
    return station


async def _kill(station: StationProcess, totals: Totals, point: str) -> None:
    await station.kill()
    totals.kills += 1
    totals.kill_points[point] += 1


async def test_random_sigkill_points_lose_nothing(csms: CentralSystem, make_station) -> None:
    """At least 100 SIGKILLs at random moments of random sessions (seeded; CRASH_SEED=n
    replays a seed's choices, timing aside). Three stations run side by side, each against its
    own central system so that each can go offline alone: online, late or held answers,
    refused connections, dropped connections; AllowOfflineTxForUnknownId true so that whole
    sessions run offline. MeterValueSampleInterval 1 s."""
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1 << 31))
    print(f"\nrandom crash test seed: {seed} (CRASH_SEED={seed} to replay)")
    centrals = [csms]
    totals = Totals()
    try:
        for _ in range(LANES - 1):
            extra = CentralSystem("127.0.0.1", 0, heartbeat_interval=60)
            await extra.start()
            centrals.append(extra)
        lanes = [
            RandomCrashLane(
                i,
                centrals[i],
                make_station,
                seed,
                (*SAMPLING, *OFFLINE_TX, "--seed", str(seed + i)),
                totals,
            )
            for i in range(LANES)
        ]
        per_lane = -(-RANDOM_KILLS // LANES)
        title = f"random SIGKILL crash test, seed {seed}"
        try:
            async with asyncio.timeout(280):
                async with asyncio.TaskGroup() as group:
                    runs = [group.create_task(lane.run(per_lane)) for lane in lanes]
        except BaseException:
            for lane in lanes:
                totals.problems.extend(lane.problems)
            print(totals.report(title + " (interrupted)"))
            raise
    finally:
        for extra in centrals[1:]:
            await extra.stop()
    for lane, run in zip(lanes, runs, strict=True):
        totals.add(run.result(), lane.identity)
    print(totals.report(title))
    assert totals.kills >= RANDOM_KILLS
    assert totals.lost == 0, totals.report(title)
    assert not totals.problems, totals.report(title)


async def test_kill_right_after_start_transaction_answered(
    csms: CentralSystem, make_station
) -> None:
    """TC_032_2 at the worst moment: SIGKILL 0-100 ms after the central system answered
    StartTransaction, before or after the station stored the id. After the restart the
    transaction ends with PowerLoss, meterStop = meterStart and the start's time (no sample was
    due yet), carrying the id the station kept: the first answer, or the answer to a repeat of
    the identical StartTransaction; connector 1 reports Finishing (the cable is still in)."""
    ledger = install_ledger(csms, "CP-1")
    control = CentralControl(csms, "CP-1")
    control.start()
    totals = Totals()
    args = SAMPLING
    station = await _restart(make_station, args, totals)
    await boot(csms, station)
    loop = asyncio.get_running_loop()
    try:
        for i, delay in enumerate((0.0, 0.001, 0.003, 0.01, 0.03, 0.1)):
            tag = f"START{i}"
            killed = asyncio.Event()

            def answer(
                payload: dict[str, Any],
                tag: str = tag,
                delay: float = delay,
                killed: asyncio.Event = killed,
                station: StationProcess = station,
            ) -> Any:
                result = csms.answers.start_transaction(payload)
                if payload["idTag"] == tag and not killed.is_set():
                    killed.set()
                    assert station.proc is not None
                    loop.call_later(delay, station.proc.send_signal, signal.SIGKILL)
                return result

            control.overrides["StartTransaction"] = answer
            if (await station.connector(1))["plugged"]:
                await station.unplug(1)
            await station.plug(1)
            # The answer waits for what the card did: the kill may come before it is sent.
            with contextlib.suppress(aiohttp.ClientError):
                await station.rfid(tag, 1)
            async with asyncio.timeout(10):
                await killed.wait()
            await _kill(station, totals, f"{delay * 1000:g} ms after StartTransaction.conf")
            del control.overrides["StartTransaction"]

            station = await _restart(make_station, args, totals)
            session = await csms.wait_for_station("CP-1", timeout=20)
            await session.expect("BootNotification", timeout=20)
            await session.expect("StatusNotification", {"connectorId": 1, "status": "Finishing"})

            def of_tag(p: dict[str, Any], t: str = tag) -> bool:
                return bool(p["idTag"] == t)

            stop = (await ledger.wait_for("StopTransaction", of_tag))[0]
            starts = ledger.received("StartTransaction", of_tag)
            ids = [c.answer["transactionId"] for c in starts if c.answer is not None]
            assert stop.payload["transactionId"] in ids
            assert stop.payload["reason"] == "PowerLoss"
            assert stop.payload["meterStop"] == starts[0].payload["meterStart"]
            assert parse(stop.payload["timestamp"]) == parse(starts[0].payload["timestamp"])
            # Queued messages go behind the new BootNotification ([S] 4.2).
            assert stop.n > ledger.received("BootNotification")[-1].n
            assert all(s.payload == starts[0].payload for s in starts)
        await station.unplug(1)
    finally:
        await control.stop()
    _assert_clean(ledger, "kill right after StartTransaction.conf", totals)


async def test_kill_offline_with_whole_session_queued(csms: CentralSystem, make_station) -> None:
    """TC_039 + TC_032_2 offline: a whole session (Start, samples, Stop) runs while the central
    system refuses connections, a second one is still running at the SIGKILL; a second SIGKILL
    comes while still offline. On reconnecting the station sends BootNotification, then exactly
    the queued messages plus one PowerLoss StopTransaction, in creation order, each
    follow-up with the id the central system gave its StartTransaction.
    AllowOfflineTxForUnknownId true (offline starts), MeterValueSampleInterval 1 s."""
    ledger = install_ledger(csms, "CP-1")
    totals = Totals()
    args = (*SAMPLING, *OFFLINE_TX)
    station = await _restart(make_station, args, totals)
    session = await boot(csms, station)
    async with asyncio.timeout(10):  # the start's security event delivered: nothing queued
        while (await station.status())["queuedMessages"]:
            await asyncio.sleep(0.05)
    csms.accepting = False
    await session.close()
    async with asyncio.timeout(10):
        while (await station.status())["connected"]:
            await asyncio.sleep(0.05)
    online_calls = len(ledger.calls)

    await station.plug(1)
    await station.rfid("OFFLINE1", 1)
    await station.wait_status(1, "Charging")
    await asyncio.sleep(2.5)
    await station.rfid("OFFLINE1", 1)  # the starting card ends it: reason Local
    await station.wait_status(1, "Finishing")
    await station.unplug(1)
    await station.plug(2)
    await station.rfid("OFFLINE2", 2)
    await station.wait_status(2, "Charging")
    await asyncio.sleep(1.6)
    queued = (await station.status())["queuedMessages"]
    assert queued >= 5  # Start, >= 2 samples, Stop, Start, >= 1 sample
    await _kill(station, totals, "offline, whole session queued")

    station = await _restart(make_station, args, totals)
    status = await station.status()
    assert not status["connected"]
    # + the PowerLoss StopTransaction and the restart's StartupOfTheDevice security event.
    assert status["queuedMessages"] == queued + 2
    assert status["connectors"][2]["status"] == "Finishing"
    await _kill(station, totals, "offline, after a restart")
    station = await _restart(make_station, args, totals)
    assert (await station.status())["queuedMessages"] == queued + 3  # one more start event
    assert len(ledger.calls) == online_calls  # nothing got through while refused

    csms.accepting = True
    session = await csms.wait_for_station("CP-1", timeout=30)
    await session.expect("BootNotification", timeout=20)
    await session.expect("StatusNotification", {"connectorId": 2, "status": "Finishing"})
    async with asyncio.timeout(20):
        while (await station.status())["queuedMessages"]:
            await asyncio.sleep(0.1)
    later = ledger.calls[online_calls:]
    assert later[0].action == "BootNotification"
    delivered = [c for c in later if c.is_transaction_message]
    assert len(delivered) == queued + 1  # each exactly once: none was sent before
    # Start 1, its samples, Stop 1 (Local), Start 2, its samples, Stop 2 (PowerLoss).
    tags = [c.payload.get("idTag") for c in delivered]
    second = tags.index("OFFLINE2")
    start1, stop1 = delivered[0], delivered[second - 1]
    start2, stop2 = delivered[second], delivered[-1]
    assert (start1.action, start1.payload["idTag"]) == ("StartTransaction", "OFFLINE1")
    assert (stop1.action, stop1.payload["reason"]) == ("StopTransaction", "Local")
    assert start2.action == "StartTransaction"
    assert (stop2.action, stop2.payload["reason"]) == ("StopTransaction", "PowerLoss")
    values1, values2 = delivered[1 : second - 1], delivered[second + 1 : -1]
    assert len(values1) >= 2 and len(values2) >= 1
    assert all(c.action == "MeterValues" for c in values1 + values2)
    for start, follow in ((start1, [*values1, stop1]), (start2, [*values2, stop2])):
        assert start.answer is not None
        assert {c.payload["transactionId"] for c in follow} == {start.answer["transactionId"]}
    register, stamp = _register(values2[-1].payload)
    assert stop2.payload["meterStop"] == register  # the last known meter value ...
    await station.unplug(2)
    _assert_clean(ledger, "kill offline with a whole session queued", totals)
    # ... and that value's time (digest §3.4), the time its MeterValues gave it.
    assert stop2.payload["timestamp"] == stamp, (stop2.payload, values2[-1].payload)


async def test_kill_during_sigterm_grace(csms: CentralSystem, make_station) -> None:
    """TC_032_1: SIGTERM stops the running session with PowerLoss and delivers it before the
    process exits 0 (no repeat after the restart); SIGTERM while offline exits 0 at once and
    the StopTransaction goes after the restart; SIGKILL during the grace, while the central
    system has not answered the StopTransaction yet, gets it sent again after the restart, once,
    and no second PowerLoss stop. MeterValueSampleInterval 1 s."""
    ledger = install_ledger(csms, "CP-1")
    control = CentralControl(csms, "CP-1")
    control.start()
    totals = Totals()
    args = SAMPLING

    async def start_session(station: StationProcess, tag: str) -> None:
        if (await station.connector(1))["plugged"]:
            await station.unplug(1)
        await station.plug(1)
        await station.rfid(tag, 1)
        await ledger.wait_for("StartTransaction", lambda p: p["idTag"] == tag, answered=True)
        await ledger.wait_for(
            "MeterValues",
            lambda p: p["connectorId"] == 1 and "transactionId" in p,
            count=len(ledger.received("MeterValues", lambda p: "transactionId" in p)) + 1,
        )

    def stops(tag: str) -> list[Any]:
        return ledger.received("StopTransaction", lambda p: p["idTag"] == tag)

    try:
        station = await _restart(make_station, args, totals)
        await boot(csms, station)

        # Controlled shutdown while answered at once.
        await start_session(station, "GRACE1")
        assert await station.stop() == 0
        totals.sigterms += 1
        assert len(stops("GRACE1")) == 1 and stops("GRACE1")[0].answer is not None
        assert stops("GRACE1")[0].payload["reason"] == "PowerLoss"
        station = await _restart(make_station, args, totals)
        session = await csms.wait_for_station("CP-1", timeout=20)
        await session.expect("StatusNotification", {"connectorId": 1, "status": "Finishing"})
        await session.expect_none("StopTransaction", within=2.0)

        # Controlled shutdown while offline: exits without waiting, delivers after restart.
        await start_session(station, "GRACE2")
        csms.accepting = False
        await session.close()
        assert await station.stop() == 0
        totals.sigterms += 1
        assert stops("GRACE2") == []
        csms.accepting = True
        station = await _restart(make_station, args, totals)
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == "GRACE2", answered=True)

        # SIGKILL during the grace: the StopTransaction is on the wire, not answered.
        session = await csms.wait_for_station("CP-1", timeout=20)
        await start_session(station, "GRACE3")
        release = asyncio.Event()

        async def held(payload: dict[str, Any]) -> dict[str, Any]:
            async with asyncio.timeout(30):
                await release.wait()
            return csms.answers.stop_transaction(payload)

        control.overrides["StopTransaction"] = held
        assert station.proc is not None
        station.proc.send_signal(signal.SIGTERM)
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == "GRACE3")
        await asyncio.sleep(0.5)
        assert station.proc.returncode is None  # still waiting for the answer (5 s grace)
        await _kill(station, totals, "SIGTERM grace, StopTransaction unanswered")
        del control.overrides["StopTransaction"]
        release.set()
        station = await _restart(make_station, args, totals)
        session = await csms.wait_for_station("CP-1", timeout=20)
        await session.expect("StatusNotification", {"connectorId": 1, "status": "Finishing"})
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == "GRACE3", count=2)
        async with asyncio.timeout(10):
            while (await station.status())["queuedMessages"]:
                await asyncio.sleep(0.1)
        await session.expect_none("StopTransaction", within=2.0, after=session.cursor())
        first, again = stops("GRACE3")
        assert first.payload == again.payload and first.payload["reason"] == "PowerLoss"
        await station.unplug(1)
    finally:
        await control.stop()
    _assert_clean(ledger, "kill during the SIGTERM grace", totals)


async def _session_with_failing_stop(
    csms: CentralSystem,
    make_station: Any,
    ledger: LedgerRecord,
    control: CentralControl,
    args: tuple[str, ...],
    totals: Totals,
    failures: int,
    kills: int,
    tag: str,
) -> StationProcess:
    """A session whose StopTransaction gets a CALLERROR `failures` times, with a SIGKILL
    0.3 s after each of the first `kills` CALLERRORs (while the station waits to retry)."""
    station = await _restart(make_station, args, totals)
    await boot(csms, station)
    await station.plug(1)
    await station.rfid(tag, 1)
    await ledger.wait_for("StartTransaction", lambda p: p["idTag"] == tag, answered=True)

    def refuse(payload: dict[str, Any]) -> dict[str, Any]:
        mine = ledger.received("StopTransaction", lambda p: p["idTag"] == tag)
        if payload["idTag"] == tag and len(mine) <= failures:
            raise InternalError("the back office cannot store it now")
        return csms.answers.stop_transaction(payload)

    control.overrides["StopTransaction"] = refuse
    await station.unplug(1)  # reason EVDisconnected
    for n in range(1, kills + 1):
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == tag, count=n)
        await asyncio.sleep(0.3)
        await _kill(station, totals, "StopTransaction refused, retry pending")
        station = await _restart(make_station, args, totals)
    return station


# TransactionMessageAttempts 3, TransactionMessageRetryInterval 2 s: the retry tests' station.
RETRY_ARGS = (
    "--config",
    "TransactionMessageAttempts=3",
    "--config",
    "TransactionMessageRetryInterval=2",
)


async def test_kill_with_queued_stop_refused_by_callerror(
    csms: CentralSystem, make_station
) -> None:
    """[S] 4.10 / digest §3.2: a StopTransaction answered with a CALLERROR stays queued for
    its retries across power cuts: two CALLERRORs, each followed by SIGKILL during the retry
    wait, then the third attempt is answered; the central system got the identical payload
    three times and nothing more afterwards. TransactionMessageAttempts 3,
    TransactionMessageRetryInterval 2 s."""
    ledger = install_ledger(csms, "CP-1")
    control = CentralControl(csms, "CP-1")
    control.start()
    totals = Totals()
    args = RETRY_ARGS
    try:
        station = await _session_with_failing_stop(
            csms, make_station, ledger, control, args, totals, failures=2, kills=2, tag="REFUSED1"
        )
        three = await ledger.wait_for(
            "StopTransaction", lambda p: p["idTag"] == "REFUSED1", count=3, timeout=20
        )
        async with asyncio.timeout(10):
            while (await station.status())["queuedMessages"]:
                await asyncio.sleep(0.1)
        assert three[2].answer is not None
        assert three[0].answer is None and three[1].answer is None
        assert three[0].payload == three[1].payload == three[2].payload
        assert three[0].payload["reason"] == "EVDisconnected"
        await _kill(station, totals, "after the answered retry")
        station = await _restart(make_station, args, totals)
        session = await boot(csms, station)
        await session.expect_none("StopTransaction", within=3.0)
        assert (await station.status())["queuedMessages"] == 0
    finally:
        await control.stop()
    _assert_clean(ledger, "kill with a queued StopTransaction refused by CALLERROR", totals)


async def test_stop_refused_by_callerror_given_up_after_attempts_across_kills(
    csms: CentralSystem, make_station
) -> None:
    """Digest §3.2: the attempts a StopTransaction used are not forgotten by a power cut. With
    TransactionMessageAttempts 3 and every answer a CALLERROR, the central system receives it
    exactly three times across two SIGKILLs, then the station gives it up and the queue moves
    on: the next session's StartTransaction goes out. TransactionMessageRetryInterval 2 s."""
    ledger = install_ledger(csms, "CP-1")
    control = CentralControl(csms, "CP-1")
    control.start()
    totals = Totals()
    args = RETRY_ARGS
    try:
        station = await _session_with_failing_stop(
            csms, make_station, ledger, control, args, totals, failures=3, kills=2, tag="REFUSED2"
        )
        await ledger.wait_for(
            "StopTransaction", lambda p: p["idTag"] == "REFUSED2", count=3, timeout=20
        )
        await asyncio.sleep(5.0)  # two retry intervals and more: no fourth attempt
        assert len(ledger.received("StopTransaction")) == 3
        assert (await station.status())["queuedMessages"] == 0
        await station.plug(1)
        await station.rfid("AFTER", 1)
        await ledger.wait_for("StartTransaction", lambda p: p["idTag"] == "AFTER", answered=True)
        await station.unplug(1)
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == "AFTER", answered=True)
    finally:
        await control.stop()
    # The refused StopTransaction arrived (three times); it was never acknowledged, so the
    # central system's side of the bookkeeping is complete: nothing lost, two repeats.
    _assert_clean(ledger, "StopTransaction given up across kills", totals)


async def test_kill_after_clock_aligned_transaction_meter_values(
    csms: CentralSystem, make_station
) -> None:
    """Digest §3.1/§3.4: clock-aligned MeterValues of a running transaction are transaction
    messages, and their register is a known meter value. SIGKILL right after the central
    system answered the first one: the PowerLoss StopTransaction must not report less energy,
    or an earlier time, than that MeterValues did, and the next transaction on the connector
    must not start below it. ClockAlignedDataInterval 1 s (factory 10000 s); samples at the
    factory 20 s so that only aligned values flow."""
    ledger = install_ledger(csms, "CP-1")
    control = CentralControl(csms, "CP-1")
    control.start()
    totals = Totals()
    args = ("--config", "ClockAlignedDataInterval=1")
    loop = asyncio.get_running_loop()
    try:
        station = await _restart(make_station, args, totals)
        await boot(csms, station)
        await station.plug(1)
        await station.rfid("ALIGNED1", 1)
        killed = asyncio.Event()

        def answer(payload: dict[str, Any]) -> dict[str, Any]:
            clock = payload["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock"
            if "transactionId" in payload and clock and not killed.is_set():
                killed.set()
                assert station.proc is not None
                loop.call_soon(station.proc.send_signal, signal.SIGKILL)
            return {}

        control.overrides["MeterValues"] = answer
        async with asyncio.timeout(10):
            await killed.wait()
        await _kill(station, totals, "right after a clock-aligned MeterValues.conf")
        del control.overrides["MeterValues"]
        aligned = next(c for c in ledger.received("MeterValues", lambda p: "transactionId" in p))
        register, stamp = _register(aligned.payload)

        station = await _restart(make_station, args, totals)
        session = await boot(csms, station)
        # No aligned values for the next session: only the restart's effect is looked at.
        await session.call("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "0"})
        stop = (await ledger.wait_for("StopTransaction", answered=True))[0]
        assert stop.payload["reason"] == "PowerLoss"
        await station.unplug(1)
        await station.plug(1)
        await station.rfid("ALIGNED2", 1)
        start = (await ledger.wait_for("StartTransaction", lambda p: p["idTag"] == "ALIGNED2"))[0]
        await station.unplug(1)
        await ledger.wait_for("StopTransaction", lambda p: p["idTag"] == "ALIGNED2")
        totals.add(check_ledger(ledger), ledger.identity)
        print(totals.report("kill after clock-aligned MeterValues"))
        assert stop.payload["meterStop"] >= register, (stop.payload, aligned.payload)
        assert parse(stop.payload["timestamp"]) >= parse(stamp), (stop.payload, aligned.payload)
        assert start.payload["meterStart"] >= register, (start.payload, aligned.payload)
    finally:
        await control.stop()
    assert totals.lost == 0 and not totals.problems


class _Script:
    """A made-up ledger, one CALL at a time, to check the bookkeeping itself."""

    def __init__(self) -> None:
        self.ledger = LedgerRecord("CP-X")
        self.clock = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

    def at(self, seconds: float) -> str:
        return iso(self.clock + timedelta(seconds=seconds))

    def call(self, action: str, payload: dict[str, Any], answer: dict[str, Any] | None) -> None:
        now = self.clock + timedelta(seconds=len(self.ledger.calls))
        self.ledger.on_request(action, payload, now, logging.getLogger("crash-test"))
        if answer is not None:
            self.ledger.on_answer(action, payload, answer, now)

    def start(self, tag: str, meter: int, t: float, tid: int | None) -> dict[str, Any]:
        payload = {"connectorId": 1, "idTag": tag, "meterStart": meter, "timestamp": self.at(t)}
        self.call("StartTransaction", payload, None if tid is None else _conf(tid))
        return payload

    def sample(self, tid: int, wh: int, t: float) -> dict[str, Any]:
        payload = {"connectorId": 1, "transactionId": tid, "meterValue": [_mv(wh, self.at(t))]}
        self.call("MeterValues", payload, {})
        return payload

    def stop(self, tid: int, tag: str, wh: int, t: float, data: list[Any]) -> dict[str, Any]:
        payload = {
            "transactionId": tid,
            "idTag": tag,
            "meterStop": wh,
            "timestamp": self.at(t),
            "reason": "PowerLoss",
            "transactionData": data,
        }
        self.call("StopTransaction", payload, {})
        return payload


def _conf(tid: int) -> dict[str, Any]:
    return {"transactionId": tid, "idTagInfo": {"status": "Accepted"}}


def _mv(wh: int, when: str, context: str = "Sample.Periodic") -> dict[str, Any]:
    value = {"value": str(wh), "context": context, "measurand": "Energy.Active.Import.Register"}
    return {"timestamp": when, "sampledValue": [value]}


def test_ledger_check_counts_repeats_and_finds_losses() -> None:
    """The bookkeeping of the crash tests, on made-up ledgers: a StartTransaction repeated
    after a kill (second id, the first superseded) and a repeated MeterValues are duplicates,
    not losses; a missing StopTransaction or sample, an unknown id, an unexplained -1, a
    register going down and a repeat out of place are all found."""
    good = _Script()
    start = good.start("A", 100, 0, tid=1)
    good.call("StartTransaction", dict(start), _conf(2))  # answer 1 never stored: sent again
    mv = good.sample(2, 110, 1)
    good.call("MeterValues", dict(mv), {})  # killed before storing its answer
    good.stop(2, "A", 110, 1, [_mv(110, good.at(1))])
    good.start("B", 110, 3, tid=3)
    good.call(
        "StopTransaction",
        {
            "transactionId": 3,
            "idTag": "B",
            "meterStop": 110,
            "timestamp": good.at(3),
            "reason": "PowerLoss",
        },
        {},
    )
    given_up = good.start("C", 110, 4, tid=None)  # never answered: the station gave it up
    good.call(
        "StopTransaction",
        {"transactionId": -1, "idTag": "C", "meterStop": 111, "timestamp": good.at(5)},
        {},
    )
    found = check_ledger(good.ledger)
    assert found.problems == [] and found.lost == 0
    assert found.duplicates == {"StartTransaction": 1, "MeterValues": 1}
    assert (found.transactions, found.superseded, found.given_up_starts) == (2, 1, 1)
    assert given_up["idTag"] == "C"

    lost = _Script()
    lost.start("A", 100, 0, tid=1)
    lost.sample(1, 105, 1)
    lost.stop(1, "A", 110, 2, [_mv(105, lost.at(1)), _mv(108, lost.at(1.5))])  # one never sent
    lost.start("B", 110, 3, tid=2)  # never stopped
    found = check_ledger(lost.ledger)
    assert found.lost == 2, found.problems

    bad = _Script()
    bad.start("A", 100, 0, tid=1)
    mv = bad.sample(1, 120, 1)
    bad.stop(1, "A", 115, 2, [])  # below the register its MeterValues reported
    bad.call("MeterValues", dict(mv), {})  # a repeat that is not of the message before it
    bad.start("B", 110, 3, tid=2)  # the register went down
    bad.stop(7, "B", 120, 4, [])  # an id never handed out
    bad.stop(-1, "Z", 120, 4, [])  # -1 with no given-up StartTransaction
    observed = Observed(tags={"GHOST": 2})
    found = check_ledger(bad.ledger, observed)
    text = "\n".join(found.problems)
    for expected in (
        "meterStop 115 below the register 120",
        "not the one just before it",
        "register 110 Wh in",
        "7 was never handed out",
        "-1 but no StartTransaction was given up",
        "GHOST on connector 2",
    ):
        assert expected in text, text
    assert found.lost == 2  # B never stopped, GHOST never started
