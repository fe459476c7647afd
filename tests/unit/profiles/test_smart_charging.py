"""Smart Charging on the station (§3.13, §5.5, §5.7, §5.16, [E] 3.8, 3.37, 3.39): which
profiles are taken and where, replacement, clearing, persistence, TxProfiles ending with their
transaction, RemoteStart's profile, and the limit in force driving the simulated EV: power,
SuspendedEVSE at 0, MeterValues and the control API's limitW."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware import AcSupply, EvProfile, Simulator
from ocpp_station.profiles.smart_charging.service import PENDING_MAX, SmartCharging
from ocpp_station.rpc.errors import PropertyConstraintViolation
from tests.unit.harness import Harness, open_store


@pytest.fixture(autouse=True)
def _info_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The station's INFO lines, where the reasons for refusals and removals are (on its own
    logger: a fleet run in the same process leaves that one at WARNING)."""
    caplog.set_level(logging.INFO, logger="ocpp_station.station")


async def booted(
    store: Any = None,
    clock: VirtualClock | None = None,
    fixed: dict[str, str] | None = None,
    heartbeat: int = 20,
    **config: str,
) -> Harness:
    h = Harness(2, config=config or None, store=store, clock=clock)
    h.csms.answer_boot("Accepted", heartbeat)
    for key, value in (fixed or {}).items():
        h.config.set_fixed(key, value)  # the read-only bounds of a charger's build
    await h.boot()
    h.csms.clear()
    return h


def profile(
    h: Harness,
    profile_id: int,
    purpose: str,
    periods: Sequence[tuple[int, float]],
    *,
    stack: int = 0,
    unit: str = "A",
    kind: str = "Absolute",
    duration: int | None = None,
    start: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
    }
    if kind != "Relative":
        schedule["startSchedule"] = timefmt.iso(h.clock.now() + timedelta(seconds=start))
    if duration is not None:
        schedule["duration"] = duration
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }


async def put(h: Harness, connector_id: int, payload: dict[str, Any]) -> str:
    answer = await h.request(
        "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": payload}
    )
    return str(answer["status"])


async def clear(h: Harness, **criteria: Any) -> str:
    return str((await h.request("ClearChargingProfile", criteria))["status"])


async def schedule(h: Harness, connector_id: int, duration: int, unit: str = "A") -> Any:
    return await h.request(
        "GetCompositeSchedule",
        {"connectorId": connector_id, "duration": duration, "chargingRateUnit": unit},
    )


def periods(answer: Any) -> list[tuple[int, float]]:
    return [
        (p["startPeriod"], p["limit"]) for p in answer["chargingSchedule"]["chargingSchedulePeriod"]
    ]


def installed(h: Harness) -> list[int]:
    return [p.profile_id for p in h.service(SmartCharging).profiles]


async def charging(h: Harness, connector_id: int = 1, tag: str = "TAG") -> int:
    """A session on the connector; its transactionId."""
    await h.plug(connector_id)
    await h.card(tag, connector_id)
    assert h.status(connector_id) == "Charging"
    return int(h.connector(connector_id).transaction.transaction_id)  # type: ignore[arg-type]


def amps(h: Harness, connector_id: int = 1) -> float:
    return h.hw.connector(connector_id).read_meter().current_a


# ---------------------------------------------------------------------------- where profiles go


async def test_a_tx_profile_needs_its_running_transaction() -> None:
    """§3.13.1, TC_058_1 / TC_058_2: no transaction or another transactionId -> Rejected."""
    h = await booted()
    assert await put(h, 1, profile(h, 1, "TxProfile", [(0, 8)])) == "Rejected"
    tx = await charging(h)
    assert await put(h, 1, profile(h, 2, "TxProfile", [(0, 8)], transactionId=tx + 1)) == "Rejected"
    assert await put(h, 2, profile(h, 3, "TxProfile", [(0, 8)])) == "Rejected"
    assert installed(h) == []
    assert await put(h, 1, profile(h, 4, "TxProfile", [(0, 8)], transactionId=tx)) == "Accepted"
    assert await put(h, 1, profile(h, 5, "TxProfile", [(0, 9)], stack=1)) == "Accepted"
    assert installed(h) == [4, 5]
    await h.close()


