"""Smart Charging: what a composite schedule costs, what profiles cost a fleet, and a session's
power following a stepped profile.

1. GetCompositeSchedule of connector 1 over 24 h with 10 stacked TxDefaultProfiles of 48
   half-hour periods each (and a ChargePointMaxProfile), in us per call: the pure function and
   the station's handler (the answer built), against one single-period profile in the same run.
2. A fleet against the minimal central system (bench_fleet's run), without profiles and then
   with a TxDefaultProfile on every station stepping every 10 s in amps (the heavier path: a
   limit in amps is looked at again at every meter sample), CPU cores and us per frame of each,
   and their ratio. SC_FLEET stations (default 1000), SC_WINDOW s (default 60) after
   SC_WARMUP s (default 20); SC_FLEET=0 skips it.
3. A session on a simulated station with a virtual clock under a stepped TxProfile: the EV's
   power every 10 s, printed as a chart.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocpp_station import profiles, timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.hardware import Simulator
from ocpp_station.hardware.simulator_ev import EvProfile
from ocpp_station.profiles.smart_charging.composite import (
    ConnectorFacts,
    Electrical,
    Facts,
    composite,
)
from ocpp_station.profiles.smart_charging.model import ChargingProfile
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.station import Station
from ocpp_station.storage.store import StationStore

FLEET = int(os.environ.get("SC_FLEET", "1000"))
WINDOW = os.environ.get("SC_WINDOW", "60")
WARMUP = os.environ.get("SC_WARMUP", "20")
DAY = 86_400
T0 = int(datetime(2027, 1, 15, tzinfo=UTC).timestamp())


def payload(profile_id: int, stack: int, periods: list[tuple[int, float]], **extra: Any) -> Any:
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "startSchedule": timefmt.iso(datetime.fromtimestamp(T0, UTC)),
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
        **extra,
    }
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }


def stacked() -> list[dict[str, Any]]:
    """10 TxDefaultProfiles, stack 0 to 9: 48 half-hour periods each, the higher ones shorter
    (so each falls through to the one below at a different time)."""
    out = []
    for stack in range(10):
        periods = [(k * 1800, 6.0 + (k * 7 + stack * 3) % 26) for k in range(48)]
        out.append(payload(stack + 1, stack, periods, duration=DAY - stack * 5_000))
    return out


def per_call(fn: Any, seconds: float = 1.0) -> float:
    """us per call of fn(), over about `seconds`."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        took = time.perf_counter() - start
        if took >= seconds:
            return took / n * 1e6
        n *= 2


# ---------------------------------------------------------------------------- 1. the composite


def composite_costs() -> None:
    dc = Electrical(400.0, 1, 50_000.0)
    facts = Facts({1: ConnectorFacts(dc, None), 2: ConnectorFacts(dc, None)}, dc)
    ten = [ChargingProfile.from_request(1, p, T0) for p in stacked()]
    one = [ChargingProfile.from_request(1, payload(1, 0, [(0, 16.0)]), T0)]
    pure_ten = per_call(lambda: composite(ten, 1, T0, DAY, "A", facts))
    pure_one = per_call(lambda: composite(one, 1, T0, DAY, "A", facts))
    periods = len(composite(ten, 1, T0, DAY, "A", facts))
    print(
        f"composite, pure function, 24 h: 10 stacked profiles {pure_ten:.0f} us/call "
        f"({periods} periods) | 1 profile {pure_one:.1f} us/call | ratio {pure_ten / pure_one:.0f}x"
    )
    clock = VirtualClock(datetime.fromtimestamp(T0, UTC))
    station = build(clock)
    handler = synchronous(station, "GetCompositeSchedule")
    set_profile = synchronous(station, "SetChargingProfile")
    request = {"connectorId": 1, "duration": DAY, "chargingRateUnit": "A"}
    set_profile({"connectorId": 1, "csChargingProfiles": payload(1, 0, [(0, 16.0)])})
    station_one = per_call(lambda: handler(request))
    for p in stacked():
        assert set_profile({"connectorId": 1, "csChargingProfiles": p})["status"] == "Accepted"
    station_ten = per_call(lambda: handler(request))
    print(
        f"GetCompositeSchedule through the station's handler, 24 h: 10 stacked profiles "
        f"{station_ten:.0f} us/call | 1 profile {station_one:.1f} us/call | "
        f"ratio {station_ten / station_one:.0f}x"
    )


