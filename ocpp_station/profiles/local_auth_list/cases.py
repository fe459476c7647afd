"""18 Local Authorization List: TC_008_1_CS, TC_008_2_CS, TC_042_1_CS, TC_042_2_CS, TC_043_CS,
TC_043_1_CS, TC_043_2_CS, TC_043_3_CS (digest §5.2, §7).

Each case begins by emptying the list (SendLocalList Full, version 0, no entries: how the test
tool resets a station), so that what an earlier case left cannot decide this one. The versions
are checked through GetLocalListVersion after each update, and a listed card is shown to
start without Authorize.req ([S] 3.5.3: the list decides locally with LocalPreAuthorize).
"""

from __future__ import annotations

from typing import Any

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import ensure_config
from ocpp_station.conformance.steps import Run
from ocpp_station.rpc.actions import CORE, LOCAL_AUTH_LIST_MANAGEMENT

MODULE = "18 Local Authorization List"
MAX_FAILED_PROBE = 10_000
"""TC_043_3 sends SendLocalListMaxLength + 1 entries: only up to this many (a JSON frame of
about 600 kB); a larger maximum cannot be exceeded in a sensible frame."""


def entry(id_tag: str, status: str | None = "Accepted") -> dict[str, Any]:
    """An AuthorizationData; without status, one that deletes the card (Differential)."""
    if status is None:
        return {"idTag": id_tag}
    return {"idTag": id_tag, "idTagInfo": {"status": status}}


async def send_list(
    run: Run, version: int, update: str, entries: list[dict[str, Any]], status: str
) -> None:
    await run.call(
        "SendLocalList",
        {"listVersion": version, "updateType": update, "localAuthorizationList": entries},
        status=status,
    )


async def list_version(run: Run, expected: int, why: str) -> None:
    answer = await run.call("GetLocalListVersion", {})
    await run.check_equal(f"GetLocalListVersion {why}", answer.get("listVersion"), expected)


async def enabled_and_empty(run: Run) -> None:
    """LocalAuthListEnabled true, the list emptied (Full, version 0, no entries)."""
    await ensure_config(run, "LocalAuthListEnabled", "true")
    await send_list(run, 0, "Full", [], "Accepted")


@case("TC_008_1_CS", "Regular Start - Id in Local Authorization List", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_008_1(run: Run) -> None:
    """LocalPreAuthorize true, the card in the list (Accepted): plug in, present the card ->
    StartTransaction with that idTag and Charging, and no Authorize.req at all ([S] 3.5.3)."""
    tag = run.tags.valid
    await enabled_and_empty(run)
    await ensure_config(run, "LocalPreAuthorize", "true")
    await send_list(run, 1, "Full", [entry(tag)], "Accepted")
    mark = run.mark()
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    await run.present_card(tag)
    await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.expect_none("Authorize", after=mark, within=0)


@case("TC_008_2_CS", "Remote Start - Id in Local Authorization List", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_008_2(run: Run) -> None:
    """AuthorizeRemoteTxRequests and LocalPreAuthorize true, the card in the list: plugged
    in, RemoteStartTransaction Accepted -> StartTransaction with the remote idTag and Charging,
    authorized by the list: no Authorize.req ([S] 5.11 "as if presented locally")."""
    tag = run.tags.valid
    await enabled_and_empty(run)
    await ensure_config(run, "LocalPreAuthorize", "true")
    await run.try_configure("AuthorizeRemoteTxRequests", "true")
    await send_list(run, 1, "Full", [entry(tag)], "Accepted")
    await run.plug(1)
    await run.expect("StatusNotification", connectorId=1, status="Preparing")
    mark = run.mark()
    await run.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}, status="Accepted")
    await run.expect("StartTransaction", connectorId=1, idTag=tag)
    await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.expect_none("Authorize", after=mark, within=0)


@case("TC_042_1_CS", "Get Local List Version (not supported)", module=MODULE, profile=CORE)
async def tc_042_1(run: Run) -> None:
    """A station without the list answers GetLocalListVersion with -1 ([S] 6.29), or with a
    CALLERROR NotSupported when it lacks the profile altogether (OCPP-J §4.2.3). One that has
    the profile is checked with the list switched off (LocalAuthListEnabled false): -1."""
    if LOCAL_AUTH_LIST_MANAGEMENT in run.facts.profiles:
        await ensure_config(run, "LocalAuthListEnabled", "false")
        await list_version(run, -1, "with the list disabled")
        return
    answer, error = await run.call_or_error("GetLocalListVersion", {})
    await run.check(
        "listVersion -1 or CALLERROR NotSupported",
        answer == {"listVersion": -1} or error == "NotSupported",
        answer or error,
    )


