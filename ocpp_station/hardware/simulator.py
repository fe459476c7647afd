"""The simulated charger hardware: fixed-cable DC connectors, EVs, a meter, one RFID reader.

`Simulator` implements the `Hardware` interfaces for the station and offers the driver-side
actions (plug, card, EV pause, faults) that the HTTP control API and the tests call. Meters are
computed lazily from the clock (see simulator_ev): no timer runs per connector except one that
fires when a charging battery reaches 100 %, so a process can hold tens of thousands of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any, Final

from ocpp.v16.enums import ChargePointErrorCode, Measurand

from ocpp_station.clock import Clock, Timer
from ocpp_station.hardware.interfaces import (
    AcSupply,
    CardOutcome,
    HardwareListener,
    MeterReading,
    Rating,
)
from ocpp_station.hardware.simulator_ev import (
    ChargeSegment,
    EvProfile,
    RampDown,
    pick_ev,
    unit_random,
)

SNAPSHOT_VERSION: Final = 1

# The DC link voltage a limit in amps is converted at while no EV reports its own (a 400 V
# class pack at mid charge).
DC_NOMINAL_V: Final = 400.0
# The reference charger's power per connector (its model, DC-2x50: 50 kW on each).
DC_MAX_POWER_W: Final = 50_000.0
AMBIENT_C: Final = 25.0
# Cable and contact heating: a mild rise with power (liquid-cooled DC cables stay within a few
# tens of degrees of ambient at full load).
TEMPERATURE_RISE_C_PER_KW: Final = 0.1

# idTag is a CiString20Type (OCPP 1.6 7.28, 7.15) and StatusNotification info a CiString50Type
# (7.17): the station could not send longer values, so the hardware refuses them at the source.
ID_TAG_MAX_LENGTH: Final = 20
INFO_MAX_LENGTH: Final = 50

MEASURANDS: Final = frozenset(
    m.value
    for m in (
        Measurand.energy_active_import_register,
        Measurand.power_active_import,
        Measurand.current_import,
        Measurand.voltage,
        Measurand.soc,
        Measurand.temperature,
        Measurand.current_offered,
        Measurand.power_offered,
    )
)

# The one ChargePointErrorCode that is a warning (§4.9): the EV stops drawing, nothing faults.
EV_COMMUNICATION_ERROR: Final = "EVCommunicationError"

_ERROR_CODES: Final = frozenset(
    c.value for c in ChargePointErrorCode if c is not ChargePointErrorCode.no_error
)

# EV states while plugged: draws when offered, paused by the EV (driver action), battery full.
READY: Final = "ready"
PAUSED: Final = "paused"
FULL: Final = "full"
_EV_STATES: Final = (READY, PAUSED, FULL)


class UnknownConnector(LookupError):
    """The connector id does not exist on this station."""


class InvalidAction(Exception):
    """A driver-side action that makes no sense in the current physical state."""


def _is_station(connector_id: object) -> bool:
    """Connector id 0: the station as a whole (an int; not False, not 0.0)."""
    return type(connector_id) is int and connector_id == 0


def _is_printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _check_error_code(error_code: object) -> str:
    code = error_code.value if isinstance(error_code, ChargePointErrorCode) else error_code
    if not isinstance(code, str) or code not in _ERROR_CODES:
        raise ValueError(
            f"{error_code!r} is not an OCPP 1.6 ChargePointErrorCode other than NoError"
        )
    return code


def _check_info(info: object) -> str | None:
    if info is None:
        return None
    if not isinstance(info, str) or len(info) > INFO_MAX_LENGTH or not _is_printable_ascii(info):
        raise ValueError(f"fault info must be printable ASCII of at most {INFO_MAX_LENGTH} chars")
    return info


class SimConnector:
    """One simulated connector: cable, optional lock, contactor, meter and the EV plugged in."""

    __slots__ = (
        "_arrivals",
        "_energy_wh",
        "_ev",
        "_ev_state",
        "_fault",
        "_limit_w",
        "_lock_failure",
        "_locked",
        "_offered",
        "_plugged",
        "_power_w",
        "_segment",
        "_sim",
        "_soc",
        "_tail",
        "_timer",
        "connector_id",
        "fixed_cable",
        "has_lock",
    )

    def __init__(self, sim: Simulator, connector_id: int, energy_wh: float) -> None:
        self._sim = sim
        self.connector_id = connector_id
        self.fixed_cable = sim.fixed_cable
        self.has_lock = sim.has_lock
        self._plugged = False
        self._ev: EvProfile | None = None
        self._ev_state: str | None = None
        self._soc = 0.0  # fraction; meaningful only while an EV is plugged
        self._energy_wh = energy_wh
        self._arrivals = 0  # EVs plugged so far: picks the next EV deterministically
        self._offered = False
        self._limit_w: float | None = None
        self._segment: ChargeSegment | None = None
        # The power falling after the EV stopped drawing, and the power at the last change
        # of conditions (where the next ramp starts).
        self._tail: RampDown | None = None
        self._power_w = 0.0
        self._timer: Timer | None = None
        self._fault: tuple[str, str | None] | None = None
        self._locked = False
        self._lock_failure = False

    # --- ConnectorHardware -------------------------------------------------------------------

    def is_plugged(self) -> bool:
        return self._plugged

    def ev_wants_power(self) -> bool:
        return self._plugged and self._ev_state == READY and not self._ev_link_lost()

    def set_energy_offered(self, on: bool) -> None:
        if on != self._offered:
            self._settle()
            self._offered = on
            self._plan()

    def lock(self) -> bool:
        if not self.has_lock:
            return True  # a fixed cable (or a socket without a lock) has nothing to lock
        if self._lock_failure:
            return False
        self._locked = True
        return True

    def unlock(self) -> bool:
        if self.fixed_cable:
            return False  # a fixed cable cannot be released at the station
        if not self.has_lock:
            return True
        if self._lock_failure:
            return False
        self._locked = False
        return True

    def read_meter(self) -> MeterReading:
        energy, soc, power = self._now_state()
        ev = self._ev
        offered = self.power_offered_w()
        supply = self._sim.supply
        if supply is not None:
            # AC: the grid's voltage on each phase, the current shared by the phases.
            voltage, phases = supply.voltage_v, supply.phases
        else:
            # DC: the EV's pack voltage, one current (no phases).
            voltage, phases = (ev.voltage_v(soc) if ev is not None else 0.0), 0
        per_phase = voltage * max(phases, 1)
        return MeterReading(
            energy_wh=energy,
            power_w=power,
            current_a=power / per_phase if per_phase else 0.0,
            voltage_v=voltage,
            soc_percent=soc * 100.0 if ev is not None else None,
            temperature_c=AMBIENT_C + TEMPERATURE_RISE_C_PER_KW * power / 1000.0,
            current_offered_a=offered / per_phase if per_phase else 0.0,
            power_offered_w=offered,
            phases=phases,
        )

    def active_fault(self) -> tuple[str, str | None] | None:
        return self._fault

    @property
    def rating(self) -> Rating:
        return self._sim.rating

    def set_power_limit(self, limit_w: float | None) -> None:
        """Cap the power offered (W) below the EVSE maximum; None removes the cap."""
        if limit_w is not None and not limit_w >= 0:
            raise ValueError(f"power limit must be >= 0 W or None, got {limit_w}")
        self._settle()
        self._limit_w = limit_w
        self._plan()

    # --- Beyond the interface: introspection -------------------------------------------------

    def power_offered_w(self) -> float:
        """Power.Offered: the EVSE maximum (or the lower limit) while offering, else 0."""
        if not self._offered:
            return 0.0
        limit = self._sim.max_power_w
        return limit if self._limit_w is None else min(limit, self._limit_w)

    def is_energy_offered(self) -> bool:
        return self._offered

    def is_locked(self) -> bool:
        return self._locked

    @property
    def ev(self) -> EvProfile | None:
        """The EV plugged in, or None."""
        return self._ev

    @property
    def soc_percent(self) -> float | None:
        """The EV's state of charge now, or None without an EV."""
        return self._now_state()[1] * 100.0 if self._ev is not None else None

    def seconds_to_full(self) -> float | None:
        """Seconds until the battery reaches 100 % under present conditions; None if not drawing."""
        if self._segment is None:
            return None
        return max(0.0, self._segment.full_at - self._sim.clock.monotonic())

    # --- Internals ---------------------------------------------------------------------------

    def _now_state(self) -> tuple[float, float, float]:
        """(energy Wh, SoC fraction, power W) now."""
        if self._segment is not None:
            return self._segment.at(self._sim.clock.monotonic())
        if self._tail is not None:
            return self._tail.at(self._sim.clock.monotonic())
        return self._energy_wh, self._soc, 0.0

    def _settle(self) -> None:
        """Fold the running charge into the stored register and SoC before conditions change."""
        self._energy_wh, self._soc, self._power_w = self._now_state()
        self._segment = self._tail = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _ev_link_lost(self) -> bool:
        """An EVCommunicationError is active: the EV cannot be told it may draw, so it does
        not, while the EVSE keeps offering (a warning, not a fault: §4.9, §7.6)."""
        return self._fault is not None and self._fault[0] == EV_COMMUNICATION_ERROR

    def _plan(self) -> None:
        """Start a charge segment if the EV draws under the present conditions."""
        offered = self.power_offered_w()
        ramp = self._sim.ramp_seconds
        p_from, self._power_w = self._power_w, 0.0
        clock = self._sim.clock
        now = clock.monotonic()
        ev = self._ev
        if ev is None or self._ev_state != READY or offered <= 0.0 or self._ev_link_lost():
            if ev is not None and p_from > 0.0 and ramp > 0.0:
                self._tail = RampDown(now, self._energy_wh, self._soc, p_from, ramp, ev.capacity_wh)
            return
        segment = ChargeSegment(
            ev, now, self._energy_wh, self._soc, offered, ramp_s=ramp, p_start=p_from
        )
        self._segment = segment
        self._timer = clock.call_later(segment.full_at - now, self._battery_full)

    def _battery_full(self) -> None:
        segment = self._segment
        self._timer = None
        if segment is None:
            return
        # Exactly full, even if the timer fired a hair early (asyncio allows one clock tick).
        self._energy_wh = segment.full_energy()
        self._soc = 1.0
        self._segment = None
        self._ev_state = FULL
        self._sim._notify_ev_suspended(self.connector_id)

    def _plug(self) -> None:
        self._arrivals += 1
        sim = self._sim
        ev = sim.ev if sim.ev is not None else pick_ev(sim.seed, self.connector_id, self._arrivals)
        self._plugged = True
        self._ev = ev
        self._soc = ev.initial_soc_percent / 100.0
        self._ev_state = FULL if self._soc >= 1.0 else READY
        self._plan()

    def _unplug(self) -> None:
        self._settle()
        self._power_w = 0.0  # the cable is out: nothing flows any more
        self._plugged = False
        self._ev = None  # a different EV next time
        self._ev_state = None
        self._soc = 0.0

    def _set_ev_state(self, state: str) -> None:
        self._settle()
        self._ev_state = state
        self._plan()

    def _snapshot(self) -> dict[str, Any]:
        energy, soc, _ = self._now_state()
        ev = self._ev
        return {
            "id": self.connector_id,
            "plugged": self._plugged,
            "energy_wh": energy,
            "ev": ev.to_json() if ev is not None else None,
            "soc_percent": soc * 100.0 if ev is not None else None,
            "ev_state": self._ev_state,
            "fault": _fault_json(self._fault),
            "locked": self._locked,
            "lock_failure": self._lock_failure,
            "arrivals": self._arrivals,
        }

    def _restore(self, data: dict[str, Any]) -> None:
        plugged = _field(data, "plugged", bool)
        energy = _number(data, "energy_wh")
        arrivals = _field(data, "arrivals", int)
        ev_data = data.get("ev")
        if plugged:
            ev = EvProfile.from_json(ev_data)
            soc = _number(data, "soc_percent")
            if not 0.0 <= soc <= 100.0:
                raise ValueError(f"connector {self.connector_id}: soc_percent out of range")
            state = data.get("ev_state")
            if state not in _EV_STATES:
                raise ValueError(f"connector {self.connector_id}: bad ev_state {state!r}")
        elif ev_data is not None:
            raise ValueError(f"connector {self.connector_id}: an EV without a plugged cable")
        fault = _fault_from_json(data.get("fault"))
        locked = _field(data, "locked", bool)
        lock_failure = _field(data, "lock_failure", bool)
        # Validated; now apply. The contactor is open after a restart: the station decides.
        self._settle()
        self._power_w = 0.0  # after a restart the contactor is open: nothing flows
        self._offered = False
        self._limit_w = None
        self._plugged = plugged
        self._energy_wh = energy
        self._arrivals = arrivals
        if plugged:
            self._ev, self._soc, self._ev_state = ev, soc / 100.0, state
        else:
            self._ev, self._soc, self._ev_state = None, 0.0, None
        self._fault = fault
        self._locked = locked
        self._lock_failure = lock_failure


