"""Crash tests: what the central system received across every connection, and whether it adds up.

`LedgerRecord` replaces a station's record in the central system before the station first
connects and keeps every CALL (and the answer given to it) in arrival order, whatever
connection it came on: a killed station reconnects on a new one.

`check_ledger` reads a ledger as the central system's back office would and lists what does
not add up ("Nothing lost", digest §3.1-§3.4):

- Every transaction id handed out for a StartTransaction ends with exactly one StopTransaction
  carrying that id; MeterValues of a transaction carry its id, arrive between its Start and its
  Stop, and their timestamps lie between the Start's and the Stop's, periodic samples in order.
- meterStop >= meterStart; the energy register of a connector never goes down, in the order the
  station created its transaction messages (which the queue keeps), across restarts too.
- Every sampled or clock-aligned value the station kept for StopTransaction.transactionData
  also arrived as a MeterValues message, and the other way round (both are written in one
  step; a copy without its MeterValues is a lost message). Compared by register values in
  order, not by timestamp: the two copies of one sample are stamped by separate clock reads.
- Duplicates: a kill (or a dropped connection) between sending a message and storing its
  answer makes the station send it again. A repeat carries an identical payload and comes right
  after the message it repeats (the head of the queue goes again, digest §3.2). A
  repeated StartTransaction gets a second id from the central system; the station keeps only
  the answer it stored, so exactly one id of such a group of identical StartTransactions is
  used by the MeterValues and the StopTransaction; the others are "superseded": they never get
  a StopTransaction and count as duplicates, not as losses.
- transactionId -1 ([E] 3.18) is allowed only for the follow-ups of a StartTransaction the
  station gave up: a -1 StopTransaction must match a StartTransaction (same idTag) none of
  whose ids was ever used.
- `Observed` holds what the station's control API showed (a transaction with its idTag and,
  once answered, its id): each must have reached the central system, with that id.

`CentralControl` scripts the central system's answers to one station's transaction messages on
every connection it opens (delayed, held, or a test's own function). `RandomCrashLane` drives
one station through random sessions and kills it at random moments.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from ocpp_station.csms.records import StationRecord
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import StationSession
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.timefmt import parse
from tests.integration.conftest import StationProcess

TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
TX_STATUSES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
REGISTER = "Energy.Active.Import.Register"
# What every crash test station runs with: samples every second so meter values flow.
SAMPLING = ("--config", "MeterValueSampleInterval=1")


# --------------------------------------------------------------------------------- the ledger


@dataclass(slots=True)
class Call:
    """One CALL the central system received, and what it answered (None: no CALLRESULT)."""

    n: int
    time: datetime
    action: str
    payload: dict[str, Any]
    answer: dict[str, Any] | None = None

    @property
    def is_transaction_message(self) -> bool:
        if self.action == "MeterValues":
            return "transactionId" in self.payload
        return self.action in TX_ACTIONS

    def describe(self) -> str:
        text = orjson.dumps(self.payload).decode()
        if len(text) > 300:
            text = text[:300] + "..."
        return f"#{self.n} {self.action} {text}"


class LedgerRecord(StationRecord):
    """A station's record that also keeps every CALL and its answer, across connections."""

    def __init__(self, identity: str) -> None:
        super().__init__(identity)
        self.calls: list[Call] = []

    def on_request(self, action: str, payload: dict[str, Any], now: datetime, log: Any) -> None:
        self.calls.append(Call(len(self.calls) + 1, now, action, payload))
        super().on_request(action, payload, now, log)

    def on_answer(
        self, action: str, payload: dict[str, Any], response: dict[str, Any], now: datetime
    ) -> None:
        for call in reversed(self.calls):
            if call.payload is payload:
                call.answer = response
                break
        super().on_answer(action, payload, response, now)

    def received(
        self, action: str, match: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[Call]:
        return [c for c in self.calls if c.action == action and (match is None or match(c.payload))]

    async def wait_for(
        self,
        action: str,
        match: Callable[[dict[str, Any]], bool] | None = None,
        *,
        count: int = 1,
        answered: bool = False,
        timeout: float = 15,
    ) -> list[Call]:
        """The first `count` CALLs of `action` matching `match` (answered ones, if asked)."""
        async with asyncio.timeout(timeout):
            while True:
                found = [
                    c for c in self.received(action, match) if not answered or c.answer is not None
                ]
                if len(found) >= count:
                    return found[:count]
                await asyncio.sleep(0.02)


def install_ledger(csms: CentralSystem, identity: str) -> LedgerRecord:
    """Give the central system a recording record for `identity`; before it first connects."""
    if identity in csms.records:
        raise RuntimeError(f"{identity} already has a record; install the ledger first")
    record = LedgerRecord(identity)
    csms.records[identity] = record
    return record


# -------------------------------------------------------------------------------- the check


@dataclass(slots=True)
class Observed:
    """What the station's control API showed: transactions by idTag, with the ids it knew."""

    tags: dict[str, int] = field(default_factory=dict)  # idTag -> connector
    ids: dict[str, set[int]] = field(default_factory=dict)  # idTag -> transactionIds shown

    def take(self, status: dict[str, Any]) -> None:
        for entry in status["connectors"][1:]:
            tag = entry.get("idTag")
            if tag is None or entry["status"] not in TX_STATUSES:
                continue
            self.tags.setdefault(tag, entry["id"])
            if entry.get("transactionId") is not None:
                self.ids.setdefault(tag, set()).add(entry["transactionId"])


@dataclass(slots=True)
class Findings:
    received: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    transactions: int = 0
    superseded: int = 0
    given_up_starts: int = 0
    late_starts: int = 0  # arrived more than a second after their timestamp: were queued
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    """Identical StartTransactions (one, plus its repeats) and what refers to them."""

    first: Call
    receipts: list[Call] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    meter_values: list[Call] = field(default_factory=list)
    stops: list[Call] = field(default_factory=list)
    explained_by_minus_one: bool = False


def _key(call: Call) -> bytes:
    return call.action.encode() + b" " + orjson.dumps(call.payload, option=orjson.OPT_SORT_KEYS)


def _meter_values(call: Call) -> list[dict[str, Any]]:
    return list(call.payload.get("meterValue", []))


def _registers(meter_value: dict[str, Any]) -> list[int]:
    return [
        round(float(v["value"]))
        for v in meter_value["sampledValue"]
        if v.get("measurand", "Energy.Active.Import.Register") == REGISTER
    ]


def _context(meter_value: dict[str, Any]) -> str:
    values = meter_value["sampledValue"]
    return values[0].get("context", "Sample.Periodic") if values else "Sample.Periodic"


def check_ledger(ledger: LedgerRecord, observed: Observed | None = None) -> Findings:
    f = Findings()
    problems = f.problems
    for call in ledger.calls:
        name = call.action
        if name == "MeterValues" and "transactionId" not in call.payload:
            name = "MeterValues (no transaction)"
        f.received[name] += 1

    # 1. First arrivals and repeats, in arrival order.
    distinct: list[Call] = []
    seen: set[bytes] = set()
    previous: bytes | None = None
    groups: dict[bytes, _Group] = {}
    for call in ledger.calls:
        if not call.is_transaction_message:
            continue
        key = _key(call)
        if key in seen:
            f.duplicates[call.action] += 1
            if key != previous:
                problems.append(
                    f"{call.describe()} repeats an earlier message but not the one just before it"
                )
        else:
            seen.add(key)
            distinct.append(call)
            if call.action == "StartTransaction":
                groups[key] = _Group(call)
                if (call.time - parse(call.payload["timestamp"])).total_seconds() > 1:
                    f.late_starts += 1
        previous = key
        if call.action == "StartTransaction":
            group = groups[key]
            group.receipts.append(call)
            if call.answer is not None and isinstance(call.answer.get("transactionId"), int):
                group.ids.append(call.answer["transactionId"])

    owner: dict[int, _Group] = {}
    for group in groups.values():
        for tid in group.ids:
            owner[tid] = group
    # Ids handed out while the receipt's answer was still pending show up only now (a delayed
    # answer to a connection that is gone): those count as superseded ids as well.

    # 2. Attach the follow-ups to their StartTransaction.
    minus_one_stops: list[Call] = []
    minus_one_values: list[Call] = []
    for call in distinct:
        if call.action == "StartTransaction":
            continue
        wire_id = call.payload.get("transactionId")
        found = owner.get(wire_id) if isinstance(wire_id, int) else None
        if found is not None:
            (found.stops if call.action == "StopTransaction" else found.meter_values).append(call)
        elif wire_id == -1:
            (minus_one_stops if call.action == "StopTransaction" else minus_one_values).append(call)
        else:
            problems.append(f"{call.describe()}: transaction id {wire_id} was never handed out")

    # 3. -1 StopTransactions must stand for a StartTransaction the station gave up.
    for stop in minus_one_stops:
        match = next(
            (
                g
                for g in groups.values()
                if not g.stops
                and not g.meter_values
                and not g.explained_by_minus_one
                and g.first.payload["idTag"].casefold() == str(stop.payload.get("idTag")).casefold()
                and g.first.n < stop.n
            ),
            None,
        )
        if match is None:
            problems.append(f"{stop.describe()}: -1 but no StartTransaction was given up")
        else:
            match.explained_by_minus_one = True
            f.given_up_starts += 1
    if minus_one_values and not minus_one_stops:
        for call in minus_one_values:
            problems.append(f"{call.describe()}: -1 but no StartTransaction was given up")

    # 4. Each transaction, from its StartTransaction to its StopTransaction.
    connector_of: dict[int, int] = {}
    for group in groups.values():
        start = group.first
        connector = start.payload["connectorId"]
        used = {c.payload["transactionId"] for c in group.stops + group.meter_values}
        for tid in used:
            connector_of[tid] = connector
        if len(used) > 1:
            problems.append(
                f"{start.describe()}: its follow-ups carry different ids {sorted(used)}"
            )
        if not group.stops:
            if group.explained_by_minus_one:
                continue
            f.lost += 1
            problems.append(
                f"{start.describe()} (ids {group.ids}) never ended with a StopTransaction"
                + (f"; {len(group.meter_values)} MeterValues arrived" if group.meter_values else "")
            )
            continue
        f.transactions += 1
        f.superseded += len(group.ids) - 1
        if len({_key(s) for s in group.stops}) > 1:
            problems.append(
                f"{start.describe()} stopped more than once: "
                + "; ".join(s.describe() for s in group.stops)
            )
        stop = group.stops[0]
        tid = stop.payload["transactionId"]
        answered_at = next(
            (r for r in group.receipts if r.answer and r.answer.get("transactionId") == tid),
            None,
        )
        after = answered_at.n if answered_at is not None else start.n
        _check_transaction(f, start, after, group.meter_values, stop)

    # 5. Per connector: the register never goes down, Stop/Start times in order.
    last_register: dict[int, tuple[int, Call]] = {}
    last_time: dict[int, tuple[datetime, Call]] = {}
    for call in distinct:
        if call.action == "StartTransaction":
            connector = call.payload["connectorId"]
            readings = [call.payload["meterStart"]]
        elif call.action == "StopTransaction":
            connector = connector_of.get(call.payload["transactionId"], 0)
            readings = [call.payload["meterStop"]]
        else:
            connector = call.payload["connectorId"]
            readings = [r for mv in _meter_values(call) for r in _registers(mv)]
        if connector < 1:
            continue
        for value in readings:
            before = last_register.get(connector)
            if before is not None and value < before[0]:
                problems.append(
                    f"connector {connector}: register {value} Wh in {call.describe()} is below "
                    f"{before[0]} Wh sent before in {before[1].describe()}"
                )
            if before is None or value >= before[0]:
                last_register[connector] = (value, call)
        if call.action != "MeterValues":
            when = parse(call.payload["timestamp"])
            earlier = last_time.get(connector)
            if earlier is not None and when < earlier[0]:
                problems.append(
                    f"connector {connector}: {call.describe()} is timed before "
                    f"{earlier[1].describe()}, which it follows"
                )
            last_time[connector] = (when, call)

    # 6. What the station showed must have arrived, with the same id.
    if observed is not None:
        for tag, connector in observed.tags.items():
            mine = [g for g in groups.values() if g.first.payload["idTag"] == tag]
            if not mine:
                f.lost += 1
                problems.append(
                    f"transaction of {tag} on connector {connector} (seen in the station's "
                    "status) never reached the central system"
                )
                continue
            for shown in observed.ids.get(tag, set()):
                if not any(shown in {s.payload["transactionId"] for s in g.stops} for g in mine):
                    problems.append(
                        f"the station showed transaction {shown} for {tag}, but the "
                        "StopTransaction of that tag carries another id"
                    )
    return f


def _check_transaction(
    f: Findings, start: Call, after: int, values: list[Call], stop: Call
) -> None:
    problems = f.problems
    tid = stop.payload["transactionId"]
    begin = parse(start.payload["timestamp"])
    end = parse(stop.payload["timestamp"])
    meter_start = start.payload["meterStart"]
    meter_stop = stop.payload["meterStop"]
    if meter_stop < meter_start:
        problems.append(f"transaction {tid}: meterStop {meter_stop} < meterStart {meter_start}")
    if end < begin:
        problems.append(f"transaction {tid}: stopped at {end} before its start at {begin}")
    if stop.n < after:
        problems.append(f"transaction {tid}: {stop.describe()} came before its StartTransaction")
    last_periodic: datetime | None = None
    register = meter_start
    # Register values per context, in order: the transactionData copy of each sample is taken
    # in the same step as its MeterValues, so the two lists match entry for entry.
    received: dict[str, list[list[int]]] = {"Sample.Periodic": [], "Sample.Clock": []}
    for call in values:
        if call.payload["connectorId"] != start.payload["connectorId"]:
            problems.append(f"{call.describe()}: not the connector of transaction {tid}")
        if not after < call.n < stop.n:
            problems.append(
                f"{call.describe()}: arrived outside its transaction (Start answered at "
                f"#{after}, Stop #{stop.n})"
            )
        for mv in _meter_values(call):
            when = parse(mv["timestamp"])
            context = _context(mv)
            received.setdefault(context, []).append(_registers(mv))
            if not begin <= when <= end:
                problems.append(
                    f"{call.describe()}: timestamp outside transaction {tid} ({begin} - {end})"
                )
            if context == "Sample.Periodic":
                if last_periodic is not None and when <= last_periodic:
                    problems.append(f"{call.describe()}: periodic samples out of time order")
                last_periodic = when
            for value in _registers(mv):
                if value < register:
                    problems.append(f"{call.describe()}: register {value} below {register}")
                register = max(register, value)
    if meter_stop < register:
        problems.append(
            f"transaction {tid}: meterStop {meter_stop} below the register {register} already "
            "reported in its MeterValues"
        )
    data = stop.payload.get("transactionData") or []
    kept: dict[str, list[list[int]]] = {"Sample.Periodic": [], "Sample.Clock": []}
    for mv in data:
        context = _context(mv)
        if context in kept:
            kept[context].append(_registers(mv))
        elif context == "Transaction.Begin" and _registers(mv) not in ([], [meter_start]):
            problems.append(f"transaction {tid}: Transaction.Begin {_registers(mv)} != meterStart")
        elif context == "Transaction.End" and _registers(mv) not in ([], [meter_stop]):
            problems.append(f"transaction {tid}: Transaction.End {_registers(mv)} != meterStop")
    if data:
        for context, copies in kept.items():
            sent = received[context]
            if copies == sent:
                continue
            f.lost += max(0, len(copies) - len(sent))
            problems.append(
                f"transaction {tid}: {context} registers in transactionData {copies[:20]} "
                f"({len(copies)}) differ from those of its MeterValues {sent[:20]} ({len(sent)})"
            )


@dataclass(slots=True)
class Totals:
    runs: int = 0
    kills: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    sigterms: int = 0
    received: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    transactions: int = 0
    superseded: int = 0
    given_up_starts: int = 0
    late_starts: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, findings: Findings, who: str) -> None:
        self.received.update(findings.received)
        self.duplicates.update(findings.duplicates)
        self.lost += findings.lost
        self.transactions += findings.transactions
        self.superseded += findings.superseded
        self.given_up_starts += findings.given_up_starts
        self.late_starts += findings.late_starts
        self.problems.extend(f"{who}: {p}" for p in findings.problems)

    def report(self, title: str) -> str:
        lines = [
            f"== {title} ==",
            f"runs (station processes started): {self.runs}",
            f"kill points (SIGKILL): {self.kills}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.kill_points.items())),
            f"controlled shutdowns (SIGTERM, exit 0): {self.sigterms}",
            "received per action: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.received.items())),
            f"transactions started and stopped: {self.transactions} (StartTransaction queued "
            f"and delivered over a second late: {self.late_starts})",
            f"lost: {self.lost}",
            f"duplicated: {sum(self.duplicates.values())}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates.items()))
            + f"  (superseded StartTransaction ids: {self.superseded})",
            f"given-up StartTransactions (follow-ups with -1): {self.given_up_starts}",
            f"problems: {len(self.problems)}",
        ]
        lines.extend(f"  {p}" for p in self.problems[:60])
        return "\n".join(lines)


