"""23 Smart Charging: TC_056_CS, TC_057_CS, TC_058_1_CS, TC_058_2_CS, TC_059_CS, TC_060_CS,
TC_066_CS, TC_067_CS, TC_072_CS, TC_082_CS (digest §5.4, §7; profile-notes).

Each case judges what §3.13 and §5.16 demand, by value: the SetChargingProfile and
ClearChargingProfile statuses, every period of the composite schedule (startPeriod within 1 s,
limit exact, equal neighbours merged, no startSchedule inside: [E] 3.57), and that the power
the station measures follows the limit (a MeterValues sample of the session at or below it,
and above zero while Charging). Profiles a case installs are cleared after it.

The cases limit in amps, as the test tool does, where ChargingScheduleAllowedChargingRateUnit
allows Current; otherwise in watts, each limit a thousand times the amps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp_station import timefmt
from ocpp_station.conformance.case import CaseFailed, case
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.transcript import Message
from ocpp_station.rpc.actions import SMART_CHARGING

MODULE = "23 Smart Charging"
MEASURED = {"A": "Current.Import", "W": "Power.Active.Import"}
SAMPLE_INTERVAL = 2
"""Seconds between the meter samples a case asks for, to see the power follow soon."""


# ---------------------------------------------------------------------------- what a case sends


def unit_of(run: Run) -> tuple[str, float]:
    """The unit the cases limit in, and how many of it make one case ampere."""
    entry = run.facts.configuration.get("ChargingScheduleAllowedChargingRateUnit")
    allowed = {w.strip() for w in ((entry.value if entry else None) or "Current").split(",")}
    if "Current" in allowed:
        return "A", 1.0
    if "Power" in allowed:
        return "W", 1000.0
    run.not_applicable(f"ChargingScheduleAllowedChargingRateUnit is {entry and entry.value!r}")


def now_s() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def profile(
    run: Run,
    profile_id: int,
    purpose: str,
    periods: Sequence[tuple[int, float]],
    *,
    stack: int = 0,
    kind: str = "Absolute",
    start: datetime | None = None,
    duration: int | None = None,
    transaction_id: int | None = None,
    valid: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """A ChargingProfile of limits given in case amperes, (startPeriod, limit) each."""
    unit, scale = unit_of(run)
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": s, "limit": round(limit * scale, 1)} for s, limit in periods
        ],
    }
    if duration is not None:
        schedule["duration"] = duration
    if kind != "Relative":
        schedule["startSchedule"] = timefmt.iso(start or now_s())
    out: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if transaction_id is not None:
        out["transactionId"] = transaction_id
    if valid is not None:
        out["validFrom"], out["validTo"] = timefmt.iso(valid[0]), timefmt.iso(valid[1])
    return out


async def set_profile(
    run: Run, connector_id: int, payload: dict[str, Any], status: str = "Accepted"
) -> None:
    await run.call(
        "SetChargingProfile",
        {"connectorId": connector_id, "csChargingProfiles": payload},
        status=status,
    )


async def clear(run: Run, status: str, **criteria: Any) -> None:
    await run.call("ClearChargingProfile", criteria, status=status)


# ---------------------------------------------------------------------------- the composite


def expected_periods(
    steps: Sequence[tuple[float, float]], offset: float, duration: int
) -> list[tuple[float, float]]:
    """The periods a composite starting `offset` seconds after the steps' origin must have:
    the steps' value at offset first, then each later step inside the window, merged."""
    first = None
    for t, limit in steps:
        if t <= offset:
            first = limit
    out: list[tuple[float, float]] = []
    if first is not None:
        out.append((0.0, first))
    for t, limit in steps:
        if offset < t < offset + duration and (not out or out[-1][1] != limit):
            out.append((t - offset, limit))
    return out


