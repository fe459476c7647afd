"""24 Data Transfer: TC_062_CS."""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.steps import Run

MODULE = "24 Data Transfer"


@case("TC_062_CS", "Data Transfer to a Charge Point", module=MODULE, profile="Core")
async def tc_062(run: Run) -> None:
    """DataTransfer from the central system with a vendorId the station does not know ->
    Rejected, UnknownVendorId or UnknownMessageId ([S] 4.3, 5.6) within OCTT's 5 s; the
    station stays connected. Nothing shrunk."""
    connections = run.link.connections
    await run.call(
        "DataTransfer",
        {"vendorId": "TestVendorId", "messageId": "TestMessageId", "data": "test data"},
        status=("Rejected", "UnknownVendorId", "UnknownMessageId"),
        timeout=run.timing("answer_timeout", 5),
    )
    await run.check(
        "the station is still on the same connection",
        run.link.session is not None and run.link.connections == connections,
        f"{run.link.connections - connections} new connection(s)",
    )
