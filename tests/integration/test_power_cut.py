"""`POST /api/power-cut` on the real station process: the power goes as with SIGKILL in the
middle of a session, the API says so (409) while it is off, and the station comes back from
its state folder and ends the interrupted session with PowerLoss (§4.8, TC_032)."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp_station.csms.server import CentralSystem
from tests.integration.conftest import boot, wait_for


async def test_a_power_cut_mid_session(csms: CentralSystem, make_station: Any) -> None:
    station = await make_station()
    session = await boot(csms, station)
    await station.plug(1)
    await station.rfid("TAG1", 1)
    await session.expect("StartTransaction")
    await station.wait_status(1, "Charging")
    transaction_id = (await station.connector(1))["transactionId"]
    assert isinstance(transaction_id, int)
    before = await station.post("/api/power-cut", {"offSeconds": 1.5})
    assert before == {"powered": False, "offSeconds": 1.5}
    status, error = await station.request("GET", "/api/status")
    assert (status, error) == (
        409,
        {"error": "the station has no power (a power cut); it comes back itself"},
    )
    assert (await station.request("POST", "/api/power-cut"))[0] == 409  # off already
    # No StopTransaction before the power went: as after SIGKILL, it comes with the restart.
    async with asyncio.timeout(10):
        await session.closed.wait()  # the power cut: no close handshake, the link just goes
    back = await csms.wait_for_station("CP-1", timeout=15)
    await back.expect("BootNotification")
    stop = (await back.expect("StopTransaction")).payload
    assert (stop["reason"], stop["transactionId"]) == ("PowerLoss", transaction_id)
    status_after = await wait_for(station, lambda s: s["registration"] == "Accepted", "back")
    # The cable is still in the EV: the connector shows Finishing, ready for the next card.
    assert status_after["connectors"][1]["plugged"] is True
    await station.wait_status(1, "Finishing")
    bad = await station.request("POST", "/api/power-cut", {"offSeconds": -1})
    assert bad == (422, {"error": "offSeconds must be a number from 0 to 3600"})
