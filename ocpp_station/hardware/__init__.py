"""What a charger senses and drives, as small interfaces, plus the simulator behind them."""

from ocpp_station.hardware.interfaces import (
    ConnectorHardware,
    Hardware,
    HardwareListener,
    MeterReading,
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
    "ConnectorHardware",
    "EvProfile",
    "Hardware",
    "HardwareListener",
    "InvalidAction",
    "MeterReading",
    "SimConnector",
    "Simulator",
    "UnknownConnector",
]