async def test_each_purpose_goes_where_it_may() -> None:
    """A ChargePointMaxProfile on connector 0 only, a TxProfile never there; a transactionId
    only on a TxProfile (§7.8)."""
    h = await booted()
    await charging(h)
    assert await put(h, 1, profile(h, 1, "ChargePointMaxProfile", [(0, 8)])) == "Rejected"
    assert await put(h, 0, profile(h, 2, "TxProfile", [(0, 8)])) == "Rejected"
    tagged = profile(h, 3, "TxDefaultProfile", [(0, 8)], transactionId=100)
    assert await put(h, 1, tagged) == "Rejected"
    assert await put(h, 0, profile(h, 4, "ChargePointMaxProfile", [(0, 8)])) == "Accepted"
    assert await put(h, 0, profile(h, 5, "TxDefaultProfile", [(0, 8)])) == "Accepted"
    assert installed(h) == [4, 5]
    await h.close()


async def test_a_connector_that_does_not_exist_is_a_call_error() -> None:
    """[E] 3.39: PropertyConstraintViolation, not Rejected; GetCompositeSchedule answers
    Rejected for it."""
    h = await booted()
    with pytest.raises(PropertyConstraintViolation):
        await put(h, 3, profile(h, 1, "TxDefaultProfile", [(0, 8)]))
    assert (await schedule(h, 3, 60)) == {"status": "Rejected"}
    await h.close()


async def test_the_keys_bound_what_is_taken() -> None:
    """§9.4: ChargeProfileMaxStackLevel, ChargingScheduleMaxPeriods,
    ChargingScheduleAllowedChargingRateUnit and MaxChargingProfilesInstalled; and a schedule
    whose first period does not start at 0 ([E] 3.45)."""
    h = await booted(
        fixed={
            "ChargeProfileMaxStackLevel": "2",
            "ChargingScheduleMaxPeriods": "3",
            "ChargingScheduleAllowedChargingRateUnit": "Current",
            "MaxChargingProfilesInstalled": "2",
        }
    )
    assert await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 8)], stack=3)) == "Rejected"
    four = [(0, 1), (10, 2), (20, 3), (30, 4)]
    assert await put(h, 1, profile(h, 2, "TxDefaultProfile", four)) == "Rejected"
    assert await put(h, 1, profile(h, 3, "TxDefaultProfile", [(0, 8)], unit="W")) == "Rejected"
    assert await put(h, 1, profile(h, 4, "TxDefaultProfile", [(5, 8)])) == "Rejected"
    assert await put(h, 1, profile(h, 5, "TxDefaultProfile", four[:3], stack=2)) == "Accepted"
    assert await put(h, 2, profile(h, 6, "TxDefaultProfile", [(0, 8)])) == "Accepted"
    assert await put(h, 0, profile(h, 7, "TxDefaultProfile", [(0, 8)])) == "Rejected"  # full
    # A replacement does not need room.
    assert await put(h, 2, profile(h, 8, "TxDefaultProfile", [(0, 9)])) == "Accepted"
    assert installed(h) == [5, 8]
    await h.close()


async def test_the_same_id_or_stack_and_purpose_on_a_connector_replaces() -> None:
    """§5.16.2: same chargingProfileId, or same stackLevel and purpose (on the same
    connector), replaces; anything else is added."""
    h = await booted()
    assert await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 8)])) == "Accepted"
    assert await put(h, 2, profile(h, 2, "TxDefaultProfile", [(0, 8)])) == "Accepted"
    assert await put(h, 1, profile(h, 3, "TxDefaultProfile", [(0, 7)])) == "Accepted"
    assert installed(h) == [2, 3]
    assert await put(h, 1, profile(h, 2, "TxDefaultProfile", [(0, 6)], stack=4)) == "Accepted"
    assert installed(h) == [2, 3]
    assert [(p.connector_id, p.stack_level) for p in h.service(SmartCharging).profiles] == [
        (1, 4),
        (1, 0),
    ]
    await h.close()


