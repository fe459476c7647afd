"""OCTT 1.6 charge-point cases, modules 08 Configuration and 09 Meter Values, run against the
real station process and a real central system.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import datetime
from typing import Any

from ocpp_station import timefmt
from ocpp_station.csms.records import Transaction
from ocpp_station.csms.server import CentralSystem, StationSession
from ocpp_station.csms.session import Received
from tests.integration.conftest import StationProcess, boot

TAG = "OCTT-TAG-1"
ENERGY = "Energy.Active.Import.Register"

# 1.6 §9.1.29: the six profile identifiers.
PROFILES = {
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
}
# 1.6 §7.31 Measurand and §7.34 Phase: what a measurand CSL item may be ("Voltage.L1").
MEASURANDS = {
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "RPM",
    "SoC",
    "Temperature",
    "Voltage",
}
PHASES = {"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"}
# 1.6 §9.1.7: `[<connector>.]<rotation>` items.
PHASE_ROTATION = re.compile(r"(?:\d+\.)?(?:NotApplicable|Unknown|RST|RTS|SRT|STR|TRS|TSR)")

# The keys each profile requires (1.6 §9.1-9.4 with [E] 3.80: StopTransactionOnEVSideDisconnect
# became optional), with their types: "bool", "int" (a non-negative integer here) or a CSL
# kind: "measurands", "rotation", "profiles", "rate-units".
REQUIRED: dict[str, dict[str, str]] = {
    "Core": {
        "AuthorizeRemoteTxRequests": "bool",
        "ClockAlignedDataInterval": "int",
        "ConnectionTimeOut": "int",
        "ConnectorPhaseRotation": "rotation",
        "GetConfigurationMaxKeys": "int",
        "HeartbeatInterval": "int",
        "LocalAuthorizeOffline": "bool",
        "LocalPreAuthorize": "bool",
        "MeterValuesAlignedData": "measurands",
        "MeterValuesSampledData": "measurands",
        "MeterValueSampleInterval": "int",
        "NumberOfConnectors": "int",
        "ResetRetries": "int",
        "StopTransactionOnInvalidId": "bool",
        "StopTxnAlignedData": "measurands",
        "StopTxnSampledData": "measurands",
        "SupportedFeatureProfiles": "profiles",
        "TransactionMessageAttempts": "int",
        "TransactionMessageRetryInterval": "int",
        "UnlockConnectorOnEVSideDisconnect": "bool",
    },
    "LocalAuthListManagement": {
        "LocalAuthListEnabled": "bool",
        "LocalAuthListMaxLength": "int",
        "SendLocalListMaxLength": "int",
    },
    "SmartCharging": {
        "ChargeProfileMaxStackLevel": "int",
        "ChargingScheduleAllowedChargingRateUnit": "rate-units",
        "ChargingScheduleMaxPeriods": "int",
        "MaxChargingProfilesInstalled": "int",
    },
    "Reservation": {},
    "FirmwareManagement": {},
    "RemoteTrigger": {},
}
# Optional keys: when present, their values must have the specification's type too.
OPTIONAL = {
    "AllowOfflineTxForUnknownId": "bool",
    "AuthorizationCacheEnabled": "bool",
    "BlinkRepeat": "int",
    "ConnectorPhaseRotationMaxLength": "int",
    "LightIntensity": "int",
    "MaxEnergyOnInvalidId": "int",
    "MessageTimeout": "int",
    "MeterValuesAlignedDataMaxLength": "int",
    "MeterValuesSampledDataMaxLength": "int",
    "MinimumStatusDuration": "int",
    "StopTransactionOnEVSideDisconnect": "bool",
    "StopTransactionMaxMeterValues": "int",
    "StopTxnAlignedDataMaxLength": "int",
    "StopTxnSampledDataMaxLength": "int",
    "SupportedFeatureProfilesMaxLength": "int",
    "WebSocketPingInterval": "int",
    "ReserveConnectorZeroSupported": "bool",
    "ConnectorSwitch3to1PhaseSupported": "bool",
}
# Accessibility the specification fixes (R, or RW); keys where it lets the station choose
# (AuthorizeRemoteTxRequests, StopTransactionOnEVSideDisconnect) are not listed.
READ_ONLY = {
    "GetConfigurationMaxKeys",
    "NumberOfConnectors",
    "SupportedFeatureProfiles",
    "ConnectorPhaseRotationMaxLength",
    "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledDataMaxLength",
    "StopTransactionMaxMeterValues",
    "StopTxnAlignedDataMaxLength",
    "StopTxnSampledDataMaxLength",
    "SupportedFeatureProfilesMaxLength",
    "LocalAuthListMaxLength",
    "SendLocalListMaxLength",
    "ReserveConnectorZeroSupported",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "ConnectorSwitch3to1PhaseSupported",
    "MaxChargingProfilesInstalled",
}
READ_WRITE = {
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "HeartbeatInterval",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
    "ResetRetries",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "LocalAuthListEnabled",
}


# ---------------------------------------------------------------------------- helpers


def status(connector_id: int, value: str) -> dict[str, object]:
    return {"connectorId": connector_id, "status": value}


async def configure(session: StationSession, key: str, value: str) -> None:
    answer = await session.call("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}, (key, value, answer)


async def read_key(session: StationSession, key: str) -> dict[str, Any]:
    answer = await session.call("GetConfiguration", {"key": [key]})
    entries = answer["configurationKey"]
    assert [e["key"] for e in entries] == [key], answer
    assert not answer.get("unknownKey"), answer
    return entries[0]


def csl(value: str) -> list[str]:
    return [item.strip() for item in value.split(",")] if value.strip() else []


def type_problem(kind: str, value: object) -> str | None:
    """Why `value` is not of the configuration type `kind`, or None."""
    if not isinstance(value, str):
        return f"value {value!r} is not a string"
    if kind == "bool":
        return None if value.lower() in ("true", "false") else f"{value!r} is not a boolean"
    if kind == "int":
        return None if re.fullmatch(r"\d+", value) else f"{value!r} is not a whole number"
    items = csl(value)
    if kind == "measurands":
        for item in items:
            head, _, tail = item.rpartition(".")
            if item not in MEASURANDS and not (head in MEASURANDS and tail in PHASES):
                return f"{item!r} is not a measurand"
        return None
    if kind == "rotation":
        bad = [item for item in items if not PHASE_ROTATION.fullmatch(item)]
        return f"{bad} are not phase rotations" if bad else None
    if kind == "profiles":
        bad = [item for item in items if item not in PROFILES]
        return f"{bad} are not feature profiles" if bad or not items else None
    if kind == "rate-units":
        bad = [item for item in items if item not in ("Current", "Power")]
        return f"{bad} are not charging rate units" if bad or not items else None
    raise ValueError(kind)


async def remote_charging(
    csms: CentralSystem, station: StationProcess, session: StationSession, connector_id: int = 1
) -> Transaction:
    """Cable plugged (Preparing), RemoteStartTransaction Accepted, StartTransaction with the
    same idTag, Charging. Returns the central system's transaction."""
    mark = session.cursor()
    await station.plug(connector_id)
    await session.expect("StatusNotification", status(connector_id, "Preparing"), after=mark)
    mark = session.cursor()
    answer = await session.call(
        "RemoteStartTransaction", {"connectorId": connector_id, "idTag": TAG}
    )
    assert answer == {"status": "Accepted"}
    start = await session.expect("StartTransaction", {"connectorId": connector_id}, after=mark)
    assert start.payload["idTag"] == TAG
    await session.expect("StatusNotification", status(connector_id, "Charging"), after=mark)
    record = csms.record(station.identity)
    async with asyncio.timeout(10):
        while True:
            for tx in record.open_transactions.values():
                if tx.connector_id == connector_id:
                    return tx
            await asyncio.sleep(0.05)


