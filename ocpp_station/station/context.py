"""What every service of a station gets: the station's clock, configuration, hardware, ports,
store, sender, status reporter, events, connectors and start guards.

A service takes this context and, explicitly, the peers it calls; nothing else. The store is
here for the profile that installs the service to hand over, typed as the small protocol the
service uses (its constructor says which).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ocpp_station.clock import Clock
from ocpp_station.hardware.interfaces import ConnectorHardware, Hardware, MeterReading
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.charge_point import ChargePoint
from ocpp_station.station.config import Configuration
from ocpp_station.station.events import Events
from ocpp_station.station.guards import StartGuards
from ocpp_station.station.ports import Ports
from ocpp_station.station.sender import Sender
from ocpp_station.station.status_report import StatusReporter
from ocpp_station.storage.interface import StateStore


@dataclass(slots=True, eq=False)
class StationContext:
    identity: str
    info: BootInfo
    clock: Clock
    config: Configuration
    hardware: Hardware
    ports: Ports
    store: StateStore
    sender: Sender
    status: StatusReporter
    events: Events
    cp: ChargePoint
    guards: StartGuards
    # Run a coroutine as the station's task (cancelled when the station closes).
    spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]
    # Reboot the station ("Soft" or "Hard"): the runtime restarts it and reconnects.
    reboot: Callable[[str], Awaitable[None]]

    def hw(self, connector_id: int) -> ConnectorHardware:
        return self.hardware.connectors[connector_id - 1]

    def read_meter(self, connector_id: int) -> MeterReading:
        return self.hardware.connectors[connector_id - 1].read_meter()