# ---------------------------------------------------------------------------- clearing


async def test_clear_by_id_by_criteria_and_everything() -> None:
    """§5.5, [E] 3.25/3.26: an id names one profile whatever the other fields; criteria are
    ANDed; no field clears all; Unknown when nothing matches."""
    h = await booted()
    await put(h, 0, profile(h, 1, "ChargePointMaxProfile", [(0, 30)]))
    await put(h, 1, profile(h, 2, "TxDefaultProfile", [(0, 8)]))
    await put(h, 1, profile(h, 3, "TxDefaultProfile", [(0, 8)], stack=1))
    await put(h, 2, profile(h, 4, "TxDefaultProfile", [(0, 8)], stack=1))
    assert await clear(h, id=9) == "Unknown"
    assert await clear(h, id=2, connectorId=2) == "Accepted"
    assert installed(h) == [1, 3, 4]
    assert await clear(h, connectorId=1, stackLevel=0) == "Unknown"
    assert (
        await clear(h, chargingProfilePurpose="TxDefaultProfile", stackLevel=1, connectorId=2)
        == "Accepted"
    )
    assert installed(h) == [1, 3]
    assert await clear(h) == "Accepted"
    assert installed(h) == []
    assert await clear(h) == "Unknown"
    await h.close()


# ---------------------------------------------------------------------------- the composite


async def test_the_composite_answer_has_the_shape_errata_3_57_wants() -> None:
    h = await booted()
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 6), (60, 10)], duration=120))
    answer = await schedule(h, 1, 300)
    assert answer["status"] == "Accepted" and answer["connectorId"] == 1
    assert answer["scheduleStart"] == timefmt.iso(h.clock.now().replace(microsecond=0))
    assert "startSchedule" not in answer["chargingSchedule"]
    assert answer["chargingSchedule"]["duration"] == 300
    assert periods(answer) == [(0, 6.0), (60, 10.0), (120, 125.0)]
    default = await h.request("GetCompositeSchedule", {"connectorId": 1, "duration": 10})
    assert default["chargingSchedule"]["chargingRateUnit"] == "A"  # the first allowed unit
    await h.close()


# ---------------------------------------------------------------------------- the limit in force


async def until(h: Harness, instant: float) -> None:
    """Move the virtual clock to the epoch second `instant`."""
    await h.run_for(instant - h.clock.now().timestamp(), step=0.5)


async def test_the_ev_follows_a_stepped_profile_within_a_second() -> None:
    """A TxProfile of 10 kW, 0 from 60 s, 16 kW from 120 s: the EV draws 10 kW, then nothing
    (SuspendedEVSE, reported), then 16 kW (Charging again), each within 0.1 s of its boundary
    (no meter sample or heartbeat helps: the boundary's own timer); limitW shows it in W."""
    h = await booted(MeterValueSampleInterval="0", heartbeat=3600)
    tx = await charging(h)
    steps = profile(h, 1, "TxProfile", [(0, 10_000), (60, 0), (120, 16_000)], unit="W",
                    transactionId=tx)  # fmt: skip
    start = float(int(h.clock.now().timestamp()))  # startSchedule in whole seconds
    assert await put(h, 1, steps) == "Accepted"
    assert power(h) == pytest.approx(10_000.0)
    assert h.station.snapshot(True)["connectors"][1]["limitW"] == 10_000.0
    await until(h, start + 59.9)
    assert power(h) == pytest.approx(10_000.0) and h.status(1) == "Charging"
    await until(h, start + 60.1)
    assert power(h) == 0.0 and h.status(1) == "SuspendedEVSE"
    await until(h, start + 119.9)
    assert h.status(1) == "SuspendedEVSE"
    await until(h, start + 120.1)
    assert h.status(1) == "Charging" and power(h) == pytest.approx(16_000.0)
    assert h.csms.statuses(1)[-2:] == ["SuspendedEVSE", "Charging"]
    # Replaced by a flat profile: no boundary left to wait for, and later changes still apply.
    flat = profile(h, 1, "TxProfile", [(0, 5_000)], unit="W", transactionId=tx)
    assert await put(h, 1, flat) == "Accepted"
    assert (
        await put(h, 0, profile(h, 2, "ChargePointMaxProfile", [(0, 4_000)], unit="W"))
        == "Accepted"
    )
    assert power(h) == pytest.approx(4_000.0)
    await h.close()