@case("TC_042_2_CS", "Get Local List Version (empty)", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_042_2(run: Run) -> None:
    """With the list enabled and empty: listVersion 0 ([S] 6.29, digest §5.2), also after a
    Full update of version 1 that leaves it empty."""
    await enabled_and_empty(run)
    await list_version(run, 0, "of an empty list")
    await send_list(run, 1, "Full", [], "Accepted")
    await list_version(run, 0, "after an empty Full update")


@case("TC_043_CS", "Send Local Authorization List", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_043(run: Run) -> None:
    """Full (version 1, two cards) Accepted -> version 1; Differential (version 2: one card
    added, one deleted by an entry without idTagInfo) Accepted -> version 2; Differential
    (version 3) changing a card's status -> version 3 ([S] 5.15, 6.41)."""
    tags = run.tags
    await enabled_and_empty(run)
    await send_list(run, 1, "Full", [entry(tags.valid), entry(tags.valid_2)], "Accepted")
    await list_version(run, 1, "after the Full update")
    await send_list(
        run, 2, "Differential", [entry(tags.group_a), entry(tags.valid_2, None)], "Accepted"
    )
    await list_version(run, 2, "after the Differential update")
    await send_list(run, 3, "Differential", [entry(tags.group_a, "Blocked")], "Accepted")
    await list_version(run, 3, "after the second Differential update")


@case("TC_043_1_CS", "Send Local Authorization List - NotSupported", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_043_1(run: Run) -> None:
    """LocalAuthListEnabled false: SendLocalList is NotSupported ([S] 6.42) and changes
    nothing: enabled again, the list is still the one before."""
    await enabled_and_empty(run)
    await send_list(run, 4, "Full", [entry(run.tags.valid)], "Accepted")
    await run.configure("LocalAuthListEnabled", "false")
    await send_list(run, 5, "Full", [entry(run.tags.valid_2)], "NotSupported")
    await run.configure("LocalAuthListEnabled", "true")
    await list_version(run, 4, "after the refused update")


@case("TC_043_2_CS", "Send Local Authorization List - VersionMismatch", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_043_2(run: Run) -> None:
    """A Differential update whose version is not newer than the list's is VersionMismatch
    (digest §5.2), whether equal or older, and leaves the version as it was."""
    await enabled_and_empty(run)
    await send_list(run, 5, "Full", [entry(run.tags.valid)], "Accepted")
    await send_list(run, 5, "Differential", [entry(run.tags.valid_2)], "VersionMismatch")
    await send_list(run, 3, "Differential", [entry(run.tags.valid_2)], "VersionMismatch")
    await list_version(run, 5, "after the mismatched updates")


@case("TC_043_3_CS", "Send Local Authorization List - Failed", module=MODULE,
      profile=LOCAL_AUTH_LIST_MANAGEMENT)  # fmt: skip
async def tc_043_3(run: Run) -> None:
    """More entries in one request than SendLocalListMaxLength: Failed ([S] 6.42), and the
    list keeps its version."""
    read = await run.get_configuration(["SendLocalListMaxLength"])
    if "SendLocalListMaxLength" not in read:
        run.not_applicable("the station has no SendLocalListMaxLength key to exceed")
    try:
        maximum = int(read["SendLocalListMaxLength"].value or "")
    except ValueError:
        run.not_applicable(f"SendLocalListMaxLength is {read['SendLocalListMaxLength'].value}")
    if maximum >= MAX_FAILED_PROBE:
        run.not_applicable(f"SendLocalListMaxLength {maximum}: too many entries to exceed")
    await enabled_and_empty(run)
    await send_list(run, 2, "Full", [entry(run.tags.valid)], "Accepted")
    too_many = [entry(f"LIST-{n:06d}") for n in range(maximum + 1)]
    await send_list(run, 3, "Full", too_many, "Failed")
    await list_version(run, 2, "after the failed update")
