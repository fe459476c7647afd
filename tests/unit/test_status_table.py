"""The §4.9 transition table, transcribed once more from OCPP 1.6 edition 2 (the table under
"Status transitions", connectorId > 0) and compared with the station's, cell by cell.

The station's table (station.status) is data a mutation tool does not change; this second,
independent transcription is what catches a cell added or lost.
"""

from __future__ import annotations

import itertools

import pytest

from ocpp_station.station.status import (
    AVAILABLE,
    CHARGING,
    FAULTED,
    FINISHING,
    PREPARING,
    RESERVED,
    SUSPENDED_EV,
    SUSPENDED_EVSE,
    UNAVAILABLE,
    transition_code,
)

# Rows A-I are the states "from", columns 1-9 the states "to", as the specification numbers
# them; every cell the table fills, row by row.
SPEC_CELLS = """
A2 A3 A4 A5 A7 A8 A9
B1 B3 B4 B5 B6 B9
C1 C4 C5 C6 C8 C9
D1 D3 D5 D6 D8 D9
E1 E3 E4 E6 E8 E9
F1 F2 F8 F9
G1 G2 G8 G9
H1 H2 H3 H4 H5 H9
I1 I2 I3 I4 I5 I6 I7 I8
""".split()

STATES = [
    AVAILABLE,  # A, 1
    PREPARING,  # B, 2
    CHARGING,  # C, 3
    SUSPENDED_EV,  # D, 4
    SUSPENDED_EVSE,  # E, 5
    FINISHING,  # F, 6
    RESERVED,  # G, 7
    UNAVAILABLE,  # H, 8
    FAULTED,  # I, 9
]


def test_the_transcription_is_whole() -> None:
    assert len(SPEC_CELLS) == 53 and len(set(SPEC_CELLS)) == 53  # 7+6+6+6+6+4+4+6+8


@pytest.mark.parametrize(
    ("row", "column"), list(itertools.product(range(9), range(9))), ids=lambda v: str(v)
)
def test_each_cell_matches_the_specification(row: int, column: int) -> None:
    code = f"{'ABCDEFGHI'[row]}{column + 1}"
    expected = code if code in SPEC_CELLS else None
    assert transition_code(STATES[row], STATES[column]) == expected
