"""Authorization, every combination (§3.5): online or offline, LocalPreAuthorize,
LocalAuthorizeOffline, AllowOfflineTxForUnknownId, and what the station knows of the card (from
the cache, or from a local list consulted before it).

The expected outcome is written from the specification's rules, not from the code:
- online: a locally valid card starts without Authorize only with LocalPreAuthorize; every other
  card is decided by the central system's Authorize.conf;
- offline: a card known as not valid (Blocked, Expired, Invalid) never starts; a card known
  as valid starts with LocalAuthorizeOffline, and otherwise counts as unknown; an unknown
  card starts with AllowOfflineTxForUnknownId.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from ocpp_station import timefmt
from ocpp_station.station.authorization import AuthService
from tests.unit.harness import Harness

Known = str  # "unknown", "valid", "blocked", "expired"
KNOWLEDGE: tuple[Known, ...] = ("unknown", "valid", "blocked", "expired")
SOURCES = ("cache", "list")


def expected(
    online: bool,
    pre_authorize: bool,
    authorize_offline: bool,
    allow_unknown: bool,
    known: Known,
) -> tuple[bool, bool]:
    """(starts, Authorize.req sent), by the rules of §3.5; the central system, when asked,
    accepts every card."""
    if online:
        if known == "valid" and pre_authorize:
            return True, False
        return True, True
    if known in ("blocked", "expired"):
        return False, False
    if known == "valid" and authorize_offline:
        return True, False
    return allow_unknown, False


def _install_knowledge(h: Harness, source: str, known: Known) -> None:
    if known == "unknown":
        return
    status = {"valid": "Accepted", "blocked": "Blocked", "expired": "Accepted"}[known]
    expiry = None
    if known == "expired":
        expiry = timefmt.iso(h.clock.now() - timedelta(minutes=1))
    if source == "cache":
        h.store.cache_put("CARD", status, expiry, None, updated_at=h.clock.now())
        return
    info: dict[str, Any] = {"status": status}
    if expiry is not None:
        info["expiryDate"] = expiry

    def local_list(id_tag: str) -> dict[str, Any] | None:
        return dict(info) if id_tag == "CARD" else None

    h.service(AuthService).add_local_source(local_list)


CASES = list(
    itertools.product((True, False), (True, False), (True, False), (True, False), KNOWLEDGE,
                      SOURCES)
)  # fmt: skip


@pytest.mark.parametrize(
    ("online", "pre_authorize", "authorize_offline", "allow_unknown", "known", "source"),
    CASES,
    ids=[
        f"{'on' if o else 'off'}-pre{int(p)}-offl{int(a)}-unk{int(u)}-{k}-{s}"
        for o, p, a, u, k, s in CASES
    ],
)
async def test_the_card_starts_exactly_when_the_rules_say(
    online: bool,
    pre_authorize: bool,
    authorize_offline: bool,
    allow_unknown: bool,
    known: Known,
    source: str,
) -> None:
    h = Harness(
        config={
            "AuthorizationCacheEnabled": "true",
            "LocalPreAuthorize": str(pre_authorize).lower(),
            "LocalAuthorizeOffline": str(authorize_offline).lower(),
            "AllowOfflineTxForUnknownId": str(allow_unknown).lower(),
        }
    )
    await h.boot()
    _install_knowledge(h, source, known)
    if not online:
        h.disconnect()
    h.csms.clear()
    await h.plug(1)
    await h.card("CARD")
    starts, asked = expected(online, pre_authorize, authorize_offline, allow_unknown, known)
    assert (h.connector(1).transaction is not None) == starts
    assert ("Authorize" in h.csms.actions()) == asked
    await h.close()


async def test_a_disabled_cache_is_not_consulted() -> None:
    h = Harness(config={"AuthorizationCacheEnabled": "false", "LocalAuthorizeOffline": "true"})
    await h.boot()
    h.store.cache_put("CARD", "Accepted", None, None, updated_at=h.clock.now())
    h.disconnect()
    await h.plug(1)
    await h.card("CARD")
    assert h.connector(1).transaction is None  # unknown offline, unknown ids not allowed
    await h.close()


async def test_the_group_comes_back_from_the_cache_offline() -> None:
    """§3.5.4 with the cache: a card of the same group (parentIdTag, remembered from an
    Authorize.conf) stops the transaction while the central system is gone."""
    h = Harness(config={"AuthorizationCacheEnabled": "true", "LocalAuthorizeOffline": "true"})
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}
    }
    await h.boot()
    await h.card("SECOND", 2)  # cached with its group, then withdrawn
    await h.card("SECOND", 2)
    await h.plug(1)
    await h.card("FIRST", 1)
    assert h.connector(1).transaction is not None
    assert h.connector(1).transaction.parent_id_tag == "FLEET"
    h.disconnect()
    h.csms.clear()
    await h.card("SECOND")
    assert h.connector(1).transaction is None
    [stop] = [m.payload for m in h.station.sender.queue if m.action == "StopTransaction"]
    assert stop["idTag"] == "SECOND" and stop["reason"] == "Local"
    await h.close()


async def test_cache_expiry_is_exact_to_the_second() -> None:
    h = Harness(config={"AuthorizationCacheEnabled": "true"})
    await h.boot()
    auth = h.service(AuthService)
    now = h.clock.now()
    h.store.cache_put("EDGE", "Accepted", timefmt.iso(now + timedelta(seconds=1)), None)
    assert auth.local_info("EDGE") == {
        "status": "Accepted",
        "expiryDate": timefmt.iso(now + timedelta(seconds=1)),
    }
    await h.run_for(1)
    info = auth.local_info("EDGE")
    assert info is not None and info["status"] == "Expired"  # at the expiry instant: expired
    await h.close()


async def test_a_cache_entry_carries_its_group() -> None:
    h = Harness(config={"AuthorizationCacheEnabled": "true"})
    await h.boot()
    auth = h.service(AuthService)
    auth.remember("MEMBER", {"status": "Accepted", "parentIdTag": "GROUP"})
    assert auth.local_info("member") == {"status": "Accepted", "parentIdTag": "GROUP"}
    h.config.change("AuthorizationCacheEnabled", "false")
    auth.remember("OTHER", {"status": "Accepted"})
    assert h.store.cache_get("OTHER") is None  # a disabled cache learns nothing
    await h.close()
