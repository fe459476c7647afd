"""10 / 11 Basic Actions (non-happy): TC_023_4_CS, TC_023_5_CS, TC_024_CS."""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import ensure_config
from ocpp_station.conformance.steps import Run, one_of

MODULE = "10 / 11 Basic Actions (non-happy)"

CHARGING = ("Charging", "SuspendedEV", "SuspendedEVSE")
"""The statuses of a connector with a transaction."""


async def _never_charged(run: Run, mark: int) -> None:
    await run.check(
        "no StartTransaction was sent",
        not run.messages("StartTransaction", after=mark),
        run.messages("StartTransaction", after=mark),
    )
    charged = [s for s in run.statuses(1, after=mark) if s in CHARGING]
    await run.check("connector 1 never reported a charging status", not charged, charged)


@case(
    "TC_023_4_CS",
    "Start local session - Authorize invalid",
    module=MODULE,
    profile="Core",
)
async def tc_023_4(run: Run) -> None:
    """LocalPreAuthorize true (a card the station does not know still goes to the central
    system, [S] 4.1): plug in -> Preparing -> an invalid card -> Authorize, answered Invalid ->
    no StartTransaction ([S] 4.1: energy only after authorization) -> the connector goes back to
    Available or Finishing. Shrunk: StartTransaction watched for 5 s (OCTT: about 20 s);
    ConnectionTimeOut 3 s so that the connector gives up Preparing."""
    tag = run.tags.invalid
    await ensure_config(run, "LocalPreAuthorize", "true")
    await run.configure("ConnectionTimeOut", str(int(run.timing("connection_timeout", 3))))
    mark = run.mark()
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(tag, 1)
    await run.expect("Authorize", idTag=tag)
    await run.expect_none("StartTransaction", within=run.timing("no_start_watch", 5), after=mark)
    await run.expect(
        "StatusNotification", connectorId=1, status=one_of("Available", "Finishing"), after=mark
    )
    await _never_charged(run, mark)


@case(
    "TC_023_5_CS",
    "Start remote session - Authorize invalid",
    module=MODULE,
    profile="Core",
)
async def tc_023_5(run: Run) -> None:
    """AuthorizeRemoteTxRequests true: a RemoteStartTransaction for an invalid card is Accepted
    and the card authorized as a local one ([S] 5.11): Authorize, answered Invalid -> no
    transaction: no StartTransaction, at most a Preparing given up again, the connector ends
    Available. Shrunk: StartTransaction watched for 5 s (OCTT: about 20 s)."""
    tag = run.tags.invalid
    await ensure_config(run, "AuthorizeRemoteTxRequests", "true")
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    await run.expect("Authorize", idTag=tag)
    await run.expect_none("StartTransaction", within=run.timing("no_start_watch", 5), after=mark)
    await run.wait_status(1, "Available")
    statuses = run.statuses(1, after=mark)
    await run.check(
        "connector 1 reported at most Preparing and Available since the request",
        set(statuses) <= {"Preparing", "Available"},
        statuses,
    )
    await _never_charged(run, mark)


@case(
    "TC_024_CS",
    "Start Charging Session - Lock Failure",
    module=MODULE,
    profile="Core",
    needs={"socket", "lock_failure"},
)
async def tc_024(run: Run) -> None:
    """A socket whose lock fails: RemoteStartTransaction Accepted -> Authorize when
    AuthorizeRemoteTxRequests is true -> Preparing; the cable goes in and will not lock ->
    StatusNotification Faulted with errorCode ConnectorLockFailure, and no StartTransaction.
    Needs a socket with a lock that can be made to fail; N/A for fixed cables. Shrunk:
    StartTransaction watched for 3 s (OCTT: 10 s)."""
    tag = run.tags.valid
    await run.set_lock_failure(1)
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    if (run.known_config("AuthorizeRemoteTxRequests") or "").lower() == "true":
        await run.expect("Authorize", idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.plug(1)
    await run.expect(
        "StatusNotification", connectorId=1, status="Faulted", errorCode="ConnectorLockFailure"
    )
    await run.expect_none("StartTransaction", within=run.timing("no_start_watch", 3), after=mark)
    await _never_charged(run, mark)
