"""What a case script gets: one Run, whose methods are the steps of the case.

Every method that acts or expects is a *step*: it is recorded with a description ("driver: plug
in connector 1", "expect StatusNotification {connectorId: 1, status: Preparing}") so that a
failure names the step that failed, and the report can show the frames around it.

Expectations read the station's CALLs in order with a cursor that moves forward (like
StationSession.expect), over every connection of the station: a reboot or a reconnection does
not interrupt the reading. The Run also measures what the report's performance table needs:
the station's response time to every CALL of the tool, and the time from a request of the tool
to the CALL it triggers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import orjson

from ocpp_station import timefmt
from ocpp_station.conformance.case import Case, CaseFailed, NotApplicable, ToolError
from ocpp_station.conformance.matching import (
    DESCRIPTION_LIMIT,
    Expected,
    OneOf,
    describe,
    matches,
    one_of,
    render,
    summary,
)
from ocpp_station.conformance.settings import Settings, TagSet
from ocpp_station.conformance.transcript import Message, StationLink
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import SessionHandler, StationSession
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.rpc.secrets import shown_payload

if TYPE_CHECKING:
    from ocpp_station.conformance.drivers import Driver
    from ocpp_station.conformance.target import Target

# The CALLs a request of the central system makes the station send ("OCPP triggered function
# timeout", PICS limit 90 s). Reset is left out: the PICS measurement excludes reboots, as it
# excludes firmware and diagnostics.
TRIGGERS: Mapping[str, frozenset[str]] = {
    "RemoteStartTransaction": frozenset({"Authorize", "StartTransaction"}),
    "RemoteStopTransaction": frozenset({"StopTransaction"}),
    "UnlockConnector": frozenset({"StopTransaction"}),
    "ChangeAvailability": frozenset({"StatusNotification"}),
}
# TriggerMessage names the message it triggers (§5.17); ExtendedTriggerMessage too, where
# SignChargePointCertificate means SignCertificate (Security Whitepaper).
_TRIGGERED_BY_NAME = {"SignChargePointCertificate": "SignCertificate"}

__all__ = [
    "RESPONSE",
    "TRIGGERED",
    "ConfigKey",
    "Expected",
    "Facts",
    "Failure",
    "OneOf",
    "Run",
    "Step",
    "Timing",
    "one_of",
    "render",
]

# Transaction-shaping CALLs: a case passes only when it expected each one it got.
COUNTED = frozenset({"StartTransaction", "StopTransaction"})
RECOVER_GRACE = 5.0
"""Seconds a connector has to become Available after the plain recovery steps (stop, clear,
unplug) before the tool toggles its availability."""
# CALLs that carry the moment they report: the same one twice is a retransmission the central
# system counts twice. Others (a BootNotification after Pending, an Authorize of a card shown
# again, an empty Heartbeat) may come twice alike by design.
STAMPED = frozenset({"StartTransaction", "StopTransaction", "MeterValues", "StatusNotification"})

RESPONSE = "response"
"""Timing kind: the station's answer to a CALL of the tool."""
TRIGGERED = "triggered"
"""Timing kind: a request of the tool to the CALL it triggered."""


# ---------------------------------------------------------------------------- what a run knows


@dataclass(frozen=True, slots=True)
class ConfigKey:
    value: str | None
    readonly: bool


@dataclass(frozen=True, slots=True)
class Facts:
    """What the tool learned of the station before the cases: boot, configuration, hardware."""

    identity: str
    boot: dict[str, Any] | None
    connectors: int
    profiles: frozenset[str]
    configuration: dict[str, ConfigKey]
    features: frozenset[str]
    undetermined: frozenset[str] = frozenset()
    """Hardware features the tool could not tell the station has or lacks."""


@dataclass(slots=True)
class Step:
    index: int
    description: str
    elapsed: float
    """Seconds from the start of the case."""
    duration: float = 0.0
    outcome: Literal["ok", "failed"] = "ok"


@dataclass(frozen=True, slots=True)
class Timing:
    kind: str
    """RESPONSE or TRIGGERED."""
    action: str
    """The tool's request (for TRIGGERED: the request that triggered)."""
    seconds: float
    case_id: str
    detail: str = ""


@dataclass(slots=True)
class Failure:
    """The first exception that left a step (or the script, outside any step)."""

    error: BaseException
    time: datetime
    step: Step | None


@dataclass(slots=True)
class _Trigger:
    request: str
    waiting: set[str]
    sent: datetime
    after: int


# ---------------------------------------------------------------------------- the run


