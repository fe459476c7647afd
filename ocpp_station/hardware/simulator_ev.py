"""The simulated electric vehicle: its battery, its DC charging curve, and a few example cars.

The charging curve is analytic so that a connector's meter costs O(1) per read with no tick
timer (a fleet holds tens of thousands of connectors). Between two changes of conditions (offer
switched, EV paused, limit changed) a charge runs in at most three phases:

- a ramp: the power moves linearly from what it was (0 at a start) to P_c over the ramp time,
  as a real EV's current follows its charger's offer over a few seconds;
- constant power P_c = min(EVSE limit, EV maximum) until the EV's own acceptance curve falls
  below P_c (the knee, at or after `taper_start_soc`);
- taper: the EV accepts P(x) = P_max * (1 - k * (x - x_t)), linear in state of charge x, down to
  `final_power_fraction * P_max` at x = 1. With C * dx/dt = P(x) this gives dP/dt = -lambda * P,
  so P decays exponentially in time and energy and SoC have closed forms.

When the EV stops drawing (paused, the offer withdrawn), the power ramps down to 0 the same
way (`RampDown`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields
from typing import Any

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class EvProfile:
    """An EV as the charger sees it. Power in W, capacity in kWh, SoC in percent."""

    capacity_kwh: float
    initial_soc_percent: float
    max_power_w: float
    name: str = "EV"
    voltage_empty_v: float = 350.0  # pack voltage at 0 % (400 V class pack)
    voltage_full_v: float = 400.0  # pack voltage at 100 %
    taper_start_soc: float = 0.8  # fraction where the EV starts to reduce its acceptance
    final_power_fraction: float = 0.05  # acceptance at 100 %, as a fraction of max_power_w

    def __post_init__(self) -> None:
        if not self.capacity_kwh > 0:
            raise ValueError(f"capacity_kwh must be positive, got {self.capacity_kwh}")
        if not 0.0 <= self.initial_soc_percent <= 100.0:
            raise ValueError(
                f"initial_soc_percent must be within 0..100, got {self.initial_soc_percent}"
            )
        if not self.max_power_w > 0:
            raise ValueError(f"max_power_w must be positive, got {self.max_power_w}")
        if not 0.0 < self.voltage_empty_v <= self.voltage_full_v:
            raise ValueError("pack voltages must satisfy 0 < voltage_empty_v <= voltage_full_v")
        if not 0.0 < self.taper_start_soc < 1.0:
            raise ValueError(f"taper_start_soc must be within (0, 1), got {self.taper_start_soc}")
        if not 0.0 < self.final_power_fraction <= 1.0:
            raise ValueError(
                f"final_power_fraction must be within (0, 1], got {self.final_power_fraction}"
            )

    @property
    def capacity_wh(self) -> float:
        return self.capacity_kwh * 1000.0

    @property
    def taper_slope(self) -> float:
        """k in P(x) = P_max * (1 - k * (x - x_t)): the relative drop per unit of SoC."""
        return (1.0 - self.final_power_fraction) / (1.0 - self.taper_start_soc)

    def acceptance_w(self, soc: float) -> float:
        """Power the EV would take at state of charge soc (fraction), without an EVSE limit."""
        if soc <= self.taper_start_soc:
            return self.max_power_w
        return self.max_power_w * (1.0 - self.taper_slope * (min(soc, 1.0) - self.taper_start_soc))

    def voltage_v(self, soc: float) -> float:
        """Pack voltage rises about linearly with state of charge over the usable window."""
        return self.voltage_empty_v + (self.voltage_full_v - self.voltage_empty_v) * soc

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies and costs 40 us, and the simulator's
        # state is saved at every plug and unplug of every station of a fleet.
        return {f: getattr(self, f) for f in _FIELDS}

    @classmethod
    def from_json(cls, data: Any) -> EvProfile:
        if not isinstance(data, dict):
            raise ValueError("an EV profile must be a JSON object")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"malformed EV profile: {exc}") from None


# A few typical cars (DC fast charging figures of common compact to large EVs, rounded). The
# initial SoC here is a placeholder; pick_ev draws a realistic arrival SoC.
EXAMPLE_EVS: tuple[EvProfile, ...] = (
    EvProfile(40.0, 30.0, 46_000.0, name="compact hatchback 40 kWh"),
    EvProfile(52.0, 30.0, 50_000.0, name="city car 52 kWh"),
    EvProfile(58.0, 30.0, 120_000.0, name="compact 58 kWh"),
    EvProfile(75.0, 30.0, 250_000.0, name="sedan 75 kWh", voltage_empty_v=340.0),
    EvProfile(
        77.0,
        30.0,
        230_000.0,
        name="crossover 77 kWh 800 V",
        voltage_empty_v=620.0,
        voltage_full_v=800.0,
    ),
)


def unit_random(*parts: object) -> float:
    """A deterministic number in [0, 1) from the given parts (a seed and what it is for).

    A hash instead of a random.Random per connector: a fleet has tens of thousands of
    connectors and a Random instance holds 2.5 kB of state.
    """
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def pick_ev(seed: int, connector_id: int, arrival: int) -> EvProfile:
    """The arrival-th EV to plug into connector_id: a car from EXAMPLE_EVS at 10-60 % SoC."""
    car = EXAMPLE_EVS[int(unit_random(seed, connector_id, arrival, "car") * len(EXAMPLE_EVS))]
    soc = round(10.0 + 50.0 * unit_random(seed, connector_id, arrival, "soc"), 1)
    return EvProfile(
        car.capacity_kwh,
        soc,
        car.max_power_w,
        name=car.name,
        voltage_empty_v=car.voltage_empty_v,
        voltage_full_v=car.voltage_full_v,
        taper_start_soc=car.taper_start_soc,
        final_power_fraction=car.final_power_fraction,
    )


_FIELDS = tuple(f.name for f in fields(EvProfile))


class ChargeSegment:
    """A charge under constant conditions from monotonic time t0: energy, SoC, power at any t."""

    __slots__ = (
        "e0",
        "e_knee",
        "ev",
        "lag",
        "lam",
        "p_const",
        "p_knee",
        "p_start",
        "ramp",
        "t0",
        "t_full",
        "t_knee",
        "x0",
        "x_knee",
    )

    def __init__(
        self,
        ev: EvProfile,
        t0: float,
        e0: float,
        x0: float,
        limit_w: float,
        *,
        ramp_s: float = 0.0,
        p_start: float = 0.0,
    ) -> None:
        """`ramp_s`: seconds for the power to move from `p_start` (what it was) to the
        constant power; 0: at once."""
        if limit_w <= 0:
            raise ValueError("a charge segment needs a positive power limit")
        if ramp_s < 0 or p_start < 0:
            raise ValueError("a ramp has a duration and a start power of 0 or more")
        self.ev = ev
        self.t0 = t0
        self.e0 = e0
        self.x0 = x0
        cap = ev.capacity_wh
        p_max = ev.max_power_w
        k = ev.taper_slope
        p_const = min(limit_w, p_max)
        self.p_const = p_const
        # The knee: where the EV's acceptance curve meets the EVSE limit.
        x_knee = ev.taper_start_soc + (1.0 - p_const / p_max) / k
        if x0 >= x_knee:
            x_knee = x0
        self.lam = p_max * k / (SECONDS_PER_HOUR * cap)  # 1/s
        if x_knee >= 1.0:
            # The limit is below the EV's acceptance even at 100 %: constant power to the end.
            self.x_knee = 1.0
            self.t_knee = (1.0 - x0) * cap * SECONDS_PER_HOUR / p_const
            self.p_knee = p_const
            self.t_full = self.t_knee
        else:
            self.x_knee = x_knee
            self.t_knee = (x_knee - x0) * cap * SECONDS_PER_HOUR / p_const
            self.p_knee = min(p_const, ev.acceptance_w(x_knee))
            p_end = ev.final_power_fraction * p_max
            self.t_full = self.t_knee + math.log(self.p_knee / p_end) / self.lam
        # The ramp gives the energy of (ramp - lag) seconds at constant power, so the knee and
        # the end come `lag` later. A ramp that would cross the knee is left out: the EV is
        # already past its constant phase, and its taper starts at once.
        lag = ramp_s * (p_const - p_start) / (2.0 * p_const)
        if ramp_s > 0 and self.t_knee + lag >= ramp_s:
            self.ramp, self.lag, self.p_start = ramp_s, lag, p_start
            self.t_knee += lag
            self.t_full += lag
        else:
            self.ramp, self.lag, self.p_start = 0.0, 0.0, p_const
        self.e_knee = e0 + (self.x_knee - x0) * cap

    def at(self, t: float) -> tuple[float, float, float]:
        """(energy register Wh, SoC fraction, power W) at monotonic time t (>= t0)."""
        dt = max(t - self.t0, 0.0)
        if dt < self.ramp:
            slope = (self.p_const - self.p_start) / self.ramp
            e = self.e0 + (self.p_start * dt + slope * dt * dt / 2.0) / SECONDS_PER_HOUR
            x = self.x0 + (e - self.e0) / self.ev.capacity_wh
            return e, x, self.p_start + slope * dt
        if dt < self.t_knee:
            e = self.e0 + self.p_const * (dt - self.lag) / SECONDS_PER_HOUR
            x = self.x0 + (e - self.e0) / self.ev.capacity_wh
            return e, x, self.p_const
        if dt < self.t_full:
            decay = math.exp(-self.lam * (dt - self.t_knee))
            delta = self.p_knee * (1.0 - decay) / (self.lam * SECONDS_PER_HOUR)
            x = min(self.x_knee + delta / self.ev.capacity_wh, 1.0)
            return self.e_knee + delta, x, self.p_knee * decay
        return self.full_energy(), 1.0, 0.0

    def full_energy(self) -> float:
        """The register when the battery reaches 100 %."""
        return self.e0 + (1.0 - self.x0) * self.ev.capacity_wh

    @property
    def full_at(self) -> float:
        """Monotonic time at which the battery reaches 100 % under these conditions."""
        return self.t0 + self.t_full


class RampDown:
    """The power falling linearly from `p0` to 0 over `ramp_s` seconds from t0, after the EV
    stopped drawing: energy and SoC go on rising a little (never past a full battery)."""

    __slots__ = ("capacity_wh", "e0", "p0", "ramp", "t0", "x0")

    def __init__(
        self, t0: float, e0: float, x0: float, p0: float, ramp_s: float, capacity_wh: float
    ) -> None:
        if not ramp_s > 0:
            raise ValueError("a ramp down lasts some time")
        self.t0, self.e0, self.x0, self.p0, self.ramp = t0, e0, x0, p0, ramp_s
        self.capacity_wh = capacity_wh

    def at(self, t: float) -> tuple[float, float, float]:
        dt = min(max(t - self.t0, 0.0), self.ramp)
        delivered = (self.p0 * dt - self.p0 * dt * dt / (2.0 * self.ramp)) / SECONDS_PER_HOUR
        delivered = min(delivered, (1.0 - self.x0) * self.capacity_wh)
        return (
            self.e0 + delivered,
            self.x0 + delivered / self.capacity_wh,
            self.p0 * (1.0 - dt / self.ramp),
        )
