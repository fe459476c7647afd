"""The Local Authorization List (§3.5.3, §5.10, §5.15, §6.29, §6.42, [E] 3.52): every answer of
SendLocalList and GetLocalListVersion, the list ahead of the cache, LocalListConflict, and the
list and its version kept across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocpp_station.profiles.local_auth_list.service import LocalAuthList
from ocpp_station.station.authorization import AuthService
from ocpp_station.station.config import Configuration
from ocpp_station.storage import StationStore
from ocpp_station.storage.fleet import StationShare
from tests.unit.harness import Harness, open_store


def entry(id_tag: str, status: str | None = "Accepted", **info: str) -> dict[str, Any]:
    if status is None:
        return {"idTag": id_tag}
    return {"idTag": id_tag, "idTagInfo": {"status": status, **info}}


async def booted(store: StationStore | StationShare | None = None, **config: str) -> Harness:
    h = Harness(config=config or None, store=store)
    await h.boot()
    h.csms.clear()
    return h


async def send(h: Harness, version: int, update: str, *entries: dict[str, Any]) -> str:
    answer = await h.request(
        "SendLocalList",
        {"listVersion": version, "updateType": update, "localAuthorizationList": list(entries)},
    )
    return str(answer["status"])


async def version(h: Harness) -> int:
    return int((await h.request("GetLocalListVersion", {}))["listVersion"])


def listed(h: Harness) -> LocalAuthList:
    return h.service(LocalAuthList)


async def test_a_first_differential_needs_only_a_version_above_0() -> None:
    h = await booted()
    assert await send(h, 1, "Differential", entry("A")) == "Accepted"
    assert await version(h) == 1
    await h.close()


async def test_versions_full_and_differential() -> None:
    h = await booted()
    assert await version(h) == 0  # never received a list
    assert await send(h, 1, "Full", entry("A"), entry("B", "Blocked")) == "Accepted"
    assert await version(h) == 1
    assert listed(h).lookup("a") == {"status": "Accepted"}  # §7.28: case-insensitive
    assert listed(h).lookup("B") == {"status": "Blocked"}
    # Differential: add C, change A, delete B (no idTagInfo); the version is the new one.
    changes = (entry("C"), entry("A", "Expired"), entry("B", None))
    assert await send(h, 4, "Differential", *changes) == "Accepted"
    assert await version(h) == 4
    assert listed(h).lookup("A") == {"status": "Expired"}
    assert listed(h).lookup("B") is None and listed(h).lookup("C") == {"status": "Accepted"}
    assert len(listed(h)) == 2
    # Full replaces everything.
    assert await send(h, 2, "Full", entry("D", "Accepted", parentIdTag="P")) == "Accepted"
    assert await version(h) == 2 and len(listed(h)) == 1
    assert listed(h).lookup("D") == {"status": "Accepted", "parentIdTag": "P"}
    # An empty differential changes nothing but the version.
    assert await send(h, 3, "Differential") == "Accepted"
    assert await version(h) == 3 and len(listed(h)) == 1
    await h.close()


async def test_an_empty_list_reports_version_0_and_the_reset_with_version_0_is_accepted() -> None:
    h = await booted()
    assert await send(h, 7, "Full", entry("A")) == "Accepted"
    assert await send(h, 0, "Full") == "Accepted"  # the test tool's reset
    assert await version(h) == 0 and len(listed(h)) == 0
    assert await send(h, 1, "Full") == "Accepted"
    assert await version(h) == 0  # empty: 0 (§6.29, digest §5.2)
    await h.close()


async def test_a_differential_not_newer_is_a_version_mismatch_and_changes_nothing() -> None:
    h = await booted()
    assert await send(h, 5, "Full", entry("A")) == "Accepted"
    assert await send(h, 5, "Differential", entry("B")) == "VersionMismatch"
    assert await send(h, 4, "Differential", entry("B")) == "VersionMismatch"
    assert await version(h) == 5 and listed(h).lookup("B") is None
    assert await send(h, 6, "Differential", entry("B")) == "Accepted"
    await h.close()


@pytest.mark.parametrize(
    ("request_body", "why"),
    [
        ({"listVersion": 2, "updateType": "Full", "localAuthorizationList": [{"idTag": "X"}]},
         "a Full entry without idTagInfo"),
        ({"listVersion": -1, "updateType": "Full", "localAuthorizationList": []},
         "version -1 (no list)"),
        ({"listVersion": 2, "updateType": "Differential",
          "localAuthorizationList": [entry("X"), entry("x", "Blocked")]},
         "the same idTag twice"),
    ],
)  # fmt: skip
async def test_malformed_updates_fail_and_change_nothing(
    request_body: dict[str, Any], why: str
) -> None:
    h = await booted()
    assert await send(h, 1, "Full", entry("A")) == "Accepted"
    answer = await h.request("SendLocalList", request_body)
    assert answer == {"status": "Failed"}, why
    assert await version(h) == 1 and len(listed(h)) == 1
    await h.close()


async def test_more_than_the_maxima_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    h = await booted()
    # Both keys are read-only (a property of the station): smaller ones for the test.
    limits = {"SendLocalListMaxLength": 3, "LocalAuthListMaxLength": 4}
    real = Configuration.get_int
    monkeypatch.setattr(
        Configuration, "get_int", lambda self, key: limits.get(key) or real(self, key)
    )
    assert await send(h, 1, "Full", *(entry(f"T{n}") for n in range(4))) == "Failed"
    assert await send(h, 1, "Full", *(entry(f"T{n}") for n in range(3))) == "Accepted"
    assert await send(h, 2, "Differential", entry("U1")) == "Accepted"  # 4: the maximum
    assert await send(h, 3, "Differential", entry("U2")) == "Failed"  # would be 5
    assert await version(h) == 2 and len(listed(h)) == 4
    # A differential that adds one and deletes one stays within the maximum.
    assert await send(h, 3, "Differential", entry("U2"), entry("T0", None)) == "Accepted"
    await h.close()


async def test_disabled_the_list_is_not_supported_not_used_and_reports_minus_one() -> None:
    h = await booted(LocalPreAuthorize="true")
    assert await send(h, 1, "Full", entry("CARD")) == "Accepted"
    assert h.station.config.change("LocalAuthListEnabled", "false") == "Accepted"
    assert await version(h) == -1
    assert await send(h, 2, "Full", entry("OTHER")) == "NotSupported"
    assert h.service(AuthService).local_info("CARD") is None
    await h.plug(1)
    await h.card("CARD")
    assert h.csms.of("Authorize") == [{"idTag": "CARD"}]  # asked: the list is off
    h.station.config.change("LocalAuthListEnabled", "true")
    assert await version(h) == 1  # kept while disabled
    await h.close()


async def test_a_listed_card_starts_without_authorize_and_offline() -> None:
    h = await booted(LocalPreAuthorize="true", LocalAuthorizeOffline="true")
    assert await send(h, 1, "Full", entry("CARD"), entry("BLOCKED", "Blocked")) == "Accepted"
    await h.plug(1)
    await h.card("CARD")
    assert "Authorize" not in h.csms.actions()
    assert h.connector(1).transaction is not None
    h.disconnect()
    await h.plug(2)
    await h.card("BLOCKED", 2)
    assert h.connector(2).transaction is None  # known as not valid: never offline
    await h.close()


async def test_the_list_comes_before_the_cache_and_its_cards_never_enter_it() -> None:
    h = await booted(AuthorizationCacheEnabled="true")
    h.store.cache_put("CARD", "Blocked", None, None, updated_at=h.clock.now())
    assert await send(h, 1, "Full", entry("CARD")) == "Accepted"
    assert h.service(AuthService).local_info("CARD") == {"status": "Accepted"}
    await h.service(AuthService).authorize("CARD")  # asked (no LocalPreAuthorize): Accepted
    entry_after = h.store.cache_get("CARD")
    assert entry_after is not None and entry_after["status"] == "Blocked"  # not updated
    await h.service(AuthService).authorize("UNLISTED")
    assert h.store.cache_get("UNLISTED") is not None  # others still are cached
    await h.close()


async def test_a_central_answer_that_contradicts_the_list_is_a_local_list_conflict() -> None:
    """§3.5.3: a StatusNotification for connector 0 with errorCode LocalListConflict; the
    list itself changes only through SendLocalList."""
    h = await booted(LocalPreAuthorize="true")
    assert await send(h, 1, "Full", entry("CARD")) == "Accepted"
    h.csms.responders["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Blocked"},
    }
    await h.plug(1)
    await h.card("CARD")
    conflicts = [
        p for p in h.csms.of("StatusNotification") if p["errorCode"] == "LocalListConflict"
    ]
    assert [(p["connectorId"], p["status"], p["info"]) for p in conflicts] == [
        (0, "Available", "idTag CARD")
    ]
    assert listed(h).lookup("CARD") == {"status": "Accepted"}
    h.csms.clear()
    h.station.config.change("LocalPreAuthorize", "false")  # so that the central system is asked
    h.csms.responders["Authorize"] = lambda p: {"idTagInfo": {"status": "Accepted"}}
    await h.service(AuthService).authorize("CARD")  # agrees: no report
    await h.settle()  # a report would be on its way by now
    assert h.csms.actions() == ["Authorize"]
    assert h.csms.of("StatusNotification") == []
    await h.close()


@pytest.mark.parametrize("kind", ["station", "fleet"])
async def test_the_list_and_its_version_survive_a_restart(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    h = await booted(open_store(kind, path))
    assert await send(h, 3, "Full", entry("A"), entry("B", "Blocked")) == "Accepted"
    assert await send(h, 4, "Differential", entry("A", None), entry("C")) == "Accepted"
    await h.close()
    h.store.close()
    again = await booted(open_store(kind, path))
    assert await version(again) == 4
    assert listed(again).lookup("A") is None
    assert listed(again).lookup("B") == {"status": "Blocked"}
    assert listed(again).lookup("C") == {"status": "Accepted"}
    # A Full update replaces what is stored too: nothing of the old list comes back.
    assert await send(again, 5, "Full", entry("D")) == "Accepted"
    await again.close()
    again.store.close()
    third = await booted(open_store(kind, path))
    assert await version(third) == 5 and len(listed(third)) == 1
    assert listed(third).lookup("B") is None and listed(third).lookup("D") is not None
    await third.close()
    third.store.close()
