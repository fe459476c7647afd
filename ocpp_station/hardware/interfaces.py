"""The hardware boundary: what a charger maker implements with real drivers.

The station's behaviour talks to the hardware only through these small interfaces. Commands go
down (contactor, lock, meter reads); events come up through a HardwareListener that the station
registers. The simulator in this package implements them by default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ocpp_station.station.ports import FirmwareInstaller

# What a presented card did: {"outcome": "started" | "stopped" | "waitingForCable" | "ended" |
# "rejected" | "refused" | "ignored" | "noConnector", "connectorId"?, "transactionId"?,
# "status"? (the idTagInfo status), "reason"?}.
CardOutcome = dict[str, Any]


@dataclass(slots=True)
class MeterReading:
    """One reading of a connector's meter, in the units OCPP 1.6 uses by default (7.31/7.33)."""

    energy_wh: float  # Energy.Active.Import.Register, never decreases
    power_w: float  # Power.Active.Import
    current_a: float  # Current.Import
    voltage_v: float  # Voltage (DC link)
    soc_percent: float | None  # SoC of the EV, None when no EV
    temperature_c: float  # Temperature (connector/cable)
    current_offered_a: float  # Current.Offered
    power_offered_w: float  # Power.Offered
    # 0 for DC; on AC the phases drawn from, each carrying current_a at voltage_v (phase to
    # neutral): MeterValues then report Current.Import, Current.Offered and Voltage per phase.
    phases: int = 0


@dataclass(frozen=True, slots=True)
class AcSupply:
    """An AC charger's supply: `phases` of `max_current_a` each at `voltage_v` phase to
    neutral (three phases x 32 A at 230 V is 22 kW)."""

    phases: int = 3
    max_current_a: float = 32.0
    voltage_v: float = 230.0

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"an AC supply has 1 or 3 phases, not {self.phases}")
        if not self.max_current_a > 0 or not self.voltage_v > 0:
            raise ValueError("an AC supply needs a positive current and voltage")

    @property
    def max_power_w(self) -> float:
        return self.phases * self.max_current_a * self.voltage_v


@dataclass(frozen=True, slots=True)
class Rating:
    """What a connector can deliver, for smart charging's limits (§3.13): its maximum, and
    what converts amps to watts (W = A x voltage x phases, [E] 3.69)."""

    max_power_w: float
    # 0 for DC (a limit in amps is the EV's current, at its present voltage); else the AC
    # phases wired to the connector (1 or 3).
    phases: int
    # DC: the link voltage assumed while no EV tells its own; AC: phase to neutral.
    voltage_v: float


@runtime_checkable
class HardwareListener(Protocol):
    """Implemented by the station; the hardware calls these, synchronously, after the fact."""

    def cable_plugged(self, connector_id: int) -> None: ...

    def cable_unplugged(self, connector_id: int) -> None: ...

    def ev_suspended(self, connector_id: int) -> None:
        """The EV stopped drawing power (battery full, or the EV paused)."""
        ...

    def ev_resumed(self, connector_id: int) -> None: ...

    def fault_raised(self, connector_id: int, error_code: str, info: str | None) -> None:
        """A fault became active; connector 0 is the station as a whole."""
        ...

    def fault_cleared(self, connector_id: int) -> None: ...

    def card_presented(
        self, id_tag: str, connector_id: int | None
    ) -> Awaitable[CardOutcome] | None:
        """A card at the single RFID reader; connector_id when the driver chose one. What the
        card did comes later (an Authorize may be out): a reader may await it to light its LED.
        """
        ...


@runtime_checkable
class ConnectorHardware(Protocol):
    connector_id: int
    fixed_cable: bool
    has_lock: bool

    @property
    def rating(self) -> Rating:
        """The connector's maximum and what converts its amps to watts."""
        ...

    def is_plugged(self) -> bool: ...

    def ev_wants_power(self) -> bool:
        """A plugged EV would draw power if offered (not paused, not full)."""
        ...

    def set_energy_offered(self, on: bool) -> None:
        """Close (True) or open (False) the contactor; False also when suspended by the EVSE."""
        ...

    def set_power_limit(self, limit_w: float | None) -> None:
        """Offer at most `limit_w` watts (smart charging's limit in force, §3.13); None offers
        the connector's full power. 0 W offers nothing while the contactor stays closed."""
        ...

    def lock(self) -> bool:
        """True when locked; False means ConnectorLockFailure."""
        ...

    def unlock(self) -> bool:
        """True when released."""
        ...

    def read_meter(self) -> MeterReading: ...

    def active_fault(self) -> tuple[str, str | None] | None:
        """(errorCode, info) of the active fault, or None."""
        ...


@runtime_checkable
class Hardware(Protocol):
    @property
    def connectors(self) -> Sequence[ConnectorHardware]:
        """connectors[i].connector_id == i + 1"""
        ...

    @property
    def measurands(self) -> frozenset[str]:
        """The OCPP measurands this hardware can report."""
        ...

    def set_listener(self, listener: HardwareListener) -> None: ...

    def station_fault(self) -> tuple[str, str | None] | None:
        """The active fault of connector 0 (the station as a whole), or None."""
        ...


@runtime_checkable
class HasFirmwareInstaller(Protocol):
    """Real hardware whose platform installs firmware itself (its updater): the runtime then
    uses it for UpdateFirmware instead of the simulator's installer."""

    @property
    def firmware_installer(self) -> FirmwareInstaller: ...
