"""MeterValues rules, one per test: what each sampled value says and in which unit (§7.31,
§7.45), the interval energy of a period, the periods of clock-aligned data (§9.1.5), the
main meter on connector 0 ([E] 3.16), transactionData and its cap ([E] 3.14, [E] 3.91) and
the one time a reading carries everywhere it goes (digest §3.4).

Tests that need exact numbers read a scripted meter (`meters`) instead of the simulator's
physics; every clock is virtual.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware.interfaces import MeterReading
from ocpp_station.hardware.simulator import SimConnector, Simulator
from ocpp_station.station.connector import Connector
from ocpp_station.station.metering import (
    Metering,
    _add,
    next_aligned,
    previous_aligned,
    sampled_values,
    thin,
)
from ocpp_station.storage.store import StationStore
from tests.unit.harness import Harness, Payload

ALL_READ = [
    "Energy.Active.Import.Register",
    "Energy.Active.Import.Interval",
    "Power.Active.Import",
    "Power.Offered",
    "Current.Import",
    "Current.Offered",
    "Voltage",
    "SoC",
    "Temperature",
]


def reading(
    energy_wh: float,
    *,
    power_w: float = 0.0,
    current_a: float = 0.0,
    voltage_v: float = 230.0,
    soc_percent: float | None = None,
    temperature_c: float = 20.0,
    current_offered_a: float = 0.0,
    power_offered_w: float = 0.0,
    phases: int = 0,
) -> MeterReading:
    return MeterReading(
        energy_wh=energy_wh,
        power_w=power_w,
        current_a=current_a,
        voltage_v=voltage_v,
        soc_percent=soc_percent,
        temperature_c=temperature_c,
        current_offered_a=current_offered_a,
        power_offered_w=power_offered_w,
        phases=phases,
    )


class Meters:
    """The readings the station gets, set by the test per connector (the simulator's own
    meter for a connector the test has not set)."""

    def __init__(self) -> None:
        self.readings: dict[int, MeterReading] = {}

    def set(self, connector_id: int, energy_wh: float, **fields: Any) -> None:
        self.readings[connector_id] = reading(energy_wh, **fields)


@pytest.fixture
def meters(monkeypatch: pytest.MonkeyPatch) -> Iterator[Meters]:
    scripted = Meters()
    physics = SimConnector.read_meter

    def read_meter(connector: SimConnector) -> MeterReading:
        found = scripted.readings.get(connector.connector_id)
        return found if found is not None else physics(connector)

    monkeypatch.setattr(SimConnector, "read_meter", read_meter)
    yield scripted


def values_of(payload: Payload) -> dict[str, str]:
    """measurand -> value over every meterValue of a MeterValues.req."""
    return {v["measurand"]: v["value"] for mv in payload["meterValue"] for v in mv["sampledValue"]}


def on_connector(h: Harness, connector_id: int) -> list[Payload]:
    return [p for p in h.csms.of("MeterValues") if p["connectorId"] == connector_id]


def stamp(text: str) -> str:
    """The wire form of a UTC time written as 'YYYY-MM-DD HH:MM:SS'."""
    return timefmt.iso(datetime.fromisoformat(text).replace(tzinfo=UTC))


# -- what one sampled value says (pure) ------------------------------------------------------


def test_each_measurand_is_reported_in_its_unit_with_its_precision() -> None:
    """§7.31/§7.45 (digest §2.7): energy in whole Wh, power in W, currents in A, voltage in V
    to a tenth, SoC in whole Percent measured by the EV, temperature to a tenth in "Celcius"
    ([JE] 2025-04); every value but SoC is measured at the Outlet (§7.30)."""
    r = reading(
        1234.56,
        power_w=7400.26,
        power_offered_w=11000.04,
        current_a=32.06,
        current_offered_a=16.04,
        voltage_v=230.06,
        soc_percent=55.6,
        temperature_c=31.06,
    )
    values = sampled_values(r, ALL_READ, "Sample.Periodic", 12.6)
    expected = [
        ("Energy.Active.Import.Register", "1235", "Wh"),
        ("Energy.Active.Import.Interval", "13", "Wh"),
        ("Power.Active.Import", "7400.3", "W"),
        ("Power.Offered", "11000.0", "W"),
        ("Current.Import", "32.1", "A"),
        ("Current.Offered", "16.0", "A"),
        ("Voltage", "230.1", "V"),
        ("SoC", "56", "Percent"),
        ("Temperature", "31.1", "Celcius"),
    ]
    assert values == [
        {
            "value": value,
            "context": "Sample.Periodic",
            "measurand": measurand,
            "unit": unit,
            "location": "EV" if measurand == "SoC" else "Outlet",
        }
        for measurand, value, unit in expected
    ]


def test_a_measurand_the_reading_lacks_is_left_out_and_the_rest_still_reported() -> None:
    """§3.16.4: a measurand the meter cannot give now (SoC with no EV) or at all (Frequency)
    is skipped; the measurands after it are still reported."""
    r = reading(500.0, temperature_c=25.0)
    values = sampled_values(r, ["Frequency", "SoC", "Energy.Active.Import.Register"], "Trigger")
    assert [(v["measurand"], v["value"]) for v in values] == [
        ("Energy.Active.Import.Register", "500")
    ]
    assert sampled_values(r, ["Frequency", "Power.Reactive.Import"], "Trigger") == []


@pytest.mark.parametrize(("phases", "names"), [(1, ["L1"]), (3, ["L1", "L2", "L3"])])
def test_on_ac_currents_and_voltage_are_reported_per_phase(phases: int, names: list[str]) -> None:
    """[S] 3.16.3, §7.34: a meter that measures each phase reports Current.Import,
    Current.Offered and Voltage (phase to neutral) once per phase drawn from, each phase
    carrying the same value; energy and power are the connector's, with no phase."""
    r = reading(
        800.0, power_w=7360.0, current_a=32.0, current_offered_a=30.0, voltage_v=230.0,
        phases=phases,
    )  # fmt: skip
    measurands = ["Energy.Active.Import.Register", "Current.Import", "Current.Offered"]
    values = sampled_values(r, [*measurands, "Voltage", "Power.Active.Import"], "Sample.Clock")
    voltages = [f"{name}-N" for name in names]
    assert [(v["measurand"], v.get("phase"), v["value"]) for v in values] == [
        ("Energy.Active.Import.Register", None, "800"),
        *[("Current.Import", name, "32.0") for name in names],
        *[("Current.Offered", name, "30.0") for name in names],
        *[("Voltage", name, "230.0") for name in voltages],
        ("Power.Active.Import", None, "7360.0"),
    ]
    assert all(v["unit"] in ("Wh", "A", "V", "W") and v["location"] == "Outlet" for v in values)