def power(h: Harness, connector_id: int = 1) -> float:
    return h.hw.connector(connector_id).read_meter().power_w


async def test_meter_values_show_the_offer() -> None:
    """Power.Offered and Current.Offered in MeterValues are the limit in force."""
    h = await booted(MeterValuesSampledData="Power.Offered,Current.Offered,Current.Import",
                     MeterValueSampleInterval="10")  # fmt: skip
    await charging(h)
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 7_000)], unit="W"))
    volts = h.hw.connector(1).read_meter().voltage_v
    h.csms.clear()
    await h.run_for(11)
    [sample] = h.csms.of("MeterValues")
    values = {s["measurand"]: float(s["value"]) for s in sample["meterValue"][0]["sampledValue"]}
    assert values["Power.Offered"] == pytest.approx(7_000.0)
    assert values["Current.Offered"] == pytest.approx(7_000.0 / volts, abs=0.1)
    assert values["Current.Import"] == pytest.approx(7_000.0 / volts, abs=0.1)
    await h.close()


async def test_a_new_default_applies_to_the_running_session_at_once() -> None:
    """[E] 3.8, TC_082; clearing it gives the full power back."""
    h = await booted()
    await charging(h)
    full = h.hw.connector(1).read_meter().power_w
    await put(h, 0, profile(h, 1, "TxDefaultProfile", [(0, 5_000)], unit="W"))
    assert h.hw.connector(1).read_meter().power_w == pytest.approx(5_000.0)
    assert await clear(h, id=1) == "Accepted"
    assert h.hw.connector(1).read_meter().power_w == pytest.approx(full)
    assert h.station.snapshot(True)["connectors"][1]["limitW"] is None
    await h.close()


async def test_the_charge_point_max_is_a_budget_the_sessions_share() -> None:
    """profile-notes: ChargePointMaxProfile limits the sum; what one connector cannot use
    goes to the other."""
    h = await booted()
    await put(h, 0, profile(h, 1, "ChargePointMaxProfile", [(0, 20_000)], unit="W"))
    await charging(h, 1, "A")
    assert h.hw.connector(1).read_meter().power_w == pytest.approx(20_000.0)
    await charging(h, 2, "B")
    power = [h.hw.connector(c).read_meter().power_w for c in (1, 2)]
    assert power == [pytest.approx(10_000.0), pytest.approx(10_000.0)]
    await put(h, 2, profile(h, 2, "TxDefaultProfile", [(0, 4_000)], unit="W"))
    power = [h.hw.connector(c).read_meter().power_w for c in (1, 2)]
    assert power == [pytest.approx(16_000.0), pytest.approx(4_000.0)]
    await h.close()


async def test_a_tx_profile_ends_with_its_transaction() -> None:
    """§3.13.1: it ceases to be valid when the transaction terminates."""
    h = await booted()
    tx = await charging(h)
    await put(h, 1, profile(h, 1, "TxProfile", [(0, 8)], transactionId=tx))
    await put(h, 1, profile(h, 2, "TxDefaultProfile", [(0, 12)]))
    await h.request("RemoteStopTransaction", {"transactionId": tx})
    assert installed(h) == [2]
    assert periods(await schedule(h, 1, 10)) == [(0, 12.0)]
    await h.close()


