"""What the station says of a frame it cannot read (OCPP-J §4.2.3: the CALLERROR's
errorDescription), and the CALLERROR frames it builds itself."""

from __future__ import annotations

import pytest

from ocpp_station.rpc.frames import (
    MAX_DESCRIPTION_LENGTH,
    FrameError,
    decode,
    encode_error,
    error_frame,
)


@pytest.mark.parametrize(
    ("raw", "reason", "type_id", "message_id"),
    [
        ("[]", "a frame must be a non-empty JSON array", None, None),
        ("{}", "a frame must be a non-empty JSON array", None, None),
        ('["2", "m1", "Heartbeat", {}]', "MessageTypeId must be an integer", None, "m1"),
        ('[2, "m1", "Heartbeat"]', "message type 2 needs 4 elements, got 3", 2, "m1"),
        ('[2, 7, "Heartbeat", {}]', "message id must be a string", 2, "7"),  # echoed as text
        ('[2, "m1", 5, {}]', "action must be a string", 2, "m1"),
        ('[2, "m1", "Heartbeat", []]', "payload must be an object", 2, "m1"),
        ('[3, "m1", []]', "payload must be an object", 3, "m1"),
        ('[4, "m1", 5, "x", {}]', "errorCode and errorDescription must be strings", 4, "m1"),
        ('[4, "m1", "GenericError", "x", []]', "errorDetails must be an object", 4, "m1"),
    ],
)
def test_an_unreadable_frame_says_why(
    raw: str, reason: str, type_id: int | None, message_id: str | None
) -> None:
    with pytest.raises(FrameError) as refused:
        decode(raw)
    assert (refused.value.description, refused.value.message_type_id) == (reason, type_id)
    assert refused.value.message_id == message_id


def test_a_callerror_frame_always_has_a_string_description_and_object_details() -> None:
    assert error_frame("m1", "GenericError") == [4, "m1", "GenericError", "", {}]
    # A handler's exception may carry anything as its text: it goes as a string.
    number: object = 42
    framed = error_frame("m1", "GenericError", number, {"a": 1})  # type: ignore[arg-type]
    assert framed == [4, "m1", "GenericError", "42", {"a": 1}]
    exact = "x" * MAX_DESCRIPTION_LENGTH
    assert error_frame("m1", "GenericError", exact)[3] == exact  # not cut at the limit itself
    cut = error_frame("m1", "GenericError", exact + "y")[3]
    assert len(cut) == MAX_DESCRIPTION_LENGTH and cut.endswith("...")
    assert (
        encode_error("m1", "GenericError", "d", {"a": 1}) == b'[4,"m1","GenericError","d",{"a":1}]'
    )
    assert encode_error("m1", "GenericError") == b'[4,"m1","GenericError","",{}]'