# ------------------------------------------------------------------- the central system's side


Answer = Callable[[dict[str, Any]], Any]


class CentralControl:
    """How one central system answers one station's transaction messages, on every connection.

    `overrides[action]` answers instead of the default (a dict, an awaitable, NO_ANSWER, or an
    OcppError raised). Otherwise the default answer goes out at once, after `delay` (a random
    time in that range) or, while `held` is set, once it is cleared.
    """

    def __init__(
        self, csms: CentralSystem, identity: str, rng: random.Random | None = None
    ) -> None:
        self.csms = csms
        self.identity = identity
        self.rng = rng if rng is not None else random.Random(0)
        self.session: StationSession | None = None
        self.overrides: dict[str, Answer] = {}
        self.delay: tuple[float, float] | None = None
        self.released = asyncio.Event()
        self.released.set()
        self.pending = 0  # transaction messages received and not answered yet
        self._defaults: dict[str, Answer] = {
            "StartTransaction": csms.answers.start_transaction,
            "StopTransaction": csms.answers.stop_transaction,
            "MeterValues": csms.answers.empty,
        }
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        self.released.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def held(self) -> bool:
        return not self.released.is_set()

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    async def _watch(self) -> None:
        while True:
            session = await self.csms.wait_for_station(self.identity, timeout=3600)
            # Installed before the station can send anything but its BootNotification: the
            # next message needs the BootNotification's answer to have gone round first.
            for action in TX_ACTIONS:
                session.set_handler(action, self._handler(action))
            self.session = session
            await session.closed.wait()
            if self.session is session:
                self.session = None

    def _handler(self, action: str) -> Answer:
        def handle(payload: dict[str, Any]) -> Any:
            override = self.overrides.get(action)
            if override is not None:
                return override(payload)
            default = self._defaults[action]
            if self.delay is None and not self.held:
                return default(payload)
            wait = self.rng.uniform(*self.delay) if self.delay is not None else 0.0
            return self._later(default, payload, wait)

        return handle

    async def _later(self, default: Answer, payload: dict[str, Any], wait: float) -> Any:
        self.pending += 1
        try:
            await asyncio.sleep(wait)
            await self.released.wait()
            return default(payload)
        finally:
            self.pending -= 1


