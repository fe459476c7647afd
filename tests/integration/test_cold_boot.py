"""01 Cold Boot: TC_001_CS, TC_002_CS."""

from __future__ import annotations

from ocpp_station.csms.server import CentralSystem
from tests.integration.conftest import boot


async def test_tc001_cold_boot(csms: CentralSystem, make_station) -> None:
    csms.heartbeat_interval = 1
    station = await make_station()
    session = await boot(csms, station)
    boot_request = session.messages[0]
    assert boot_request.action == "BootNotification"
    assert boot_request.payload["chargePointVendor"]
    # StatusNotification Available for connector 0 and each connector, then Heartbeats.
    statuses = [m.payload for m in session.messages if m.action == "StatusNotification"]
    assert [(s["connectorId"], s["status"]) for s in statuses] == [
        (0, "Available"),
        (1, "Available"),
        (2, "Available"),
    ]
    first = await session.expect("Heartbeat", timeout=5)
    second = await session.expect("Heartbeat", timeout=5)
    assert second.seq > first.seq
    status = await station.status()
    assert status["registration"] == "Accepted" and status["connected"] is True
