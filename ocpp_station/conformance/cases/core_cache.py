"""04 Cache: TC_007_1_CS, TC_007_2_CS, TC_061_1_CS, TC_061_2_CS.

The cases apply to a station with an Authorization Cache, which it shows by having the
AuthorizationCacheEnabled key ([S] 3.5.1); without one they are N/A.
"""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import ensure_config
from ocpp_station.conformance.steps import Expected, Run

MODULE = "04 Cache"


async def _cache_on(run: Run, *, remote: bool) -> None:
    """Preconditions: the cache on and used before asking the central system (LocalPreAuthorize,
    [S] 3.5); for a remote start, remote idTags authorized like local ones ([S] 5.11)."""
    if "AuthorizationCacheEnabled" not in run.facts.configuration:
        run.not_applicable("no Authorization Cache (no AuthorizationCacheEnabled key, [S] 3.5.1)")
    if remote:
        await ensure_config(run, "AuthorizeRemoteTxRequests", "true")
    await ensure_config(run, "AuthorizationCacheEnabled", "true")
    await ensure_config(run, "LocalPreAuthorize", "true")


async def _cache_the_card(run: Run, id_tag: str) -> None:
    """Precondition: the card is in the cache. A whole session with it: plug in, card,
    StartTransaction, the same card stops it, unplug. The cache keeps the IdTagInfo of every
    Authorize.conf, StartTransaction.conf and StopTransaction.conf ([S] 3.5.1); an Authorize.req
    comes only when the card was not cached yet, so it is not expected here."""
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(id_tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=id_tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    transaction_id = await run.transaction_id(start)
    await run.present_card(id_tag)
    await run.expect_any_order(
        Expected("StopTransaction", transactionId=transaction_id),
        Expected("StatusNotification", connectorId=1, status="Finishing"),
    )
    await run.unplug(1)
    await run.expect("StatusNotification", connectorId=1, status="Available")


async def _no_authorize_since(run: Run, mark: int) -> None:
    # [S] 3.5 LocalPreAuthorize: a cached valid card starts without waiting for the central
    # system; OCTT checks that no Authorize.req was sent at all.
    await run.check(
        "no Authorize.req for the cached card",
        not run.messages("Authorize", after=mark),
        run.messages("Authorize", after=mark),
    )


@case("TC_007_1_CS", "Regular Start Charging Session - Cached Id", module=MODULE, profile="Core")
async def tc_007_1(run: Run) -> None:
    """AuthorizationCacheEnabled and LocalPreAuthorize true; a card cached by an earlier session
    starts a transaction at once: plug in -> Preparing -> card -> StartTransaction with no
    Authorize.req -> Charging. Nothing shrunk."""
    tag = run.tags.valid
    await _cache_on(run, remote=False)
    await _cache_the_card(run, tag)

    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    await run.present_card(tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await _no_authorize_since(run, mark)
    await run.transaction_id(start)


@case("TC_007_2_CS", "Remote Start Charging Session - Cached Id", module=MODULE, profile="Core")
async def tc_007_2(run: Run) -> None:
    """AuthorizeRemoteTxRequests, AuthorizationCacheEnabled and LocalPreAuthorize true; a
    RemoteStartTransaction for a cached card is authorized from the cache as a local card would
    be ([S] 5.11): Accepted -> StartTransaction with no Authorize.req -> Charging. Nothing
    shrunk."""
    tag = run.tags.valid
    await _cache_on(run, remote=True)
    await _cache_the_card(run, tag)

    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await _no_authorize_since(run, mark)
    await run.transaction_id(start)


async def _clear_cache(run: Run) -> None:
    # [S] 5.4; [E] 3.23: a station with a cache clears it and answers Accepted.
    await run.call("ClearCache", {}, status="Accepted")


@case(
    "TC_061_1_CS",
    "Clear Authorization Data in Authorization Cache - Local start",
    module=MODULE,
    profile="Core",
)
async def tc_061_1(run: Run) -> None:
    """A card is cached by a session; ClearCache -> Accepted; the card, presented again, is no
    longer known locally, so the station asks the central system ([S] 4.1): Authorize.req, then
    StartTransaction -> Charging. Nothing shrunk."""
    tag = run.tags.valid
    await _cache_on(run, remote=False)
    await _cache_the_card(run, tag)
    await _clear_cache(run)

    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(tag)
    await run.expect("Authorize", idTag=tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.transaction_id(start)


@case(
    "TC_061_2_CS",
    "Clear Authorization Data in Authorization Cache - Remote start",
    module=MODULE,
    profile="Core",
)
async def tc_061_2(run: Run) -> None:
    """As TC_061_1 with a remote start (AuthorizeRemoteTxRequests true): after ClearCache the
    idTag of a RemoteStartTransaction is authorized with an Authorize.req ([S] 5.11, 4.1)
    before StartTransaction -> Charging. Nothing shrunk."""
    tag = run.tags.valid
    await _cache_on(run, remote=True)
    await _cache_the_card(run, tag)
    await _clear_cache(run)

    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    await run.expect("Authorize", idTag=tag)
    start = await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.transaction_id(start)