async def composite_is(
    run: Run,
    connector_id: int,
    duration: int,
    origin: datetime,
    steps: Sequence[tuple[int, float]],
) -> list[dict[str, Any]]:
    """GetCompositeSchedule(connector, duration, the cases' unit) Accepted, with exactly the
    periods of `steps` ((seconds after origin, limit in case amperes)), read from the
    scheduleStart the station gives. Returns its periods."""
    unit, scale = unit_of(run)
    asked = datetime.now(UTC)
    answer = await run.call(
        "GetCompositeSchedule",
        {"connectorId": connector_id, "duration": duration, "chargingRateUnit": unit},
        status="Accepted",
    )
    await run.check_equal(
        "the connectorId of the composite", answer.get("connectorId"), connector_id
    )
    schedule = answer.get("chargingSchedule")
    if not isinstance(schedule, Mapping):
        raise CaseFailed("the composite has no chargingSchedule", expected="a chargingSchedule")
    try:
        start = timefmt.parse(str(answer.get("scheduleStart")))
    except ValueError:
        raise CaseFailed(
            "the composite has no readable scheduleStart", got=str(answer.get("scheduleStart"))
        ) from None
    late = (start - asked).total_seconds()
    await run.check(
        "scheduleStart is the time of the request (within 2 s)", abs(late) <= 2, f"{late:+.1f} s"
    )
    await run.check_equal(
        "the chargingRateUnit of the composite", schedule.get("chargingRateUnit"), unit
    )
    await run.check(
        "the composite's chargingSchedule has no startSchedule ([E] 3.57)",
        "startSchedule" not in schedule,
        schedule.get("startSchedule"),
    )
    periods = list(schedule.get("chargingSchedulePeriod") or [])
    got = [(float(p.get("startPeriod", -1)), float(p.get("limit", -1))) for p in periods]
    offset = (start - origin).total_seconds()
    want = [
        (t, round(v * scale, 1))
        for t, v in expected_periods([(float(t), v) for t, v in steps], offset, duration)
    ]
    shown = ", ".join(f"{v:g}@{t:g}" for t, v in got)
    wanted = ", ".join(f"{v:g}@{t:.0f}" for t, v in want)
    await run.check(
        f"the composite of connector {connector_id} is {wanted} ({unit}; startPeriod within 1 s)",
        len(got) == len(want)
        and all(
            abs(g[0] - w[0]) <= 1.0 and abs(g[1] - w[1]) < 0.05
            for g, w in zip(got, want, strict=True)
        ),
        shown,
    )
    return periods


async def composite_limits(run: Run, connector_id: int, duration: int) -> list[Any]:
    """The limits of a composite schedule (in the cases' unit), whatever their periods."""
    unit, _ = unit_of(run)
    answer = await run.call(
        "GetCompositeSchedule",
        {"connectorId": connector_id, "duration": duration, "chargingRateUnit": unit},
        status="Accepted",
    )
    schedule = answer.get("chargingSchedule") or {}
    return [p.get("limit") for p in schedule.get("chargingSchedulePeriod") or []]


# ---------------------------------------------------------------------------- sessions, meters


async def sampling(run: Run) -> str | None:
    """Ask for the measurand that shows the limit followed, every SAMPLE_INTERVAL s; None (and
    a note) when the station will not report it."""
    unit, _ = unit_of(run)
    measurand = MEASURED[unit]
    data = f"Energy.Active.Import.Register,{measurand}"
    if not await run.try_configure("MeterValuesSampledData", data):
        return None
    if not await run.try_configure("MeterValueSampleInterval", str(SAMPLE_INTERVAL)):
        return None
    return measurand


async def session(run: Run, connector_id: int = 1) -> Message:
    """Plugged in and a valid card for the connector -> StartTransaction -> Charging."""
    tag = run.tags.valid
    await run.plug(connector_id)
    await run.expect("StatusNotification", connectorId=connector_id, status="Preparing")
    await run.present_card(tag, connector_id)
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=tag)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    return start


def measured(meter_values: Any, measurand: str) -> float | None:
    """The highest value of `measurand` (any phase) in MeterValues' meterValue elements."""
    found: list[float] = []
    for element in meter_values or []:
        for sampled in element.get("sampledValue") or [] if isinstance(element, Mapping) else []:
            if sampled.get("measurand") != measurand:
                continue
            try:
                value = float(sampled["value"])
            except (KeyError, ValueError):
                continue
            found.append(value * 1000 if sampled.get("unit") == "kW" else value)
    return max(found) if found else None


async def follows(
    run: Run, measurand: str | None, connector_id: int, limit: float, *, after: int
) -> None:
    """A sample of the session taken after `after` shows the measurand at or below the limit
    (case amperes), and above zero while the connector is Charging."""
    if measurand is None:
        run.notes.append("the measured power was not checked: the station will not sample it")
        return
    _, scale = unit_of(run)
    bound = limit * scale
    sample = await run.expect(
        "MeterValues",
        after=after,
        connectorId=connector_id,
        meterValue=lambda v: measured(v, measurand) is not None,
        timeout=SAMPLE_INTERVAL * 3 + 5,
    )
    value = measured(sample.get("meterValue"), measurand) or 0.0  # matched: present
    await run.check(
        f"{measurand} on connector {connector_id} is at most the limit {bound:g}",
        value <= bound * 1.01 + 0.1,
        value,
    )
    if run.statuses(connector_id)[-1:] == ["Charging"]:
        await run.check(f"{measurand} is above 0 while Charging", value > 0, value)


