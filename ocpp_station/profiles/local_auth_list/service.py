"""The Local Authorization List: SendLocalList, GetLocalListVersion, and the list as a source
of authorization ahead of the cache.

Kept in the station's RecordStore (every store has one, so a fleet station keeps its list as a
single one does): kind `local_list`, one record per card (key: the idTag compared case-
insensitively, §7.28), and the version under `local_list_meta`. An update lands in one atomic
write, so a power cut leaves the old list or the new one, never half of each.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp_station.station.authorization import AuthService, IdTagInfo
from ocpp_station.station.service import Payload, Service, handles
from ocpp_station.storage import normalize_id_tag
from ocpp_station.storage.interface import RecordStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

KIND = "local_list"
META = "local_list_meta"


class LocalAuthList(Service):
    __slots__ = ("_entries", "_version", "ctx", "records")

    def __init__(self, ctx: StationContext, auth: AuthService, records: RecordStore) -> None:
        self.ctx = ctx
        self.records = records
        self._entries: dict[str, IdTagInfo] = {
            key: value["idTagInfo"] for key, value in records.records(KIND).items()
        }
        self._version = int(records.record_get(META, "version") or 0)
        # §3.5.3: the list has priority over the cache, and its tags never enter the cache.
        auth.add_local_source(self.lookup)
        auth.add_answer_check(self.check_answer)

    @property
    def enabled(self) -> bool:
        return self.ctx.config.get_bool("LocalAuthListEnabled")

    @property
    def version(self) -> int:
        return self._version

    def __len__(self) -> int:
        return len(self._entries)

    # -- authorization -----------------------------------------------------------------------
    def lookup(self, id_tag: str) -> IdTagInfo | None:
        if not self.enabled:
            return None
        info = self._entries.get(normalize_id_tag(id_tag))
        return None if info is None else dict(info)

    def check_answer(self, id_tag: str, info: IdTagInfo) -> bool:
        """An IdTagInfo from the central system for a listed card: the list stays as it is
        (§3.5.3, only SendLocalList changes it), and a different status is reported as
        LocalListConflict on connector 0."""
        listed = self.lookup(id_tag)
        if listed is None:
            return False
        if listed.get("status") != info.get("status"):
            log.warning(
                "local list conflict for %s: listed %s, central system says %s",
                id_tag,
                listed.get("status"),
                info.get("status"),
            )
            self.ctx.status.report_error(0, "LocalListConflict", f"idTag {id_tag}"[:50])
        return True

    # -- the central system's requests ------------------------------------------------------
    @handles("GetLocalListVersion")
    def get_version(self, request: Payload) -> Payload:
        # §6.29 / digest §5.2: -1 where the list is not in use, 0 for an empty one.
        if not self.enabled:
            return {"listVersion": -1}
        return {"listVersion": self._version if self._entries else 0}

    @handles("SendLocalList")
    def send_local_list(self, request: Payload) -> Payload:
        if not self.enabled:
            return {"status": "NotSupported"}
        version: int = request["listVersion"]
        changes: list[dict[str, Any]] = request.get("localAuthorizationList") or []
        config = self.ctx.config
        if len(changes) > config.get_int("SendLocalListMaxLength"):
            log.info("SendLocalList of %d entries: more than SendLocalListMaxLength", len(changes))
            return {"status": "Failed"}
        keys = [normalize_id_tag(entry["idTag"]) for entry in changes]
        if len(set(keys)) != len(keys):
            log.info("SendLocalList names an idTag twice")
            return {"status": "Failed"}
        full = request["updateType"] == "Full"
        if full:
            if version < 0 or any("idTagInfo" not in entry for entry in changes):
                # -1 means "no list" in GetLocalListVersion; a Full entry needs its idTagInfo.
                return {"status": "Failed"}
            result = dict(zip(keys, (entry["idTagInfo"] for entry in changes), strict=True))
        else:
            # [E] 3.52: the version after the update, so newer than the one installed.
            if version <= self._version:
                return {"status": "VersionMismatch"}
            result = dict(self._entries)
            for key, entry in zip(keys, changes, strict=True):
                if "idTagInfo" in entry:
                    result[key] = entry["idTagInfo"]
                else:
                    result.pop(key, None)  # an entry without idTagInfo deletes the card
        if len(result) > config.get_int("LocalAuthListMaxLength"):
            log.info("SendLocalList would make %d entries: more than the maximum", len(result))
            return {"status": "Failed"}
        self._store(full, keys, changes, result, version)
        return {"status": "Accepted"}

    def _store(
        self,
        full: bool,
        keys: list[str],
        changes: list[dict[str, Any]],
        result: dict[str, IdTagInfo],
        version: int,
    ) -> None:
        records = self.records
        with records.atomic():
            if full:
                records.records_clear(KIND)
                for key, info in result.items():
                    records.record_put(KIND, key, {"idTagInfo": info})
            else:
                for key in keys:
                    if key in result:
                        records.record_put(KIND, key, {"idTagInfo": result[key]})
                    else:
                        records.record_delete(KIND, key)
            records.record_put(META, "version", version)
        self._entries = result
        self._version = version
        log.info("local authorization list version %d: %d cards", version, len(result))
