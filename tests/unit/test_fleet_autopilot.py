"""The fleet's drivers on a virtual clock: a real station (the unit harness) driven by the
autopilot for virtual minutes, checked on what the central system received."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ocpp_station import timefmt
from ocpp_station.fleet.autopilot import Autopilot, Counters, round_robin_counter
from ocpp_station.fleet.scenario import Cards, Ev, Faults, Scenario, Sessions
from ocpp_station.hardware.simulator import Simulator
from ocpp_station.station.station import Station
from tests.unit.harness import Harness

QUICK = Sessions(gap=(15, 30), duration=(60, 80), card_delay=(1, 3), unplug_delay=(1, 3))


class Target:
    """The autopilot's view of the harness station."""

    def __init__(self, harness: Harness, index: int = 1) -> None:
        self.h = harness
        self.index = index
        self.powered = True
        self.drops = 0

    @property
    def simulator(self) -> Simulator:
        return self.h.hw

    @property
    def station(self) -> Station:
        return self.h.station

    def drop_connection(self) -> None:
        self.drops += 1


async def drive(
    scenario: Scenario, seconds: float, connectors: int = 2, **harness: Any
) -> tuple[Harness, Counters, Target]:
    h = Harness(connectors, **harness)
    await h.boot()
    target = Target(h)
    counters = Counters()
    pilot = Autopilot(target, connectors, scenario, counters, round_robin_counter(), h.clock)
    pilot.start()
    await h.run_for(seconds, step=0.5)
    pilot.stop()
    await h.close()
    return h, counters, target


async def test_sessions_follow_the_profile() -> None:
    h, counters, _ = await drive(Scenario(sessions=QUICK), 1000)
    starts = h.csms.of("StartTransaction")
    stops = h.csms.of("StopTransaction")
    # Each connector: a gap of 15-30 s, 1-3 s to the card, 60-80 s of charging, 1-3 s to
    # unplug: about ten sessions in 1000 s per connector.
    assert 14 <= len(starts) <= 24, len(starts)
    assert len(stops) in (len(starts), len(starts) - 1, len(starts) - 2)
    assert counters.sessions_begun >= len(starts)
    assert counters.refused == 0
    assert (counters.rejected, counters.failed) == (0, 0)
    # The stop comes 60-80 s after the start (plus the moment for the card to be read).
    ids = {}
    for start, answer in zip(starts, range(100, 100 + len(starts)), strict=True):
        ids[answer] = timefmt.parse(start["timestamp"])
    for stop in stops:
        took = (timefmt.parse(stop["timestamp"]) - ids[stop["transactionId"]]).total_seconds()
        assert 59 <= took <= 82, took
        assert stop.get("reason", "Local") == "Local"  # the same card again
    # Every session of connector 1 walks the §4.9 path and ends Available again.
    statuses = h.csms.statuses(1)
    assert statuses[:4] == ["Available", "Preparing", "Charging", "Finishing"]


async def test_the_same_seed_gives_the_same_fleet() -> None:
    first, _, _ = await drive(Scenario(seed=5, sessions=QUICK), 400)
    again, _, _ = await drive(Scenario(seed=5, sessions=QUICK), 400)
    other, _, _ = await drive(Scenario(seed=6, sessions=QUICK), 400)

    def shape(h: Harness) -> list[tuple[Any, ...]]:
        return [
            (a, p.get("connectorId"), p.get("idTag"), p.get("timestamp")) for a, p in h.csms.sent
        ]

    assert shape(first) == shape(again)
    assert shape(first) != shape(other)


async def test_unplugging_ends_the_session_at_the_ev_side() -> None:
    h, _, _ = await drive(Scenario(sessions=replace(QUICK, stop="unplug")), 400)
    stops = h.csms.of("StopTransaction")
    assert stops and {s["reason"] for s in stops} == {"EVDisconnected"}