async def remote_stop(session: StationSession, tx: Transaction) -> None:
    mark = session.cursor()
    answer = await session.call("RemoteStopTransaction", {"transactionId": tx.transaction_id})
    assert answer == {"status": "Accepted"}
    stop = await session.expect("StopTransaction", {"transactionId": tx.transaction_id}, after=mark)
    assert stop.payload.get("reason") == "Remote"
    assert stop.payload.get("idTag") == TAG
    await session.expect("StatusNotification", status(tx.connector_id, "Finishing"), after=mark)


def samples(message: Received) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """(timestamp, sampledValue) of each meterValue of a MeterValues.req."""
    return [
        (timefmt.parse(mv["timestamp"]), mv["sampledValue"]) for mv in message.payload["meterValue"]
    ]


def check_values(values: list[dict[str, Any]], context: str, measurands: list[str]) -> None:
    """Every sampled value has `context`, every configured measurand is there ([S] 7.43:
    absent context means Sample.Periodic, absent measurand Energy.Active.Import.Register)."""
    for value in values:
        assert value.get("context", "Sample.Periodic") == context, value
        float(value["value"])
    reported = {value.get("measurand", ENERGY) for value in values}
    assert set(measurands or [ENERGY]) <= reported, (measurands, values)


def seconds_since_midnight(moment: datetime) -> float:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return (moment - midnight).total_seconds()