def test_on_dc_no_value_names_a_phase() -> None:
    """§7.34: a DC meter (no phases) reports one current and one voltage, naming no phase."""
    r = reading(800.0, current_a=100.0, voltage_v=400.0, phases=0)
    values = sampled_values(r, ["Current.Import", "Current.Offered", "Voltage"], "Trigger")
    assert [v["measurand"] for v in values] == ["Current.Import", "Current.Offered", "Voltage"]
    assert all("phase" not in v for v in values)


def test_interval_energy_is_zero_when_no_period_is_given() -> None:
    """Energy.Active.Import.Interval is the energy of a period: with none (a Transaction.Begin
    or .End value), it is 0 Wh."""
    [value] = sampled_values(reading(900.0), ["Energy.Active.Import.Interval"], "Transaction.End")
    assert value["value"] == "0"


# -- periods of clock-aligned data (pure) ----------------------------------------------------


@pytest.mark.parametrize(
    ("due", "interval", "start"),
    [
        ("2026-01-01 12:00:00", 900, "2026-01-01 11:45:00"),
        ("2026-01-01 00:15:00", 900, "2026-01-01 00:00:00"),
        ("2026-01-01 01:00:00", 3600, "2026-01-01 00:00:00"),
        ("2026-01-01 00:01:00", 60, "2026-01-01 00:00:00"),
        ("2026-01-01 00:00:30", 30, "2026-01-01 00:00:00"),
        ("2026-01-01 00:00:01", 1, "2026-01-01 00:00:00"),
        ("2026-01-01 05:00:00", 18000, "2026-01-01 00:00:00"),  # 5 h does not divide a day
    ],
)
def test_the_period_a_boundary_ends_began_one_interval_earlier(
    due: str, interval: int, start: str
) -> None:
    """§9.1.5: within a day, the period that ends at a boundary began one interval before it
    (the time the Interval values of that boundary are stamped with)."""
    at = datetime.fromisoformat(due).replace(tzinfo=UTC)
    assert previous_aligned(at, interval) == datetime.fromisoformat(start).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "start"),
    [
        (10000, "2026-01-01 22:13:20"),  # 80000 s: the reference's interval does not divide a day
        (900, "2026-01-01 23:45:00"),
        (1, "2026-01-01 23:59:59"),
        (86400, "2026-01-01 00:00:00"),
    ],
)
def test_the_period_ending_at_midnight_began_at_the_last_boundary_of_the_day_before(
    interval: int, start: str
) -> None:
    """§9.1.5, alignment restarting at midnight: the period ending at midnight began at the
    last boundary of the previous day, even when the interval does not divide a day."""
    midnight = datetime(2026, 1, 2, tzinfo=UTC)
    assert previous_aligned(midnight, interval) == datetime.fromisoformat(start).replace(tzinfo=UTC)