async def test_remote_start_carries_the_sessions_profile(caplog: pytest.LogCaptureFixture) -> None:
    """§5.11, TC_059: the TxProfile of RemoteStartTransaction is the session's; TC_060: a
    profile of another purpose, or with a transactionId, makes the start Rejected (the log
    says why)."""
    h = await booted()
    await h.plug(1)
    wrong = profile(h, 9, "TxDefaultProfile", [(0, 7)], kind="Relative")
    start = {"connectorId": 1, "idTag": "TAG", "chargingProfile": wrong}
    assert (await h.request("RemoteStartTransaction", start))["status"] == "Rejected"
    refused = "remote start for TAG refused: "
    assert (
        f"{refused}the chargingProfile of a RemoteStartTransaction must be a TxProfile"
        in caplog.text
    )
    tagged = profile(h, 9, "TxProfile", [(0, 7)], kind="Relative", transactionId=5)
    start["chargingProfile"] = tagged
    assert (await h.request("RemoteStartTransaction", start))["status"] == "Rejected"
    assert (
        f"{refused}a RemoteStartTransaction's chargingProfile carries no transactionId"
        in caplog.text
    )
    assert h.csms.of("StartTransaction") == []
    start["chargingProfile"] = profile(h, 9, "TxProfile", [(0, 7), (30, 9)], kind="Relative")
    assert (await h.request("RemoteStartTransaction", start))["status"] == "Accepted"
    await h.settle()
    assert h.status(1) == "Charging" and installed(h) == [9]
    assert amps(h) == pytest.approx(7.0, rel=1e-3)
    await h.run_for(20)
    assert periods(await schedule(h, 1, 60)) == [(0, 7.0), (10, 9.0)]
    await h.close()


@pytest.mark.parametrize("kind", ["station", "fleet"])
async def test_profiles_survive_a_restart_but_not_their_transaction(
    kind: str, tmp_path: Path
) -> None:
    """[E] 3.37: profiles persist, a replacement included (a libocpp bug resurrected the
    old one); a TxProfile whose transaction the power cut ended is gone."""
    path = tmp_path / "state.db"
    clock = VirtualClock()
    h = await booted(open_store(kind, path), clock)
    tx = await charging(h)
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 8)]))
    await put(h, 1, profile(h, 2, "TxDefaultProfile", [(0, 6)]))  # replaces 1
    await put(h, 0, profile(h, 3, "ChargePointMaxProfile", [(0, 30)]))
    await put(h, 1, profile(h, 4, "TxProfile", [(0, 5)], transactionId=tx))
    h.store.close()  # the power is cut: no close, no StopTransaction from this process
    again = await booted(open_store(kind, path), VirtualClock(clock.now() + timedelta(seconds=5)))
    assert installed(again) == [2, 3]
    assert periods(await schedule(again, 1, 10)) == [(0, 6.0)]
    await again.close()
    again.store.close()


# ---------------------------------------------------------------------------- an AC charger


async def ac_booted(phases: int, **config: str) -> Harness:
    clock = VirtualClock()
    hw = Simulator(clock, 2, seed=7, supply=AcSupply(phases, 32.0, 230.0))
    h = Harness(2, config=config or None, clock=clock, hardware=hw)
    await h.boot()
    h.csms.clear()
    return h