class Run:
    """One case being run against one station."""

    def __init__(
        self,
        case: Case,
        *,
        settings: Settings,
        target: Target,
        driver: Driver,
        csms: CentralSystem,
        link: StationLink,
        facts: Facts,
    ) -> None:
        self.case = case
        self.settings = settings
        self.target = target
        self.driver = driver
        self.csms = csms
        self.link = link
        self.facts = facts
        self.steps: list[Step] = []
        self.timings: list[Timing] = []
        self.failure: Failure | None = None
        self.notes: list[str] = []
        """Remarks for the report that are not failures (e.g. a restore that did not work)."""
        link.sync()
        self._begin = len(link.messages)
        self._frames_begin = len(link.frames)
        self._cursor = self._begin
        self._t0 = time.monotonic()
        self._config: dict[str, str | None] = {
            key: entry.value for key, entry in facts.configuration.items()
        }
        self._restore_config: dict[str, str | None] = {}
        self._inoperative: set[int] = set()
        """connectorIds the case made Inoperative: Operative again after the case."""
        self._reservations: set[int] = set()
        """reservationIds the station accepted in the case: cancelled after it (one the case
        used up or that expired is answered Rejected, which is fine)."""
        self._charging_profiles: set[int] = set()
        """chargingProfileIds the station accepted in the case: cleared after it."""
        self._restore_heartbeat = False
        self._when_gone: list[Callable[[], Awaitable[None]]] = []
        self._handlers: dict[str, SessionHandler] = {}
        self._handled_sessions: list[StationSession] = []
        self._triggers: list[_Trigger] = []
        # CALLs the script took (expect, or account for): what exact counts are judged by.
        self._accounted: set[int] = set()
        self.plugged: set[int] = set()
        self.faulted: set[int] = set()
        self.jammed: set[int] = set()
        self.suspended: set[int] = set()
        link.on_connection.append(self._on_connection)

    # ------------------------------------------------------------------ facts and queries

    @property
    def tags(self) -> TagSet:
        return self.settings.tags

    @property
    def identity(self) -> str:
        return self.facts.identity

    @property
    def connector_ids(self) -> range:
        """1..N: the station's connectors (0, the station as a whole, excluded)."""
        return range(1, self.facts.connectors + 1)

    def timing(self, name: str, default: float) -> float:
        """A shrunk timing of this case, unless the tool's settings override it."""
        return self.settings.timing(self.case.id, name, default)

    def known_config(self, key: str) -> str | None:
        """The value of a configuration key as far as the tool knows: read before the cases,
        then changed by configure()."""
        return self._config.get(key)

    def mark(self) -> int:
        """The seq of the last CALL received so far: pass it as `after=` to look from here."""
        self.link.sync()
        return len(self.link.messages)

    def messages(
        self, action: str | None = None, *, after: int | None = None, until: int | None = None
    ) -> list[Message]:
        """The CALLs received during this case, with after < seq <= until."""
        self.link.sync()
        start = self._begin if after is None else max(self._begin, after)
        return [
            m
            for m in self.link.messages[start:]
            if (action is None or m.action == action) and (until is None or m.seq <= until)
        ]

    def statuses(self, connector_id: int, *, after: int | None = None) -> list[str | None]:
        """The statuses reported for a connector in this case, after seq `after`."""
        return [
            m.get("status")
            for m in self.messages("StatusNotification", after=after)
            if m.get("connectorId") == connector_id
        ]

    def arrivals(self) -> list[str]:
        """What reached the tool from the station during this case, in arrival order: each
        CALL by its action ("StopTransaction"), each answer to the tool as "Reset.conf" or
        "Reset CALLERROR". Shows what the CALLs alone cannot: whether an answer came before
        the CALL it led to (Reset.conf before StopTransaction, [S] 5.14)."""
        self.link.sync()
        prefix = f"{self.identity} -> "
        found: list[str] = []
        for line in self.link.frames[self._frames_begin :]:
            if line.text.startswith(prefix):
                name, _, rest = line.text[len(prefix) :].partition(" ")
                if name[:1].isupper():  # an action, not "no answer to ..."
                    found.append(f"{name} CALLERROR" if rest.startswith("CALLERROR") else name)
        return found

    async def transaction_id(self, start: Message) -> int:
        """The transactionId the tool's central system gave the StartTransaction `start`."""
        try:
            start_time: datetime | None = timefmt.parse(str(start.get("timestamp")))
        except ValueError:
            start_time = None
        record = self.csms.record(self.identity)
        deadline = time.monotonic() + self.settings.expect_timeout
        while True:
            found = [
                t
                for t in (*record.open_transactions.values(), *record.finished_transactions)
                if t.connector_id == start.get("connectorId")
                and t.id_tag == start.get("idTag")
                and t.meter_start == start.get("meterStart")
                and (start_time is None or t.start_time == start_time)
            ]
            if found:
                return max(t.transaction_id for t in found)
            if time.monotonic() >= deadline:
                raise CaseFailed(
                    f"the central system gave no transactionId for StartTransaction #{start.seq}"
                )
            await asyncio.sleep(0.02)

    def account(self, *messages: Message) -> None:
        """The script has judged these CALLs itself (read with messages()): exact counts take
        them as expected."""
        self._accounted.update(m.seq for m in messages)

    def transcript(self) -> list[str]:
        """Every frame line of the case, both ways, with its time: what a Pass rests on."""
        self.link.sync()
        return [line.render() for line in self.link.frames[self._frames_begin :]]

    async def check_exact_counts(self) -> None:
        """After a script that passed: no stamped CALL came twice on one connection (a
        retransmission the central system would count twice), and every StartTransaction and
        StopTransaction of the case is one the script expected, none more.

        A repeat on a later connection is not held against the station: the answer to the first
        may have been lost with the connection (or the power), and sending again is then what
        [S] 4.7 asks for; the central system recognises it by its content."""
        what = "check: no stamped CALL repeated, no Start/StopTransaction unexpected"
        async with self.step(what):
            seen: dict[tuple[int, str, bytes], int] = {}
            resent: set[int] = set()  # copies, on a later connection, of an earlier CALL
            first: dict[tuple[str, bytes], Message] = {}
            for m in self.messages():
                if m.action not in STAMPED or not ("timestamp" in m or "meterValue" in m):
                    continue
                body = orjson.dumps(dict(m), option=orjson.OPT_SORT_KEYS)
                earlier = first.setdefault((m.action, body), m)
                if earlier is not m and earlier.seq in self._accounted:
                    resent.add(m.seq)
                key = (m.connection, m.action, body)
                if key in seen:
                    raise CaseFailed(
                        f"#{m.seq} {m.action} repeats #{seen[key]} exactly",
                        expected="each CALL once",
                        got=f"#{seen[key]} and #{m.seq}",
                    )
                seen[key] = m.seq
            extra = [
                m
                for m in self.messages()
                if m.action in COUNTED and m.seq not in self._accounted and m.seq not in resent
            ]
            if extra:
                raise CaseFailed(
                    f"{summary(extra)}: not expected by the case (a duplicate?)",
                    expected="no more than the case expected",
                    got=summary(extra),
                )

    # ------------------------------------------------------------------ steps

    @asynccontextmanager
    async def step(self, description: str) -> AsyncIterator[Step]:
        """Record a step; scripts use it for a group of actions the Run has no method for."""
        step = Step(len(self.steps) + 1, description, time.monotonic() - self._t0)
        self.steps.append(step)
        try:
            yield step
        except BaseException as exc:
            step.outcome = "failed"
            if self.failure is None and not isinstance(exc, asyncio.CancelledError):
                self.failure = Failure(exc, datetime.now(UTC), step)
            raise
        finally:
            step.duration = time.monotonic() - self._t0 - step.elapsed

    async def check(self, description: str, ok: bool, got: Any = None) -> None:
        """A step that checks a condition the script computed."""
        async with self.step(f"check: {description}"):
            if not ok:
                detail = "" if got is None else f"; got {render(got)}"
                raise CaseFailed(
                    f"{description}: not so{detail}", expected=description, got=render(got)
                )

    async def check_equal(self, description: str, got: Any, expected: Any) -> None:
        async with self.step(f"check: {description} = {render(expected)}"):
            if got != expected:
                raise CaseFailed(
                    f"{description}: expected {render(expected)}, got {render(got)}",
                    expected=render(expected),
                    got=render(got),
                )

    def not_applicable(self, reason: str) -> NoReturn:
        """End the case as N/A (the station turned out not to offer what it needs)."""
        raise NotApplicable(reason)

    async def wait(self, seconds: float, why: str) -> None:
        async with self.step(f"wait {seconds:g} s: {why}"):
            await asyncio.sleep(seconds)

    # ------------------------------------------------------------------ driver steps

    async def _physical(self, description: str, action: Callable[[], Any]) -> None:
        self._settle_triggers(clear=True)
        async with self.step(f"driver: {description}"):
            await action()

    async def plug(self, connector_id: int) -> None:
        await self._physical(
            f"plug in connector {connector_id}", lambda: self.driver.plug(connector_id)
        )
        self.plugged.add(connector_id)

    async def unplug(self, connector_id: int) -> None:
        await self._physical(
            f"unplug connector {connector_id}", lambda: self.driver.unplug(connector_id)
        )
        self.plugged.discard(connector_id)

    async def present_card(self, id_tag: str, connector_id: int | None = None) -> None:
        where = "" if connector_id is None else f" for connector {connector_id}"
        await self._physical(
            f"present card {id_tag}{where}", lambda: self.driver.present_card(id_tag, connector_id)
        )

    async def suspend_ev(self, connector_id: int) -> None:
        await self._physical(
            f"the EV on connector {connector_id} stops drawing power",
            lambda: self.driver.suspend_ev(connector_id),
        )
        self.suspended.add(connector_id)

    async def resume_ev(self, connector_id: int) -> None:
        await self._physical(
            f"the EV on connector {connector_id} draws power again",
            lambda: self.driver.resume_ev(connector_id),
        )
        self.suspended.discard(connector_id)

    async def raise_fault(
        self, connector_id: int, error_code: str, info: str | None = None
    ) -> None:
        await self._physical(
            f"fault {error_code} on connector {connector_id}",
            lambda: self.driver.raise_fault(connector_id, error_code, info),
        )
        self.faulted.add(connector_id)

    async def clear_fault(self, connector_id: int) -> None:
        await self._physical(
            f"clear the fault of connector {connector_id}",
            lambda: self.driver.clear_fault(connector_id),
        )
        self.faulted.discard(connector_id)

    async def set_lock_failure(self, connector_id: int, failing: bool = True) -> None:
        what = "jam" if failing else "free"
        await self._physical(
            f"{what} the lock of connector {connector_id}",
            lambda: self.driver.set_lock_failure(connector_id, failing),
        )
        if failing:
            self.jammed.add(connector_id)
        else:
            self.jammed.discard(connector_id)

    async def press_stop(self, connector_id: int, reason: str = "Local") -> None:
        await self._physical(
            f"press the stop button of connector {connector_id} ({reason})",
            lambda: self.driver.press_stop(connector_id, reason),
        )

    async def power_cycle(self, graceful: bool) -> None:
        """Power off (a shutdown when graceful, else a power cut) and on; returns once the
        station has connected again. The cursor stays: what it sent while going down can still
        be expected."""
        how = "shutdown" if graceful else "power cut"
        self._settle_triggers(clear=True)
        async with self.step(f"driver: power cycle ({how}), wait for the station to reconnect"):
            before = self.link.connections
            await self.target.power_cycle(self, graceful)
            await self._reconnection(before)

    async def power_on(self) -> None:
        """For a case that starts with the station off: power it on (our own station) or
        reboot it (a station the tool did not start); the cursor moves to the new connection."""
        self._settle_triggers(clear=True)
        async with self.step(f"station: {self.target.power_on_description}"):
            before = self.link.connections
            await self.target.power_on(self)
            await self._reconnection(before)
            self._cursor = max(self._cursor, self.link.connection_start(before + 1))

    async def _reconnection(self, before: int) -> StationSession:
        try:
            return await self.link.wait_connection(before, self.settings.boot_timeout)
        except TimeoutError as exc:
            self._check_alive()
            raise CaseFailed(str(exc), expected="a new connection", got="none") from None

    # ------------------------------------------------------------------ expectations

    def _check_alive(self) -> None:
        reason = self.target.failure()
        if reason is not None:
            raise ToolError(f"the station process died: {reason}")

    def _find(
        self, action: str, match: Mapping[str, Any], after: int, taken: Collection[int]
    ) -> Message | None:
        for m in self.link.messages[after:]:
            if m.action == action and m.seq not in taken and matches(m, match):
                return m
        return None

    async def expect(
        self,
        action: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - from the settings unless given
        after: int | None = None,
        **match: Any,
    ) -> Message:
        """The station's next CALL of `action` whose fields match (values, one_of(...) or
        predicates), after the cursor (or after seq `after`); the cursor moves to it."""
        found = await self.expect_any_order(Expected(action, **match), timeout=timeout, after=after)
        return found[0]

    async def expect_any_order(
        self,
        *expected: Expected,
        timeout: float | None = None,  # noqa: ASYNC109 - from the settings unless given
        after: int | None = None,
    ) -> list[Message]:
        """Several CALLs the specification lets come in either order; returns them in the
        order asked, the cursor moves past the last one."""
        if not expected:
            raise ValueError("expect_any_order() needs at least one Expected")
        wait = self.settings.expect_timeout if timeout is None else timeout
        if len(expected) == 1:
            description = f"expect {expected[0]!r}"
        else:
            description = "expect in any order: " + "; ".join(repr(e) for e in expected)
        async with self.step(description):
            start = self._cursor if after is None else after
            found: list[Message | None] = [None] * len(expected)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while True:
                seen = self.link.generation
                self.link.sync()
                taken = {m.seq for m in found if m is not None}
                for index, want in enumerate(expected):
                    if found[index] is None:
                        hit = self._find(want.action, want.match, start, taken)
                        if hit is not None:
                            found[index] = hit
                            taken.add(hit.seq)
                if all(m is not None for m in found):
                    result = [m for m in found if m is not None]
                    self._accounted.update(m.seq for m in result)
                    self._cursor = max(self._cursor, *(m.seq for m in result))
                    self._settle_triggers()
                    return result
                self._check_alive()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    missing = [repr(e) for e, m in zip(expected, found, strict=True) if m is None]
                    since = self.link.messages[start:]
                    raise CaseFailed(
                        f"no {' and no '.join(missing)} within {wait:g} s; received since "
                        f"#{start}: {summary(since)}",
                        expected="; ".join(missing),
                        got=summary(since),
                    )
                await self.link.wait_change(seen, remaining)

    async def expect_none(
        self,
        action: str,
        *,
        within: float,
        after: int | None = None,
        **match: Any,
    ) -> None:
        """Fail if such a CALL arrives within `within` seconds (or has arrived after the cursor
        already); the cursor stays."""
        async with self.step(f"expect no {action}{describe(match)} for {within:g} s"):
            start = self._cursor if after is None else after
            loop = asyncio.get_running_loop()
            deadline = loop.time() + within
            while True:
                seen = self.link.generation
                self.link.sync()
                hit = self._find(action, match, start, ())
                if hit is not None:
                    raise CaseFailed(
                        f"unexpected {action} #{hit.seq}{describe(hit)}",
                        expected=f"no {action}",
                        got=f"#{hit.seq} {action}{describe(hit)}",
                    )
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self._settle_triggers()
                    return
                await self.link.wait_change(seen, remaining)

    async def wait_status(
        self,
        connector_id: int,
        status: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - from the settings unless given
    ) -> None:
        """Wait until the last status the station reported for the connector is `status`."""
        wait = self.settings.expect_timeout if timeout is None else timeout
        async with self.step(f"wait for connector {connector_id} to report {status}"):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while True:
                seen = self.link.generation
                last = self._last_status(connector_id)
                if last == status:
                    return
                self._check_alive()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise CaseFailed(
                        f"connector {connector_id} reported {last or 'nothing'}, not {status}, "
                        f"within {wait:g} s",
                        expected=status,
                        got=str(last),
                    )
                await self.link.wait_change(seen, remaining)

    def _last_status(self, connector_id: int) -> str | None:
        self.link.sync()
        for m in reversed(self.link.messages):
            if m.action == "StatusNotification" and m.get("connectorId") == connector_id:
                return m.get("status")
        return self.csms.record(self.identity).status(connector_id)

    # ------------------------------------------------------------------ central-system steps

    async def _session(self) -> StationSession:
        session = self.link.session
        if session is not None:
            return session
        try:
            return await self.link.wait_connection(0, self.settings.expect_timeout)
        except TimeoutError:
            self._check_alive()
            raise CaseFailed("the station is not connected", expected="a connection") from None

    async def _call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,  # noqa: ASYNC109 - from the settings unless given
    ) -> dict[str, Any]:
        """Send a CALL, measure the answer's time, arm the triggered-CALL measurement."""
        session = await self._session()
        wait = self.settings.call_timeout if timeout is None else timeout
        self.link.sync()
        after = len(self.link.messages)
        sent = datetime.now(UTC)
        started = time.monotonic()
        try:
            answer = await session.call(action, payload, timeout=wait)
        except CallErrorReceived as exc:
            self._timed(RESPONSE, action, time.monotonic() - started)
            raise CaseFailed(
                f"{action} answered with CALLERROR {exc.code}: {exc.description}",
                expected="a CALLRESULT",
                got=f"CALLERROR {exc.code}",
            ) from exc
        except RpcTimeout:
            self._timed(RESPONSE, action, wait, "no answer")
            self._check_alive()
            raise CaseFailed(
                f"no answer to {action} within {wait:g} s", expected="an answer", got="none"
            ) from None
        except ConnectionLost as exc:
            self._check_alive()
            raise CaseFailed(
                f"the connection closed before {action} was answered ({exc})",
                expected="an answer",
                got="connection closed",
            ) from exc
        except OcppError as exc:
            raise CaseFailed(
                f"the answer to {action} is not valid: {exc}", expected="a valid CALLRESULT"
            ) from exc
        self._timed(RESPONSE, action, time.monotonic() - started)
        self._arm_trigger(action, payload, answer, sent, after)
        if action == "ReserveNow" and answer.get("status") == "Accepted":
            self._reservations.add(int(payload["reservationId"]))
        if answer.get("status") == "Accepted":
            installed = payload.get("csChargingProfiles") or payload.get("chargingProfile")
            if isinstance(installed, dict) and "chargingProfileId" in installed:
                self._charging_profiles.add(int(installed["chargingProfileId"]))
        if action == "ChangeAvailability" and answer.get("status") in ("Accepted", "Scheduled"):
            if payload.get("type") == "Inoperative":
                self._inoperative.add(int(payload["connectorId"]))
            else:
                self._inoperative.discard(int(payload["connectorId"]))
        return answer

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        status: str | Collection[str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - from the settings unless given
    ) -> dict[str, Any]:
        """Send a central-system request and return the station's answer; with `status`, the
        answer's status must be that (or one of those)."""
        wanted = (status,) if isinstance(status, str) else tuple(status or ())
        expecting = f", expect status {' or '.join(wanted)}" if wanted else ""
        async with self.step(f"send {action}{describe(shown_payload(action, payload))}{expecting}"):
            answer = await self._call(action, payload, timeout)
            if wanted and answer.get("status") not in wanted:
                raise CaseFailed(
                    f"{action} answered{describe(answer)}, expected status {' or '.join(wanted)}",
                    expected=" or ".join(wanted),
                    got=str(answer.get("status")),
                )
            return answer

    async def call_expect_error(self, action: str, payload: dict[str, Any]) -> str:
        """Send a request the station must refuse with a CALLERROR; returns the error code."""
        async with self.step(
            f"send {action}{describe(shown_payload(action, payload))}, expect a CALLERROR"
        ):
            session = await self._session()
            started = time.monotonic()
            try:
                answer = await session.call(action, payload, timeout=self.settings.call_timeout)
            except CallErrorReceived as exc:
                self._timed(RESPONSE, action, time.monotonic() - started)
                return exc.code
            except OcppError as exc:  # a CALLRESULT that is not even valid
                raise CaseFailed(
                    f"{action}: expected a CALLERROR, got an invalid answer ({exc})",
                    expected="CALLERROR",
                ) from exc
            except (RpcTimeout, ConnectionLost) as exc:
                self._check_alive()
                raise CaseFailed(
                    f"{action}: expected a CALLERROR, got {exc}", expected="CALLERROR"
                ) from exc
            raise CaseFailed(
                f"{action}: expected a CALLERROR, got{describe(answer)}",
                expected="CALLERROR",
                got=render(answer),
            )

    async def call_or_error(
        self, action: str, payload: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Send a request the station may either answer or refuse with a CALLERROR (where the
        specification allows both); returns (answer, None) or (None, the error code)."""
        async with self.step(
            f"send {action}{describe(shown_payload(action, payload))},"
            " expect an answer or a CALLERROR"
        ):
            try:
                return await self._call(action, payload), None
            except CaseFailed as exc:
                if isinstance(exc.__cause__, CallErrorReceived):
                    return None, exc.__cause__.code
                raise

    async def call_raw(self, data: str, message_id: str) -> list[Any]:
        """Send a frame as it is (malformed on purpose); returns the station's answer frame."""
        async with self.step(f"send the raw frame {data[:DESCRIPTION_LIMIT]}"):
            session = await self._session()
            started = time.monotonic()
            try:
                frame = await session.call_raw(data, message_id, timeout=self.settings.call_timeout)
            except (RpcTimeout, ConnectionLost) as exc:
                self._check_alive()
                raise CaseFailed(
                    f"no answer to the raw frame: {exc}", expected="an answer"
                ) from exc
            self._timed(RESPONSE, "raw frame", time.monotonic() - started)
            return frame

    async def get_configuration(self, keys: Iterable[str] = ()) -> dict[str, ConfigKey]:
        """GetConfiguration (all keys when none are given): key -> value and readonly."""
        wanted = list(keys)
        payload: dict[str, Any] = {"key": wanted} if wanted else {}
        async with self.step(f"send GetConfiguration{describe(payload)}"):
            answer = await self._call("GetConfiguration", payload)
            return self._take_configuration(answer)

    def _take_configuration(self, answer: Mapping[str, Any]) -> dict[str, ConfigKey]:
        entries: dict[str, ConfigKey] = {}
        for entry in answer.get("configurationKey") or []:
            key = entry.get("key")
            if isinstance(key, str):
                entries[key] = ConfigKey(entry.get("value"), bool(entry.get("readonly")))
                self._config[key] = entry.get("value")
        return entries

    async def configure(self, key: str, value: str) -> None:
        """ChangeConfiguration, which must be Accepted; the old value is restored after the
        case (when the station outlives the case)."""
        async with self.step(f"configure {key} = {value}"):
            answer = await self._call("ChangeConfiguration", {"key": key, "value": value})
            if answer.get("status") != "Accepted":
                raise CaseFailed(
                    f"ChangeConfiguration {key} = {value} answered {answer.get('status')}",
                    expected="Accepted",
                    got=str(answer.get("status")),
                )
            if key not in self._restore_config:
                # None: the station did not report it; restore() says it cannot put it back.
                self._restore_config[key] = self._config.get(key)
            self._config[key] = value

    async def try_configure(self, key: str, value: str) -> bool:
        """ChangeConfiguration for a precondition the case can do without: True when Accepted
        (restored after the case), False when the station lacks the key or refuses the value;
        never a failure of the case."""
        async with self.step(f"try to configure {key} = {value}"):
            try:
                answer = await self._call("ChangeConfiguration", {"key": key, "value": value})
            except CaseFailed as exc:
                self.notes.append(f"could not configure {key} = {value}: {exc}")
                return False
            if answer.get("status") != "Accepted":
                self.notes.append(f"{key} = {value} answered {answer.get('status')}")
                return False
            if key not in self._restore_config:
                # None: the station did not report it; restore() says it cannot put it back.
                self._restore_config[key] = self._config.get(key)
            self._config[key] = value
            return True

    async def boot_answer(self, status: str, interval: int | None = None) -> None:
        """How the tool's central system answers BootNotification from now on ([S] 4.2: with
        Pending or Rejected the interval is the wait before the next attempt, with Accepted the
        HeartbeatInterval)."""
        wait = self.csms.heartbeat_interval if interval is None else interval
        async with self.step(
            f"central system: answer BootNotification with {status}, interval {wait} s"
        ):
            self.csms.boot_status = status
            self.csms.heartbeat_interval = wait
            if wait != self.settings.heartbeat_interval:
                self._restore_heartbeat = True

    async def answer(
        self, action: str, handler: SessionHandler | None, description: str = ""
    ) -> None:
        """Answer the station's `action` with `handler` during this case (None: the default
        answer again), on this connection and the next ones."""
        what = description or ("the default answer" if handler is None else "a special answer")
        async with self.step(f"central system: answer {action} with {what}"):
            if handler is None:
                self._handlers.pop(action, None)
            else:
                self._handlers[action] = handler
            session = self.link.session
            if session is not None and session not in self._handled_sessions:
                self._handled_sessions.append(session)
            for session in self._handled_sessions:
                session.set_handler(action, handler)

    def _on_connection(self, session: StationSession) -> None:
        """A new connection of the station answers as the case asked."""
        if self._handlers:
            self._handled_sessions.append(session)
            for action, handler in self._handlers.items():
                session.set_handler(action, handler)

    async def go_offline(self, abrupt: bool = False) -> None:
        """The central system goes away: it closes the connection and refuses reconnections.
        With `abrupt`, the connection is dropped without a closing handshake, like a cut
        cable."""
        how = "drop the connection" if abrupt else "close the connection"
        async with self.step(f"central system: {how} and refuse reconnections"):
            self.csms.accepting = False
            session = self.link.session
            if session is not None:
                await session.close(abrupt=abrupt)

    async def come_online(self) -> None:
        """The central system is back; returns once the station has reconnected."""
        async with self.step("central system: accept connections again, wait for the station"):
            before = self.link.connections
            self.csms.accepting = True
            await self._reconnection(before)

    # ------------------------------------------------------------------ boot

    async def expect_boot(self) -> Message:
        """A station that powers on: BootNotification, then a StatusNotification for connector
        0 and each connector (the Booted state most cases start from, [E] 3.22)."""
        boot = await self.expect("BootNotification", timeout=self.settings.boot_timeout)
        for connector_id in range(self.facts.connectors + 1):
            await self.expect(
                "StatusNotification",
                connectorId=connector_id,
                timeout=self.settings.boot_timeout,
            )
        return boot

    # ------------------------------------------------------------------ measurements

    def _timed(self, kind: str, action: str, seconds: float, detail: str = "") -> None:
        self.timings.append(Timing(kind, action, seconds, self.case.id, detail))

    def _arm_trigger(
        self,
        action: str,
        payload: Mapping[str, Any],
        answer: Mapping[str, Any],
        sent: datetime,
        after: int,
    ) -> None:
        if answer.get("status") != "Accepted":
            return
        waiting: frozenset[str] | None = TRIGGERS.get(action)
        if action in ("TriggerMessage", "ExtendedTriggerMessage"):
            name = str(payload.get("requestedMessage"))
            waiting = frozenset({_TRIGGERED_BY_NAME.get(name, name)})
        if waiting:
            self._triggers.append(_Trigger(action, set(waiting), sent, after))

    def _settle_triggers(self, clear: bool = False) -> None:
        """Measure the triggered CALLs that have arrived. With `clear`, stop waiting for the
        rest: after a physical step, what the station sends depends on that step, not only on
        the request (RemoteStart, then the cable is plugged, then StartTransaction)."""
        self.link.sync()
        for trigger in self._triggers:
            for m in self.link.messages[trigger.after :]:
                if m.action in trigger.waiting:
                    trigger.waiting.discard(m.action)
                    seconds = max(0.0, (m.time - trigger.sent).total_seconds())
                    self._timed(TRIGGERED, trigger.request, seconds, m.action)
        self._triggers = [t for t in self._triggers if t.waiting and not clear]

    # ------------------------------------------------------------------ the end of a case

    def finish(self) -> None:
        """Take the last measurements; put the central system's settings back."""
        self._settle_triggers(clear=True)
        with suppress(ValueError):
            self.link.on_connection.remove(self._on_connection)
        self.csms.boot_status = "Accepted"
        self.csms.heartbeat_interval = self.settings.heartbeat_interval
        self.csms.accepting = True
        for session in self._handled_sessions:
            for action in self._handlers:
                with suppress(ValueError):
                    session.set_handler(action, None)

    def when_station_gone(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` after the case once its station is gone (the tool stops our own
        station after each case): for central-system changes only that station needed, such as
        a TLS listener or its password. Nothing is run for a station that outlives the case."""
        if not self.target.outlives_cases:
            self._when_gone.append(action)

    async def station_gone(self) -> None:
        """The runner calls this after the case's station is gone."""
        actions, self._when_gone = self._when_gone, []
        for action in actions:
            try:
                await action()
            except Exception as exc:
                self.notes.append(f"after the case: {type(exc).__name__}: {exc}")

    async def restore(self) -> None:
        """Bring a station that outlives the case back to idle: stop what the case left
        running, undo its physical steps, availability and configuration changes. Problems
        become notes."""
        for reservation_id in sorted(self._reservations):
            await self._restore_step(
                f"cancel reservation {reservation_id}",
                self._call("CancelReservation", {"reservationId": reservation_id}),
            )
        for profile_id in sorted(self._charging_profiles):
            await self._restore_step(
                f"clear charging profile {profile_id}",
                self._call("ClearChargingProfile", {"id": profile_id}),
            )
        for connector_id in sorted(self.jammed):
            await self._restore_step(
                f"free the lock of connector {connector_id}",
                self.driver.set_lock_failure(connector_id, False),
            )
        for connector_id in sorted(self.faulted):
            await self._restore_step(
                f"clear the fault of connector {connector_id}",
                self.driver.clear_fault(connector_id),
            )
        record = self.csms.record(self.identity)
        for transaction_id in sorted(record.open_transactions):
            await self._restore_step(
                f"stop transaction {transaction_id}", self._stop_transaction(transaction_id)
            )
        for connector_id in sorted(self.plugged):
            await self._restore_step(
                f"unplug connector {connector_id}", self.driver.unplug(connector_id)
            )
        for connector_id in sorted(self._inoperative):
            await self._restore_step(
                f"make connector {connector_id} Operative",
                self._call(
                    "ChangeAvailability", {"connectorId": connector_id, "type": "Operative"}
                ),
            )
        restore = dict(self._restore_config)
        if self._restore_heartbeat and "HeartbeatInterval" in self.facts.configuration:
            restore.setdefault(
                "HeartbeatInterval", self.facts.configuration["HeartbeatInterval"].value
            )
        for key, value in restore.items():
            if value is not None:
                await self._restore_step(
                    f"configure {key} = {value}",
                    self._call("ChangeConfiguration", {"key": key, "value": value}),
                )
            else:
                self.notes.append(
                    f"after the case, {key} stays {self._config.get(key)}: its value before "
                    "the case is not known (GetConfiguration did not report one)"
                )
        await self._settle()

    async def recover_idle(self, busy: Mapping[int, str]) -> None:
        """Bring the connectors `busy` (id -> last status) back to Available, as far as the
        tool can: stop their transactions, clear faults, make them Operative, take the cables
        out; then wait up to settle_timeout. What could not be done is noted."""
        record = self.csms.record(self.identity)
        for transaction_id, transaction in sorted(record.open_transactions.items()):
            if transaction.connector_id in busy:
                await self._restore_step(
                    f"stop transaction {transaction_id}", self._stop_transaction(transaction_id)
                )
        for connector_id, status in sorted(busy.items()):
            if status == "Faulted":
                await self._restore_step(
                    f"clear the fault of connector {connector_id}",
                    self.driver.clear_fault(connector_id),
                )
            elif status == "Unavailable":
                await self._restore_step(
                    f"make connector {connector_id} Operative",
                    self._call(
                        "ChangeAvailability", {"connectorId": connector_id, "type": "Operative"}
                    ),
                )
            if status != "Unavailable":
                await self._restore_step(
                    f"unplug connector {connector_id}", self.driver.unplug(connector_id)
                )
        stuck = await self._wait_idle(min(RECOVER_GRACE, self.settings.settle_timeout))
        for connector_id, status in sorted(stuck.items()):
            if status in ("Unavailable", "Faulted"):
                continue
            # Authorized and waiting for a cable that is not coming (Preparing until
            # ConnectionTimeOut), or Finishing with nothing to unplug: without a transaction,
            # Inoperative then Operative ([S] 5.2) brings any connector back to Available.
            for kind in ("Inoperative", "Operative"):
                await self._restore_step(
                    f"make connector {connector_id} {kind}",
                    self._call("ChangeAvailability", {"connectorId": connector_id, "type": kind}),
                )
        await self._settle()

    async def _wait_idle(self, timeout: float) -> dict[int, str]:  # noqa: ASYNC109 - bounded
        """Wait up to `timeout` for every connector to be Available and every transaction the
        central system knows to be stopped; the connectors that are not idle. A station may
        report Available before its StopTransaction arrives, or stop a transaction seconds after
        accepting RemoteStopTransaction: the next case must not receive that StopTransaction."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        record = self.csms.record(self.identity)
        while True:
            seen = self.link.generation
            busy = {
                c: status
                for c in self.connector_ids
                if (status := self._last_status(c)) not in (None, "Available")
            }
            for transaction_id, transaction in sorted(record.open_transactions.items()):
                busy.setdefault(transaction.connector_id, f"in transaction {transaction_id}")
            remaining = deadline - loop.time()
            if not busy or remaining <= 0:
                return busy
            await self.link.wait_change(seen, remaining)

    async def _stop_transaction(self, transaction_id: int) -> None:
        """RemoteStopTransaction for a transaction the central system holds open. Refused,
        the station does not know it (a StartTransaction it never meant, say): the tool stops
        waiting for its StopTransaction, with a note, instead of holding every later case."""
        answer = await self._call("RemoteStopTransaction", {"transactionId": transaction_id})
        if answer.get("status") != "Accepted":
            self.csms.record(self.identity).open_transactions.pop(transaction_id, None)
            self.notes.append(
                f"the station answered {answer.get('status')} to stopping transaction "
                f"{transaction_id}: taken as a transaction it does not have"
            )

    async def _restore_step(self, what: str, action: Any) -> None:
        try:
            await action
        except (ToolError, CaseFailed, NotApplicable) as exc:
            self.notes.append(f"after the case, could not {what}: {exc}")

    async def _settle(self) -> None:
        busy = await self._wait_idle(self.settings.settle_timeout)
        if busy:
            shown = ", ".join(f"connector {c} {s}" for c, s in busy.items())
            self.notes.append(f"after the case the station did not come back to idle: {shown}")