async def test_card_modes() -> None:
    cards = Cards("round-robin", ("A", "B", "C"))
    h, _, _ = await drive(Scenario(sessions=QUICK, cards=cards), 400, connectors=1)
    tags = [p["idTag"] for p in h.csms.of("StartTransaction")]
    assert tags[:3] == ["A", "B", "C"]
    per = Cards("per-connector", ("A", "B", "C", "D"))
    h, _, _ = await drive(Scenario(sessions=QUICK, cards=per), 400, connectors=2)
    by_connector = {(p["connectorId"], p["idTag"]) for p in h.csms.of("StartTransaction")}
    assert by_connector == {(1, "A"), (2, "B")}


async def test_a_remote_session_waits_for_the_central_system_then_leaves() -> None:
    sessions = replace(QUICK, remote_share=1.0, remote_wait=20)
    h, counters, _ = await drive(Scenario(sessions=sessions), 300, connectors=1)
    assert h.csms.of("StartTransaction") == []  # nobody sent RemoteStartTransaction
    assert counters.remote_waits >= 2 and counters.remote_timeouts >= 2
    assert counters.cards_presented == 0
    statuses = h.csms.statuses(1)
    assert statuses[:3] == ["Available", "Preparing", "Available"]


async def test_no_one_acts_on_a_station_without_power() -> None:
    h = Harness(1)
    await h.boot()
    target = Target(h)
    target.powered = False
    pilot = Autopilot(
        target, 1, Scenario(sessions=QUICK), Counters(), round_robin_counter(), h.clock
    )
    pilot.start()
    await h.run_for(200, step=1)
    assert h.csms.of("StartTransaction") == [] and not h.hw.connector(1).is_plugged()
    target.powered = True
    pilot.start()  # power back: the cycle resumes
    await h.run_for(200, step=1)
    pilot.stop()
    assert h.csms.of("StartTransaction")


async def test_faults_and_drops_are_injected_at_their_rates() -> None:
    faults = Faults(
        connection_drops_per_hour=360.0,  # one every 10 s on average
        hardware_faults_per_hour=120.0,
        fault_duration=(5, 5),
        error_codes=("GroundFailure",),
    )
    h, counters, target = await drive(Scenario(sessions=QUICK, faults=faults), 600)
    assert 30 <= target.drops <= 100, target.drops
    assert counters.drops == target.drops
    assert 20 <= counters.faults <= 80, counters.faults
    faulted = [p for p in h.csms.of("StatusNotification") if p["status"] == "Faulted"]
    assert faulted and {p["errorCode"] for p in faulted} == {"GroundFailure"}


async def test_configured_evs_are_the_ones_that_arrive() -> None:
    ev = Ev(capacity_kwh=(50, 50), soc_percent=(100, 100), max_power_kw=(10, 10))
    h, _, _ = await drive(Scenario(sessions=QUICK, ev=ev), 200, connectors=1)
    # A full battery draws nothing: the session starts and goes SuspendedEV.
    assert "SuspendedEV" in h.csms.statuses(1)


async def test_rejected_and_failed_sessions_are_counted() -> None:
    """A card the central system refuses is rejected; a session that never got a transaction
    (rejected cards among them) failed; sessions that charged are neither."""
    h = Harness(2)
    await h.boot()
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Blocked" if p["idTag"] == "BAD" else "Accepted"}
    }
    target = Target(h)
    counters = Counters()
    cards = Cards(mode="per-connector", tags=("GOOD", "BAD"))
    pilot = Autopilot(
        target, 2, Scenario(sessions=QUICK, cards=cards), counters, round_robin_counter(), h.clock
    )
    pilot.start()
    await h.run_for(1000, step=0.5)
    pilot.stop()
    await h.close()
    starts = h.csms.of("StartTransaction")
    assert starts and {s["connectorId"] for s in starts} == {1}  # GOOD is connector 1's card
    bad = [p for a, p in h.csms.sent if a == "Authorize" and p["idTag"] == "BAD"]
    assert counters.rejected == len(bad) > 0
    # Connector 2 never charged: each of its sessions failed, but the last one may still be
    # under way when the autopilot stops (its driver has not left yet).
    assert counters.failed in (len(bad), len(bad) - 1)
