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
from ocpp_station.station.connector import Transaction

if TYPE_CHECKING:
    from ocpp_station.station.station import Station

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


def thin(values: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Cap transactionData at limit entries, dropping intermediate ones, never the first or
    the last ([E] 3.91)."""
    if limit <= 0 or len(values) <= limit:
        return values
    if limit == 1:
        return [values[-1]]
    step = (len(values) - 1) / (limit - 1)
    return [values[round(i * step)] for i in range(limit)]


class Metering:
    def __init__(self, station: Station) -> None:
        self.st = station
        self._aligned: Timer | None = None
        self._aligned_due: datetime | None = None
        self._last_periodic_wh: dict[int, float] = {}
        self._last_aligned_wh: dict[int, float] = {}

    # -- sampled, per transaction -----------------------------------------------------------
    def transaction_started(self, tx: Transaction, reading: MeterReading) -> None:
        self._last_periodic_wh[tx.connector_id] = reading.energy_wh
        self._collect(
            tx, reading, self.st.config.get_list("StopTxnSampledData"), "Transaction.Begin"
        )
        self._arm_sample(tx, self.st.clock.monotonic())

    def transaction_ending(self, tx: Transaction, reading: MeterReading) -> None:
        if tx.sample_timer is not None:
            tx.sample_timer.cancel()
            tx.sample_timer = None
        self._collect(tx, reading, self.st.config.get_list("StopTxnSampledData"), "Transaction.End")

    def sample_interval_changed(self) -> None:
        now = self.st.clock.monotonic()
        for connector in self.st.connectors:
            tx = connector.transaction
            if tx is not None:
                if tx.sample_timer is not None:
                    tx.sample_timer.cancel()
                self._arm_sample(tx, now)

    def _arm_sample(self, tx: Transaction, since: float) -> None:
        interval = self.st.config.get_int("MeterValueSampleInterval")
        tx.sample_timer = None
        if interval <= 0:
            return
        due = since + interval
        # Scheduled from the previous due time, not from when the callback ran: no drift.
        tx.sample_timer = self.st.clock.call_later(
            due - self.st.clock.monotonic(), lambda: self._sample(tx, due)
        )

    def _sample(self, tx: Transaction, due: float) -> None:
        if tx.ended:
            return
        self._arm_sample(tx, due)
        connector = self.st.connector(tx.connector_id)
        reading = self.st.read_meter(tx.connector_id)
        last = self._last_periodic_wh.get(tx.connector_id, reading.energy_wh)
        self._last_periodic_wh[tx.connector_id] = reading.energy_wh
        measurands = self.st.config.get_list("MeterValuesSampledData")
        values = sampled_values(reading, measurands, "Sample.Periodic", reading.energy_wh - last)
        # One time for the reading: its MeterValues, its transactionData copy and the last
        # known value a StopTransaction after a power cut reports (digest §3.4).
        stamp = timefmt.iso(self.st.clock.now())
        store = self.st.store
        with store.atomic():
            if values:
                self.st.send_meter_values(connector.connector_id, values, tx, stamp)
            self._collect(
                tx,
                reading,
                self.st.config.get_list("StopTxnSampledData"),
                "Sample.Periodic",
                stamp,
            )
            store.tx_update(tx.local_id, last_meter_wh=reading.energy_wh, last_meter_time=stamp)
            # The register on disk is never below a value already reported.
            self.st.physical_changed()
        self.st.sessions.check_energy_limit(connector, reading)

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
            when = stamp if stamp is not None else timefmt.iso(self.st.clock.now())
            self._keep(tx, {"timestamp": when, "sampledValue": values})

    def _keep(self, tx: Transaction, meter_value: dict[str, Any]) -> None:
        tx.stop_data.append(meter_value)
        self.st.store.tx_add_sample(tx.local_id, meter_value)

    def transaction_data(self, tx: Transaction) -> list[dict[str, Any]]:
        limit = self.st.config.get_int("StopTransactionMaxMeterValues")
        return thin(tx.stop_data, limit)

    # -- clock-aligned ------------------------------------------------------------------------
    def arm_aligned(self) -> None:
        if self._aligned is not None:
            self._aligned.cancel()
            self._aligned = None
        interval = self.st.config.get_int("ClockAlignedDataInterval")
        if interval <= 0:
            return
        now = self.st.clock.now()
        due = next_aligned(now, interval)
        self._aligned_due = due
        self._aligned = self.st.clock.call_later(
            (due - now).total_seconds(), lambda: self._aligned_tick(due)
        )

    def stop_aligned(self) -> None:
        if self._aligned is not None:
            self._aligned.cancel()
            self._aligned = None

    def _aligned_tick(self, due: datetime) -> None:
        self._aligned = None
        stamp = timefmt.iso(due.astimezone(UTC))
        measurands = self.st.config.get_list("MeterValuesAlignedData")
        stop_measurands = self.st.config.get_list("StopTxnAlignedData")
        total: MeterReading | None = None
        for connector in self.st.connectors:
            reading = self.st.read_meter(connector.connector_id)
            total = reading if total is None else _add(total, reading)
            last = self._last_aligned_wh.get(connector.connector_id, reading.energy_wh)
            self._last_aligned_wh[connector.connector_id] = reading.energy_wh
            tx = connector.transaction
            values = sampled_values(reading, measurands, "Sample.Clock", reading.energy_wh - last)
            if tx is None:
                if values:
                    self.st.send_meter_values(connector.connector_id, values, None, stamp)
                continue
            store = self.st.store
            # A transaction's aligned value is a transaction message and a known meter value:
            # queued, kept for transactionData and recorded as the last value in one step.
            with store.atomic():
                if values:
                    self.st.send_meter_values(connector.connector_id, values, tx, stamp)
                stop_values = sampled_values(reading, stop_measurands, "Sample.Clock")
                if stop_values:
                    self._keep(tx, {"timestamp": stamp, "sampledValue": stop_values})
                store.tx_update(tx.local_id, last_meter_wh=reading.energy_wh, last_meter_time=stamp)
                self.st.physical_changed()
        if total is not None:
            last = self._last_aligned_wh.get(0, total.energy_wh)
            self._last_aligned_wh[0] = total.energy_wh
            main = [
                v
                for v in sampled_values(total, measurands, "Sample.Clock", total.energy_wh - last)
                if v["measurand"].startswith(("Energy", "Power.Active"))
            ]
            if main:
                # [E] 3.16: main-meter values on connector 0 carry no transactionId.
                self.st.send_meter_values(0, main, None, stamp)
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
    )