@pytest.mark.parametrize("phases", [3, 1])
async def test_an_ac_charger_limits_amps_per_phase(phases: int) -> None:
    """On AC a limit in A is per phase (W = A x 230 V x phases, [E] 3.69): the EV draws 16 A
    on each phase in use; MeterValues carry Current.Import and Voltage per phase (§7.30)."""
    h = await ac_booted(
        phases,
        MeterValuesSampledData="Current.Import,Voltage,Power.Active.Import",
        MeterValueSampleInterval="10",
    )
    await charging(h)
    assert amps(h) == pytest.approx(32.0)  # the supply's maximum without a profile
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 16)]))
    assert amps(h) == pytest.approx(16.0)
    assert periods(await schedule(h, 1, 60, "W")) == [(0, 16 * 230.0 * phases)]
    h.csms.clear()
    await h.run_for(11)
    [sample] = h.csms.of("MeterValues")
    values = sample["meterValue"][0]["sampledValue"]
    currents = [v for v in values if v["measurand"] == "Current.Import"]
    assert [v["phase"] for v in currents] == ["L1", "L2", "L3"][:phases]
    assert [float(v["value"]) for v in currents] == [pytest.approx(16.0, abs=0.1)] * phases
    volts = [(v["phase"], v["value"]) for v in values if v["measurand"] == "Voltage"]
    assert volts == [(p, "230.0") for p in ("L1-N", "L2-N", "L3-N")[:phases]]
    power = [float(v["value"]) for v in values if v["measurand"] == "Power.Active.Import"]
    assert power == [pytest.approx(16 * 230.0 * phases, rel=1e-3)]
    await h.close()


