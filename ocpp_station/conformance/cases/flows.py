"""Sequences several cases share: starting a charging session locally or remotely."""

from __future__ import annotations

from ocpp_station.conformance.run import Run
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
    """TC_010's flow: plug in -> Preparing -> RemoteStartTransaction Accepted -> Authorize
    (when AuthorizeRemoteTxRequests is true, [S] 5.11) -> StartTransaction -> Charging.
    Returns the StartTransaction."""
    await run.plug(connector_id)
    await run.expect("StatusNotification", connectorId=connector_id, status="Preparing")
    await run.call(
        "RemoteStartTransaction",
        {"connectorId": connector_id, "idTag": id_tag},
        status="Accepted",
    )
    if (run.known_config("AuthorizeRemoteTxRequests") or "").lower() == "true":
        await run.expect("Authorize", idTag=id_tag)
    start = await run.expect("StartTransaction", connectorId=connector_id, idTag=id_tag)
    await run.expect("StatusNotification", connectorId=connector_id, status="Charging")
    return start