async def later_mark(run: Run) -> int:
    """A mark a second from now: a sample after it was taken with the new limit in force."""
    await run.wait(1.0, "the next sample is taken under the new limit")
    return run.mark()


# ---------------------------------------------------------------------------- the cases


@case("TC_056_CS", "Central Smart Charging - TxDefaultProfile", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_056(run: Run) -> None:
    """TxDefaultProfile on connector 1 (Absolute, 6 A, validFrom and validTo) with no
    transaction -> Accepted; GetCompositeSchedule(1, 300) is exactly 6 A from 0 (a default
    shows before any session: MicroOcpp #360); a session then draws at most 6 A."""
    measurand = await sampling(run)
    origin = now_s()
    valid = (origin - timedelta(minutes=1), origin + timedelta(hours=1))
    tx_default = profile(run, 5601, "TxDefaultProfile", [(0, 6)], start=origin, valid=valid)
    await set_profile(run, 1, tx_default)
    await composite_is(run, 1, 300, origin, [(0, 6)])
    await session(run, 1)
    await follows(run, measurand, 1, 6, after=await later_mark(run))


@case("TC_057_CS", "Central Smart Charging - TxProfile", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_057(run: Run) -> None:
    """A session on connector 1; TxProfile with its transactionId (8 A) -> Accepted; the
    composite is exactly 8 A; the session draws at most 8 A. Once the session ends the
    TxProfile has ceased to be valid (§7.9): the composite no longer shows 8 A."""
    measurand = await sampling(run)
    start = await session(run, 1)
    transaction_id = await run.transaction_id(start)
    origin = now_s()
    await set_profile(run, 1, profile(run, 5701, "TxProfile", [(0, 8)], start=origin,
                                      transaction_id=transaction_id))  # fmt: skip
    await composite_is(run, 1, 300, origin, [(0, 8)])
    await follows(run, measurand, 1, 8, after=await later_mark(run))
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    await run.expect("StopTransaction", transactionId=transaction_id)
    _, scale = unit_of(run)
    limits = await composite_limits(run, 1, 60)
    await run.check(
        "the TxProfile's 8 A is gone with its transaction", 8 * scale not in limits, limits
    )


@case("TC_058_1_CS", "Central Smart Charging - No ongoing transaction", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_058_1(run: Run) -> None:
    """No transaction on connector 1: a TxProfile for it -> Rejected (§3.13.1: "SHALL
    discard it"), so clearing its id finds nothing: Unknown."""
    await set_profile(run, 1, profile(run, 5801, "TxProfile", [(0, 8)]), "Rejected")
    await clear(run, "Unknown", id=5801)


@case("TC_058_2_CS", "Central Smart Charging - Wrong transactionId", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_058_2(run: Run) -> None:
    """A session on connector 1; a TxProfile naming another transactionId -> Rejected, and
    nothing installed (ClearChargingProfile of its id: Unknown)."""
    start = await session(run, 1)
    transaction_id = await run.transaction_id(start)
    wrong = profile(run, 5802, "TxProfile", [(0, 8)], transaction_id=transaction_id + 1000)
    await set_profile(run, 1, wrong, "Rejected")
    await clear(run, "Unknown", id=5802)


@case("TC_059_CS", "Remote Start Transaction with Charging Profile", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_059(run: Run) -> None:
    """Plugged in; RemoteStartTransaction with a TxProfile (Relative, 7 A) -> Accepted ->
    StartTransaction -> Charging; the profile is the session's: the composite is exactly
    7 A, and the session draws at most 7 A."""
    measurand = await sampling(run)
    tag = run.tags.valid
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    tx_profile = profile(run, 5900, "TxProfile", [(0, 7)], kind="Relative")
    await run.call(
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": tag, "chargingProfile": tx_profile},
        status="Accepted",
    )
    await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await composite_is(run, 1, 300, now_s(), [(0, 7)])
    await follows(run, measurand, 1, 7, after=await later_mark(run))


@case("TC_060_CS", "Remote Start Transaction with Charging Profile - Rejected", module=MODULE,
      profile=SMART_CHARGING)  # fmt: skip
async def tc_060(run: Run) -> None:
    """Plugged in; RemoteStartTransaction whose chargingProfile is not a TxProfile (a
    TxDefaultProfile) -> Rejected, and no session starts."""
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    wrong = profile(run, 6000, "TxDefaultProfile", [(0, 7)], kind="Relative")
    await run.call(
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": run.tags.valid, "chargingProfile": wrong},
        status="Rejected",
    )
    await run.expect_none("StartTransaction", after=mark, within=run.timing("refused", 3))


@case("TC_066_CS", "Get Composite Schedule", module=MODULE, profile=SMART_CHARGING)
async def tc_066(run: Run) -> None:
    """A session on connector 1; ChargePointMaxProfile on 0 (10 A, 86400 s), TxDefaultProfile
    on 1 (300 s: 6@0, 10@60, 8@120, 25@180, 8@260), TxProfile on 1 (260 s: 8@0, 11@50, 16@140,
    6@200, 12@240), all from one instant. The composite of connector 1 over 400 s is exactly
    8@0, 10@50, 6@200, 10@240, 8@260, 10@300: the TxProfile replaces the default where it
    says something, the ChargePointMaxProfile caps both. Connector 0's is 10 throughout."""
    start = await session(run, 1)
    transaction_id = await run.transaction_id(start)
    origin = now_s()
    await set_profile(run, 0, profile(run, 6601, "ChargePointMaxProfile", [(0, 10)],
                                      start=origin, duration=86400))  # fmt: skip
    default_periods = [(0, 6), (60, 10), (120, 8), (180, 25), (260, 8)]
    await set_profile(run, 1, profile(run, 6602, "TxDefaultProfile", default_periods,
                                      start=origin, duration=300))  # fmt: skip
    tx_periods = [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)]
    await set_profile(run, 1, profile(run, 6603, "TxProfile", tx_periods, start=origin,
                                      duration=260, transaction_id=transaction_id))  # fmt: skip
    steps = [(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)]
    await composite_is(run, 1, 400, origin, steps)
    await composite_is(run, 0, 400, origin, [(0, 10)])


@case("TC_067_CS", "Clear Charging Profile", module=MODULE, profile=SMART_CHARGING)
async def tc_067(run: Run) -> None:
    """By id: Accepted, again Unknown. By criteria (connector 1, TxDefaultProfile): Accepted,
    leaving the ChargePointMaxProfile, which the composite still shows; again Unknown. With
    no field at all: everything goes ([E] 3.26), and the composite shows no 5 A any more."""
    origin = now_s()
    await set_profile(run, 1, profile(run, 6701, "TxDefaultProfile", [(0, 6)], start=origin))
    await clear(run, "Accepted", id=6701)
    await clear(run, "Unknown", id=6701)
    await set_profile(run, 1, profile(run, 6702, "TxDefaultProfile", [(0, 4)], start=origin,
                                      stack=1))  # fmt: skip
    await set_profile(run, 0, profile(run, 6703, "ChargePointMaxProfile", [(0, 5)],
                                      start=origin))  # fmt: skip
    await composite_is(run, 1, 60, origin, [(0, 4)])
    await clear(run, "Accepted", connectorId=1, chargingProfilePurpose="TxDefaultProfile")
    await clear(run, "Unknown", connectorId=1, chargingProfilePurpose="TxDefaultProfile")
    await composite_is(run, 1, 60, origin, [(0, 5)])
    await clear(run, "Accepted")
    _, scale = unit_of(run)
    limits = await composite_limits(run, 1, 60)
    await run.check(
        "after clearing everything no 5 A limit remains",
        bool(limits) and all(isinstance(v, int | float) and v > 5 * scale for v in limits),
        limits,
    )


@case("TC_072_CS", "Stacking Charging Profiles", module=MODULE, profile=SMART_CHARGING)
async def tc_072(run: Run) -> None:
    """Two TxDefaultProfiles on connector 1 from one instant: stack 0 (10 A, no duration) and
    stack 1 (6 A, 100 s). The composite over 200 s is exactly 6@0, 10@100: the higher stack
    prevails while it says something, then falls through to the lower (§3.13.2)."""
    origin = now_s()
    await set_profile(run, 1, profile(run, 7201, "TxDefaultProfile", [(0, 10)], start=origin))
    await set_profile(run, 1, profile(run, 7202, "TxDefaultProfile", [(0, 6)], start=origin,
                                      stack=1, duration=100))  # fmt: skip
    await composite_is(run, 1, 200, origin, [(0, 6), (100, 10)])


@case("TC_082_CS", "Central Smart Charging - TxDefaultProfile with ongoing transaction",
      module=MODULE, profile=SMART_CHARGING)  # fmt: skip
async def tc_082(run: Run) -> None:
    """A session on connector 1 without any profile; a TxDefaultProfile (6 A) then -> Accepted
    and in force at once for the running session ([E] 3.8): the composite is exactly 6 A and
    the session draws at most 6 A."""
    measurand = await sampling(run)
    await session(run, 1)
    origin = now_s()
    await set_profile(run, 1, profile(run, 8201, "TxDefaultProfile", [(0, 6)], start=origin))
    await composite_is(run, 1, 300, origin, [(0, 6)])
    await follows(run, measurand, 1, 6, after=await later_mark(run))
