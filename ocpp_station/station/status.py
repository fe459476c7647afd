"""Connector status: the specification's transition table and the rule that derives a status.

A connector's status is not set by hand in a dozen places: it is derived from the connector's
state (fault, transaction, cable, authorization, availability) by `derive_status`, and every
change is checked against the transition table of OCPP 1.6 §4.9, written here as the
specification prints it (row = from, code letter; column = to, code digit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocpp_station.station.connector import Connector

AVAILABLE = "Available"
PREPARING = "Preparing"
CHARGING = "Charging"
SUSPENDED_EV = "SuspendedEV"
SUSPENDED_EVSE = "SuspendedEVSE"
FINISHING = "Finishing"
RESERVED = "Reserved"
UNAVAILABLE = "Unavailable"
FAULTED = "Faulted"

# Row letter and column digit of each status in the table of §4.9.
_ROW = {
    AVAILABLE: "A",
    PREPARING: "B",
    CHARGING: "C",
    SUSPENDED_EV: "D",
    SUSPENDED_EVSE: "E",
    FINISHING: "F",
    RESERVED: "G",
    UNAVAILABLE: "H",
    FAULTED: "I",
}
_COLUMN = {
    AVAILABLE: 1,
    PREPARING: 2,
    CHARGING: 3,
    SUSPENDED_EV: 4,
    SUSPENDED_EVSE: 5,
    FINISHING: 6,
    RESERVED: 7,
    UNAVAILABLE: 8,
    FAULTED: 9,
}

# OCPP 1.6 §4.9, "possible status transitions", for connectorId > 0. Each entry is the set of
# allowed destination columns of one row; B6 is the [E] 3.20 addition for a timed-out plug-in.
_TABLE: dict[str, frozenset[int]] = {
    "A": frozenset({2, 3, 4, 5, 7, 8, 9}),
    "B": frozenset({1, 3, 4, 5, 6, 9}),
    "C": frozenset({1, 4, 5, 6, 8, 9}),
    "D": frozenset({1, 3, 5, 6, 8, 9}),
    "E": frozenset({1, 3, 4, 6, 8, 9}),
    "F": frozenset({1, 2, 8, 9}),
    "G": frozenset({1, 2, 8, 9}),
    "H": frozenset({1, 2, 3, 4, 5, 9}),
    "I": frozenset({1, 2, 3, 4, 5, 6, 7, 8}),
}

# Connector 0 (the charge point as a whole) only knows these (§4.9, below the table).
STATION_STATUSES = frozenset({AVAILABLE, UNAVAILABLE, FAULTED})

# §4.9: error codes that are warnings, never a reason to be Faulted, and the statuses they may
# be reported with ("EVCommunicationError SHALL only be used with status Preparing,
# SuspendedEV, SuspendedEVSE and Finishing and be treated as warning").
WARNINGS = frozenset({"EVCommunicationError"})
WARNING_STATUSES = frozenset({PREPARING, SUSPENDED_EV, SUSPENDED_EVSE, FINISHING})


def transition_code(old: str, new: str) -> str | None:
    """The specification's code for a transition (e.g. 'B6'), or None if the table forbids it."""
    row = _ROW[old]
    column = _COLUMN[new]
    return f"{row}{column}" if column in _TABLE[row] else None


def derive_status(connector: Connector, station_operative: bool) -> str:
    """The status a connector (> 0) is in, from its state.

    Order matters: a fault hides everything; a running transaction is never shown Unavailable
    (a ChangeAvailability during a session is Scheduled, §5.2); Finishing waits for the user
    before an availability change takes effect (F8).
    """
    if connector.fault is not None:
        return FAULTED
    tx = connector.transaction
    if tx is not None:
        if tx.energy_suspended:
            return SUSPENDED_EVSE
        if not connector.ev_drawing:
            return SUSPENDED_EV
        return CHARGING
    if connector.finishing:
        return FINISHING
    if not (connector.operative and station_operative):
        return UNAVAILABLE
    if connector.plugged or connector.authorization is not None:
        return PREPARING
    return AVAILABLE
