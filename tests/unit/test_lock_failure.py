"""ConnectorLockFailure at a session start (TC_024) and how it is resolved (§4.9 B9, I1-I8).

The socket variant only: a fixed cable has no lock at the station. The failure belongs to the
usage it interrupted; taking the cable away ends that usage and resolves the fault, and the
next session start drives the lock again.
"""

from __future__ import annotations

from tests.unit.harness import Harness
from tests.unit.test_station_sessions import booted


def statuses(h: Harness, connector_id: int = 1) -> list[tuple[str, str]]:
    return [
        (p["status"], p["errorCode"])
        for p in h.csms.of("StatusNotification")
        if p["connectorId"] == connector_id
    ]


async def jammed_start(h: Harness) -> None:
    """TC_024: RemoteStart, plug, the lock does not engage."""
    h.hw.set_lock_failure(1, True)
    await h.request("RemoteStartTransaction", {"idTag": "R1", "connectorId": 1})
    await h.plug(1)
    assert h.csms.of("StartTransaction") == []
    assert statuses(h) == [("Preparing", "NoError"), ("Faulted", "ConnectorLockFailure")]


async def test_removing_the_cable_resolves_the_lock_failure() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    await h.unplug(1)
    # I1: the fault is resolved and the usage it interrupted has ended (B1, plug removed).
    assert statuses(h)[-1] == ("Available", "NoError")
    assert h.status(1) == "Available"
    assert h.connector(1).fault is None
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_while_faulted_nothing_starts_and_the_fault_stays() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    # TC_026: a faulted connector rejects a remote start; the lock is not tried again.
    answer = await h.request("RemoteStartTransaction", {"idTag": "R2", "connectorId": 1})
    assert answer == {"status": "Rejected"}
    h.hw.set_lock_failure(1, False)  # repaired, but nothing told the station
    await h.run_for(3600, step=600)
    assert h.status(1) == "Faulted"
    assert h.csms.of("StartTransaction") == []
    await h.close()


async def test_a_repaired_lock_works_on_the_next_session() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    await h.unplug(1)
    h.hw.set_lock_failure(1, False)
    h.csms.clear()
    await h.plug(1)
    await h.card("TAG1")
    assert [s for s, _ in statuses(h)] == ["Preparing", "Charging"]
    assert h.hw.connectors[0].is_locked()
    assert len(h.csms.of("StartTransaction")) == 1
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_a_lock_still_jammed_faults_again_on_the_next_session() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    await h.unplug(1)
    h.csms.clear()
    await h.plug(1)
    await h.card("TAG1")
    assert statuses(h) == [("Preparing", "NoError"), ("Faulted", "ConnectorLockFailure")]
    assert h.csms.of("StartTransaction") == []
    await h.unplug(1)
    assert h.status(1) == "Available"
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_unavailable_meanwhile_returns_to_unavailable() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    answer = await h.request("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    assert h.status(1) == "Faulted"  # the fault hides the availability until resolved
    await h.unplug(1)
    assert statuses(h)[-1] == ("Unavailable", "NoError")  # I8
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_a_hardware_fault_is_not_cleared_by_removing_the_cable() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    h.hw.raise_fault(1, "GroundFailure")
    await h.settle()
    assert statuses(h)[-1] == ("Faulted", "GroundFailure")
    await h.unplug(1)
    assert h.status(1) == "Faulted"
    assert h.connector(1).error_code == "GroundFailure"
    h.hw.clear_fault(1)
    await h.settle()
    assert statuses(h)[-1] == ("Available", "NoError")
    assert h.station.status.illegal_transitions == []
    await h.close()


async def test_a_hardware_fault_cleared_first_leaves_the_lock_failure() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    h.hw.raise_fault(1, "HighTemperature")
    await h.settle()
    h.hw.clear_fault(1)
    await h.settle()
    # The cable is still in: the lock failure the station saw is still the connector's state.
    assert statuses(h)[-1] == ("Faulted", "ConnectorLockFailure")
    await h.unplug(1)
    assert statuses(h)[-1] == ("Available", "NoError")
    await h.close()


async def test_the_other_connector_is_not_affected() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    await h.plug(2)
    await h.card("TAG2", 2)
    assert h.status(2) == "Charging"
    assert h.status(1) == "Faulted"
    await h.close()


async def test_a_reboot_drives_the_lock_afresh() -> None:
    h = await booted(fixed_cable=False)
    await jammed_start(h)
    h.station.reboot()
    c = h.connector(1)
    assert c.fault is None and not c.lock_failed
    assert h.status(1) == "Preparing"  # the cable is still in
    await h.close()
