"""Smart charging in the real station process: a profile set by the central system over a real
WebSocket limits the power the control API shows, survives a power cut (SIGKILL and a start on
the same state folder, [E] 3.37) and still limits the next session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_station.csms.server import CentralSystem
from ocpp_station.timefmt import iso
from tests.integration.conftest import boot


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
    connector = await station.connector(1)
    assert (connector["limitW"], connector["powerW"]) == (7_000.0, 7_000.0)
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
    connector = await station.connector(2)
    assert (connector["limitW"], connector["powerW"]) == (7_000.0, 7_000.0)
    await station.stop()
