"""MeterValues (§4.7, §3.16): sampled values during a transaction and clock-aligned values.

- Sampled: every MeterValueSampleInterval seconds counted from the start of the transaction,
  the MeterValuesSampledData measurands, context Sample.Periodic, as transaction messages.
- Clock-aligned: at every multiple of ClockAlignedDataInterval counted from midnight, the
  MeterValuesAlignedData measurands, context Sample.Clock, for every connector and for
  connector 0 (the main meter, no transactionId: [E] 3.16).
- StopTxnSampledData / StopTxnAlignedData are collected for StopTransaction.transactionData,
  with Transaction.Begin and Transaction.End values ([E] 3.14).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.clock import Timer
from ocpp_station.hardware.interfaces import MeterReading
from ocpp_station.station.config import Configuration
from ocpp_station.station.connector import Connector, Transaction
from ocpp_station.station.service import Payload, Service, on_config
from ocpp_station.storage.interface import TransactionStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

DAY = 86400


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


# measurand -> (unit, location, how to read it from a MeterReading)
def _value(measurand: str, reading: MeterReading, interval_wh: float) -> tuple[str, str] | None:
    """The value and unit of one measurand, or None where this reading has none."""
    if measurand == "Energy.Active.Import.Register":
        return _fmt(reading.energy_wh, 0), "Wh"
    if measurand == "Energy.Active.Import.Interval":
        return _fmt(interval_wh, 0), "Wh"
    if measurand == "Power.Active.Import":
        return _fmt(reading.power_w, 1), "W"
    if measurand == "Power.Offered":
        return _fmt(reading.power_offered_w, 1), "W"
    if measurand == "Current.Import":
        return _fmt(reading.current_a, 1), "A"
    if measurand == "Current.Offered":
        return _fmt(reading.current_offered_a, 1), "A"
    if measurand == "Voltage":
        return _fmt(reading.voltage_v, 1), "V"
    if measurand == "SoC":
        if reading.soc_percent is None:
            return None
        return _fmt(reading.soc_percent, 0), "Percent"
    if measurand == "Temperature":
        # [JE] 2025-04: "Celcius" is the spelling most central systems understand.
        return _fmt(reading.temperature_c, 1), "Celcius"
    return None


# On AC, what each phase carries (§7.30 Phase): currents on L1..L3, voltages phase to neutral.
PER_PHASE = {
    "Current.Import": ("L1", "L2", "L3"),
    "Current.Offered": ("L1", "L2", "L3"),
    "Voltage": ("L1-N", "L2-N", "L3-N"),
}


def sampled_values(
    reading: MeterReading, measurands: list[str], context: str, interval_wh: float = 0.0
) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    for measurand in measurands:
        found = _value(measurand, reading, interval_wh)
        if found is None:
            continue
        value, unit = found
        entry: dict[str, Any] = {
            "value": value,
            "context": context,
            "measurand": measurand,
            "unit": unit,
        }
        if measurand == "SoC":
            entry["location"] = "EV"
        else:
            entry["location"] = "Outlet"
        phases = PER_PHASE.get(measurand)
        if reading.phases and phases is not None:
            values.extend({**entry, "phase": phase} for phase in phases[: reading.phases])
        else:
            values.append(entry)
    return values


def next_aligned(now: datetime, interval: int) -> datetime:
    """The next multiple of interval seconds after now, counted from midnight (§9.1.2).

    When the interval does not divide a day (the reference's 10000 s), the last slot of the day
    is followed by midnight: alignment restarts every day.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    slot = (int(elapsed // interval) + 1) * interval
    if slot >= DAY:
        return midnight + timedelta(days=1)
    return midnight + timedelta(seconds=slot)


def previous_aligned(due: datetime, interval: int) -> datetime:
    """The boundary before `due` (next_aligned's inverse): the start of the period `due` ends.
    After midnight that is the last boundary of the day before."""
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    if due == midnight:
        return midnight - timedelta(days=1) + timedelta(seconds=(DAY - 1) // interval * interval)
    return due - timedelta(seconds=interval)


def reportable(measurands: frozenset[str]) -> frozenset[str]:
    """What the station can report from meters that report `measurands`: those, and the
    energy of each period, which the station reckons from the register itself."""
    if "Energy.Active.Import.Register" in measurands:
        return measurands | {"Energy.Active.Import.Interval"}
    return measurands


def thin(values: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Cap transactionData at limit entries, dropping intermediate ones, never the first or
    the last ([E] 3.91)."""
    if limit <= 0 or len(values) <= limit:
        return values
    if limit == 1:
        return [values[-1]]
    step = (len(values) - 1) / (limit - 1)
    return [values[round(i * step)] for i in range(limit)]


def transaction_data(tx: Transaction, config: Configuration) -> list[dict[str, Any]]:
    """StopTransaction.transactionData: what was collected, capped ([E] 3.91)."""
    return thin(tx.stop_data, config.get_int("StopTransactionMaxMeterValues"))


class Metering(Service):
    __slots__ = (
        "_aligned",
        "_aligned_due",
        "_last_aligned_wh",
        "_last_fired",
        "_last_periodic_wh",
        "ctx",
        "journal",
    )

    def __init__(self, ctx: StationContext, journal: TransactionStore) -> None:
        self.ctx = ctx
        self.journal = journal
        self._aligned: Timer | None = None
        self._aligned_due: datetime | None = None
        self._last_fired: datetime | None = None
        self._last_periodic_wh: dict[int, float] = {}
        self._last_aligned_wh: dict[int, float] = {}
        ctx.events.transaction_started.connect(self._transaction_started)
        ctx.events.transaction_ending.connect(self._transaction_ending)
        ctx.events.clock_set.connect(self._clock_set)

    def on_power_up(self, cold: bool) -> None:
        # [E] 3.15, §3.7: readings go on while offline, even before the first BootNotification
        # is accepted (a station that restarts during an outage).
        self.arm_aligned()

    def on_accepted(self) -> None:
        self.arm_aligned()

    def on_reboot(self) -> None:
        self.stop_aligned()

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        reading = self.ctx.read_meter(c.connector_id)
        entry["energyWh"] = round(reading.energy_wh, 1)
        entry["powerW"] = round(reading.power_w, 1)

    def send_meter_values(
        self,
        connector_id: int,
        values: list[dict[str, Any]],
        tx: Transaction | None,
        timestamp: str | None = None,
        period_start: str | None = None,
    ) -> None:
        """A MeterValues.req: a transaction message when it belongs to a transaction (queued,
        digest §3.1), else sent while online and dropped while offline. With `period_start`,
        the values of a period (the *.Interval measurands) go in a meterValue of their own
        stamped with the period's start."""
        stamp = timestamp or timefmt.iso(self.ctx.clock.now())
        elements: list[dict[str, Any]] = []
        if period_start is not None:
            periodic = [v for v in values if v["measurand"].endswith(".Interval")]
            if periodic:
                elements.append({"timestamp": period_start, "sampledValue": periodic})
                values = [v for v in values if not v["measurand"].endswith(".Interval")]
        if values:
            elements.append({"timestamp": stamp, "sampledValue": values})
        payload: dict[str, Any] = {"connectorId": connector_id, "meterValue": elements}
        if tx is None:
            self.ctx.sender.notify("MeterValues", payload)
            return
        payload["transactionId"] = tx.wire_id if tx.wire_id is not None else -1
        self.ctx.sender.enqueue("MeterValues", payload, tx)

    def send_triggered(self, connector_id: int) -> None:
        """TriggerMessage MeterValues (§5.17, [E] 3.46): the present reading of every
        MeterValuesSampledData measurand, context Trigger, even with sampling off. It carries
        the transactionId of a transaction running there (once known) but is not queued: a
        reading of the present is not history to deliver after an outage."""
        reading = self.ctx.read_meter(connector_id)
        since = reading.energy_wh - self._last_periodic_wh.get(connector_id, reading.energy_wh)
        measurands = self.ctx.config.get_list("MeterValuesSampledData")
        values = sampled_values(reading, measurands, "Trigger", since)
        if not values:  # none of the configured measurands can be read now (SoC, no EV)
            values = sampled_values(reading, ["Energy.Active.Import.Register"], "Trigger")
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "meterValue": [
                {"timestamp": timefmt.iso(self.ctx.clock.now()), "sampledValue": values}
            ],
        }
        tx = self.ctx.cp.connector(connector_id).transaction
        if tx is not None and tx.wire_id is not None:
            payload["transactionId"] = tx.wire_id
        self.ctx.sender.notify("MeterValues", payload, triggered=True)

    # -- sampled, per transaction -----------------------------------------------------------
    def _transaction_started(self, tx: Transaction, reading: MeterReading) -> None:
        self._last_periodic_wh[tx.connector_id] = reading.energy_wh
        self._collect(
            tx, reading, self.ctx.config.get_list("StopTxnSampledData"), "Transaction.Begin"
        )
        self._arm_sample(tx, self.ctx.clock.monotonic())

    def _transaction_ending(self, tx: Transaction, reading: MeterReading) -> None:
        if tx.sample_timer is not None:
            tx.sample_timer.cancel()
            tx.sample_timer = None
        self._collect(
            tx, reading, self.ctx.config.get_list("StopTxnSampledData"), "Transaction.End"
        )

    @on_config("MeterValueSampleInterval")
    def _sample_interval_changed(self, value: str) -> None:
        now = self.ctx.clock.monotonic()
        for connector in self.ctx.cp:
            tx = connector.transaction
            if tx is not None:
                if tx.sample_timer is not None:
                    tx.sample_timer.cancel()
                self._arm_sample(tx, now)

    def _arm_sample(self, tx: Transaction, since: float) -> None:
        interval = self.ctx.config.get_int("MeterValueSampleInterval")
        tx.sample_timer = None
        if interval <= 0:
            return
        due = since + interval
        # Scheduled from the previous due time, not from when the callback ran: no drift.
        tx.sample_timer = self.ctx.clock.call_later(
            due - self.ctx.clock.monotonic(), lambda: self._sample(tx, due)
        )

    def _sample(self, tx: Transaction, due: float) -> None:
        if tx.ended:
            return
        self._arm_sample(tx, due)
        connector = self.ctx.cp.connector(tx.connector_id)
        reading = self.ctx.read_meter(tx.connector_id)
        last = self._last_periodic_wh.get(tx.connector_id, reading.energy_wh)
        self._last_periodic_wh[tx.connector_id] = reading.energy_wh
        measurands = self.ctx.config.get_list("MeterValuesSampledData")
        values = sampled_values(reading, measurands, "Sample.Periodic", reading.energy_wh - last)
        # One time for the reading: its MeterValues, its transactionData copy and the last
        # known value a StopTransaction after a power cut reports (digest §3.4).
        stamp = timefmt.iso(self.ctx.clock.now())
        journal = self.journal
        with journal.atomic():
            if values:
                self.send_meter_values(connector.connector_id, values, tx, stamp)
            self._collect(
                tx,
                reading,
                self.ctx.config.get_list("StopTxnSampledData"),
                "Sample.Periodic",
                stamp,
            )
            journal.tx_update(tx.local_id, last_meter_wh=reading.energy_wh, last_meter_time=stamp)
            # The register on disk is never below a value already reported.
            self.ctx.events.physical_changed.emit()
        self.ctx.events.meter_sampled.emit(connector, reading)

    def _collect(
        self,
        tx: Transaction,
        reading: MeterReading,
        measurands: list[str],
        context: str,
        stamp: str | None = None,
    ) -> None:
        values = sampled_values(reading, measurands, context)
        if values:
            when = stamp if stamp is not None else timefmt.iso(self.ctx.clock.now())
            self._keep(tx, {"timestamp": when, "sampledValue": values})

    def _keep(self, tx: Transaction, meter_value: dict[str, Any]) -> None:
        tx.stop_data.append(meter_value)
        self.journal.tx_add_sample(tx.local_id, meter_value)

    # -- clock-aligned ------------------------------------------------------------------------
    @on_config("ClockAlignedDataInterval")
    def _aligned_interval_changed(self, value: str) -> None:
        self.arm_aligned()

    def arm_aligned(self) -> None:
        """Arm the next boundary after now; never one already taken."""
        self.stop_aligned()
        interval = self.ctx.config.get_int("ClockAlignedDataInterval")
        if interval <= 0:
            return
        now = self.ctx.clock.now()
        due = next_aligned(now, interval)
        last = self._last_fired
        if last is not None and due <= last:
            due = next_aligned(last, interval)
        self._arm_at(due, now)

    def _arm_at(self, due: datetime, now: datetime) -> None:
        self._aligned_due = due
        self._aligned = self.ctx.clock.call_later(
            max(0.0, (due - now).total_seconds()), lambda: self._aligned_tick(due)
        )

    def _clock_set(self) -> None:
        """The central system set the clock (BootNotification, Heartbeat). A correction within
        an interval keeps the boundary armed, at its new distance, and takes it at once when
        the correction stepped over it: no boundary is skipped or taken twice (§9.1.2). A jump
        further than that starts again from the next boundary."""
        due = self._aligned_due
        interval = self.ctx.config.get_int("ClockAlignedDataInterval")
        if self._aligned is None or due is None or interval <= 0:
            self.arm_aligned()
            return
        now = self.ctx.clock.now()
        if abs((due - now).total_seconds()) > interval:
            self.arm_aligned()
            return
        self.stop_aligned()
        self._arm_at(due, now)

    def stop_aligned(self) -> None:
        if self._aligned is not None:
            self._aligned.cancel()
            self._aligned = None

    def _aligned_tick(self, due: datetime) -> None:
        self._aligned = None
        self._last_fired = due
        interval = self.ctx.config.get_int("ClockAlignedDataInterval")
        # Values of the period (Energy...Interval) are stamped with the period's start.
        start = timefmt.iso(previous_aligned(due, interval).astimezone(UTC))
        stamp = timefmt.iso(due.astimezone(UTC))
        measurands = self.ctx.config.get_list("MeterValuesAlignedData")
        stop_measurands = self.ctx.config.get_list("StopTxnAlignedData")
        total: MeterReading | None = None
        for connector in self.ctx.cp:
            reading = self.ctx.read_meter(connector.connector_id)
            total = reading if total is None else _add(total, reading)
            last = self._last_aligned_wh.get(connector.connector_id, reading.energy_wh)
            self._last_aligned_wh[connector.connector_id] = reading.energy_wh
            tx = connector.transaction
            values = sampled_values(reading, measurands, "Sample.Clock", reading.energy_wh - last)
            if tx is None:
                if values:
                    self.send_meter_values(connector.connector_id, values, None, stamp, start)
                continue
            journal = self.journal
            # A transaction's aligned value is a transaction message and a known meter value:
            # queued, kept for transactionData and recorded as the last value in one step.
            with journal.atomic():
                if values:
                    self.send_meter_values(connector.connector_id, values, tx, stamp, start)
                stop_values = sampled_values(reading, stop_measurands, "Sample.Clock")
                if stop_values:
                    self._keep(tx, {"timestamp": stamp, "sampledValue": stop_values})
                journal.tx_update(
                    tx.local_id, last_meter_wh=reading.energy_wh, last_meter_time=stamp
                )
                self.ctx.events.physical_changed.emit()
        if total is not None:
            last = self._last_aligned_wh.get(0, total.energy_wh)
            self._last_aligned_wh[0] = total.energy_wh
            main = [
                v
                for v in sampled_values(total, measurands, "Sample.Clock", total.energy_wh - last)
                if v["measurand"].startswith(("Energy", "Power.Active"))
            ]
            for value in main:
                value["location"] = "Inlet"  # the main meter: where the grid comes in (§7.29)
            if main:
                # [E] 3.16: main-meter values on connector 0 carry no transactionId.
                self.send_meter_values(0, main, None, stamp, start)
        self.arm_aligned()


def _add(a: MeterReading, b: MeterReading) -> MeterReading:
    return MeterReading(
        energy_wh=a.energy_wh + b.energy_wh,
        power_w=a.power_w + b.power_w,
        current_a=a.current_a + b.current_a,
        voltage_v=max(a.voltage_v, b.voltage_v),
        soc_percent=None,
        temperature_c=max(a.temperature_c, b.temperature_c),
        current_offered_a=a.current_offered_a + b.current_offered_a,
        power_offered_w=a.power_offered_w + b.power_offered_w,
        phases=max(a.phases, b.phases),
    )
