"""What a charger senses and drives, as small interfaces, plus the simulator behind them."""

from ocpp_station.hardware.interfaces import (
    AcSupply,
    ConnectorHardware,
    Hardware,
    HardwareListener,
    MeterReading,
    Rating,
)
from ocpp_station.hardware.simulator import (
    InvalidAction,
    SimConnector,
    Simulator,
    UnknownConnector,
)
from ocpp_station.hardware.simulator_ev import EXAMPLE_EVS, EvProfile

__all__ = [
    "EXAMPLE_EVS",
    "AcSupply",
    "ConnectorHardware",
    "EvProfile",
    "Hardware",
    "HardwareListener",
    "InvalidAction",
    "MeterReading",
    "Rating",
    "SimConnector",
    "Simulator",
    "UnknownConnector",
]
