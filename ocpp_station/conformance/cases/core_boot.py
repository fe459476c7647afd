"""01 Cold Boot: TC_001_CS, TC_002_CS."""

from __future__ import annotations

from ocpp_station.conformance.case import case
from ocpp_station.conformance.steps import Run

MODULE = "01 Cold Boot"


@case("TC_001_CS", "Cold Boot Charge Point", module=MODULE, profile="Core", booted=False)
async def tc_001(run: Run) -> None:
    """Boot -> Accepted -> StatusNotification Available for connector 0 and each connector ->
    Heartbeats HeartbeatInterval apart (+-1 s), on the same connection. Shrunk: the
    HeartbeatInterval given in BootNotification.conf is 1 s."""
    interval = int(run.timing("heartbeat_interval", 1))
    await run.boot_answer("Accepted", interval=interval)
    await run.power_on()
    boot = await run.expect("BootNotification", timeout=run.settings.boot_timeout)
    await run.check("BootNotification names the vendor", bool(boot.get("chargePointVendor")))
    for connector_id in range(len(run.connector_ids) + 1):
        await run.expect("StatusNotification", connectorId=connector_id)
    # [E] 3.22: after Accepted, a status for connector 0 and each connector, all Available.
    reported = [
        (m["connectorId"], m["status"]) for m in run.messages("StatusNotification", after=boot.seq)
    ]
    await run.check_equal(
        "the statuses reported after the boot",
        reported,
        [(c, "Available") for c in range(len(run.connector_ids) + 1)],
    )
    first = await run.expect("Heartbeat", timeout=interval + 4)
    second = await run.expect("Heartbeat", timeout=interval + 4)
    # [S] 4.6: the interval BootNotification.conf gave; OCTT allows a second either way.
    gap = (second.time - first.time).total_seconds()
    await run.check(
        f"the Heartbeats come HeartbeatInterval ({interval} s) +-1 s apart",
        abs(gap - interval) <= 1,
        f"{gap:.2f} s",
    )
    await run.check(
        "the station stayed connected",
        run.link.session is not None and second.connection == boot.connection,
        f"connection {second.connection}",
    )


@case("TC_002_CS", "Cold Boot Charge Point - Pending", module=MODULE, profile="Core", booted=False)
async def tc_002(run: Run) -> None:
    """BootNotification answered Pending: the station answers GetConfiguration and
    ChangeConfiguration (MeterValueSampleInterval) and sends no request of its own ([S] 4.2),
    boots again no earlier than `interval`, and once Accepted reports every connector and sends
    Heartbeats. A card presented while Pending provokes no Authorize. Shrunk: the boot
    `interval` (also the HeartbeatInterval once accepted) is 2 s."""
    interval = int(run.timing("boot_interval", 2))
    await run.boot_answer("Pending", interval=interval)
    await run.power_on()
    first = await run.expect("BootNotification", timeout=run.settings.boot_timeout)

    # [S] 4.2: while Pending the central system may read and change the configuration.
    keys = await run.get_configuration()
    await run.check(
        "GetConfiguration lists MeterValueSampleInterval and HeartbeatInterval",
        "MeterValueSampleInterval" in keys and "HeartbeatInterval" in keys,
        sorted(keys),
    )
    new_interval = str(int(keys["MeterValueSampleInterval"].value or "0") + 10)
    await run.configure("MeterValueSampleInterval", new_interval)
    read = await run.get_configuration(["MeterValueSampleInterval"])
    await run.check_equal(
        "MeterValueSampleInterval read back", read["MeterValueSampleInterval"].value, new_interval
    )
    # A card shown now must not make the station send an Authorize.req ([S] 4.2).
    await run.present_card(run.tags.valid)

    # The next BootNotification, no earlier than the interval after the first.
    second = await run.expect("BootNotification", timeout=interval + 10)
    waited = (second.time - first.time).total_seconds()
    await run.check(
        f"the second BootNotification comes at least {interval} s after the first",
        waited >= interval - 0.5,
        f"{waited:.2f} s",
    )
    await run.boot_answer("Accepted", interval=interval)
    await run.expect("StatusNotification", connectorId=0, timeout=interval + 10)
    accepted = run.messages("BootNotification")[-1]
    # [S] 4.2: before Accepted the station sent nothing but BootNotifications.
    before = [m.action for m in run.messages(after=first.seq - 1, until=accepted.seq)]
    await run.check(
        "before it was accepted the station sent only BootNotifications (two or more)",
        set(before) == {"BootNotification"} and len(before) >= 2,
        before,
    )

    # [E] 3.22: after Accepted, a status for connector 0 and each connector, then Heartbeats.
    for connector_id in run.connector_ids:
        await run.expect("StatusNotification", connectorId=connector_id)
    reported = [
        (m["connectorId"], m["status"])
        for m in run.messages("StatusNotification", after=accepted.seq)
    ]
    expected = [(c, "Available") for c in range(len(run.connector_ids) + 1)]
    await run.check_equal(
        "the statuses reported after the boot", reported[: len(expected)], expected
    )
    await run.expect("Heartbeat", timeout=interval + 10)
    read = await run.get_configuration(["HeartbeatInterval", "MeterValueSampleInterval"])
    await run.check_equal(
        "HeartbeatInterval (from BootNotification.conf)",
        read["HeartbeatInterval"].value,
        str(interval),
    )
    await run.check_equal(
        "MeterValueSampleInterval (set while Pending)",
        read["MeterValueSampleInterval"].value,
        new_interval,
    )
