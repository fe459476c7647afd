"""Sequences several cases share: starting a charging session locally or remotely, setting
the configuration a case needs, reading meter values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ocpp_station import timefmt
from ocpp_station.conformance.cases.spec_keys import REQUIRED
from ocpp_station.conformance.steps import Run
from ocpp_station.conformance.transcript import Message


async def local_start_plugged(run: Run, id_tag: str, connector_id: int = 1) -> Message:
    """TC_003's flow: plug in -> Preparing -> card -> Authorize -> StartTransaction with the
    same idTag -> Charging. Returns the StartTransaction."""
    await run.plug(connector_id)
    await run.expect("StatusNotification", connectorId=connector_id, status="Preparing")
    await run.present_card(id_tag)
    await run.expect("Authorize", idTag=id_tag)
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=id_tag)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    return start


async def remote_start_plugged(run: Run, id_tag: str, connector_id: int = 1) -> Message:
    """TC_010's flow: plug in -> Preparing -> RemoteStartTransaction Accepted -> (Authorize)
    -> StartTransaction -> Charging. Returns the StartTransaction.

    With AuthorizeRemoteTxRequests true the idTag is authorized "as if presented locally"
    ([S] 5.11): by Authorize.req, or by the cache or local list where the station has the card
    (§3.5.3); either path passes, but an Authorize must name the remote idTag."""
    await run.plug(connector_id)
    await run.expect("StatusNotification", connectorId=connector_id, status="Preparing")
    mark = run.mark()
    await run.call(
        "RemoteStartTransaction",
        {"connectorId": connector_id, "idTag": id_tag},
        status="Accepted",
    )
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=id_tag)
    await authorized_if_asked(run, id_tag, mark, until=start.seq)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    return start


async def authorized_if_asked(
    run: Run, id_tag: str, mark: int, *, until: int | None = None
) -> None:
    """The Authorize.req the station sent after `mark` (and before seq `until`), if any: at
    most one, for `id_tag` ([S] 5.11 lets a station authorize from its cache or list)."""
    asked = [m.get("idTag") for m in run.messages("Authorize", after=mark, until=until)]
    await run.check(
        f"at most one Authorize since the request, for {id_tag}",
        len(asked) <= 1 and all(tag == id_tag for tag in asked),
        asked,
    )


async def not_started_before_the_plug(run: Run, mark: int, within: float) -> None:
    """No StartTransaction since `mark` while the cable is still out ([S] 4.8, 3.6: the
    transaction starts when the EV is connected and the idTag authorized); watched `within`
    seconds, so that a station that starts at once is caught, not raced."""
    await run.expect_none("StartTransaction", within=within, after=mark)


async def ensure_config(run: Run, key: str, value: str) -> None:
    """A precondition: set `key` to `value` (restored after the case). N/A when the station
    lacks an optional key, or holds the key read-only at another value.

    A key the specification requires is another matter: its absence is a Fail of the
    configuration cases (TC_019), and this case still runs, without it, so that its own
    subject is judged rather than hidden behind an N/A."""
    entry = run.facts.configuration.get(key)
    if entry is None:
        if any(key in keys for keys in REQUIRED.values()):
            run.notes.append(f"the station lacks the required key {key}: run without it")
            return
        run.not_applicable(f"the station has no configuration key {key}")
    if entry.readonly:
        if (entry.value or "").lower() != value.lower():
            run.not_applicable(f"{key} is read-only {entry.value}, the case needs {value}")
        return
    await run.configure(key, value)


def is_timestamp(value: object) -> bool:
    """A date-time as OCPP writes them ([S] 3.15)."""
    try:
        timefmt.parse(str(value))
    except ValueError:
        return False
    return True


def status_time(message: Message) -> float:
    """When the station says a StatusNotification happened (its optional timestamp, [S] 6.47),
    else when it arrived; as seconds since the epoch."""
    try:
        return timefmt.parse(str(message.get("timestamp"))).timestamp()
    except ValueError:
        return message.time.timestamp()


REGISTER = "Energy.Active.Import.Register"
"""The measurand a sampledValue without one reports ([S] 7.31)."""


def transaction_samples(
    messages: Iterable[Message], transaction_id: int | None = None
) -> list[dict[str, Any]]:
    """The meterValue elements of the MeterValues tied to a transaction (to `transaction_id`
    when given), in arrival order."""
    found: list[dict[str, Any]] = []
    for m in messages:
        if m.action != "MeterValues" or "transactionId" not in m:
            continue
        if transaction_id is None or m["transactionId"] == transaction_id:
            found.extend(v for v in m.get("meterValue") or [] if isinstance(v, dict))
    return found


def register_wh(meter_value: Mapping[str, Any]) -> float | None:
    """The energy register reading of a meterValue element in Wh, or None without one."""
    for sampled in meter_value.get("sampledValue") or []:
        if sampled.get("measurand", REGISTER) == REGISTER and sampled.get("phase") is None:
            try:
                value = float(sampled["value"])
            except (KeyError, ValueError):
                return None
            return value * 1000 if sampled.get("unit") == "kWh" else value
    return None


def timestamp_of(payload: Mapping[str, Any]) -> datetime | None:
    """The `timestamp` of a payload or a meterValue element, or None when it is not a
    date-time."""
    try:
        return timefmt.parse(str(payload.get("timestamp")))
    except ValueError:
        return None