async def test_fewer_phases_in_the_profile_limit_the_power_more() -> None:
    """numberPhases 1 on a three-phase charger: 16 A on one phase is 3.68 kW; more phases than
    in use never scale a limit up ([E] 3.34)."""
    h = await ac_booted(3)
    await charging(h)
    one = profile(h, 1, "TxDefaultProfile", [(0, 16)])
    one["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = 1
    await put(h, 1, one)
    assert h.hw.connector(1).read_meter().power_w == pytest.approx(3_680.0)
    await h.close()


# ---------------------------------------------------------------------------- what the log says


@pytest.mark.parametrize(
    ("connector_id", "overrides", "why"),
    [
        (1, {"stackLevel": 11}, "stackLevel 11 is above 10"),
        (1, {"periods": [(k * 10, 6) for k in range(49)]}, "49 periods, at most 48"),
        (0, {"purpose": "TxProfile"}, "a TxProfile needs a connector > 0"),
        (
            1,
            {"purpose": "ChargePointMaxProfile"},
            "a ChargePointMaxProfile is for connector 0 only",
        ),
        (1, {"transactionId": 5}, "only a TxProfile may carry a transactionId"),
        (2, {"purpose": "TxProfile"}, "no transaction on connector 2"),
        (
            1,
            {"purpose": "TxProfile", "transactionId": 999},
            "transactionId 999 is not the running one (100)",
        ),
    ],
)
async def test_a_refusal_says_why_in_the_log(
    connector_id: int, overrides: dict[str, Any], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The log tells the operator which rule refused a profile (SetChargingProfile has no
    field for it)."""
    h = await booted()
    await charging(h)  # transaction 100 on connector 1
    extra = {k: v for k, v in overrides.items() if k == "transactionId"}
    payload = profile(
        h,
        3,
        overrides.get("purpose", "TxDefaultProfile"),
        overrides.get("periods", [(0, 6)]),
        stack=overrides.get("stackLevel", 0),
        **extra,
    )
    assert await put(h, connector_id, payload) == "Rejected"
    assert f"SetChargingProfile 3 refused: {why}" in caplog.text
    await h.close()


async def test_units_and_room_refusals_say_why(caplog: pytest.LogCaptureFixture) -> None:
    h = await booted(
        fixed={
            "ChargingScheduleAllowedChargingRateUnit": "Power",
            "MaxChargingProfilesInstalled": "1",
        }
    )
    assert await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 6)])) == "Rejected"
    assert "SetChargingProfile 1 refused: chargingRateUnit A is not allowed here" in caplog.text
    assert await put(h, 1, profile(h, 2, "TxDefaultProfile", [(0, 6_000)], unit="W")) == "Accepted"
    assert await put(h, 2, profile(h, 3, "TxDefaultProfile", [(0, 6_000)], unit="W")) == "Rejected"
    assert "SetChargingProfile 3 refused: 2 profiles would be installed, at most 1" in caplog.text
    # The store full, a RemoteStart's profile has no room either (§5.11: Rejected).
    await h.plug(1)
    tx_profile = profile(h, 9, "TxProfile", [(0, 6_000)], unit="W", kind="Relative")
    start = {"connectorId": 1, "idTag": "TAG", "chargingProfile": tx_profile}
    assert (await h.request("RemoteStartTransaction", start))["status"] == "Rejected"
    assert "its chargingProfile: 2 profiles would be installed, at most 1" in caplog.text
    await h.close()


async def test_a_remote_start_without_connector_counts_its_profile_as_one_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session's connector is not known yet: the profile cannot be taken for one it
    would replace (here the TxProfile of connector 1's session), so a full store refuses."""
    h = await booted(fixed={"MaxChargingProfilesInstalled": "1"})
    tx = await charging(h)
    assert await put(h, 1, profile(h, 1, "TxProfile", [(0, 6)], transactionId=tx)) == "Accepted"
    await h.plug(2)
    tx_profile = profile(h, 9, "TxProfile", [(0, 6)], kind="Relative")
    start = {"idTag": "OTHER", "chargingProfile": tx_profile}
    assert (await h.request("RemoteStartTransaction", start))["status"] == "Rejected"
    assert "2 profiles would be installed, at most 1" in caplog.text
    await h.close()


# ---------------------------------------------------------------------------- more of the limit


async def test_each_connector_gets_its_own_limit_and_idle_ones_show_theirs() -> None:
    """A default on connector 2 alone limits connector 2 only; an idle connector shows the
    lower of its profile and the ChargePointMaxProfile, and connector 0 the latter; limitW has
    one decimal."""
    h = await booted()
    await charging(h, 1)
    await put(h, 2, profile(h, 1, "TxDefaultProfile", [(0, 9)]))
    view = h.station.snapshot(True)["connectors"]
    assert view[1]["limitW"] is None and view[2]["limitW"] == 9 * 400.0
    await put(h, 0, profile(h, 2, "ChargePointMaxProfile", [(0, 5_000)], unit="W"))
    view = h.station.snapshot(True)["connectors"]
    assert (view[0]["limitW"], view[1]["limitW"], view[2]["limitW"]) == (5_000.0, 5_000.0, 3_600.0)
    await put(h, 0, profile(h, 2, "ChargePointMaxProfile", [(0, 3_000)], unit="W"))
    view = h.station.snapshot(True)["connectors"]
    assert (view[0]["limitW"], view[1]["limitW"], view[2]["limitW"]) == (3_000.0, 3_000.0, 3_000.0)
    # An amps limit at the EV's voltage has more decimals than the one limitW keeps.
    volts = h.hw.connector(1).read_meter().voltage_v
    amps_ = next(
        a / 10
        for a in range(30, 45)
        if round(a / 10 * volts, 1) not in (round(a / 10 * volts), round(a / 10 * volts, 2))
    )
    await put(h, 1, profile(h, 3, "TxDefaultProfile", [(0, amps_)]))
    limit = h.station.snapshot(True)["connectors"][1]["limitW"]
    assert limit == round(amps_ * volts, 1)
    await h.close()


async def test_the_station_converts_its_amps_at_the_nominal_voltage() -> None:
    """Connector 0 of the DC charger: a ChargePointMaxProfile of 10 A is 4 kW at 400 V DC;
    without one, the sum of both ratings."""
    h = await booted()
    assert periods(await schedule(h, 0, 10, "W")) == [(0, 100_000.0)]
    await put(h, 0, profile(h, 1, "ChargePointMaxProfile", [(0, 10)]))
    assert periods(await schedule(h, 0, 10, "W")) == [(0, 4_000.0)]
    await h.close()


async def test_a_limit_in_amps_follows_the_evs_voltage_past_one_percent() -> None:
    """DC: amps are the EV's current at its present voltage. A change of the watts below 1 %
    leaves the hardware alone; past it the limit follows the voltage."""
    clock = VirtualClock()
    hw = Simulator(clock, 2, seed=7, ev=EvProfile(40.0, 20.0, 150_000.0))
    h = Harness(2, config={"MeterValueSampleInterval": "60"}, clock=clock, hardware=hw)
    h.csms.answer_boot("Accepted", 3600)  # no heartbeat (whose currentTime re-applies exactly)
    await h.boot()
    await charging(h)
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 100)]))
    first = h.station.snapshot(True)["connectors"][1]["limitW"]
    volts = hw.connector(1).read_meter().voltage_v
    await h.run_for(120, step=10)
    assert hw.connector(1).read_meter().voltage_v > volts  # it moved, by less than 1 %
    assert h.station.snapshot(True)["connectors"][1]["limitW"] == first
    await h.run_for(900, step=30)
    now_volts = hw.connector(1).read_meter().voltage_v
    assert now_volts > volts * 1.01
    limit = h.station.snapshot(True)["connectors"][1]["limitW"]
    assert limit != first and limit == pytest.approx(100 * now_volts, rel=0.011)
    await h.close()