def _fault_json(fault: tuple[str, str | None] | None) -> dict[str, Any] | None:
    return None if fault is None else {"error_code": fault[0], "info": fault[1]}


def _fault_from_json(data: Any) -> tuple[str, str | None] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("a fault must be a JSON object or null")
    return _check_error_code(data.get("error_code")), _check_info(data.get("info"))


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    # bool is an int in Python; a flag must not pass as a count or the other way round.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"snapshot field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"snapshot field {key!r} must be a non-negative number, got {value!r}")
    return float(value)


def initial_register_wh(seed: int, connector_id: int) -> float:
    """The meter reading of a connector when the simulator is built: 0.1 to 100 MWh.

    A meter is a lifetime register, and a charger in service has delivered tens of MWh already.
    Starting away from zero keeps the station honest (transaction energy is meterStop -
    meterStart, never the register itself) while staying far below the 2**31 Wh that the
    integer meterStart and meterStop of StartTransaction/StopTransaction can carry.
    """
    return float(round(100_000 + 99_900_000 * unit_random(seed, connector_id, "meter")))


class Simulator:
    """Simulated hardware of a DC (or, with an AcSupply, AC) charging station, implementing
    `Hardware`."""

    measurands: frozenset[str] = MEASURANDS

    def __init__(
        self,
        clock: Clock,
        connectors: int = 2,
        *,
        fixed_cable: bool = True,
        has_lock: bool = False,
        max_power_w: float = DC_MAX_POWER_W,
        seed: int | None = None,
        ev: EvProfile | None = None,
        supply: AcSupply | None = None,
        ramp_seconds: float = 0.0,
    ) -> None:
        """A DC charger of `max_power_w` per connector, or, with `supply`, an AC charger whose
        connectors each get that supply (its power replaces max_power_w)."""
        if isinstance(connectors, bool) or not isinstance(connectors, int) or connectors < 1:
            raise ValueError(f"connectors must be a positive integer, got {connectors!r}")
        if fixed_cable and has_lock:
            raise ValueError("a fixed cable has no lock at the station (has_lock needs a socket)")
        if not max_power_w > 0:
            raise ValueError(f"max_power_w must be positive, got {max_power_w}")
        self.clock = clock
        self.fixed_cable = fixed_cable
        self.has_lock = has_lock
        self.supply = supply
        if supply is None:
            self.max_power_w = float(max_power_w)
            self.rating = Rating(self.max_power_w, 0, DC_NOMINAL_V)
        else:
            self.max_power_w = supply.max_power_w
            self.rating = Rating(self.max_power_w, supply.phases, supply.voltage_v)
        self.seed = seed if seed is not None else secrets.randbits(63)
        self.ev = ev
        if not 0.0 <= ramp_seconds <= 60.0:
            raise ValueError(f"ramp_seconds must be within 0..60, got {ramp_seconds}")
        # How long the EV's power takes to follow a change (0: at once).
        self.ramp_seconds = float(ramp_seconds)
        self._listener: HardwareListener | None = None
        self._station_fault: tuple[str, str | None] | None = None
        self.connectors: tuple[SimConnector, ...] = tuple(
            SimConnector(self, cid, initial_register_wh(self.seed, cid))
            for cid in range(1, connectors + 1)
        )

    # --- Hardware ----------------------------------------------------------------------------

    def set_listener(self, listener: HardwareListener) -> None:
        self._listener = listener

    def station_fault(self) -> tuple[str, str | None] | None:
        return self._station_fault

    # --- Driver-side actions -----------------------------------------------------------------

    def connector(self, connector_id: int) -> SimConnector:
        """Connector 1..N, or UnknownConnector."""
        if (
            isinstance(connector_id, bool)
            or not isinstance(connector_id, int)
            or not 1 <= connector_id <= len(self.connectors)
        ):
            raise UnknownConnector(f"Connector {connector_id!r} does not exist.")
        return self.connectors[connector_id - 1]

    def plug(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if c._plugged:
            raise InvalidAction(f"Connector {connector_id} is already plugged in.")
        c._plug()
        if self._listener is not None:
            self._listener.cable_plugged(connector_id)

    def unplug(self, connector_id: int) -> None:
        # Allowed while locked: the cable can always be pulled out at the EV side (OCPP 1.6
        # 4.10, StopTransactionOnEVSideDisconnect).
        c = self.connector(connector_id)
        if not c._plugged:
            raise InvalidAction(f"Connector {connector_id} is not plugged in.")
        c._unplug()
        if self._listener is not None:
            self._listener.cable_unplugged(connector_id)

    def present_card(
        self, id_tag: str, connector_id: int | None = None
    ) -> Awaitable[CardOutcome] | None:
        """A card at the reader; what it did, when the station listens."""
        if (
            not isinstance(id_tag, str)
            or not 1 <= len(id_tag) <= ID_TAG_MAX_LENGTH
            or not _is_printable_ascii(id_tag)
        ):
            raise ValueError(f"an idTag is 1 to {ID_TAG_MAX_LENGTH} printable ASCII characters")
        if connector_id is not None:
            self.connector(connector_id)
        if self._listener is None:
            return None
        return self._listener.card_presented(id_tag, connector_id)

    def suspend_ev(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if not c._plugged:
            raise InvalidAction(f"No EV is plugged into connector {connector_id}.")
        if c._ev_state != READY:
            raise InvalidAction(f"The EV on connector {connector_id} is already suspended.")
        c._set_ev_state(PAUSED)
        self._notify_ev_suspended(connector_id)

    def resume_ev(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if not c._plugged:
            raise InvalidAction(f"No EV is plugged into connector {connector_id}.")
        if c._ev_state == FULL:
            raise InvalidAction(f"The battery of the EV on connector {connector_id} is full.")
        if c._ev_state != PAUSED:
            raise InvalidAction(f"The EV on connector {connector_id} is not suspended.")
        c._set_ev_state(READY)
        if self._listener is not None:
            self._listener.ev_resumed(connector_id)

    def raise_fault(self, connector_id: int, error_code: str, info: str | None = None) -> None:
        """A fault on a connector, or on the station as a whole (0); replaces an active one."""
        code = _check_error_code(error_code)
        text = _check_info(info)
        if _is_station(connector_id):
            if code == EV_COMMUNICATION_ERROR:
                raise ValueError(f"{code} concerns an EV, never connector 0 (§4.9)")
            self._station_fault = (code, text)
        else:
            c = self.connector(connector_id)
            c._settle()
            c._fault = (code, text)
            c._plan()
        if self._listener is not None:
            self._listener.fault_raised(connector_id, code, text)

    def clear_fault(self, connector_id: int) -> None:
        if _is_station(connector_id):
            if self._station_fault is None:
                raise InvalidAction("The station has no active fault.")
            self._station_fault = None
        else:
            c = self.connector(connector_id)
            if c._fault is None:
                raise InvalidAction(f"Connector {connector_id} has no active fault.")
            c._settle()
            c._fault = None
            c._plan()
        if self._listener is not None:
            self._listener.fault_cleared(connector_id)

    def set_lock_failure(self, connector_id: int, fail: bool) -> None:
        """Make the lock of a socket connector jam (lock and unlock fail) or work again."""
        c = self.connector(connector_id)
        if not c.has_lock:
            raise InvalidAction(f"Connector {connector_id} has no lock.")
        c._lock_failure = bool(fail)

    # --- Persistence of the physical world ---------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The physical state as plain JSON-able data, for a station restart to see it again."""
        return {
            "version": SNAPSHOT_VERSION,
            "station_fault": _fault_json(self._station_fault),
            "connectors": [c._snapshot() for c in self.connectors],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Put the world back as a snapshot describes it; the contactors start open.

        The listener is not called: the restarted station reads the state through the
        interfaces as it boots, just as it would read real sensors.
        """
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"not a version {SNAPSHOT_VERSION} hardware snapshot")
        items = data.get("connectors")
        if not isinstance(items, list) or len(items) != len(self.connectors):
            raise ValueError(
                f"the snapshot must describe exactly {len(self.connectors)} connectors"
            )
        for cid, item in enumerate(items, start=1):
            if not isinstance(item, dict) or item.get("id") != cid:
                raise ValueError(f"snapshot entry {cid} must be the object of connector {cid}")
        station_fault = _fault_from_json(data.get("station_fault"))
        # Validate every entry before changing anything, so a bad snapshot changes nothing.
        staging = [SimConnector(self, cid, 0.0) for cid in range(1, len(self.connectors) + 1)]
        for conn, item in zip(staging, items, strict=True):
            conn._restore(item)
        for conn, item in zip(self.connectors, items, strict=True):
            conn._restore(item)
        self._station_fault = station_fault

    # --- Internals ---------------------------------------------------------------------------

    def _notify_ev_suspended(self, connector_id: int) -> None:
        if self._listener is not None:
            self._listener.ev_suspended(connector_id)
