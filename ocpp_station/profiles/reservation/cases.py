"""21 Reservation: TC_046_1_CS, TC_046_2_CS, TC_047_CS, TC_048_1_CS to TC_048_4_CS, TC_049_CS,
TC_050_1_CS to TC_050_4_CS, TC_051_CS, TC_052_CS, TC_053_1_CS, TC_053_2_CS (digest §5.3, §7).

Each case judges what §5.13 demands: the ReserveNow answer for the state the case set up, the
StatusNotification Reserved and the Available that ends it, the reservationId in the
StartTransaction of the session that uses the reservation (and none in one that does not), and
that the reserved connector refuses other idTags. What a case reserves is cancelled after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp_station import timefmt
from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import ensure_config
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.transcript import Message
from ocpp_station.rpc.actions import RESERVATION

MODULE = "21 Reservation"
HOLD = timedelta(minutes=10)
"""How long a reservation of a case lasts unless the case is about expiry: longer than any
case, shorter than anything a station could take for a leftover."""
UNKNOWN_RESERVATION = 987_654
"""TC_052's reservationId: one no case makes."""


async def reserve(
    run: Run,
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    status: str,
    *,
    parent: str | None = None,
    hold: timedelta = HOLD,
) -> datetime:
    """ReserveNow; the answer must be `status`. Returns the expiryDate sent."""
    expiry = datetime.now(UTC).replace(microsecond=0) + hold
    payload: dict[str, Any] = {
        "connectorId": connector_id,
        "expiryDate": timefmt.iso(expiry),
        "idTag": id_tag,
        "reservationId": reservation_id,
    }
    if parent is not None:
        payload["parentIdTag"] = parent
    await run.call("ReserveNow", payload, status=status)
    return expiry


async def reserved(
    run: Run, reservation_id: int, connector_id: int, id_tag: str, **kw: Any
) -> datetime:
    """ReserveNow Accepted, then StatusNotification Reserved for the connector; returns the
    expiryDate sent."""
    mark = run.mark()
    expiry = await reserve(run, reservation_id, connector_id, id_tag, "Accepted", **kw)
    await run.expect("StatusNotification", after=mark, connectorId=connector_id, status="Reserved")
    return expiry


async def refused(run: Run, reservation_id: int, connector_id: int, status: str) -> None:
    """ReserveNow answered `status` (not Accepted), and no connector reported Reserved."""
    mark = run.mark()
    await reserve(run, reservation_id, connector_id, run.tags.valid, status)
    await run.expect_none("StatusNotification", after=mark, within=1, status="Reserved")


async def refused_when_inoperative(run: Run, reservation_id: int, connector_id: int) -> None:
    """The connector (0: the charge point) made Inoperative -> Unavailable -> ReserveNow for it
    Unavailable."""
    await run.call(
        "ChangeAvailability",
        {"connectorId": connector_id, "type": "Inoperative"},
        status="Accepted",
    )
    await run.expect("StatusNotification", connectorId=connector_id, status="Unavailable")
    await refused(run, reservation_id, connector_id, "Unavailable")


async def used(run: Run, start: Message, reservation_id: int) -> None:
    await run.check_equal(
        "the reservationId of the StartTransaction", start.get("reservationId"), reservation_id
    )


async def not_used(run: Run, start: Message) -> None:
    await run.check_equal(
        "the reservationId of a StartTransaction that uses no reservation",
        start.get("reservationId"),
        None,
    )


async def charging(run: Run, connector_id: int, id_tag: str) -> Message:
    """Plugged in and the card presented for that connector -> StartTransaction -> Charging."""
    await run.plug(connector_id)
    await run.expect("StatusNotification", connectorId=connector_id, status="Preparing")
    await run.present_card(id_tag, connector_id)
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=id_tag)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    return start


def other_tags(run: Run, count: int) -> list[str]:
    """Accepted tags other than the reserved one (valid), one per connector to occupy."""
    tags = [run.tags.valid_2, run.tags.group_a, run.tags.group_b]
    if count > len(tags):
        run.not_applicable(f"{count} connectors to occupy: the tool has {len(tags)} spare tags")
    return tags[:count]


async def zero_supported(run: Run) -> None:
    """The connector-0 cases need ReserveConnectorZeroSupported true ([S] 9.3)."""
    entry = run.facts.configuration.get("ReserveConnectorZeroSupported")
    if entry is None or (entry.value or "").lower() != "true":
        shown = "absent" if entry is None else entry.value
        run.not_applicable(f"ReserveConnectorZeroSupported is {shown}: no connector-0 reservations")


