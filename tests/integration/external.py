"""Our station run as a station the conformance tool did not start: the way a person runs any
1.6 station against the tool, optionally through a proxy that gives it a defect."""

from __future__ import annotations

from pathlib import Path

from ocpp_station.conformance.drivers import ControlApiDriver
from ocpp_station.conformance.settings import Settings
from ocpp_station.conformance.target import ExternalStation, StationProcess, loopback_url
from ocpp_station.conformance.transcript import StationLink
from ocpp_station.csms.faults import FaultProxy, FaultRates, Tamper
from ocpp_station.csms.server import CentralSystem


class SpawnedElsewhere(ExternalStation):
    """`ocpp-station run` pointed at the tool's address (or at a proxy in front of it, with a
    `tamper`), with its control API given to the tool. The tool only waits for it to connect."""

    def __init__(self, folder: Path, tamper: Tamper | None = None) -> None:
        super().__init__(ControlApiDriver("http://127.0.0.1:1"), say=lambda line: None)
        self.folder = folder
        self.tamper = tamper
        self.process: StationProcess | None = None
        self.proxy: FaultProxy | None = None

    async def open(self, csms: CentralSystem, link: StationLink, settings: Settings) -> None:
        url = loopback_url(csms)
        if self.tamper is not None:
            self.proxy = FaultProxy(url, FaultRates(), tamper=self.tamper)
            await self.proxy.start()
            url = self.proxy.url
        self.process = StationProcess(
            url, "EXT-7", self.folder / "state", self.folder / "station.log", []
        )
        control = await self.process.start()
        assert isinstance(self.driver, ControlApiDriver)
        self.driver.base_url = control
        await super().open(csms, link, settings)

    async def close(self) -> None:
        await super().close()
        if self.process is not None:
            await self.process.terminate()
        if self.proxy is not None:
            await self.proxy.stop()
