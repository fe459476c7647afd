"""Two station behaviours checked on the real process and a real central system:

- a ConnectorLockFailure at a session start (TC_024) is resolved when the cable is taken away:
  Preparing -> Faulted(ConnectorLockFailure) -> Available ([S] 4.9 B9 then I1);
- GetConfigurationMaxKeys is advertised, and a request beyond it is answered in full ([S] 5.8:
  every requested key SHALL be answered; central systems' onboarding scripts ask for more).
"""

from __future__ import annotations

from ocpp_station.csms.server import CentralSystem
from tests.integration.conftest import boot

TAG = "LIMITS-TAG"


async def test_lock_failure_is_resolved_by_removing_the_cable(
    csms: CentralSystem, make_station
) -> None:
    station = await make_station("--socket")
    session = await boot(csms, station)
    await station.post("/api/connectors/1/lock-failure")
    mark = session.cursor()
    await station.plug(1)
    await session.expect("StatusNotification", {"connectorId": 1, "status": "Preparing"})
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect(
        "StatusNotification",
        {"connectorId": 1, "status": "Faulted", "errorCode": "ConnectorLockFailure"},
    )
    await station.unplug(1)
    await session.expect(
        "StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
    )
    await session.expect_none("StartTransaction", within=0.1, after=mark)
    # The lock works again: the next session starts and charges.
    status_code, _ = await station.request("DELETE", "/api/connectors/1/lock-failure")
    assert status_code == 200
    await station.plug(1)
    answer = await session.call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG})
    assert answer == {"status": "Accepted"}
    await session.expect("StartTransaction", {"connectorId": 1}, after=mark)
    await station.wait_status(1, "Charging")


async def test_get_configuration_beyond_max_keys_is_answered(
    csms: CentralSystem, make_station
) -> None:
    station = await make_station()
    session = await boot(csms, station)
    everything = (await session.call("GetConfiguration", {}))["configurationKey"]
    by_name = {entry["key"]: entry for entry in everything}
    limit = int(by_name["GetConfigurationMaxKeys"]["value"])
    assert 1 <= limit < len(everything)  # get-all is not limited
    names = [entry["key"] for entry in everything]
    answer = await session.call("GetConfiguration", {"key": names[:limit]})
    assert [entry["key"] for entry in answer["configurationKey"]] == names[:limit]
    answer = await session.call("GetConfiguration", {"key": names})
    assert [entry["key"] for entry in answer["configurationKey"]] == names
