"""Authorize (§4.1) and the Authorization Cache (§3.5.2), with the offline rules of §3.5.

The cache exists on this station (AuthorizationCacheEnabled is declared) but is off by factory
default, like the reference charger's: every card then goes to the central system.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp_station import timefmt
from ocpp_station.rpc.errors import CallErrorReceived, ConnectionLost, OcppError, RpcTimeout
from ocpp_station.station.service import Payload, Service, handles
from ocpp_station.storage.interface import CacheStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

IdTagInfo = dict[str, Any]
ACCEPTED = "Accepted"
# Entries the cache holds before it evicts (§3.5.2 leaves the size to the charge point).
CACHE_SIZE = 1000


def same_tag(a: str | None, b: str | None) -> bool:
    """IdToken comparison is case-insensitive (§7.28)."""
    return a is not None and b is not None and a.casefold() == b.casefold()


# Where the station looks a tag up without asking the central system: idTag -> IdTagInfo, or
# None when this source does not know the tag.
LocalSource = Callable[[str], IdTagInfo | None]
# Sees each IdTagInfo the central system sends (Authorize, Start/StopTransaction.conf); True
# when the tag is its own (a Local Authorization List entry), which keeps it out of the cache.
AnswerCheck = Callable[[str, IdTagInfo], bool]


class AuthService(Service):
    __slots__ = ("_checks", "_sources", "cache", "ctx")

    def __init__(self, ctx: StationContext, cache: CacheStore) -> None:
        self.ctx = ctx
        self.cache = cache
        self._sources: list[LocalSource] = [self._cached]
        self._checks: list[AnswerCheck] = []

    def add_local_source(self, source: LocalSource) -> None:
        """Consult `source` before the sources known so far (a Local Authorization List comes
        before the cache, §3.5.3)."""
        self._sources.insert(0, source)

    def add_answer_check(self, check: AnswerCheck) -> None:
        """Show `check` every IdTagInfo the central system sends (see AnswerCheck)."""
        self._checks.append(check)

    @property
    def cache_enabled(self) -> bool:
        return self.ctx.config.get_bool("AuthorizationCacheEnabled")

    def _expired(self, info: IdTagInfo, now: datetime) -> bool:
        expiry = info.get("expiryDate")
        if not expiry:
            return False
        try:
            return timefmt.parse(expiry) <= now
        except ValueError:
            return True

    def local_info(self, id_tag: str) -> IdTagInfo | None:
        """What the station knows about a tag without asking: the first local source that
        knows it (the cache, when enabled, comes last)."""
        for source in self._sources:
            found = source(id_tag)
            if found is not None:
                info = dict(found)
                if info["status"] == ACCEPTED and self._expired(info, self.ctx.clock.now()):
                    # §3.5.2: an entry past its expiry is Expired.
                    info["status"] = "Expired"
                return info
        return None

    def _cached(self, id_tag: str) -> IdTagInfo | None:
        if not self.cache_enabled:
            return None
        entry = self.cache.cache_get(id_tag)
        if entry is None:
            return None
        info: IdTagInfo = {"status": entry["status"]}
        if entry.get("expiry_date"):
            info["expiryDate"] = entry["expiry_date"]
        if entry.get("parent_id_tag"):
            info["parentIdTag"] = entry["parent_id_tag"]
        return info

    def remember(self, id_tag: str, info: IdTagInfo | None) -> None:
        """Keep the latest IdTagInfo from any .conf in the cache (§3.5.2), unless a tag of the
        Local Authorization List (§3.5.3: never added to the cache)."""
        if info is None:
            return
        owned = [check(id_tag, info) for check in self._checks]
        if any(owned) or not self.cache_enabled:
            return
        self.cache.cache_put(
            id_tag,
            info["status"],
            info.get("expiryDate"),
            info.get("parentIdTag"),
            updated_at=self.ctx.clock.now(),
        )
        self._evict()

    def _evict(self) -> None:
        """Keep the cache bounded: drop invalid entries first, then the oldest (§3.5.2)."""
        entries = self.cache.cache_all()
        excess = len(entries) - CACHE_SIZE
        if excess <= 0:
            return
        now = self.ctx.clock.now()
        invalid = [
            e
            for e in entries
            if e["status"] != ACCEPTED or self._expired({"expiryDate": e["expiry_date"]}, now)
        ]
        valid = [e for e in entries if e not in invalid]
        for entry in (invalid + valid)[:excess]:
            self.cache.cache_delete(entry["id_tag"])

    @handles("ClearCache")
    def clear_cache(self, request: Payload) -> Payload:
        # [E] 3.23: Rejected only where no cache is implemented; ours exists even when disabled.
        self.cache.cache_clear()
        return {"status": "Accepted"}

    async def authorize(self, id_tag: str) -> IdTagInfo:
        local = self.local_info(id_tag)
        if self.ctx.sender.open:
            if (
                local is not None
                and local["status"] == ACCEPTED
                and self.ctx.config.get_bool("LocalPreAuthorize")
            ):
                return local  # §3.5.3: start on the local authorization, no Authorize.req
            try:
                answer = await self.ctx.sender.request("Authorize", {"idTag": id_tag})
            except (CallErrorReceived, OcppError) as exc:
                # The central system answered, with an error or with something unreadable: it
                # is there and did not accept the card. The offline rules are for its absence.
                log.info("Authorize for %s refused by the central system: %s", id_tag, exc)
                return {"status": "Invalid"}
            except (ConnectionLost, RpcTimeout) as exc:
                log.info("Authorize for %s not answered (%s): offline rules", id_tag, exc)
            else:
                info: IdTagInfo = answer["idTagInfo"]
                self.remember(id_tag, info)
                return info
        return self._offline(id_tag, local)

    def _offline(self, id_tag: str, local: IdTagInfo | None) -> IdTagInfo:
        """§3.5: offline, a locally known card is trusted only with LocalAuthorizeOffline;
        otherwise it is as unknown as any other, and AllowOfflineTxForUnknownId decides. A
        card known as not valid is refused either way."""
        config = self.ctx.config
        if local is not None and local["status"] != ACCEPTED:
            return local
        if local is not None and config.get_bool("LocalAuthorizeOffline"):
            return local
        if config.get_bool("AllowOfflineTxForUnknownId"):
            return {"status": ACCEPTED}
        log.info("offline: %s not authorized locally", id_tag)
        return {"status": "Invalid"}
