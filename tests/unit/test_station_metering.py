"""MeterValues: sampled from transaction start, clock-aligned from midnight (§4.7, TC_070/071)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.station.metering import next_aligned
from tests.unit.harness import Harness


async def test_tc070_sampled_values_every_interval_from_start() -> None:
    h = Harness(config={"MeterValueSampleInterval": "15", "ClockAlignedDataInterval": "0"})
    await h.boot()
    await h.plug(1)
    await h.run_for(3)
    await h.card("TAG1")
    start = h.clock.monotonic()
    h.csms.clear()
    await h.run_for(46)
    meter = h.csms.of("MeterValues")
    assert len(meter) == 3
    stamps = [timefmt.parse(m["meterValue"][0]["timestamp"]) for m in meter]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert gaps == [15.0, 15.0]
    assert h.clock.monotonic() - start >= 45
    for m in meter:
        assert m["transactionId"] == 100 and m["connectorId"] == 1
        value = m["meterValue"][0]["sampledValue"][0]
        assert value["context"] == "Sample.Periodic"
        assert value["measurand"] == "Energy.Active.Import.Register"
    registers = [float(m["meterValue"][0]["sampledValue"][0]["value"]) for m in meter]
    assert registers == sorted(registers) and registers[-1] > registers[0]
    await h.close()


async def test_sampled_measurands_follow_configuration() -> None:
    h = Harness(
        config={
            "MeterValueSampleInterval": "10",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,SoC",
        }
    )
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(11)
    values = h.csms.of("MeterValues")[0]["meterValue"][0]["sampledValue"]
    assert [v["measurand"] for v in values] == [
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "SoC",
    ]
    assert values[1]["unit"] == "W" and float(values[1]["value"]) > 0
    assert values[2]["unit"] == "Percent" and values[2]["location"] == "EV"
    await h.close()


async def test_tc071_clock_aligned_on_boundaries_for_all_connectors() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC))
    h = Harness(
        clock=clock, config={"ClockAlignedDataInterval": "60", "MeterValueSampleInterval": "0"}
    )
    h.csms.answer_boot("Accepted", 300)
    await h.boot()
    await h.plug(2)
    await h.card("TAG1")
    h.csms.clear()
    await h.run_for(71)
    meter = h.csms.of("MeterValues")
    assert [m["connectorId"] for m in meter] == [1, 2, 0, 1, 2, 0]
    assert {m["meterValue"][0]["timestamp"] for m in meter} == {
        "2026-01-01T12:00:00.000Z",
        "2026-01-01T12:01:00.000Z",
    }
    assert all(m["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock" for m in meter)
    assert "transactionId" not in meter[0] and "transactionId" not in meter[2]
    assert meter[1]["transactionId"] == 100  # [E] 3.16: the running transaction's id
    await h.close()


def test_aligned_boundaries_restart_at_midnight() -> None:
    # The reference's 10000 s does not divide a day: after 80000 s comes midnight.
    late = datetime(2026, 1, 1, 22, 20, 0, tzinfo=UTC)  # 80400 s after midnight
    assert next_aligned(late, 10000) == datetime(2026, 1, 2, tzinfo=UTC)
    early = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert next_aligned(early, 10000) == datetime(2026, 1, 1, 2, 46, 40, tzinfo=UTC)
    assert next_aligned(datetime(2026, 1, 1, 0, 15, tzinfo=UTC), 900) == datetime(
        2026, 1, 1, 0, 30, tzinfo=UTC
    )


async def test_minimum_status_duration_suppresses_short_statuses() -> None:
    h = Harness(config={"MinimumStatusDuration": "5"})
    await h.boot()
    await h.run_for(6)
    h.csms.clear()
    await h.plug(1)
    await h.run_for(2)
    await h.unplug(1)
    await h.run_for(6)
    assert h.csms.of("StatusNotification") == []  # Preparing lasted 2 s, back to Available
    await h.plug(1)
    await h.run_for(6)
    assert [p["status"] for p in h.csms.of("StatusNotification")] == ["Preparing"]
    await h.close()
