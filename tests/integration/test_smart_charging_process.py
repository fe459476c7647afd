"""Smart charging in the real station process: a profile set by the central system over a real
WebSocket limits the power the control API shows, survives a power cut (SIGKILL and a start on
the same state folder, [E] 3.37) and still limits the next session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_station.csms.server import CentralSystem
from ocpp_station.timefmt import iso
from tests.integration.conftest import boot, wait_for


def tx_default(limit_w: float) -> dict[str, Any]:
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "startSchedule": iso(datetime.now(UTC)),
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
            },
        },
    }


async def at_the_limit(station: Any, connector_id: int) -> None:
    """The EV's power rises over its ramp (3 s) to the limit in force, and stays there."""
    status = await wait_for(
        station,
        lambda s: s["connectors"][connector_id]["powerW"] == 7_000.0,
        f"connector {connector_id} at 7 kW",
    )
    assert status["connectors"][connector_id]["limitW"] == 7_000.0
    await asyncio.sleep(0.5)
    connector = await station.connector(connector_id)
    assert (connector["limitW"], connector["powerW"]) == (7_000.0, 7_000.0)


@pytest.mark.parametrize("ac", [False, True], ids=["dc", "ac"])
async def test_a_profile_limits_the_power_and_outlives_a_power_cut(
    csms: CentralSystem, make_station: Any, ac: bool
) -> None:
    args = ("--ac",) if ac else ()
    station = await make_station(*args)
    session = await boot(csms, station)
    assert await session.call("SetChargingProfile", tx_default(7_000.0)) == {"status": "Accepted"}
    await station.plug(1)
    await station.rfid("TAG1", 1)
    await station.wait_status(1, "Charging")
    await at_the_limit(station, 1)
    await station.kill()
    station = await make_station(*args)
    session = await boot(csms, station)
    composite = await session.call(
        "GetCompositeSchedule", {"connectorId": 2, "duration": 60, "chargingRateUnit": "W"}
    )
    periods = composite["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods == [{"startPeriod": 0, "limit": 7_000.0}]
    await station.plug(2)
    await station.rfid("TAG2", 2)
    await station.wait_status(2, "Charging")
    await at_the_limit(station, 2)
    await station.stop()