def synchronous(station: Station, action: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The station's handler of `action`, which answers at once (no await)."""
    handler = station.handlers()[action][0]

    def call(request: dict[str, Any]) -> dict[str, Any]:
        answer = handler(request)
        if not isinstance(answer, dict):
            raise TypeError(f"{action} does not answer at once")
        return answer

    return call


def build(clock: VirtualClock, ev: EvProfile | None = None) -> Station:
    hardware = Simulator(clock, 2, seed=1, ev=ev)
    store = StationStore(None)
    config = profiles.configuration(connectors=2, measurands=hardware.measurands, store=store)
    config.set_initial("MeterValueSampleInterval", "0")
    return Station(
        identity="BENCH",
        clock=clock,
        hardware=hardware,
        config=config,
        store=store,
        info=BootInfo("Vendor", "Model", "SN", "1.0"),
    )


# ---------------------------------------------------------------------------- 2. a fleet


def fleet_profile() -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    periods = [{"startPeriod": k * 10, "limit": 50.0 if k % 2 else 80.0} for k in range(48)]
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "startSchedule": timefmt.iso(now),
                "chargingSchedulePeriod": periods,
            },
        },
    }


async def fleet_costs() -> None:
    os.environ.setdefault("FLEET_WINDOW", WINDOW)
    os.environ.setdefault("FLEET_WARMUP", WARMUP)
    sys.path.insert(0, os.path.dirname(__file__))
    import bench_fleet  # reads its environment at import: after the defaults above

    plain = await bench_fleet.run_size(FLEET, None)
    limited = await bench_fleet.run_size(FLEET, None, fleet_profile())
    for name, r in (("no profile", plain), ("a profile on every station", limited)):
        print(
            f"fleet of {FLEET}, {name}: {r['cpu_cores']:.3f} cores, "
            f"{r['cpu_us_per_frame']:.0f} us/frame, {r['frames_per_s']:.0f} frames/s, "
            f"lost {r['lost']}"
            + (f", SetChargingProfile {r['profile_statuses']}" if "profile_statuses" in r else "")
        )
    print(
        f"fleet CPU with profiles / without: {limited['cpu_cores'] / plain['cpu_cores']:.2f}x "
        f"cores, {limited['cpu_us_per_frame'] / plain['cpu_us_per_frame']:.2f}x per frame"
    )


# ---------------------------------------------------------------------------- 3. the plot


class Csms:
    """Accepts everything at once."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = timefmt.iso(self.clock.now())
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 300}
        if action == "StartTransaction":
            return {"transactionId": next(self.ids), "idTagInfo": {"status": "Accepted"}}
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "Heartbeat":
            return {"currentTime": now}
        return {}


async def stepped_session() -> None:
    clock = VirtualClock(datetime.fromtimestamp(T0, UTC))
    ev = EvProfile(77.0, 20.0, 150_000.0, name="crossover 77 kWh")
    station = build(clock, ev)
    station.connected(Csms(clock))
    for _ in range(50):
        await asyncio.sleep(0)
    hw = station.hardware
    hw.plug(1)  # type: ignore[attr-defined]
    hw.present_card("TAG", 1)  # type: ignore[attr-defined]
    for _ in range(50):
        await asyncio.sleep(0)
    steps = [(0, 110.0), (60, 60.0), (120, 0.0), (180, 90.0), (240, 30.0)]
    periods = [{"startPeriod": s, "limit": v} for s, v in steps]
    tx = station.ctx.cp.connector(1).transaction
    assert tx is not None
    answer = synchronous(station, "SetChargingProfile")(
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": periods},
            },
        }
    )
    shown = ", ".join(f"{v:g}@{s}" for s, v in steps)
    print(f"stepped TxProfile (Relative, A): {shown}: {answer['status']}; read 1 s into each 10 s")
    print("  t (s) | limit A | status        | power kW")
    for t in range(0, 300, 10):
        for _ in range(10 if t else 1):  # to t + 1: a second after each boundary
            clock.advance(1.0)
            for _ in range(5):
                await asyncio.sleep(0)
        reading = hw.connectors[0].read_meter()
        limit = [v for s, v in steps if s <= t][-1]
        status = station.ctx.cp.connector(1).status
        bar = "#" * round(reading.power_w / 2500)
        print(f"  {t + 1:5d} | {limit:7.0f} | {status:13s} | {reading.power_w / 1000:6.1f} {bar}")
    await station.close()


async def main() -> None:
    composite_costs()
    await stepped_session()
    if FLEET:
        await fleet_costs()


if __name__ == "__main__":
    asyncio.run(main())