@case("TC_046_1_CS", "Reservation of a Connector - Local start", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_046_1(run: Run) -> None:
    """ReserveNow(connector 1) Accepted -> Reserved; plug in -> Preparing; the reserved card
    -> StartTransaction carrying the reservationId -> Charging ([S] 5.13)."""
    await reserved(run, 4601, 1, run.tags.valid)
    start = await charging(run, 1, run.tags.valid)
    await used(run, start, 4601)


@case("TC_046_2_CS", "Reservation of a Connector - Remote start", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_046_2(run: Run) -> None:
    """Reserved, plugged in, RemoteStartTransaction for the reserved idTag Accepted ->
    StartTransaction carrying the reservationId -> Charging."""
    tag = run.tags.valid
    await reserved(run, 4602, 1, tag)
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await used(run, start, 4602)


@case("TC_047_CS", "Reservation of a Connector - Expire", module=MODULE, profile=RESERVATION)
async def tc_047(run: Run) -> None:
    """A reservation of a few seconds -> Reserved, then at its expiryDate, not before, the
    StatusNotification Available ([S] 5.13: "SHALL send a status notification"); it is gone
    then: CancelReservation answers Rejected."""
    seconds = run.timing("expiry", 8)
    expiry = await reserved(run, 4700, 1, run.tags.valid, hold=timedelta(seconds=seconds))
    back = await run.expect(
        "StatusNotification", connectorId=1, status="Available", timeout=seconds + 5
    )
    early = (expiry - back.time).total_seconds()
    await run.check(
        "Available came at the expiryDate, not more than 2 s before it",
        early <= 2,
        f"{early:.1f} s before",
    )
    await run.call("CancelReservation", {"reservationId": 4700}, status="Rejected")


@case("TC_048_1_CS", "Reservation of a Connector - Faulted", module=MODULE,
      profile=RESERVATION, needs={"fault_injection"})  # fmt: skip
async def tc_048_1(run: Run) -> None:
    """Connector 1 Faulted -> ReserveNow(connector 1) Faulted, and no Reserved."""
    await run.raise_fault(1, "GroundFailure")
    await run.expect("StatusNotification", connectorId=1, status="Faulted")
    await refused(run, 4801, 1, "Faulted")


@case("TC_048_2_CS", "Reservation of a Connector - Occupied", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_048_2(run: Run) -> None:
    """A transaction on connector 1 -> ReserveNow(connector 1) Occupied. A connector already
    reserved is Occupied too, for another idTag or the same ([S] 5.13)."""
    await charging(run, 1, run.tags.valid_2)
    await reserve(run, 4802, 1, run.tags.valid, "Occupied")
    if len(run.connector_ids) < 2:
        return
    await reserved(run, 4803, 2, run.tags.valid)
    await reserve(run, 4804, 2, run.tags.valid_2, "Occupied")
    await reserve(run, 4805, 2, run.tags.valid, "Occupied")


@case("TC_048_3_CS", "Reservation of a Connector - Unavailable", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_048_3(run: Run) -> None:
    """Connector 1 made Inoperative -> Unavailable -> ReserveNow(connector 1) Unavailable."""
    await refused_when_inoperative(run, 4806, 1)


@case("TC_048_4_CS", "Reservation of a Connector - Rejected", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_048_4(run: Run) -> None:
    """A station configured not to accept reservations (ReservationEnabled false, the
    station's own key) -> ReserveNow Rejected, and no Reserved."""
    await ensure_config(run, "ReservationEnabled", "false")
    await refused(run, 4807, 1, "Rejected")


@case("TC_049_CS", "Reservation of a Charge Point - Transaction", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_049(run: Run) -> None:
    """ReserveNow(connector 0) Accepted. Other idTags charge on all connectors but one (their
    StartTransaction carries no reservationId); the last idle connector is then Reserved, kept
    for the reserved idTag ([S] 5.13: "one connector remains available"), which charges there
    with the reservationId."""
    await zero_supported(run)
    last = run.connector_ids[-1]
    others = list(run.connector_ids)[:-1]
    await reserve(run, 4900, 0, run.tags.valid, "Accepted")
    for connector_id, tag in zip(others, other_tags(run, len(others)), strict=True):
        await not_used(run, await charging(run, connector_id, tag))
    await run.wait_status(last, "Reserved")
    start = await charging(run, last, run.tags.valid)
    await used(run, start, 4900)


@case("TC_050_1_CS", "Reservation of a Charge Point - Faulted", module=MODULE,
      profile=RESERVATION, needs={"fault_injection"})  # fmt: skip
async def tc_050_1(run: Run) -> None:
    """Every connector Faulted -> ReserveNow(connector 0) Faulted."""
    await zero_supported(run)
    for connector_id in run.connector_ids:
        await run.raise_fault(connector_id, "GroundFailure")
        await run.expect("StatusNotification", connectorId=connector_id, status="Faulted")
    await refused(run, 5001, 0, "Faulted")


@case("TC_050_2_CS", "Reservation of a Charge Point - Occupied", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_050_2(run: Run) -> None:
    """A transaction on every connector -> none is left: ReserveNow(connector 0) Occupied."""
    await zero_supported(run)
    connectors = list(run.connector_ids)
    for connector_id, tag in zip(connectors, other_tags(run, len(connectors)), strict=True):
        await charging(run, connector_id, tag)
    await refused(run, 5002, 0, "Occupied")


@case("TC_050_3_CS", "Reservation of a Charge Point - Unavailable", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_050_3(run: Run) -> None:
    """The charge point made Inoperative (connector 0) -> ReserveNow(connector 0) Unavailable."""
    await zero_supported(run)
    await refused_when_inoperative(run, 5003, 0)


@case("TC_050_4_CS", "Reservation of a Charge Point - Rejected", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_050_4(run: Run) -> None:
    """ReserveNow(connector 0) Rejected: where ReserveConnectorZeroSupported is not true
    ([S] 5.13), else with the station configured not to accept reservations."""
    entry = run.facts.configuration.get("ReserveConnectorZeroSupported")
    if entry is not None and (entry.value or "").lower() == "true":
        await ensure_config(run, "ReservationEnabled", "false")
    await refused(run, 5004, 0, "Rejected")


@case("TC_051_CS", "Cancel Reservation", module=MODULE, profile=RESERVATION)
async def tc_051(run: Run) -> None:
    """Reserved -> CancelReservation Accepted -> StatusNotification Available; cancelled
    again -> Rejected (it exists no more, [S] 5.1)."""
    await reserved(run, 5100, 1, run.tags.valid)
    await run.call("CancelReservation", {"reservationId": 5100}, status="Accepted")
    await run.expect("StatusNotification", connectorId=1, status="Available")
    await run.call("CancelReservation", {"reservationId": 5100}, status="Rejected")


@case("TC_052_CS", "Cancel Reservation - Rejected", module=MODULE, profile=RESERVATION)
async def tc_052(run: Run) -> None:
    """CancelReservation of an id the station does not hold -> Rejected, and no status
    changes."""
    mark = run.mark()
    await run.call("CancelReservation", {"reservationId": UNKNOWN_RESERVATION}, status="Rejected")
    await run.expect_none("StatusNotification", after=mark, within=1)


@case("TC_053_1_CS", "Use a reserved Connector with parentIdTag - Local", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_053_1(run: Run) -> None:
    """Connector 1 reserved for one card of a group, with its parentIdTag. Plugged in, a card
    outside the group starts nothing there; another card of the group starts, the
    StartTransaction carrying the reservationId ([S] 5.13: the parent found in the list,
    the cache or by Authorize)."""
    tags = run.tags
    await reserved(run, 5301, 1, tags.group_a, parent=tags.group_parent)
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    await run.present_card(tags.valid_2, 1)
    await run.expect_none("StartTransaction", after=mark, within=run.timing("refused", 3))
    await run.present_card(tags.group_b, 1)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tags.group_b)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await used(run, start, 5301)


@case("TC_053_2_CS", "Use a reserved Connector with parentIdTag - Remote", module=MODULE,
      profile=RESERVATION)  # fmt: skip
async def tc_053_2(run: Run) -> None:
    """Connector 1 reserved for a group; plugged in, RemoteStartTransaction for another card of
    the group Accepted -> StartTransaction carrying the reservationId -> Charging."""
    tags = run.tags
    await reserved(run, 5302, 1, tags.group_a, parent=tags.group_parent)
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.call(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": tags.group_b}, status="Accepted"
    )
    start = await run.expect("StartTransaction", connectorId=1, idTag=tags.group_b)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await used(run, start, 5302)
