"""09 Meter Values: TC_070_CS, TC_071_CS."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from ocpp_station import timefmt
from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import remote_start_plugged
from ocpp_station.conformance.cases.spec_keys import ENERGY, csl
from ocpp_station.conformance.steps import Expected, Run
from ocpp_station.conformance.transcript import Message

MODULE = "09 Meter Values"


def samples(message: Message) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """(timestamp, sampledValue) of each meterValue of a MeterValues.req."""
    return [(timefmt.parse(mv["timestamp"]), mv["sampledValue"]) for mv in message["meterValue"]]


def value_problems(values: list[dict[str, Any]], context: str, measurands: list[str]) -> list[str]:
    """What is wrong with one meterValue's sampled values: each has `context` and a numeric
    value, and every configured measurand is there ([S] 7.43: no context means
    Sample.Periodic, no measurand Energy.Active.Import.Register; an empty list of measurands
    means the default one)."""
    problems: list[str] = []
    for value in values:
        got = value.get("context", "Sample.Periodic")
        if got != context:
            problems.append(f"context {got}")
        try:
            float(value["value"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"value {value.get('value')!r} is not a number")
    reported = {value.get("measurand", ENERGY) for value in values}
    missing = sorted(set(measurands or [ENERGY]) - reported)
    if missing:
        problems.append(f"measurands missing: {', '.join(missing)}")
    return problems


def energy_registers(values: list[dict[str, Any]]) -> list[float]:
    """The Energy.Active.Import.Register readings of one meterValue in Wh (kWh converted;
    [S] 7.45 UnitOfMeasure, Wh when absent); readings of one phase or of the inlet are left out,
    as is a value that is not a number (value_problems reports it)."""
    readings = []
    for value in values:
        if value.get("measurand", ENERGY) != ENERGY or "phase" in value:
            continue
        if value.get("location", "Outlet") not in ("Outlet", "EV"):
            continue
        try:
            number = float(value["value"])
        except (KeyError, TypeError, ValueError):
            continue
        readings.append(number * 1000 if value.get("unit") == "kWh" else number)
    return readings


def seconds_since_midnight(moment: datetime) -> float:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return (moment - midnight).total_seconds()


async def _remote_stop(run: Run, transaction_id: int, tag: str) -> None:
    """RemoteStopTransaction -> StopTransaction(Remote, the start idTag) and Finishing (either
    order)."""
    await run.call("RemoteStopTransaction", {"transactionId": transaction_id}, status="Accepted")
    stop, _ = await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await run.check_equal("the StopTransaction reason", stop.get("reason"), "Remote")
    await run.check_equal("the StopTransaction idTag", stop.get("idTag"), tag)


@case("TC_070_CS", "Sampled Meter Values", module=MODULE, profile="Core")
async def tc_070(run: Run) -> None:
    """MeterValueSampleInterval set, ClockAlignedDataInterval 0; during a remote started
    transaction three MeterValues.req with the transaction's id, context Sample.Periodic and
    the MeterValuesSampledData measurands, their timestamps one interval (+-1 s) apart counted
    from the transaction start ([S] 3.16.1, 9.1.19; [E] 3.15); nothing clock-aligned; then
    RemoteStop -> StopTransaction(Remote). Shrunk: MeterValueSampleInterval 2 s (OCTT: 15 s)."""
    interval = int(run.timing("sample_interval", 2))
    tag = run.tags.valid
    await run.configure("MeterValueSampleInterval", str(interval))
    # A precondition, not the subject: where clock-aligned values cannot be switched off they
    # are left out of what is checked, and their presence is not held against the station.
    no_aligned = await run.try_configure("ClockAlignedDataInterval", "0")
    read = await run.get_configuration(["MeterValuesSampledData"])
    await run.check_equal("the keys answered", list(read), ["MeterValuesSampledData"])
    measurands = csl(read["MeterValuesSampledData"].value)

    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    stamps: list[datetime] = []
    problems: list[str] = []
    registers: list[float] = []
    for _ in range(3):
        message = await run.expect(
            "MeterValues",
            connectorId=1,
            transactionId=transaction_id,
            meterValue=lambda mv: not _clock_aligned(mv),
            timeout=interval + 5,
        )
        for stamp, values in samples(message):
            problems += [
                f"#{message.seq}: {p}"
                for p in value_problems(values, "Sample.Periodic", measurands)
            ]
            stamps.append(stamp)
            registers += energy_registers(values)
    await run.check("each sampled value is as configured", not problems, problems)
    # An energy register counts up ([S] 7.31 Energy.Active.Import.Register): from meterStart,
    # no reading during the transaction is lower than the one before.
    readings = [float(start["meterStart"]), *registers]
    await run.check(
        "the energy register never goes down (meterStart, then each sample, in Wh)",
        readings == sorted(readings),
        readings,
    )
    previous = timefmt.parse(str(start["timestamp"]))
    gaps = []
    for stamp in stamps[:3]:
        gaps.append(round((stamp - previous).total_seconds(), 3))
        previous = stamp
    await run.check(
        f"the samples are {interval} s (+-1 s) apart, counted from the transaction start",
        all(abs(gap - interval) <= 1.0 for gap in gaps),
        gaps,
    )
    if no_aligned:
        clock = [
            m.seq
            for m in run.messages("MeterValues", after=mark)
            if _clock_aligned(m.get("meterValue"))
        ]
        await run.check_equal("the MeterValues with clock-aligned values", clock, [])
    await _remote_stop(run, transaction_id, tag)


def _clock_aligned(meter_values: Any) -> bool:
    """A meterValue list holding clock-aligned values ([S] 7.46 Sample.Clock)."""
    return isinstance(meter_values, list) and any(
        isinstance(v, dict) and v.get("context") == "Sample.Clock"
        for mv in meter_values
        if isinstance(mv, dict)
        for v in mv.get("sampledValue") or []
    )


@case("TC_071_CS", "Clock-aligned Meter Values", module=MODULE, profile="Core")
async def tc_071(run: Run) -> None:
    """ClockAlignedDataInterval set, MeterValueSampleInterval 0; during a remote started
    transaction three MeterValues.req for the connector with context Sample.Clock, the
    transaction's id ([E] 3.16) and the MeterValuesAlignedData measurands, each stamped on a
    multiple of the interval since midnight (+-0.5 s) and one interval (+-1 s) apart
    ([S] 9.1.5); connector 0 values carry no transactionId; no Sample.Periodic values at all;
    then RemoteStop -> StopTransaction(Remote). Shrunk: ClockAlignedDataInterval 3 s (OCTT:
    15 s)."""
    interval = int(run.timing("aligned_interval", 3))
    tag = run.tags.valid
    await run.configure("MeterValueSampleInterval", "0")
    await run.configure("ClockAlignedDataInterval", str(interval))
    read = await run.get_configuration(["MeterValuesAlignedData"])
    await run.check_equal("the keys answered", list(read), ["MeterValuesAlignedData"])
    measurands = csl(read["MeterValuesAlignedData"].value)

    start = await remote_start_plugged(run, tag)
    transaction_id = await run.transaction_id(start)
    started = timefmt.parse(str(start["timestamp"]))
    mark = run.mark()

    def after_start(meter_values: list[dict[str, Any]]) -> bool:
        return any(timefmt.parse(mv["timestamp"]) > started for mv in meter_values)

    stamps: list[datetime] = []
    problems: list[str] = []
    for _ in range(3):
        message = await run.expect(
            "MeterValues", connectorId=1, meterValue=after_start, timeout=interval + 5
        )
        # [E] 3.16: an aligned sample carries the id of the transaction running when taken.
        await run.check_equal(
            f"the transactionId of MeterValues #{message.seq}",
            message.get("transactionId"),
            transaction_id,
        )
        for stamp, values in samples(message):
            problems += [
                f"#{message.seq}: {p}" for p in value_problems(values, "Sample.Clock", measurands)
            ]
            stamps.append(stamp)
    await run.check("each aligned value is as configured", not problems, problems)
    offsets = [round(seconds_since_midnight(s) % interval, 3) for s in stamps]
    await run.check(
        f"each timestamp is on a multiple of {interval} s since midnight (+-0.5 s)",
        all(min(o, interval - o) <= 0.5 for o in offsets),
        [timefmt.iso(s) for s in stamps],
    )
    gaps = [round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(stamps)]
    await run.check(
        f"the samples are {interval} s (+-1 s) apart",
        all(abs(g - interval) <= 1 for g in gaps),
        gaps,
    )
    periodic = []
    main_meter = []
    for m in run.messages("MeterValues", after=mark):
        if any(
            v.get("context", "Sample.Periodic") == "Sample.Periodic"
            for _, vs in samples(m)
            for v in vs
        ):
            periodic.append(m.seq)
        if m.get("connectorId") == 0 and "transactionId" in m:
            main_meter.append(m.seq)
    await run.check_equal("the MeterValues with Sample.Periodic values", periodic, [])
    # [E] 3.16: main-meter (connector 0) values carry no transactionId.
    await run.check_equal("the connector 0 MeterValues with a transactionId", main_meter, [])
    await _remote_stop(run, transaction_id, tag)
