"""The Authorization Cache and the answers of AuthService, value by value (§3.5, §4.1, §7.28):
what Authorize.req carries, what a refusal returns, when an entry is Expired, which entries the
cache evicts first, and in which order local sources are consulted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ocpp_station import timefmt
from ocpp_station.rpc.errors import CallErrorReceived
from ocpp_station.station.authorization import CACHE_SIZE, AuthService
from tests.unit.harness import Harness

CACHED = {"AuthorizationCacheEnabled": "true", "LocalPreAuthorize": "true"}


async def booted(config: dict[str, str]) -> tuple[Harness, AuthService]:
    h = Harness(config=config)
    await h.boot()
    return h, h.service(AuthService)


async def test_authorize_carries_the_id_tag_and_returns_the_central_answer() -> None:
    h, auth = await booted({})
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Blocked", "parentIdTag": "G"}
    }
    assert await auth.authorize("Card-1") == {"status": "Blocked", "parentIdTag": "G"}
    assert h.csms.of("Authorize") == [{"idTag": "Card-1"}]
    await h.close()


async def test_a_callerror_to_authorize_is_invalid_and_not_cached() -> None:
    h, auth = await booted({"AuthorizationCacheEnabled": "true"})
    h.csms.responders["Authorize"] = lambda p: CallErrorReceived(
        "Authorize", "InternalError", "", {}
    )
    assert await auth.authorize("CARD") == {"status": "Invalid"}
    assert h.store.cache_get("CARD") is None
    await h.close()


async def test_offline_and_unknown_without_allowance_is_invalid() -> None:
    h, auth = await booted({"AllowOfflineTxForUnknownId": "false"})
    h.disconnect()
    assert await auth.authorize("CARD") == {"status": "Invalid"}
    h.station.config.change("AllowOfflineTxForUnknownId", "true")
    assert await auth.authorize("CARD") == {"status": "Accepted"}
    await h.close()


async def test_the_cache_keeps_status_expiry_group_and_when() -> None:
    h, auth = await booted(CACHED)
    expiry = timefmt.iso(h.clock.now() + timedelta(hours=1))
    h.csms.responders["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "expiryDate": expiry, "parentIdTag": "GROUP"}
    }
    await auth.authorize("CARD")
    entry = h.store.cache_get("CARD")
    assert entry is not None
    assert (entry["status"], entry["expiry_date"], entry["parent_id_tag"]) == (
        "Accepted",
        expiry,
        "GROUP",
    )
    assert entry["updated_at"] == timefmt.iso(h.clock.now())
    # Read back: the same IdTagInfo, without asking (LocalPreAuthorize).
    h.csms.clear()
    info = await auth.authorize("card")  # §7.28: case-insensitive
    assert info == {"status": "Accepted", "expiryDate": expiry, "parentIdTag": "GROUP"}
    assert h.csms.actions() == []
    await h.close()


async def test_an_entry_is_expired_from_its_expiry_date_on() -> None:
    h, auth = await booted(CACHED)
    now = h.clock.now()
    h.store.cache_put("EXACT", "Accepted", timefmt.iso(now), None, updated_at=now)
    h.store.cache_put(
        "LATER", "Accepted", timefmt.iso(now + timedelta(seconds=1)), None, updated_at=now
    )
    h.store.cache_put("GARBAGE", "Accepted", "not a date", None, updated_at=now)
    h.store.cache_put("BLOCKED", "Blocked", timefmt.iso(now), None, updated_at=now)
    assert auth.local_info("EXACT") == {"status": "Expired", "expiryDate": timefmt.iso(now)}
    assert auth.local_info("LATER") == {
        "status": "Accepted",
        "expiryDate": timefmt.iso(now + timedelta(seconds=1)),
    }
    expired = auth.local_info("GARBAGE")  # an unreadable date is not trusted
    assert expired is not None and expired["status"] == "Expired"
    blocked = auth.local_info("BLOCKED")  # only an Accepted entry turns Expired
    assert blocked is not None and blocked["status"] == "Blocked"
    await h.close()


async def test_a_full_cache_evicts_invalid_and_expired_entries_before_the_oldest() -> None:
    h, auth = await booted(CACHED)
    start = h.clock.now()
    past = timefmt.iso(start - timedelta(minutes=1))
    future = timefmt.iso(start + timedelta(days=30))
    for n in range(CACHE_SIZE - 2):
        h.store.cache_put(f"V{n}", "Accepted", future, None, updated_at=start)
    # Younger than every valid entry: only its expiry makes it go before them.
    h.store.cache_put("OLD-EXPIRED", "Accepted", past, None, updated_at=start + timedelta(1))
    h.store.cache_put("OLD-BLOCKED", "Blocked", None, None, updated_at=start)
    assert len(h.store.cache_all()) == CACHE_SIZE
    h.clock.advance(2 * 86400)  # the new entries are younger than every old one
    auth.remember("NEW-1", {"status": "Accepted"})  # one over: an invalid one goes
    tags = {e["id_tag"].upper() for e in h.store.cache_all()}
    assert len(tags) == CACHE_SIZE and "NEW-1" in tags
    assert len({"OLD-EXPIRED", "OLD-BLOCKED"} & tags) == 1
    auth.remember("NEW-2", {"status": "Accepted"})  # then the other invalid one
    tags = {e["id_tag"].upper() for e in h.store.cache_all()}
    assert len(tags) == CACHE_SIZE and not {"OLD-EXPIRED", "OLD-BLOCKED"} & tags
    auth.remember("NEW-3", {"status": "Accepted"})  # then the oldest valid one
    tags = {e["id_tag"].upper() for e in h.store.cache_all()}
    assert len(tags) == CACHE_SIZE and {"NEW-1", "NEW-2", "NEW-3"} <= tags
    assert len({f"V{n}" for n in range(CACHE_SIZE - 2)} - tags) == 1  # one of the oldest
    await h.close()


async def test_a_cache_exactly_full_evicts_nothing() -> None:
    h, auth = await booted(CACHED)
    for n in range(CACHE_SIZE - 1):
        h.store.cache_put(f"V{n}", "Blocked", None, None, updated_at=h.clock.now())
    auth.remember("LAST", {"status": "Accepted"})
    assert len(h.store.cache_all()) == CACHE_SIZE
    await h.close()


async def test_the_local_source_added_last_is_asked_first() -> None:
    h, auth = await booted(CACHED)
    asked: list[str] = []

    def source(name: str, knows: set[str]) -> Any:
        def look(id_tag: str) -> dict[str, Any] | None:
            asked.append(name)
            return {"status": "Accepted", "parentIdTag": name} if id_tag in knows else None

        return look

    h.store.cache_put("BOTH", "Blocked", None, None, updated_at=h.clock.now())
    auth.add_local_source(source("first", {"BOTH", "ONE"}))
    auth.add_local_source(source("second", {"BOTH"}))
    assert auth.local_info("BOTH") == {"status": "Accepted", "parentIdTag": "second"}
    assert asked == ["second"]
    asked.clear()
    assert auth.local_info("ONE") == {"status": "Accepted", "parentIdTag": "first"}
    assert asked == ["second", "first"]
    asked.clear()
    assert auth.local_info("NOBODY") is None and asked == ["second", "first"]
    await h.close()