# ---------------------------------------------------------------------------- 08 Configuration


async def test_tc019_retrieve_configuration(csms: CentralSystem, make_station) -> None:
    """TC_019_CS Retrieve configuration.

    SupportedFeatureProfiles is read-only and lists only the six profile identifiers; a
    get-all holds every key the declared profiles require, each value of its specification
    type; GetConfigurationMaxKeys >= 1, and asking for that many keys at once is answered for
    all of them ([S] 5.8, 9.1-9.4). Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)

    profiles_entry = await read_key(session, "SupportedFeatureProfiles")
    assert profiles_entry["readonly"] is True
    assert type_problem("profiles", profiles_entry.get("value")) is None, profiles_entry
    declared = csl(profiles_entry["value"])
    assert "Core" in declared

    everything = await session.call("GetConfiguration", {})
    entries = everything["configurationKey"]
    names = [e["key"] for e in entries]
    assert len(names) == len(set(names)), "a key is listed twice"
    by_name = {e["key"]: e for e in entries}
    problems: list[str] = []
    for profile in declared:
        for key, kind in REQUIRED[profile].items():
            if key not in by_name:
                problems.append(f"{profile} key {key} missing")
                continue
            why = type_problem(kind, by_name[key].get("value"))
            if why is not None:
                problems.append(f"{key}: {why}")
    for key, kind in OPTIONAL.items():
        if key in by_name and by_name[key].get("value") is not None:
            why = type_problem(kind, by_name[key]["value"])
            if why is not None:
                problems.append(f"{key}: {why}")
    for entry in entries:
        if not isinstance(entry.get("readonly"), bool):
            problems.append(f"{entry['key']}: readonly is not a boolean")
        elif entry["key"] in READ_ONLY and not entry["readonly"]:
            problems.append(f"{entry['key']} is read-only in the specification")
        elif entry["key"] in READ_WRITE and entry["readonly"]:
            problems.append(f"{entry['key']} is read-write in the specification")
    assert not problems, problems
    # The station knows its own shape: as many connectors as it reports.
    snapshot = await station.status()
    assert int(by_name["NumberOfConnectors"]["value"]) == len(snapshot["connectors"]) - 1
    # [E] 3.84: a fixed-cable charge point reports false and does not let it change.
    unlock = by_name["UnlockConnectorOnEVSideDisconnect"]
    assert (unlock["value"].lower(), unlock["readonly"]) == ("false", True)

    maximum = int((await read_key(session, "GetConfigurationMaxKeys"))["value"])
    assert maximum >= 1
    wanted = names[:maximum]
    answer = await session.call("GetConfiguration", {"key": wanted})
    assert sorted(e["key"] for e in answer["configurationKey"]) == sorted(wanted)
    assert not answer.get("unknownKey"), answer


async def test_tc021_change_configuration(csms: CentralSystem, make_station) -> None:
    """TC_021_CS Change/set Configuration.

    MeterValueSampleInterval read, set to its value + 10 (Accepted), read back, restored
    ([S] 5.3). Nothing shrunk.
    """
    station = await make_station()
    session = await boot(csms, station)
    original = (await read_key(session, "MeterValueSampleInterval"))["value"]
    changed = str(int(original) + 10)
    await configure(session, "MeterValueSampleInterval", changed)
    entry = await read_key(session, "MeterValueSampleInterval")
    assert (entry["value"], entry["readonly"]) == (changed, False)
    await configure(session, "MeterValueSampleInterval", original)
    assert (await read_key(session, "MeterValueSampleInterval"))["value"] == original


# ---------------------------------------------------------------------------- 09 Meter Values


async def test_tc070_sampled_meter_values(csms: CentralSystem, make_station) -> None:
    """TC_070_CS Sampled Meter Values.

    MeterValueSampleInterval 2 (shrunk from 15), ClockAlignedDataInterval 0; during a remote
    started transaction three MeterValues.req with the transaction's id, context Sample.Periodic
    and the MeterValuesSampledData measurands, their timestamps 2 s (+-1 s) apart counted from
    the transaction start ([S] 3.16.1, 9.1.19); then RemoteStop.
    """
    interval = 2
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MeterValueSampleInterval", str(interval))
    await configure(session, "ClockAlignedDataInterval", "0")
    measurands = csl((await read_key(session, "MeterValuesSampledData"))["value"])

    tx = await remote_charging(csms, station, session)
    mark = session.cursor()
    stamps: list[datetime] = []
    for _ in range(3):
        message = await session.expect(
            "MeterValues",
            {"connectorId": 1, "transactionId": tx.transaction_id},
            timeout=interval + 5,
        )
        for stamp, values in samples(message):
            check_values(values, "Sample.Periodic", measurands)
            stamps.append(stamp)
    previous = tx.start_time
    for stamp in stamps[:3]:
        assert abs((stamp - previous).total_seconds() - interval) <= 1.0, (tx.start_time, stamps)
        previous = stamp
    # Nothing clock-aligned once ClockAlignedDataInterval is 0.
    clock = [
        m
        for m in session.messages
        if m.seq > mark
        and m.action == "MeterValues"
        and any(v.get("context") == "Sample.Clock" for _, vs in samples(m) for v in vs)
    ]
    assert not clock, clock
    await remote_stop(session, tx)


async def test_tc071_clock_aligned_meter_values(csms: CentralSystem, make_station) -> None:
    """TC_071_CS Clock-aligned Meter Values.

    ClockAlignedDataInterval 3 (shrunk from 15), MeterValueSampleInterval 0; during a remote
    started transaction three MeterValues.req for the connector with context Sample.Clock, the
    transaction's id ([E] 3.16) and the MeterValuesAlignedData measurands, each stamped on a
    multiple of 3 s since midnight (+-0.5 s) and 3 s (+-1 s) apart ([S] 9.1.5); connector 0
    values carry no transactionId; no Sample.Periodic values at all. Then RemoteStop.
    """
    interval = 3
    station = await make_station()
    session = await boot(csms, station)
    await configure(session, "MeterValueSampleInterval", "0")
    await configure(session, "ClockAlignedDataInterval", str(interval))
    measurands = csl((await read_key(session, "MeterValuesAlignedData"))["value"])

    tx = await remote_charging(csms, station, session)
    mark = session.cursor()

    def aligned_after_start(payload: dict[str, Any]) -> bool:
        return payload["connectorId"] == 1 and any(
            timefmt.parse(mv["timestamp"]) > tx.start_time for mv in payload["meterValue"]
        )

    stamps: list[datetime] = []
    for _ in range(3):
        message = await session.expect("MeterValues", aligned_after_start, timeout=interval + 5)
        assert message.payload.get("transactionId") == tx.transaction_id, message.payload
        for stamp, values in samples(message):
            check_values(values, "Sample.Clock", measurands)
            stamps.append(stamp)
    for stamp in stamps:
        offset = seconds_since_midnight(stamp) % interval
        assert min(offset, interval - offset) <= 0.5, stamps
    for earlier, later in itertools.pairwise(stamps):
        assert abs((later - earlier).total_seconds() - interval) <= 1.0, stamps

    meter_values = [m for m in session.messages if m.seq > mark and m.action == "MeterValues"]
    for m in meter_values:
        for _, values in samples(m):
            assert all(v.get("context", "Sample.Periodic") != "Sample.Periodic" for v in values), m
        if m.payload["connectorId"] == 0:
            assert "transactionId" not in m.payload, m.payload
    await remote_stop(session, tx)