# ---------------------------------------------------------------------------- remote starts


async def test_remote_start_profiles_waiting_for_their_session_are_bounded() -> None:
    """An accepted remote start whose driver never comes leaves its profile waiting; at most
    PENDING_MAX wait, the oldest going first, and a new start for the same idTag replaces
    its own."""
    h = await booted()
    service = h.service(SmartCharging)
    for i in range(PENDING_MAX + 2):
        service.expect(f"T{i}", 1, profile(h, i, "TxProfile", [(0, 6)], kind="Relative"))
    service.expect("T5", 2, profile(h, 99, "TxProfile", [(0, 6)], kind="Relative"))
    waiting = list(service._pending)
    assert len(waiting) == PENDING_MAX
    assert waiting[0] == "T2" and waiting[-1] == "T5" and {"T0", "T1"}.isdisjoint(waiting)
    assert service._pending["T5"][0] == 2
    await h.close()


# ---------------------------------------------------------------------------- the store


async def test_cleared_and_ended_profiles_stay_gone_after_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    clock = VirtualClock()
    h = await booted(open_store("station", path), clock)
    tx = await charging(h)
    await put(h, 1, profile(h, 1, "TxDefaultProfile", [(0, 8)]))
    await put(h, 2, profile(h, 2, "TxDefaultProfile", [(0, 8)]))
    await put(h, 1, profile(h, 3, "TxProfile", [(0, 8)], transactionId=tx))
    assert await clear(h, id=1) == "Accepted"
    await h.request("RemoteStopTransaction", {"transactionId": tx})
    assert "charging profile 3 removed: the transaction on connector 1 ended" in caplog.text
    await h.close()
    h.store.close()
    again = await booted(open_store("station", path), VirtualClock(clock.now()))
    assert installed(again) == [2]
    await again.close()
    again.store.close()


async def test_an_unreadable_stored_profile_is_dropped_from_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    store = open_store("station", path)
    store.record_put("charging_profile", "5", {"connectorId": 1, "received": 0, "profile": {}})
    store.record_put("charging_profile", "6", {"connectorId": 1})
    h = await booted(store)
    assert installed(h) == []
    assert "charging profile 5 in the store is unreadable, dropped" in caplog.text
    assert store.records("charging_profile") == {}
    await h.close()
    store.close()


async def test_a_power_cut_ends_the_tx_profile_with_its_transaction(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    clock = VirtualClock()
    h = await booted(open_store("station", path), clock)
    tx = await charging(h)
    await put(h, 1, profile(h, 4, "TxProfile", [(0, 5)], transactionId=tx))
    h.store.close()
    again = await booted(open_store("station", path), VirtualClock(clock.now()))
    assert "charging profile 4 removed: its transaction ended with the restart" in caplog.text
    assert again.store.records("charging_profile") == {}
    await again.close()
    again.store.close()
