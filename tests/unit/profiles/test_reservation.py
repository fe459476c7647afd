"""Reservation (§5.1, §5.13, §6.37, [E] 4.12): every ReserveNow answer, the status Reserved and
the Available that ends it, who may use a reservation, the reservationId in StartTransaction,
connector-0 reservations, and reservations kept across a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.profiles.reservation.service import Reservations
from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.authorization import AuthService
from ocpp_station.station.config import Configuration
from tests.unit.harness import Harness, open_store

GROUP = "PARENT"


async def booted(
    store: Any = None, clock: VirtualClock | None = None, connectors: int = 2, **config: str
) -> Harness:
    h = Harness(connectors, config=config or None, store=store, clock=clock)
    # The central system knows A1 and A2 as one group (parentIdTag PARENT).
    h.csms.responders["Authorize"] = lambda p: {"idTagInfo": info(p["idTag"])}
    await h.boot()
    h.csms.clear()
    return h


def info(id_tag: str) -> dict[str, Any]:
    if id_tag.startswith("A"):
        return {"status": "Accepted", "parentIdTag": GROUP}
    return {"status": "Accepted"}


async def reserve(
    h: Harness,
    reservation_id: int,
    connector_id: int,
    id_tag: str = "TAG",
    *,
    seconds: float = 600,
    parent: str | None = None,
) -> str:
    payload: dict[str, Any] = {
        "connectorId": connector_id,
        "expiryDate": timefmt.iso(h.clock.now() + timedelta(seconds=seconds)),
        "idTag": id_tag,
        "reservationId": reservation_id,
    }
    if parent is not None:
        payload["parentIdTag"] = parent
    return str((await h.request("ReserveNow", payload))["status"])


async def cancel(h: Harness, reservation_id: int) -> str:
    return str((await h.request("CancelReservation", {"reservationId": reservation_id}))["status"])


def starts(h: Harness) -> list[tuple[int, str, int | None]]:
    return [
        (p["connectorId"], p["idTag"], p.get("reservationId"))
        for p in h.csms.of("StartTransaction")
    ]


def held(h: Harness) -> set[int]:
    return set(h.service(Reservations).held)


async def test_reserved_then_used_by_its_card_the_start_carries_the_id() -> None:
    h = await booted()
    assert await reserve(h, 7, 1, "TAG") == "Accepted"
    assert h.csms.statuses(1) == ["Reserved"] and h.status(2) == "Available"
    await h.plug(1)
    await h.card("TAG")
    assert starts(h) == [(1, "TAG", 7)]
    assert h.csms.statuses(1) == ["Reserved", "Preparing", "Charging"]
    assert held(h) == set()  # ended by the session (§5.13 (1))
    assert await cancel(h, 7) == "Rejected"
    await h.close()


async def test_a_card_naming_no_connector_goes_to_the_one_reserved_for_it() -> None:
    h = await booted()
    assert await reserve(h, 8, 2, "TAG") == "Accepted"
    await h.card("TAG")  # one reader: connector 1 is free too, but 2 is held for this card
    assert h.status(2) == "Preparing" and h.status(1) == "Available"
    await h.plug(2)
    assert starts(h) == [(2, "TAG", 8)]
    await h.close()


async def test_other_cards_are_refused_on_the_reserved_connector() -> None:
    h = await booted()
    assert await reserve(h, 9, 1, "TAG") == "Accepted"
    await h.plug(1)
    await h.card("OTHER", 1)
    assert starts(h) == [] and held(h) == {9}
    assert h.connector(1).authorization is None
    # Presented without a connector, another card goes to the free connector instead.
    await h.card("OTHER")
    assert h.status(2) == "Preparing" and h.connector(2).authorization is not None
    await h.close()


async def test_remote_start_of_another_card_on_a_reserved_connector_starts_nothing() -> None:
    h = await booted(AuthorizeRemoteTxRequests="false")
    assert await reserve(h, 10, 1, "TAG") == "Accepted"
    await h.plug(1)
    answer = await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"})
    assert answer == {"status": "Accepted"}  # its group is not known before the Authorize
    assert h.csms.of("Authorize") == [{"idTag": "OTHER"}]  # §5.13: asked, as no list knows it
    assert starts(h) == [] and held(h) == {10}
    await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    assert starts(h) == [(1, "TAG", 10)]
    assert h.csms.of("Authorize") == [{"idTag": "OTHER"}]  # the reserved tag needs no group
    await h.close()


@pytest.mark.parametrize("remote", [False, True])
async def test_a_card_of_the_reserved_group_may_use_it(remote: bool) -> None:
    h = await booted(AuthorizeRemoteTxRequests="false")
    assert await reserve(h, 11, 1, "A1", parent=GROUP) == "Accepted"
    await h.plug(1)
    if remote:
        await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "A2"})
    else:
        await h.card("A2", 1)
    assert h.csms.of("Authorize") == [{"idTag": "A2"}]  # the parent comes from Authorize.conf
    assert starts(h) == [(1, "A2", 11)]
    await h.close()


@pytest.mark.parametrize(
    ("reserved_tag", "reserved_parent", "card"),
    [
        ("A1", None, "A1"),  # the idTag itself, any case (§7.28)
        ("a1", None, "A1"),
        (GROUP, None, "A2"),  # the card's parent is the reserved idTag
        ("X", GROUP, "A1"),  # the card's parent is the reserved parent
    ],
)
async def test_each_pair_of_idtag_and_parent_admits(
    reserved_tag: str, reserved_parent: str | None, card: str
) -> None:
    h = await booted()
    assert await reserve(h, 12, 1, reserved_tag, parent=reserved_parent) == "Accepted"
    await h.plug(1)
    await h.card(card, 1)
    assert starts(h) == [(1, card, 12)]
    await h.close()


async def test_expiry_reports_available_at_the_expiry_date_and_not_before() -> None:
    h = await booted()
    assert await reserve(h, 13, 1, seconds=30) == "Accepted"
    await h.run_for(29)
    assert h.csms.statuses(1) == ["Reserved"]
    await h.run_for(2)
    assert h.csms.statuses(1) == ["Reserved", "Available"]  # TC_047
    assert held(h) == set() and await cancel(h, 13) == "Rejected"
    await h.close()


@pytest.mark.parametrize("told", [True, False])
async def test_a_wall_clock_set_back_postpones_the_expiry(told: bool) -> None:
    h = await booted()
    assert await reserve(h, 14, 1, seconds=30) == "Accepted"
    await h.run_for(25)  # past the Heartbeat at 20 s, whose answer sets the clock
    h.clock.set_time(h.clock.now() - timedelta(seconds=60))
    if told:  # the central system set it; untold, the timer finds out when it fires
        h.station.events.clock_set.emit()
    await h.run_for(6)
    assert held(h) == {14}  # expiryDate is a wall time: 65 s to go from the change
    await h.run_for(58)
    assert held(h) == {14}
    await h.run_for(2)
    assert held(h) == set() and h.status(1) == "Available"
    await h.close()


async def test_a_wall_clock_set_forward_brings_the_expiry_closer() -> None:
    h = await booted()
    assert await reserve(h, 15, 1, seconds=100) == "Accepted"
    h.clock.set_time(h.clock.now() + timedelta(seconds=90))
    h.station.events.clock_set.emit()
    await h.run_for(11)
    assert held(h) == set() and h.csms.statuses(1) == ["Reserved", "Available"]
    await h.close()


async def test_cancel_releases_and_reports_available() -> None:
    h = await booted()
    assert await reserve(h, 15, 2) == "Accepted"
    assert await cancel(h, 15) == "Accepted"
    assert h.csms.statuses(2) == ["Reserved", "Available"]
    assert await cancel(h, 15) == "Rejected"
    assert await cancel(h, 99) == "Rejected"  # TC_052
    await h.close()


async def test_the_same_reservation_id_replaces_the_reservation() -> None:
    h = await booted()
    assert await reserve(h, 16, 1, "TAG") == "Accepted"
    assert await reserve(h, 16, 1, "NEW") == "Accepted"  # not Occupied by itself
    assert h.service(Reservations).on(1).id_tag == "NEW"
    assert await reserve(h, 16, 2, "NEW") == "Accepted"  # moved: 1 is free again
    assert h.csms.statuses(1) == ["Reserved", "Available"] and h.csms.statuses(2) == ["Reserved"]
    assert held(h) == {16}
    await h.close()


async def test_answers_faulted_unavailable_occupied() -> None:
    h = await booted()
    h.hw.raise_fault(1, "GroundFailure")
    await h.settle()
    assert await reserve(h, 20, 1) == "Faulted"
    await h.request("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
    assert await reserve(h, 21, 2) == "Unavailable"
    h.hw.clear_fault(1)
    await h.request("ChangeAvailability", {"connectorId": 2, "type": "Operative"})
    await h.plug(1)
    assert await reserve(h, 22, 1) == "Occupied"  # a cable in: Preparing
    await h.card("USER", 1)
    assert h.status(1) == "Charging" and await reserve(h, 23, 1) == "Occupied"
    assert await reserve(h, 24, 2, "TAG") == "Accepted"
    assert await reserve(h, 25, 2, "TAG") == "Occupied"  # reserved, the same idTag too
    assert held(h) == {24}
    await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert held(h) == set()  # §5.13 (3): the reserved connector became Unavailable
    assert await reserve(h, 26, 2) == "Unavailable"
    await h.close()


async def test_rejected_when_disabled_unknown_connector_or_already_expired() -> None:
    h = await booted()
    assert await reserve(h, 30, 3) == "Rejected"
    assert await reserve(h, 31, 1, seconds=-1) == "Rejected"
    h.station.config.change("ReservationEnabled", "false")
    assert await reserve(h, 32, 1) == "Rejected"
    assert h.csms.statuses() == [] and held(h) == set()
    with pytest.raises(PropertyConstraintViolation):
        await h.request(
            "ReserveNow",
            {"connectorId": 1, "expiryDate": "soon", "idTag": "T", "reservationId": 33},
        )
    await h.close()


async def test_connector_zero_unsupported_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    h = await booted()
    # The key is read-only (§9.3), so a station built without the support is imitated.
    real = Configuration.get_bool
    monkeypatch.setattr(
        Configuration,
        "get_bool",
        lambda self, key: key != "ReserveConnectorZeroSupported" and real(self, key),
    )
    assert await reserve(h, 34, 0) == "Rejected"
    assert await reserve(h, 35, 1) == "Accepted"
    await h.close()


async def test_a_fault_ends_the_reservation_and_the_connector_comes_back_available() -> None:
    h = await booted()
    assert await reserve(h, 36, 1) == "Accepted"
    h.hw.raise_fault(1, "GroundFailure")
    await h.settle()
    assert held(h) == set()
    h.hw.clear_fault(1)
    await h.settle()
    assert h.csms.statuses(1) == ["Reserved", "Faulted", "Available"]  # G9, I1
    await h.close()


async def test_connector_zero_keeps_the_last_idle_connector_for_its_card() -> None:
    h = await booted()
    assert await reserve(h, 40, 0, "TAG") == "Accepted"
    assert h.csms.statuses() == []  # two idle connectors, one is needed: none held yet
    await h.plug(1)
    assert h.status(2) == "Reserved"  # TC_049: the last idle one is kept
    await h.card("OTHER", 1)  # a cable in already: not one of the kept connectors
    assert starts(h) == [(1, "OTHER", None)]
    await h.card("THIRD", 2)
    assert len(starts(h)) == 1  # refused: connector 2 is kept for TAG
    assert await reserve(h, 41, 0, "MORE") == "Occupied"
    assert await reserve(h, 42, 2, "MORE") == "Occupied"  # connector 0's reservation needs it
    await h.plug(2)
    await h.card("TAG", 2)
    assert starts(h)[-1] == (2, "TAG", 40)
    assert h.csms.statuses(2) == ["Reserved", "Preparing", "Charging"] and held(h) == set()
    await h.close()


async def test_connector_zero_card_on_any_connector_uses_it_and_frees_the_other() -> None:
    h = await booted()
    assert await reserve(h, 43, 0, "TAG") == "Accepted"
    await h.plug(2)
    assert h.status(1) == "Reserved"
    await h.card("TAG", 2)  # on the connector with the cable, not the kept one
    assert starts(h) == [(2, "TAG", 43)]
    assert h.csms.statuses(1) == ["Reserved", "Available"]
    await h.close()


async def test_connector_zero_on_a_busy_station_answers_why() -> None:
    h = await booted(connectors=1)
    h.hw.raise_fault(1, "GroundFailure")
    await h.settle()
    assert await reserve(h, 44, 0) == "Faulted"
    h.hw.clear_fault(1)
    await h.settle()
    assert await reserve(h, 45, 0) == "Accepted"
    assert h.status(1) == "Reserved"  # one connector: kept at once
    assert await reserve(h, 46, 0) == "Occupied"
    await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert held(h) == set()  # the station became Unavailable
    assert await reserve(h, 47, 0) == "Unavailable"
    await h.close()


async def test_the_control_status_shows_each_reservation() -> None:
    h = await booted()
    assert await reserve(h, 50, 1, "TAG", seconds=60) == "Accepted"
    assert await reserve(h, 51, 0, "ANY", seconds=120) == "Accepted"
    view = h.station.snapshot(True)
    by_id = {entry["id"]: entry for entry in view["connectors"]}
    expiry = timefmt.iso(h.clock.now() + timedelta(seconds=60))
    assert by_id[1]["reservation"] == {"reservationId": 50, "idTag": "TAG", "expiryDate": expiry}
    assert by_id[0]["reservation"]["reservationId"] == 51
    assert by_id[2]["reservation"] is None
    assert list(view)[-2:] == ["connectors", "queuedMessages"]
    await h.close()


@pytest.mark.parametrize("kind", ["station", "fleet"])
async def test_reservations_survive_a_restart_and_expire_on_time(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    clock = VirtualClock()
    h = await booted(open_store(kind, path), clock)
    assert await reserve(h, 60, 1, "TAG", seconds=100, parent=GROUP) == "Accepted"
    assert await reserve(h, 61, 2, "OLD", seconds=10) == "Accepted"
    await h.close()
    h.store.close()
    # Off for 20 s (a new process, a new clock): reservation 61 expired meanwhile.
    clock = VirtualClock(clock.now() + timedelta(seconds=20))
    again = await booted(open_store(kind, path), clock)
    assert held(again) == {60}
    r = again.service(Reservations).on(1)
    assert r is not None and (r.id_tag, r.parent_id_tag) == ("TAG", GROUP)
    assert again.status(1) == "Reserved" and again.status(2) == "Available"
    await again.run_for(81)
    assert held(again) == set() and again.csms.statuses(1) == ["Available"]
    await again.close()
    again.store.close()
    third = await booted(open_store(kind, path), VirtualClock(clock.now()))
    assert held(third) == set()  # the expiry was written
    await third.close()
    third.store.close()


async def test_a_reset_keeps_the_reservation() -> None:
    h = await booted()
    assert await reserve(h, 70, 1, seconds=100) == "Accepted"
    await h.request("Reset", {"type": "Soft"})
    await h.run_for(5)
    assert held(h) == {70} and h.status(1) == "Reserved"
    await h.run_for(100)
    assert held(h) == set() and h.status(1) == "Available"
    await h.close()


async def test_a_remote_start_uses_what_the_cache_knows_of_the_group() -> None:
    h = await booted(AuthorizationCacheEnabled="true", AuthorizeRemoteTxRequests="false")
    auth = h.service(AuthService)
    auth.remember("A2", {"status": "Accepted", "parentIdTag": GROUP})
    auth.remember("OTHER", {"status": "Accepted"})
    assert await reserve(h, 80, 1, "A1", parent=GROUP) == "Accepted"
    # A card the station knows, of no group of the reservation: refused at once.
    answer = await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"})
    assert answer == {"status": "Rejected"}
    await h.plug(1)
    answer = await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "A2"})
    assert answer == {"status": "Accepted"}
    assert h.csms.of("Authorize") == []  # §5.13: the group came from the cache
    assert starts(h) == [(1, "A2", 80)]
    await h.close()


async def test_an_expiry_date_of_now_is_past_and_so_is_one_reached_while_off(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    h = await booted(open_store("station", tmp_path / "s.db"), clock)
    assert await reserve(h, 90, 1, seconds=0) == "Rejected"
    assert await reserve(h, 91, 1, seconds=30) == "Accepted"
    assert await reserve(h, 92, 2, seconds=60) == "Accepted"
    assert await cancel(h, 92) == "Accepted"  # gone from the store too
    await h.close()
    h.store.close()
    again = await booted(
        open_store("station", tmp_path / "s.db"), VirtualClock(clock.now() + timedelta(seconds=30))
    )
    assert held(again) == set()  # expired exactly at power-up, and the cancelled one stays gone
    await again.close()
    again.store.close()


async def test_the_log_says_why_each_reservation_ended(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="ocpp_station.station")
    h = await booted()
    await reserve(h, 100, 1, "TAG", seconds=5)
    await h.run_for(6)
    await reserve(h, 101, 1, "TAG")
    await cancel(h, 101)
    await reserve(h, 102, 2, "TAG")
    await h.plug(2)
    await h.card("TAG", 2)
    await reserve(h, 103, 1, "TAG")
    h.hw.raise_fault(1, "GroundFailure")
    await h.settle()
    h.hw.clear_fault(1)
    await h.settle()
    await reserve(h, 104, 0, "ANY")
    await h.request("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    ended = [r.getMessage() for r in caplog.records if "ended:" in r.getMessage()]
    assert ended == [
        "reservation 100 ended: expired",
        "reservation 101 ended: cancelled by the central system",
        "reservation 102 ended: used by TAG",
        "reservation 103 ended: connector 1 is Faulted",
        "reservation 104 ended: the station is Unavailable",
    ]
    await h.close()


async def test_a_replacement_is_judged_without_the_reservation_it_replaces() -> None:
    one = await booted(connectors=1)
    assert await reserve(one, 110, 1) == "Accepted"
    assert await reserve(one, 110, 0) == "Accepted"  # connector 1 was held by 110 itself
    assert one.status(1) == "Reserved"
    assert await reserve(one, 110, 1) == "Accepted"  # and back: 110 was all connector 0 held
    await one.close()
    h = await booted()
    assert await reserve(h, 111, 0, "ANY") == "Accepted"
    assert await reserve(h, 112, 1) == "Accepted"  # connector 2 stays for 111
    assert await reserve(h, 112, 2) == "Accepted"  # moved: connector 1 stays for 111
    assert h.status(1) == "Reserved" and h.status(2) == "Reserved"
    await h.close()


@pytest.mark.parametrize("card_first", [False, True])
async def test_connector_zero_reserved_card_starts_on_the_last_connector(card_first: bool) -> None:
    h = await booted(connectors=1)
    assert await reserve(h, 120, 0, "TAG") == "Accepted"
    if card_first:  # the card on the idle connector kept for it
        await h.card("TAG", 1)
        await h.plug(1)
    else:
        await h.plug(1)
        await h.card("TAG", 1)
    assert starts(h) == [(1, "TAG", 120)]
    await h.close()


async def test_a_connector_with_a_cable_in_is_not_kept_for_connector_zero() -> None:
    h = await booted(connectors=1)
    assert await reserve(h, 121, 0, "TAG") == "Accepted"
    await h.plug(1)  # someone else's cable: TAG could not use this connector anyway
    await h.card("OTHER", 1)
    assert starts(h) == [(1, "OTHER", None)] and held(h) == {121}
    await h.close()


async def test_with_connectors_to_spare_another_card_may_take_one() -> None:
    h = await booted()
    assert await reserve(h, 130, 0, "TAG") == "Accepted"
    await h.card("OTHER", 1)  # connector 2 remains for TAG
    assert h.status(1) == "Preparing" and h.status(2) == "Reserved"
    await h.close()


async def test_connector_zero_answers_unavailable_when_every_connector_is() -> None:
    h = await booted()
    for connector_id in (1, 2):
        await h.request("ChangeAvailability", {"connectorId": connector_id, "type": "Inoperative"})
    assert await reserve(h, 140, 0) == "Unavailable"
    h.hw.raise_fault(0, "OtherError")
    await h.settle()
    assert await reserve(h, 141, 1) == "Faulted"  # the station itself is faulted
    await h.close()


async def test_connector_zero_shows_the_reservation_expiring_first() -> None:
    h = await booted()
    assert h.station.snapshot(True)["connectors"][0]["reservation"] is None
    assert await reserve(h, 150, 0, "LATE", seconds=300) == "Accepted"
    assert await reserve(h, 151, 0, "SOON", seconds=100) == "Accepted"
    assert h.station.snapshot(True)["connectors"][0]["reservation"]["reservationId"] == 151
    await h.close()


async def test_a_fault_of_the_station_itself_ends_every_reservation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="ocpp_station.station")
    h = await booted()
    assert await reserve(h, 160, 1) == "Accepted"
    assert await reserve(h, 161, 0, "ANY") == "Accepted"
    h.hw.raise_fault(0, "OtherError")
    await h.settle()
    assert held(h) == set()
    assert h.csms.statuses(1) == ["Reserved", "Available"]  # its connector is free again
    assert sum("ended: the station is Faulted" in r.getMessage() for r in caplog.records) == 2
    h.hw.clear_fault(0)
    await h.settle()
    assert await reserve(h, 162, 1) == "Accepted"
    await h.close()


async def test_the_cache_knowing_the_reserved_tag_itself_lets_it_start_remotely() -> None:
    h = await booted(AuthorizationCacheEnabled="true", AuthorizeRemoteTxRequests="false")
    h.service(AuthService).remember("TAG", {"status": "Accepted"})
    assert await reserve(h, 170, 1, "TAG") == "Accepted"
    answer = await h.request("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    assert answer == {"status": "Accepted"}
    await h.close()


async def test_a_remote_start_naming_no_connector_learns_the_group_too() -> None:
    h = await booted(connectors=1, AuthorizeRemoteTxRequests="false")
    assert await reserve(h, 171, 1, "A1", parent=GROUP) == "Accepted"
    answer = await h.request("RemoteStartTransaction", {"idTag": "A2"})
    assert answer == {"status": "Accepted"}
    assert h.csms.of("Authorize") == [{"idTag": "A2"}]
    await h.plug(1)
    assert starts(h) == [(1, "A2", 171)]
    assert h.csms.statuses(1) == ["Reserved", "Preparing", "Charging"]  # G2, B3
    await h.close()