# --------------------------------------------------------------------- the random crash lane

_DRIVER_ERRORS = (
    aiohttp.ClientError,
    TimeoutError,
    CallErrorReceived,
    ConnectionLost,
    RpcTimeout,
    OcppError,
    ConnectionResetError,
)

StationFactory = Callable[..., Awaitable[StationProcess]]
# A running station whose control API stays silent this long has a blocked event loop.
UNRESPONSIVE = 4.0


class RandomCrashLane:
    """One station driven through random sessions, killed at random moments, restarted at once.

    The station process lives a random time (a few tenths of a second to several seconds)
    while a driver plugs, unplugs, shows cards, starts and stops remotely with random pauses of
    0-2 s, and the central system goes through random phases (answering at once, answering
    late, holding its answers, refusing connections, dropping the connection). Then the
    process gets SIGKILL (sometimes SIGTERM, sometimes SIGKILL during the SIGTERM grace) and a
    new one starts on the same state folder.
    """

    def __init__(
        self,
        index: int,
        csms: CentralSystem,
        make_station: StationFactory,
        seed: int,
        args: tuple[str, ...],
        totals: Totals,
    ) -> None:
        self.index = index
        self.identity = f"CP-{index + 1}"
        self.csms = csms
        self.make_station = make_station
        self.args = args
        self.totals = totals
        self.rng = random.Random(f"{seed}/{index}/life")
        self.drive_rng = random.Random(f"{seed}/{index}/drive")
        self.phase_rng = random.Random(f"{seed}/{index}/phase")
        self.ledger = install_ledger(csms, self.identity)
        self.control = CentralControl(csms, self.identity, random.Random(f"{seed}/{index}/csms"))
        self.observed = Observed()
        self.kills = 0
        self.problems: list[str] = []
        self._tags = 0
        self._phase = "online"
        self._tx_running = False

    # -- the lane's life ------------------------------------------------------------------
    async def run(self, kills_wanted: int) -> Findings:
        self.control.start()
        phases = asyncio.get_running_loop().create_task(self._phases())
        try:
            while self.kills < kills_wanted:
                await self._incarnation()
        finally:
            phases.cancel()
            await asyncio.gather(phases, return_exceptions=True)
            self.csms.accepting = True
            self.control.delay = None
            self.control.release()
        if not phases.cancelled() and phases.exception() is not None:
            raise phases.exception()  # type: ignore[misc]
        await self._finish()
        await self.control.stop()
        findings = check_ledger(self.ledger, self.observed)
        findings.problems.extend(self.problems)
        return findings

    async def _start(self) -> StationProcess:
        station = await self.make_station(*self.args, identity=self.identity, url=self.csms.url)
        self.totals.runs += 1
        return station

    def _lifetime(self) -> float:
        roll = self.rng.random()
        if roll < 0.1:
            return self.rng.uniform(0.0, 0.4)  # during start-up and the BootNotification
        if roll < 0.65:
            return self.rng.uniform(0.4, 3.0)
        return self.rng.uniform(3.0, 6.0)

    async def _incarnation(self) -> None:
        station = await self._start()
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._drive(station)), loop.create_task(self._watch(station))]
        try:
            await asyncio.sleep(self._lifetime())
            if self.rng.random() < 0.08:
                await self._sigterm(station)
            else:
                self._kill(station)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await station.kill()
        for task in helpers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _watch(self, station: StationProcess) -> None:
        """The station's event loop must keep answering its control API while it runs."""
        assert station.proc is not None
        while True:
            await asyncio.sleep(0.5)
            try:
                async with asyncio.timeout(UNRESPONSIVE):
                    await station.request("GET", "/api/status")
            except TimeoutError:
                if station.proc.returncode is None:
                    tail = station.log_text()[-3000:]
                    self.problems.append(
                        f"{self.identity}: the control API did not answer within {UNRESPONSIVE} s "
                        f"({self._kill_point()}); log tail:\n{tail}"
                    )
                    return
            except _DRIVER_ERRORS:
                pass

    def _kill_point(self) -> str:
        if not self.csms.accepting:
            return "offline"
        if self.control.pending:
            return f"answer pending ({self._phase})"
        if self.control.session is None:
            return "not connected"
        return f"online ({self._phase})"

    def _kill(self, station: StationProcess, point: str | None = None) -> None:
        assert station.proc is not None
        if station.proc.returncode is not None:
            self.problems.append(
                f"{self.identity}: station exited by itself: {station.proc.returncode}"
            )
            return
        point = point or self._kill_point()
        station.proc.send_signal(signal.SIGKILL)
        self.kills += 1
        self.totals.kills += 1
        self.totals.kill_points[point] += 1
        if self._tx_running:
            self.totals.kill_points["... with a transaction running"] += 1

    async def _sigterm(self, station: StationProcess) -> None:
        assert station.proc is not None
        station.proc.send_signal(signal.SIGTERM)
        if self.rng.random() < 0.5:
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))
            if station.proc.returncode is None:
                self._kill(station, "SIGTERM grace")
                return
        try:
            async with asyncio.timeout(15):
                code = await station.proc.wait()
        except TimeoutError:
            # The grace is 5 s: a station still running after 15 s hangs in its shutdown.
            tail = station.log_text()[-3000:]
            self.problems.append(
                f"{self.identity}: still running 15 s after SIGTERM ({self._kill_point()}); "
                f"log tail:\n{tail}"
            )
            self._kill(station, "after a SIGTERM that did not end the station")
            return
        if code != 0:
            self.problems.append(f"{self.identity}: SIGTERM ended the station with exit {code}")
        self.totals.sigterms += 1

    async def _finish(self) -> None:
        """After the last kill: everything answering, wait until the queue is empty, SIGTERM."""
        station = await self._start()
        try:
            await self._settle(station)
            self.observed.take(await station.status())
        finally:
            code = await station.stop()
        if code != 0:
            self.problems.append(f"{self.identity}: SIGTERM after the drain: exit {code}")
        else:
            self.totals.sigterms += 1
        log = station.log_text()
        if "Traceback" in log:
            at = log.index("Traceback")
            self.problems.append(f"{self.identity}: traceback in the log: {log[at : at + 1500]}")

    async def _settle(self, station: StationProcess) -> None:
        """Connected, accepted, nothing queued, no transaction running."""
        async with asyncio.timeout(60):
            while True:
                status = await station.status()
                if (
                    status["connected"]
                    and status["registration"] == "Accepted"
                    and status["queuedMessages"] == 0
                    and not any(c["status"] in TX_STATUSES for c in status["connectors"][1:])
                ):
                    return
                await asyncio.sleep(0.1)

    # -- the central system's moods -------------------------------------------------------
    async def _phases(self) -> None:
        rng = self.phase_rng
        control = self.control
        while True:
            roll = rng.random()
            if roll < 0.35:
                self._phase = "online"
                await asyncio.sleep(rng.uniform(2.0, 6.0))
            elif roll < 0.6:
                self._phase = "late answers"
                control.delay = (0.05, 1.0)
                await asyncio.sleep(rng.uniform(2.0, 6.0))
                control.delay = None
            elif roll < 0.7:
                self._phase = "held answers"
                control.hold()
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                control.release()
            elif roll < 0.9:
                self._phase = "offline"
                self.csms.accepting = False
                await self._drop(abrupt=rng.random() < 0.5)
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                self.csms.accepting = True
            else:
                await self._drop(abrupt=rng.random() < 0.5)

    async def _drop(self, abrupt: bool) -> None:
        session = self.control.session
        if session is not None:
            async with asyncio.timeout(5):
                await session.close(abrupt=abrupt)

    # -- the driver -----------------------------------------------------------------------
    async def _poll(self, station: StationProcess) -> dict[str, Any] | None:
        try:
            status, data = await station.request("GET", "/api/status")
        except _DRIVER_ERRORS:
            return None
        if status != 200:
            self.problems.append(f"{self.identity}: GET /api/status answered {status}: {data}")
            return None
        self.observed.take(data)
        self._tx_running = any(c["status"] in TX_STATUSES for c in data["connectors"][1:])
        return data

    async def _pause(self, station: StationProcess) -> dict[str, Any] | None:
        """A random pause of 0-2 s, looking at the station every quarter of a second."""
        left = self.drive_rng.uniform(0.0, 2.0)
        status = await self._poll(station)
        while left > 0:
            step = min(0.25, left)
            await asyncio.sleep(step)
            left -= step
            status = await self._poll(station)
        return status

    def _new_tag(self) -> str:
        self._tags += 1
        return f"L{self.index}T{self._tags:05d}"

    async def _drive(self, station: StationProcess) -> None:
        while True:
            status = await self._pause(station)
            if status is None:
                continue
            action = self._choose(station, status)
            try:
                await action()
            except _DRIVER_ERRORS:
                pass  # the station or the connection went away meanwhile: part of the game

    def _choose(
        self, station: StationProcess, status: dict[str, Any]
    ) -> Callable[[], Awaitable[None]]:
        rng = self.drive_rng
        session = self.control.session
        online = session is not None and status["connected"]
        choices: list[tuple[float, Callable[[], Awaitable[None]]]] = []
        for c in status["connectors"][1:]:
            cid = c["id"]
            running = c["status"] in TX_STATUSES
            if not c["plugged"]:
                choices.append((3.0, self._post_action(station, f"/api/connectors/{cid}/plug")))
            else:
                choices.append(
                    (
                        0.8 if running else 1.5,
                        self._post_action(station, f"/api/connectors/{cid}/unplug"),
                    )
                )
                if not running:
                    choices.append((3.0, self._rfid(station, self._new_tag(), cid)))
            if running:
                choices.append((0.8, self._rfid(station, c["idTag"], None)))
                path = "suspend" if c["status"] == "Charging" else "resume"
                choices.append(
                    (0.4, self._post_action(station, f"/api/connectors/{cid}/ev/{path}"))
                )
                if online and c["transactionId"] is not None:
                    stop = {"transactionId": c["transactionId"]}
                    choices.append((0.6, self._remote("RemoteStopTransaction", stop)))
            elif online:
                request: dict[str, Any] = {"idTag": self._new_tag()}
                if rng.random() < 0.7:
                    request["connectorId"] = cid
                choices.append((1.2, self._remote("RemoteStartTransaction", request)))
        choices.append((0.8, self._rfid(station, self._new_tag(), None)))
        weights = [w for w, _ in choices]
        return rng.choices([a for _, a in choices], weights=weights)[0]

    def _post_action(
        self, station: StationProcess, path: str, body: Any = None
    ) -> Callable[[], Awaitable[None]]:
        async def act() -> None:
            code, data = await station.request("POST", path, body)
            if code >= 500:
                self.problems.append(f"{self.identity}: POST {path} answered {code}: {data}")

        return act

    def _rfid(
        self, station: StationProcess, tag: str, connector: int | None
    ) -> Callable[[], Awaitable[None]]:
        body: dict[str, Any] = {"idTag": tag}
        if connector is not None:
            body["connectorId"] = connector
        return self._post_action(station, "/api/rfid", body)

    def _remote(self, action: str, request: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        async def act() -> None:
            session = self.control.session
            if session is not None:
                await session.call(action, request, timeout=5)

        return act
