"""08 Configuration (happy flow): TC_019_CS, TC_021_CS; and 16 / 17 Configuration Keys and
Fault (non-happy): TC_040_1_CS, TC_040_2_CS, TC_041_CS."""

from __future__ import annotations

from typing import Any

from ocpp_station.conformance.case import case
from ocpp_station.conformance.cases.flows import local_start_plugged
from ocpp_station.conformance.cases.spec_keys import (
    OPTIONAL,
    READ_ONLY,
    READ_WRITE,
    REQUIRED,
    csl,
    type_problem,
)
from ocpp_station.conformance.steps import Run

HAPPY = "08 Configuration (happy flow)"
NON_HAPPY = "16 / 17 Configuration Keys and Fault (non-happy)"

SAMPLE_INTERVAL = "MeterValueSampleInterval"


def _entries(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return list(answer.get("configurationKey") or [])


def _problems(entries: list[dict[str, Any]], declared: list[str]) -> list[str]:
    """What is wrong with a get-all answer: keys the declared profiles require but that are
    missing, values not of their type, accessibility the specification contradicts."""
    by_name = {e.get("key"): e for e in entries}
    problems: list[str] = []
    for profile in declared:
        for key, kind in REQUIRED[profile].items():
            if key not in by_name:
                problems.append(f"{profile} key {key} missing")
                continue
            why = type_problem(kind, by_name[key].get("value"))
            if why is not None:
                problems.append(f"{key}: {why}")
    for key, kind in OPTIONAL.items():
        if key in by_name and by_name[key].get("value") is not None:
            why = type_problem(kind, by_name[key]["value"])
            if why is not None:
                problems.append(f"{key}: {why}")
    for entry in entries:
        name, readonly = entry.get("key"), entry.get("readonly")
        if not isinstance(readonly, bool):
            problems.append(f"{name}: readonly is not a boolean")
        elif name in READ_ONLY and not readonly:
            problems.append(f"{name} is read-only in the specification")
        elif name in READ_WRITE and readonly:
            problems.append(f"{name} is read-write in the specification")
    return problems


# ---------------------------------------------------------------------------- 08 Configuration


@case("TC_019_CS", "Retrieve configuration", module=HAPPY, profile="Core")
async def tc_019(run: Run) -> None:
    """SupportedFeatureProfiles is read-only and lists only the six profile identifiers; a
    get-all holds every key the declared profiles require, each value of its specification
    type, with the accessibility the specification fixes, and as many connectors as were
    reported; GetConfigurationMaxKeys >= 1 and a request for that many keys is answered for all
    of them ([S] 5.8, 9.1-9.4). [S] 5.8 lets the station limit a request for more keys than
    GetConfigurationMaxKeys: such a request is refused with a CALLERROR
    OccurenceConstraintViolation or answered in full, never answered in part. Nothing
    shrunk."""
    answer = await run.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    entries = _entries(answer)
    await run.check_equal(
        "the keys answered", [e.get("key") for e in entries], ["SupportedFeatureProfiles"]
    )
    profiles = entries[0]
    await run.check_equal("SupportedFeatureProfiles is read-only", profiles.get("readonly"), True)
    why = type_problem("profiles", profiles.get("value"))
    await run.check("SupportedFeatureProfiles lists only profile identifiers", why is None, why)
    declared = csl(profiles["value"])
    await run.check("Core is declared", "Core" in declared, declared)

    everything = _entries(await run.call("GetConfiguration", {}))
    names = [str(e.get("key")) for e in everything]
    await run.check(
        "no key is listed twice",
        len(names) == len(set(names)),
        sorted({n for n in names if names.count(n) > 1}),
    )
    problems = _problems(everything, declared)
    await run.check(
        "every required key is there, typed and accessible as the specification says",
        not problems,
        problems,
    )
    by_name = {e["key"]: e for e in everything}
    # [E] 3.22: each connector reported a status after the boot; [S] 9.1.16: 1..N.
    number = int(by_name["NumberOfConnectors"]["value"])
    reported = sorted(c for c in run.csms.record(run.identity).connectors if c > 0)
    await run.check_equal(
        f"the connectors reported (NumberOfConnectors is {number})",
        reported,
        list(range(1, number + 1)),
    )
    if "fixed_cable" in run.facts.features:
        # [E] 3.84: a fixed cable reports false and does not let it change.
        unlock = by_name["UnlockConnectorOnEVSideDisconnect"]
        await run.check_equal(
            "a fixed cable: UnlockConnectorOnEVSideDisconnect (value, readonly)",
            (str(unlock.get("value")).lower(), unlock.get("readonly")),
            ("false", True),
        )

    answer = await run.call("GetConfiguration", {"key": ["GetConfigurationMaxKeys"]})
    max_keys = next((e for e in _entries(answer) if e.get("key") == "GetConfigurationMaxKeys"), {})
    value = str(max_keys.get("value"))
    await run.check(
        "GetConfigurationMaxKeys is a whole number >= 1",
        value.isdigit() and int(value) >= 1,
        value,
    )
    maximum = int(value)
    wanted = names[:maximum]
    answer = await run.call("GetConfiguration", {"key": wanted})
    await run.check_equal(
        f"the keys answered to a request for {len(wanted)} keys",
        sorted(e.get("key") for e in _entries(answer)),
        sorted(wanted),
    )
    await run.check("no key is unknown", not answer.get("unknownKey"), answer.get("unknownKey"))

    if len(names) > maximum:
        # [S] 5.8: the station MAY limit the keys of one request to GetConfigurationMaxKeys.
        # The answer has no way to say "too many", so a station that limits refuses with a
        # CALLERROR (OccurenceConstraintViolation: key has too many items); one that does
        # not answers every key. An answer listing some of them is wrong either way.
        over = names[: maximum + 1]
        answer_or_none, code = await run.call_or_error("GetConfiguration", {"key": over})
        if answer_or_none is None:
            # [JE] 5.1: 1.6 keeps the misspelt OccurenceConstraintViolation; take either.
            await run.check(
                f"the CALLERROR for {len(over)} keys (GetConfigurationMaxKeys {maximum}) is "
                "OccurenceConstraintViolation",
                code in ("OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
                code,
            )
        else:
            await run.check_equal(
                f"the keys answered to a request for {len(over)} keys, more than "
                f"GetConfigurationMaxKeys: all or none",
                sorted(e.get("key") for e in _entries(answer_or_none)),
                sorted(over),
            )


@case("TC_021_CS", "Change/set Configuration", module=HAPPY, profile="Core")
async def tc_021(run: Run) -> None:
    """MeterValueSampleInterval read, set to its value + 10 (Accepted), read back (read-write),
    restored and read back ([S] 5.3). Nothing shrunk."""
    read = await run.get_configuration([SAMPLE_INTERVAL])
    await run.check_equal("the keys answered", list(read), [SAMPLE_INTERVAL])
    original = read[SAMPLE_INTERVAL].value or ""
    await run.check(f"{SAMPLE_INTERVAL} is a whole number", original.isdigit(), original)
    changed = str(int(original) + 10)
    await run.configure(SAMPLE_INTERVAL, changed)
    read = await run.get_configuration([SAMPLE_INTERVAL])
    await run.check_equal(
        f"{SAMPLE_INTERVAL} read back (value, readonly)",
        (read[SAMPLE_INTERVAL].value, read[SAMPLE_INTERVAL].readonly),
        (changed, False),
    )
    await run.configure(SAMPLE_INTERVAL, original)
    read = await run.get_configuration([SAMPLE_INTERVAL])
    await run.check_equal(
        f"{SAMPLE_INTERVAL} after the restore", read[SAMPLE_INTERVAL].value, original
    )


# ---------------------------------------------------------------------------- 16 / 17


@case("TC_040_1_CS", "Configuration Keys - NotSupported", module=NON_HAPPY, profile="Core")
async def tc_040_1(run: Run) -> None:
    """ChangeConfiguration of a key the station does not have ("Testing") -> NotSupported
    ([S] 5.3); GetConfiguration lists it as unknown ([S] 5.8). Nothing shrunk."""
    await run.call(
        "ChangeConfiguration", {"key": "Testing", "value": "true"}, status="NotSupported"
    )
    answer = await run.call("GetConfiguration", {"key": ["Testing"]})
    await run.check_equal("the unknown keys", answer.get("unknownKey"), ["Testing"])
    await run.check_equal("the keys answered", _entries(answer), [])


@case("TC_040_2_CS", "Configuration Keys - Invalid value", module=NON_HAPPY, profile="Core")
async def tc_040_2(run: Run) -> None:
    """ChangeConfiguration MeterValueSampleInterval = -1 -> Rejected ([S] 5.3: a value out of
    range; OCTT also takes a CALLERROR PropertyConstraintViolation), and the value stays what
    it was. Nothing shrunk."""
    before = (await run.get_configuration([SAMPLE_INTERVAL]))[SAMPLE_INTERVAL].value
    answer, code = await run.call_or_error(
        "ChangeConfiguration", {"key": SAMPLE_INTERVAL, "value": "-1"}
    )
    if answer is None:
        await run.check_equal("the CALLERROR code", code, "PropertyConstraintViolation")
    else:
        await run.check_equal("the ChangeConfiguration status", answer.get("status"), "Rejected")
    after = (await run.get_configuration([SAMPLE_INTERVAL]))[SAMPLE_INTERVAL].value
    await run.check_equal(f"{SAMPLE_INTERVAL} after the refusal", after, before)


@case(
    "TC_041_CS",
    "Fault Behavior",
    module=NON_HAPPY,
    profile="Core",
    needs={"fault_injection"},
)
async def tc_041(run: Run) -> None:
    """A fault on an idle connector -> StatusNotification Faulted with its errorCode; cleared
    -> Available with NoError ([S] 4.9, transitions A9 and I1); the other connectors are not
    concerned. Then the same while charging: Faulted with its errorCode; cleared -> Charging
    again with NoError (I3), the same transaction, no StopTransaction. Nothing shrunk."""
    mark = run.mark()
    await run.raise_fault(1, "GroundFailure")
    faulted = await run.expect("StatusNotification", connectorId=1, status="Faulted")
    await run.check_equal("the errorCode with Faulted", faulted.get("errorCode"), "GroundFailure")
    await run.clear_fault(1)
    back = await run.expect("StatusNotification", connectorId=1, status="Available")
    await run.check_equal("the errorCode once cleared", back.get("errorCode"), "NoError")
    others = [
        (m.get("connectorId"), m.get("status"))
        for m in run.messages("StatusNotification", after=mark)
        if m.get("connectorId") != 1
    ]
    await run.check_equal("the statuses of the other connectors since the fault", others, [])

    # While charging: the fault interrupts the energy, not the transaction.
    start = await local_start_plugged(run, run.tags.valid)
    transaction_id = await run.transaction_id(start)
    mark = run.mark()
    await run.raise_fault(1, "OverCurrentFailure", "test fault")
    faulted = await run.expect("StatusNotification", connectorId=1, status="Faulted")
    await run.check_equal(
        "the errorCode with Faulted", faulted.get("errorCode"), "OverCurrentFailure"
    )
    await run.clear_fault(1)
    back = await run.expect("StatusNotification", connectorId=1, status="Charging")
    await run.check_equal("the errorCode once cleared", back.get("errorCode"), "NoError")
    await run.check(
        "no StopTransaction since the fault",
        not run.messages("StopTransaction", after=mark),
        run.messages("StopTransaction", after=mark),
    )
    open_transactions = run.csms.record(run.identity).open_transactions
    await run.check(
        f"transaction {transaction_id} is still open",
        transaction_id in open_transactions,
        sorted(open_transactions),
    )