DAY_STEPS = 200  # boundaries walked at most: all of a day's for intervals from 432 s up


@pytest.mark.parametrize("interval", [1, 7, 900, 10000, 18000, 43200, 86399, 86400])
def test_consecutive_boundaries_are_each_others_period(interval: int) -> None:
    """Every boundary of a day (and the midnight that follows the last one) is next_aligned of
    the one before, and that one is the start of its period."""
    boundary = datetime(2026, 1, 1, tzinfo=UTC)
    end = boundary + timedelta(days=1)
    for _ in range(min(DAY_STEPS, 86400 // interval + 1)):
        following = next_aligned(boundary, interval)
        assert previous_aligned(following, interval) == boundary
        if following == end:
            return
        boundary = following
    assert interval < 86400 // DAY_STEPS  # stopped early only where a day has too many


# -- transactionData ([E] 3.91) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "limit", "kept"),
    [
        (5, 0, [0, 1, 2, 3, 4]),  # no cap
        (5, -1, [0, 1, 2, 3, 4]),
        (5, 5, [0, 1, 2, 3, 4]),
        (3, 7, [0, 1, 2]),
        (5, 1, [4]),  # room for one: the last (Transaction.End)
        (5, 2, [0, 4]),
        (5, 3, [0, 2, 4]),
        (9, 5, [0, 2, 4, 6, 8]),
    ],
)
def test_transaction_data_is_capped_dropping_intermediate_values(
    count: int, limit: int, kept: list[int]
) -> None:
    """[E] 3.91: more values than StopTransactionMaxMeterValues drop intermediate ones, never
    the first or the last; a limit of 0 or less caps nothing."""
    values = [{"n": i} for i in range(count)]
    assert thin(values, limit) == [{"n": i} for i in kept]


# -- the main meter ---------------------------------------------------------------------------


def test_the_main_meter_reads_the_whole_station() -> None:
    """[E] 3.16, §7.30 Inlet: connector 0's reading is the station's: energy, power and
    currents of the connectors add up, voltage, temperature and the phases drawn from are the
    highest, and there is no EV to give a SoC."""
    a = reading(
        100.0,
        power_w=10.0,
        current_a=1.0,
        voltage_v=230.0,
        soc_percent=50.0,
        temperature_c=30.0,
        current_offered_a=16.0,
        power_offered_w=3700.0,
        phases=1,
    )
    b = reading(
        20.0,
        power_w=4.0,
        current_a=0.5,
        voltage_v=400.0,
        soc_percent=80.0,
        temperature_c=25.0,
        current_offered_a=32.0,
        power_offered_w=11000.0,
        phases=3,
    )
    assert _add(a, b) == reading(
        120.0,
        power_w=14.0,
        current_a=1.5,
        voltage_v=400.0,
        soc_percent=None,
        temperature_c=30.0,
        current_offered_a=48.0,
        power_offered_w=14700.0,
        phases=3,
    )


# -- with a station ---------------------------------------------------------------------------


async def test_status_snapshot_shows_register_and_power_to_a_tenth(meters: Meters) -> None:
    """interface.md GET /api/status: each connector shows its register (energyWh) and power
    (powerW) rounded to a tenth."""
    meters.set(1, 1234.56, power_w=7400.26)
    meters.set(2, 10.04, power_w=0.0)
    h = Harness()
    connectors = h.station.snapshot(True)["connectors"]
    assert (connectors[1]["energyWh"], connectors[1]["powerW"]) == (1234.6, 7400.3)
    assert (connectors[2]["energyWh"], connectors[2]["powerW"]) == (10.0, 0.0)
    await h.close()


async def test_a_one_second_sample_interval_samples_every_second() -> None:
    """§9.1.19 MeterValueSampleInterval: any interval above 0 samples; 1 s is the shortest."""
    h = Harness(config={"MeterValueSampleInterval": "1", "ClockAlignedDataInterval": "0"})
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.run_for(3)
    assert len(h.csms.of("MeterValues")) == 3
    await h.close()


async def test_a_one_second_aligned_interval_reports_every_second() -> None:
    """§9.1.5 ClockAlignedDataInterval: any interval above 0 aligns; 1 s is the shortest."""
    h = Harness(config={"MeterValueSampleInterval": "0", "ClockAlignedDataInterval": "1"})
    await h.boot()
    h.csms.clear()
    await h.run_for(3)
    assert [p["connectorId"] for p in h.csms.of("MeterValues")] == [1, 2, 0] * 3
    await h.close()


async def test_sampled_interval_energy_is_the_register_increase_since_the_last_sample(
    meters: Meters,
) -> None:
    """Digest §2.7: Energy.Active.Import.Interval is the energy of the interval, here the
    register's increase since the previous sample (the transaction's start for the first);
    a TriggerMessage reports the increase since the last periodic sample (§5.17)."""
    meters.set(1, 1000.0)
    h = Harness(
        config={
            "MeterValueSampleInterval": "10",
            "ClockAlignedDataInterval": "0",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Energy.Active.Import.Interval",
        }
    )
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    meters.set(1, 1100.0)
    await h.run_for(10)
    meters.set(1, 1250.0)
    await h.run_for(10)
    sampled = [values_of(p) for p in on_connector(h, 1)]
    assert sampled == [
        {"Energy.Active.Import.Register": "1100", "Energy.Active.Import.Interval": "100"},
        {"Energy.Active.Import.Register": "1250", "Energy.Active.Import.Interval": "150"},
    ]
    meters.set(1, 1290.0)
    h.csms.clear()
    await h.request("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})
    [triggered] = h.csms.of("MeterValues")
    assert values_of(triggered) == {
        "Energy.Active.Import.Register": "1290",
        "Energy.Active.Import.Interval": "40",
    }
    assert triggered["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    await h.close()


class TickingClock(VirtualClock):
    """A wall clock that moves a millisecond at every read, as a real one does between two
    statements: a value read twice would show two times."""

    def now(self) -> datetime:
        self._wall += 0.001
        return super().now()


async def test_a_sample_carries_one_time_in_its_message_its_stop_data_and_the_journal() -> None:
    """Digest §3.4: a periodic reading has one time: the MeterValues.req, its copy for
    StopTransaction.transactionData (§9.1.27) and the last meter value kept for a
    StopTransaction after a power cut all carry it, however the wall clock moves meanwhile."""
    h = Harness(
        clock=TickingClock(),
        config={"MeterValueSampleInterval": "10", "ClockAlignedDataInterval": "0"},
    )
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    await h.run_for(10)
    [sample] = h.csms.of("MeterValues")
    [element] = sample["meterValue"]
    tx = h.connector(1).transaction
    assert tx is not None
    kept = [mv for mv in tx.stop_data if mv["sampledValue"][0]["context"] == "Sample.Periodic"]
    assert [mv["timestamp"] for mv in kept] == [element["timestamp"]]
    [stored] = h.store.tx_all()
    assert stored.last_meter_time == element["timestamp"]
    assert f"{stored.last_meter_wh:.0f}" == element["sampledValue"][0]["value"]
    await h.close()


async def test_transaction_data_begins_and_ends_with_readings_stamped_at_start_and_stop(
    meters: Meters,
) -> None:
    """[E] 3.14: transactionData opens with the Transaction.Begin reading, stamped with the
    start, and closes with the Transaction.End reading, stamped with the stop."""
    meters.set(1, 2000.0)
    h = Harness(config={"MeterValueSampleInterval": "0", "ClockAlignedDataInterval": "0"})
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    await h.run_for(30)
    meters.set(1, 2400.0)
    await h.card("TAG1")
    [start] = h.csms.of("StartTransaction")
    [stop] = h.csms.of("StopTransaction")
    assert stop["transactionData"] == [
        {
            "timestamp": start["timestamp"],
            "sampledValue": [
                {
                    "value": "2000",
                    "context": "Transaction.Begin",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "location": "Outlet",
                }
            ],
        },
        {
            "timestamp": stop["timestamp"],
            "sampledValue": [
                {
                    "value": "2400",
                    "context": "Transaction.End",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "location": "Outlet",
                }
            ],
        },
    ]
    await h.close()


async def test_a_periodic_sample_announces_the_reading_it_reported(meters: Meters) -> None:
    """A periodic sample tells the station what it read (meter_sampled: what
    MaxEnergyOnInvalidId, §9.1.14, is checked against at every sample)."""
    meters.set(1, 700.0)
    h = Harness(config={"MeterValueSampleInterval": "5", "ClockAlignedDataInterval": "0"})
    heard: list[tuple[int, MeterReading]] = []

    def listener(connector: Connector, r: MeterReading) -> None:
        heard.append((connector.connector_id, r))

    h.station.events.meter_sampled.connect(listener)
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    meters.set(1, 750.0)
    await h.run_for(5)
    assert heard == [(1, reading(750.0))]
    await h.close()


async def test_meter_values_without_a_given_time_are_stamped_with_the_station_clock() -> None:
    """A MeterValues.req the station sends without naming a time is stamped with its clock's
    present time (§6.31: every meterValue has a timestamp)."""
    h = Harness(config={"MeterValueSampleInterval": "0", "ClockAlignedDataInterval": "0"})
    await h.boot()
    h.csms.clear()
    value = sampled_values(reading(5.0), ["Energy.Active.Import.Register"], "Other")
    h.service(Metering).send_meter_values(1, value, None)
    await h.settle()
    [sent] = h.csms.of("MeterValues")
    assert sent["meterValue"] == [{"timestamp": timefmt.iso(h.clock.now()), "sampledValue": value}]
    await h.close()


# -- clock-aligned, with a station ------------------------------------------------------------

ALIGNED = {"MeterValueSampleInterval": "0", "ClockAlignedDataInterval": "60"}


async def aligned_station(
    meters: Meters, config: dict[str, str], start: str = "2026-01-01 11:59:50"
) -> Harness:
    """Two connectors reading 1000 and 500 Wh, a transaction on connector 1 (id 100)."""
    meters.set(1, 1000.0, power_w=7000.0, current_a=30.0)
    meters.set(2, 500.0, power_w=0.0)
    clock = VirtualClock(datetime.fromisoformat(start).replace(tzinfo=UTC))
    h = Harness(clock=clock, config={**ALIGNED, **config})
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    h.csms.clear()
    return h


async def test_aligned_interval_energy_is_the_periods_and_stamped_with_its_start(
    meters: Meters,
) -> None:
    """§9.1.5/§9.1.15: at each boundary, Energy.Active.Import.Interval is the register's
    increase over the period that ends there, in a meterValue of its own stamped with the
    period's start; the register is stamped with the boundary. Connector 0, the main meter,
    reports the station's sum ([E] 3.16)."""
    h = await aligned_station(
        meters,
        {"MeterValuesAlignedData": "Energy.Active.Import.Register,Energy.Active.Import.Interval"},
    )
    await h.run_for(10)  # 12:00:00, the first boundary: no period measured yet
    meters.set(1, 1100.0)
    meters.set(2, 530.0)
    await h.run_for(60)  # 12:01:00
    meter = h.csms.of("MeterValues")
    assert [p["connectorId"] for p in meter] == [1, 2, 0, 1, 2, 0]
    first = "2026-01-01 12:00:00"

    def shape(start: str, boundary: str, interval: str, register: str) -> list[Payload]:
        return [
            {"timestamp": stamp(start), "interval": interval},
            {"timestamp": stamp(boundary), "register": register},
        ]

    def seen(p: Payload) -> list[Payload]:
        out: list[Payload] = []
        for mv in p["meterValue"]:
            [v] = mv["sampledValue"]
            key = "interval" if v["measurand"].endswith(".Interval") else "register"
            out.append({"timestamp": mv["timestamp"], key: v["value"]})
        return out

    assert [seen(p) for p in meter[:3]] == [
        shape("2026-01-01 11:59:00", first, "0", "1000"),
        shape("2026-01-01 11:59:00", first, "0", "500"),
        shape("2026-01-01 11:59:00", first, "0", "1500"),
    ]
    assert [seen(p) for p in meter[3:]] == [
        shape(first, "2026-01-01 12:01:00", "100", "1100"),
        shape(first, "2026-01-01 12:01:00", "30", "530"),
        shape(first, "2026-01-01 12:01:00", "130", "1630"),
    ]
    assert meter[3]["transactionId"] == 100 and "transactionId" not in meter[4]
    await h.close()


async def test_the_main_meter_reports_energy_and_active_power_at_the_inlet(
    meters: Meters,
) -> None:
    """[E] 3.16, §7.30: connector 0 reports the main meter where the grid comes in (Inlet):
    the station's energy and active power, summed; a connector's own current or voltage are
    not the main meter's."""
    h = await aligned_station(
        meters,
        {
            "MeterValuesAlignedData": "Energy.Active.Import.Register,Power.Active.Import,"
            "Current.Import,Voltage"
        },
    )
    meters.set(2, 500.0, power_w=3000.0, current_a=13.0)
    await h.run_for(10)
    [main] = on_connector(h, 0)
    [element] = main["meterValue"]
    assert [(v["measurand"], v["value"], v["location"]) for v in element["sampledValue"]] == [
        ("Energy.Active.Import.Register", "1500", "Inlet"),
        ("Power.Active.Import", "10000.0", "Inlet"),
    ]
    [one] = on_connector(h, 1)
    assert values_of(one)["Current.Import"] == "30.0"
    await h.close()


async def test_stop_txn_aligned_data_is_kept_for_transaction_data(meters: Meters) -> None:
    """§9.1.25 StopTxnAlignedData: at each boundary during a transaction its measurands are
    kept, context Sample.Clock, stamped with the boundary, for StopTransaction's
    transactionData, between the Begin and End readings."""
    h = await aligned_station(
        meters,
        {
            "MeterValuesAlignedData": "",
            "StopTxnAlignedData": "Energy.Active.Import.Register,Power.Active.Import",
        },
    )
    await h.run_for(10)  # 12:00:00
    meters.set(1, 1060.0, power_w=7100.0)
    await h.run_for(60)  # 12:01:00
    await h.card("TAG1")
    assert h.csms.of("MeterValues") == []  # MeterValuesAlignedData is empty
    [stop] = h.csms.of("StopTransaction")
    data = stop["transactionData"]
    assert [mv["sampledValue"][0]["context"] for mv in data] == [
        "Transaction.Begin",
        "Sample.Clock",
        "Sample.Clock",
        "Transaction.End",
    ]
    aligned = [
        (mv["timestamp"], [(v["measurand"], v["value"], v["context"]) for v in mv["sampledValue"]])
        for mv in data[1:3]
    ]
    assert aligned == [
        (
            stamp("2026-01-01 12:00:00"),
            [
                ("Energy.Active.Import.Register", "1000", "Sample.Clock"),
                ("Power.Active.Import", "7000.0", "Sample.Clock"),
            ],
        ),
        (
            stamp("2026-01-01 12:01:00"),
            [
                ("Energy.Active.Import.Register", "1060", "Sample.Clock"),
                ("Power.Active.Import", "7100.0", "Sample.Clock"),
            ],
        ),
    ]
    await h.close()


async def test_an_aligned_reading_is_the_last_known_value_after_a_power_cut(
    meters: Meters, tmp_path: Path
) -> None:
    """Digest §3.4: a transaction's aligned reading is a known meter value: after a power
    cut its StopTransaction (PowerLoss) reports it, with the boundary's time."""
    path = tmp_path / "station.db"
    meters.set(1, 1000.0)
    clock = VirtualClock(datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC))
    h = Harness(clock=clock, store=StationStore(path), config=ALIGNED)
    await h.boot()
    await h.plug(1)
    await h.card("TAG1")
    meters.set(1, 1234.4)
    await h.run_for(10)  # 12:00:00
    meters.set(1, 1300.0)  # never read: the power goes first
    await h.run_for(5)
    # The power goes: a new station on the same file, nothing stopped or flushed.
    after = VirtualClock(clock.now())
    h2 = Harness(
        clock=after,
        store=StationStore(path),
        hardware=Simulator(after, 2, seed=7),
        config=ALIGNED,
    )
    await h2.boot()
    [stop] = h2.csms.of("StopTransaction")
    assert stop["reason"] == "PowerLoss"
    assert (stop["meterStop"], stop["timestamp"]) == (1234, stamp("2026-01-01 12:00:00"))
    await h2.close()


# -- clock corrections (§9.1.5: no boundary skipped or taken twice) --------------------------


async def correct_clock(h: Harness, to: str) -> None:
    """The central system sets the station's clock (a Heartbeat.conf's currentTime); then
    what is due at once runs, with no time passing."""
    h.clock.set_time(datetime.fromisoformat(to).replace(tzinfo=UTC))
    h.station.events.clock_set.emit()
    h.clock.advance(0)
    await h.settle()


def boundaries(h: Harness) -> list[str]:
    return [p["meterValue"][-1]["timestamp"] for p in on_connector(h, 0)]


async def test_a_correction_over_a_boundary_takes_it_at_once_with_its_own_time(
    meters: Meters,
) -> None:
    """§9.1.5: a clock set forward past the armed boundary, by less than an interval, takes
    that boundary at once, stamped with the boundary (not the corrected time), then goes on
    with the next one."""
    h = await aligned_station(meters, {}, start="2026-01-01 12:00:30")
    await h.run_for(20)  # 12:00:50, the boundary at 12:01:00 armed
    assert h.csms.of("MeterValues") == []
    await correct_clock(h, "2026-01-01 12:01:20")
    taken = h.csms.of("MeterValues")
    assert [p["connectorId"] for p in taken] == [1, 2, 0]
    assert {p["meterValue"][-1]["timestamp"] for p in taken} == {stamp("2026-01-01 12:01:00")}
    assert taken[0]["transactionId"] == 100
    await h.run_for(40)
    assert boundaries(h) == [stamp("2026-01-01 12:01:00"), stamp("2026-01-01 12:02:00")]
    await h.close()


async def test_a_correction_of_exactly_one_interval_still_takes_the_boundary(
    meters: Meters,
) -> None:
    """§9.1.5: a clock set forward so that the armed boundary is exactly one interval behind
    is still a correction within an interval: that boundary is taken, not skipped."""
    h = await aligned_station(meters, {}, start="2026-01-01 12:00:30")
    await h.run_for(1)  # 12:00:31
    await correct_clock(h, "2026-01-01 12:02:00")  # 12:01:00 is 60 s behind
    assert boundaries(h) == [stamp("2026-01-01 12:01:00")]
    await h.close()


async def test_a_sub_second_correction_over_a_one_second_boundary_takes_it(
    meters: Meters,
) -> None:
    """§9.1.5: with a 1 s interval a correction of a fraction of a second past the armed
    boundary is within the interval: the boundary is taken, not skipped."""
    h = await aligned_station(
        meters, {"ClockAlignedDataInterval": "1"}, start="2026-01-01 12:00:00.500"
    )
    await h.settle()
    assert h.csms.of("MeterValues") == []
    await correct_clock(h, "2026-01-01 12:00:01.400")  # 12:00:01 is 0.4 s behind
    assert boundaries(h) == [stamp("2026-01-01 12:00:01")]
    await h.close()


async def test_a_jump_of_more_than_an_interval_restarts_from_the_next_boundary(
    meters: Meters,
) -> None:
    """§9.1.5: a clock set further than an interval away starts again from the boundary after
    the new time; the boundaries jumped over are not made up."""
    h = await aligned_station(meters, {}, start="2026-01-01 12:00:30")
    await correct_clock(h, "2026-01-01 12:05:10")
    assert h.csms.of("MeterValues") == []
    await h.run_for(50)
    assert boundaries(h) == [stamp("2026-01-01 12:06:00")]
    await h.close()
