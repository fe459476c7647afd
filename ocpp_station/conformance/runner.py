"""Runs cases against a target: the tool's central system, a first look at the station
(boot information, configuration, hardware), then each case in order with a progress line,
its verdict and timings, and at the end the performance maxima. Returns a report.Results."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ocpp_station import __version__
from ocpp_station.conformance.case import Case, NotApplicable, ToolError, Verdict
from ocpp_station.conformance.report import (
    CaseResult,
    ConfigRow,
    Measurement,
    Results,
    StepResult,
)
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.steps import (
    RESPONSE,
    TRIGGERED,
    ConfigKey,
    Facts,
    Failure,
    Run,
    Timing,
)
from ocpp_station.conformance.target import Target
from ocpp_station.conformance.transcript import StationLink
from ocpp_station.csms.server import CentralSystem
from ocpp_station.rpc.actions import CORE, PROFILES, SECURITY

TOOL = f"ocpp-station conformance {__version__}"

PERFORMANCE: tuple[tuple[str, float, str, str | None], ...] = (
    # name, PICS limit (s), timing kind, request (None: every request)
    ("OCPP triggered function timeout", 90.0, TRIGGERED, None),
    ("OCPP response timeout", 10.0, RESPONSE, None),
    ("RemoteStartTransaction response time", 10.0, RESPONSE, "RemoteStartTransaction"),
)


async def _discover_script(run: Run) -> None:
    """Never called: the discovery has its own code in Runner._discover."""
    raise ToolError("the discovery is not a case")


DISCOVERY = Case(
    id="discovery",
    name="Boot information, configuration and hardware of the station",
    module="00 Discovery",
    profile="Core",
    script=_discover_script,
)


# Vendor-specific configuration keys that name what a BootNotification carries (no 1.6 key does),
# by their name with case and punctuation dropped.
_BOOT_KEYS = {
    "chargePointVendor": ("chargepointvendor", "vendor", "vendorname"),
    "chargePointModel": ("chargepointmodel", "model", "modelname"),
    "chargePointSerialNumber": ("chargepointserialnumber", "serialnumber"),
    "firmwareVersion": ("firmwareversion", "firmware", "softwareversion"),
}


async def _triggered_boot(
    run: Run, configuration: dict[str, ConfigKey], notes: list[str]
) -> list[Any]:
    """A station that connected without booting (it was up before the tool) tells its vendor,
    model and firmware again when asked: TriggerMessage BootNotification ([S] 5.17), if it
    declares Remote Trigger. [] when it does not, or does not answer with one."""
    profiles = (configuration.get("SupportedFeatureProfiles") or ConfigKey(None, True)).value
    if "RemoteTrigger" not in (profiles or ""):
        return []
    mark = run.mark()
    try:
        answer = await run.call("TriggerMessage", {"requestedMessage": "BootNotification"})
        if answer.get("status") != "Accepted":
            notes.append(f"TriggerMessage BootNotification: {answer.get('status')}")
            return []
        boot = await run.expect("BootNotification", after=mark, timeout=run.settings.boot_timeout)
    except AssertionError as exc:
        notes.append(f"TriggerMessage BootNotification gave no BootNotification: {exc}")
        return []
    notes.append("vendor, model and firmware from a BootNotification the tool triggered")
    return [boot]


def _boot_from_keys(configuration: dict[str, ConfigKey], notes: list[str]) -> dict[str, Any] | None:
    """Vendor, model, serial number and firmware from vendor-specific configuration keys, for
    a station that sent no BootNotification; None (shown as unknown) when it has none."""
    by_name = {re.sub(r"[^a-z]", "", key.lower()): key for key in configuration}
    found: dict[str, Any] = {}
    sources = []
    for field, names in _BOOT_KEYS.items():
        key = next((by_name[n] for n in names if n in by_name), None)
        value = configuration[key].value if key is not None else None
        if key is not None and value:
            found[field] = value
            sources.append(key)
    if not found:
        notes.append(
            "the station sent no BootNotification and no configuration key names its vendor, "
            "model or firmware: they are unknown"
        )
        return None
    notes.append(
        "the station sent no BootNotification: vendor, model and firmware from the "
        f"configuration keys {', '.join(sources)}"
    )
    return found


def measurements(timings: Iterable[Timing]) -> list[Measurement]:
    """The performance table: the maximum of each measurement, and where it was taken."""
    collected = list(timings)
    rows = []
    for name, limit, kind, action in PERFORMANCE:
        relevant = [
            t for t in collected if t.kind == kind and (action is None or t.action == action)
        ]
        if not relevant:
            rows.append(Measurement(name, limit, None))
            continue
        top = max(relevant, key=lambda t: t.seconds)
        what = f"{top.action} -> {top.detail}" if kind == TRIGGERED else top.action
        if kind == RESPONSE and top.detail:
            what += f" ({top.detail})"
        rows.append(Measurement(name, limit, top.seconds, f"{top.case_id}: {what}"))
    return rows


def facts_from(
    identity: str,
    boot: dict[str, Any] | None,
    configuration: dict[str, ConfigKey],
    statuses: Iterable[int],
    features: frozenset[str],
    undetermined: frozenset[str] = frozenset(),
) -> Facts:
    """What the cases may rely on, from the boot and GetConfiguration ([S] 9.1)."""
    profiles_text = (configuration.get("SupportedFeatureProfiles") or ConfigKey("", True)).value
    # Core is not optional (§3): a station that does not say so (no SupportedFeatureProfiles,
    # a required key TC_019 fails it for) is still tested as the Core station it must be.
    profiles = frozenset(p.strip() for p in (profiles_text or "").split(",") if p.strip())
    profiles |= {CORE}
    if "SecurityProfile" in configuration:
        # The security whitepaper's extensions are no feature profile (§9.1.29): a station
        # that has their SecurityProfile key (whitepaper §7) implements them.
        profiles |= {SECURITY}
    number = (configuration.get("NumberOfConnectors") or ConfigKey(None, True)).value
    try:
        connectors = int(number or "")
    except ValueError:
        connectors = max((c for c in statuses if c > 0), default=1)
    return Facts(
        identity, boot, max(1, connectors), profiles, configuration, features, undetermined
    )


class Runner:
    def __init__(
        self,
        target: Target,
        settings: Settings | None = None,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        say: Callable[[str], None] = print,
    ) -> None:
        self.target = target
        self.settings = settings if settings is not None else Settings()
        self.listen = listen
        self.say = say
        self.csms: CentralSystem | None = None
        self.timings: list[Timing] = []

    def _central_system(self) -> CentralSystem:
        # A logger of its own (not in the logging tree): its lines are the frame transcript and
        # must not reach, or depend on, the application's logging setup.
        frames = logging.Logger("ocpp_station.conformance.frames", logging.INFO)
        identity = self.target.identity
        return CentralSystem(
            self.listen[0],
            self.listen[1],
            heartbeat_interval=self.settings.heartbeat_interval,
            tags=self.settings.tags.table(),
            accept_unknown_tags=False,
            log=frames,
            identities={identity} if identity else None,
            response_timeout=self.settings.call_timeout,
        )

    async def run(self, cases: Sequence[Case]) -> Results:
        started = datetime.now(UTC)
        csms = self.csms = self._central_system()
        link = StationLink(csms, self.target.identity)
        results = Results(
            tool=TOOL,
            started=started,
            finished=started,
            target=self.target.description,
            driver=self.target.driver.description,
            communication="",
        )
        try:
            try:
                await csms.start()
            except OSError as exc:
                raise ListenError(
                    f"cannot listen on {self.listen[0]}:{self.listen[1]}: {exc.strerror or exc}"
                ) from exc
            results.communication = f"OCPP-J 1.6 over WebSocket, central system at {csms.url}"
            try:
                await self.target.open(csms, link, self.settings)
            except (TimeoutError, ToolError) as exc:
                raise _Abort(f"no station to test: {exc}") from None
            facts = await self._discover(csms, link, results)
            results.driver = self.target.driver.description
            for case in cases:
                result = await self._run_case(case, csms, link, facts)
                results.cases.append(result)
                self._progress(result)
        except _Abort as abort:
            results.notes.append(str(abort))
            done = {c.id for c in results.cases}
            for case in cases:
                if case.id not in done:
                    result = _result(case, Verdict.ERROR, reason=str(abort))
                    results.cases.append(result)
                    self._progress(result)
        finally:
            try:
                await self.target.close()
            finally:
                await csms.stop()
                link.detach()
        results.notes.extend(self.target.notes)
        results.measurements = measurements(self.timings)
        results.finished = datetime.now(UTC)
        return results

    # ------------------------------------------------------------------ discovery

    async def _discover(self, csms: CentralSystem, link: StationLink, results: Results) -> Facts:
        """Boot the station once (ours) or take it as it connected (external), read its whole
        configuration and decide its hardware features."""
        target = self.target
        identity = target.identity or link.identity or "?"
        blank = Facts(identity, None, 0, frozenset(), {}, frozenset())
        run = Run(
            DISCOVERY,
            settings=self.settings,
            target=target,
            driver=target.driver,
            csms=csms,
            link=link,
            facts=blank,
        )
        try:
            await target.begin(run)
            boots = [m for m in link.messages if m.action == "BootNotification"]
            if not boots:
                with contextlib.suppress(AssertionError):
                    boots = [await run.expect("BootNotification", after=0)]
            configuration = await run.get_configuration()
            if not boots:
                boots = await _triggered_boot(run, configuration, results.notes)
            boot = dict(boots[-1]) if boots else _boot_from_keys(configuration, results.notes)
            if boots and not target.outlives_cases:
                # The tool stops this station next: let it finish booting first (a status for
                # each connector, [E] 3.22), so that it is not cut off in mid-conversation.
                count = facts_from(identity, boot, configuration, [], frozenset()).connectors
                for connector_id in range(1, count + 1):
                    await run.expect("StatusNotification", connectorId=connector_id)
        except (AssertionError, ToolError, NotApplicable) as exc:
            raise _Abort(f"the station could not be examined: {exc}") from None
        finally:
            run.finish()
            self.timings += run.timings
            try:
                await target.end(run)
            except ToolError as exc:
                results.notes.append(f"after the discovery: {exc}")
        statuses = [
            m.get("connectorId", 0) for m in link.messages if m.action == "StatusNotification"
        ]
        facts = facts_from(
            link.identity or identity,
            boot,
            configuration,
            statuses,
            target.features(configuration),
            target.undetermined,
        )
        results.identity = facts.identity
        results.boot = boot
        results.connectors = facts.connectors
        results.profiles = [p for p in PROFILES if p in facts.profiles] + sorted(
            facts.profiles - set(PROFILES)
        )
        results.features = sorted(facts.features)
        results.configuration = [
            ConfigRow(key, entry.value, entry.readonly) for key, entry in configuration.items()
        ]
        return facts

    # ------------------------------------------------------------------ one case

    async def _run_case(
        self, case: Case, csms: CentralSystem, link: StationLink, facts: Facts
    ) -> CaseResult:
        reason = case.not_applicable(facts.profiles, facts.features, facts.undetermined)
        if reason is not None:
            return _result(case, Verdict.NA, reason=reason)
        target = self.target
        run = Run(
            case,
            settings=self.settings,
            target=target,
            driver=target.driver,
            csms=csms,
            link=link,
            facts=facts,
        )
        started = time.monotonic()
        verdict = Verdict.PASS
        message = ""
        error: BaseException | None = None
        try:
            await target.begin(run)
            await case.script(run)
            await run.check_exact_counts()
        except NotApplicable as exc:
            verdict, message = Verdict.NA, str(exc)
        except AssertionError as exc:
            verdict, message, error = Verdict.FAIL, str(exc) or "an assertion failed", exc
        except ToolError as exc:
            verdict, message, error = Verdict.ERROR, str(exc), exc
        except Exception as exc:  # the tool itself broke: Error, with what broke
            verdict, message, error = Verdict.ERROR, f"{type(exc).__name__}: {exc}", exc
        died = target.failure()
        if died is not None:
            verdict, message = Verdict.ERROR, f"the station process died: {died}"
        duration = time.monotonic() - started
        failure = run.failure
        if verdict in (Verdict.FAIL, Verdict.ERROR):
            if failure is None or (error is not None and failure.error is not error):
                failure = Failure(error or ToolError(message), datetime.now(UTC), None)
            # Keep listening a moment so the report shows what the station sent next.
            await asyncio.sleep(self.settings.failure_grace)
        frames = (
            [
                f.render()
                for f in link.frames_around(
                    failure.time, self.settings.frames_before, self.settings.frames_after
                )
            ]
            if failure is not None and verdict in (Verdict.FAIL, Verdict.ERROR)
            else []
        )
        run.finish()
        transcript = run.transcript()
        try:
            await target.end(run)
        except (ToolError, AssertionError) as exc:
            run.notes.append(f"after the case: {exc}")
        await run.station_gone()
        self.timings += run.timings
        return _result(
            case,
            verdict,
            duration=duration,
            reason=message,
            failed_step=_failed_step(run, failure)
            if verdict in (Verdict.FAIL, Verdict.ERROR)
            else "",
            frames=frames,
            steps=[
                StepResult(s.index, s.description, s.elapsed, s.duration, s.outcome)
                for s in run.steps
            ],
            notes=run.notes,
            transcript=transcript,
        )

    def _progress(self, result: CaseResult) -> None:
        if result.verdict is Verdict.NA:
            self.say(f"{result.id} {result.name} ... N/A ({result.reason})")
            return
        self.say(f"{result.id} {result.name} ... {result.verdict.value} ({result.duration:.1f} s)")
        if result.verdict in (Verdict.FAIL, Verdict.ERROR):
            first = result.reason.splitlines()[0] if result.reason else ""
            where = f"{result.failed_step}: " if result.failed_step else ""
            self.say(f"    {where}{first}")


class ListenError(ToolError):
    """The tool's central system cannot listen on the address asked for."""


class _Abort(Exception):
    """The remaining cases cannot run (no station, or it could not be examined)."""


def _failed_step(run: Run, failure: Failure | None) -> str:
    step = failure.step if failure is not None else None
    if step is not None:
        return f"step {step.index}: {step.description}"
    if run.steps:
        last = run.steps[-1]
        return f"after step {last.index}: {last.description}"
    return "before the first step"


def _result(case: Case, verdict: Verdict, **fields: Any) -> CaseResult:
    return CaseResult(case.id, case.name, case.module, case.profile, verdict, **fields)
