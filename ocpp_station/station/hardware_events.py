"""What the hardware reports (ocpp_station.hardware.interfaces.HardwareListener), turned into
the station's state: cables and EVs go to the sessions, faults to the connectors' status.

At every power-up the connectors' physical state is read afresh from the hardware, so a
restart sees the world as it is (a cable still plugged, a fault still active).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from ocpp_station.hardware.interfaces import CardOutcome
from ocpp_station.station.service import Service
from ocpp_station.station.status import WARNINGS
from ocpp_station.station.transactions import LOCK_FAILURE

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.transactions import Sessions


class HardwareEvents(Service):
    """The station's HardwareListener."""

    __slots__ = ("ctx", "sessions")

    def __init__(self, ctx: StationContext, sessions: Sessions) -> None:
        self.ctx = ctx
        self.sessions = sessions
        ctx.hardware.set_listener(self)

    def on_power_up(self, cold: bool) -> None:
        ctx = self.ctx
        for c in ctx.cp:
            hw = ctx.hw(c.connector_id)
            c.plugged = hw.is_plugged()
            c.ev_drawing = c.plugged and hw.ev_wants_power()
            c.sense_fault(hw.active_fault())
            c.lock_failed = False  # a restart drives the lock afresh at the next start
            if not c.plugged:
                c.finishing = False
            elif not c.finishing and c.transaction is None:
                # A session that ended before the restart still waits for the user.
                c.finishing = ctx.status.stored_finishing(c.connector_id)
        ctx.cp.fault = ctx.hardware.station_fault()

    # -- HardwareListener ---------------------------------------------------------------------
    def cable_plugged(self, connector_id: int) -> None:
        self.ctx.events.physical_changed.emit()
        self.sessions.cable_plugged(self.ctx.cp.connector(connector_id))

    def cable_unplugged(self, connector_id: int) -> None:
        self.ctx.events.physical_changed.emit()
        self.sessions.cable_unplugged(self.ctx.cp.connector(connector_id))

    def ev_suspended(self, connector_id: int) -> None:
        self.ctx.events.physical_changed.emit()
        self.sessions.ev_changed(self.ctx.cp.connector(connector_id), False)

    def ev_resumed(self, connector_id: int) -> None:
        self.ctx.events.physical_changed.emit()
        self.sessions.ev_changed(self.ctx.cp.connector(connector_id), True)

    def fault_raised(self, connector_id: int, error_code: str, info: str | None) -> None:
        ctx = self.ctx
        ctx.events.physical_changed.emit()
        if connector_id == 0:
            ctx.cp.fault = (error_code, info)
            ctx.status.update_station()
            return
        c = ctx.cp.connector(connector_id)
        hw = ctx.hw(connector_id)
        if error_code in WARNINGS:
            # A warning (§4.9): charging stays possible and energy stays offered; whether the
            # EV still draws is the EV's business, read from the hardware.
            c.warning = (error_code, info)
            c.ev_drawing = c.plugged and hw.ev_wants_power()
            ctx.status.update(c)
            return
        c.fault = (error_code, info)
        # A fault prevents charging (§4.9 x9); the transaction itself is kept.
        hw.set_energy_offered(False)
        ctx.status.update(c)

    def fault_cleared(self, connector_id: int) -> None:
        ctx = self.ctx
        ctx.events.physical_changed.emit()
        if connector_id == 0:
            ctx.cp.fault = None
            ctx.status.update_station()
            return
        c = ctx.cp.connector(connector_id)
        if c.warning is not None and c.fault is None:
            c.warning = None
            c.ev_drawing = c.plugged and ctx.hw(connector_id).ev_wants_power()
            ctx.status.update(c)
            return
        c.warning = None
        # A lock failure the station saw itself outlives a hardware fault that came after it.
        c.fault = LOCK_FAILURE if c.lock_failed else None
        tx = c.transaction
        if tx is not None and not tx.energy_suspended:
            hw = ctx.hw(connector_id)
            hw.set_energy_offered(True)
            c.ev_drawing = hw.ev_wants_power()
        ctx.status.update(c)  # I1-I8: back to the status before the fault

    def card_presented(self, id_tag: str, connector_id: int | None) -> Awaitable[CardOutcome]:
        return self.sessions.card_presented(id_tag, connector_id)
