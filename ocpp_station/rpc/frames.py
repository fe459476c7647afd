"""OCPP-J message frames (OCPP-J 1.6 §4): JSON arrays, compact UTF-8, encoded with orjson.

CALL        [2, "<id>", "<Action>", {payload}]
CALLRESULT  [3, "<id>", {payload}]
CALLERROR   [4, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ocpp_station.rpc.errors import FormationViolation

CALL = 2
CALLRESULT = 3
CALLERROR = 4

MAX_ID_LENGTH = 36
"""OCPP-J 1.6 §4.1.4: a message id is a string of at most 36 characters."""

MAX_DESCRIPTION_LENGTH = 255
"""A CALLERROR description is cut here so that an exception text never bloats a frame."""

_FRAME_LENGTH = {CALL: 4, CALLRESULT: 3, CALLERROR: 5}

# The start of a frame whose JSON does not parse: "[<type>, "<id>"". Enough to answer a broken
# CALL with a CALLERROR that the sender can match (design: "send a CALLERROR whenever the
# message id can be read").
_HEAD = re.compile(r'\s*\[\s*(\d{1,3})\s*,\s*("(?:[^"\\]|\\.){0,200}")')
_SCAN_LIMIT = 512


class FrameError(FormationViolation):
    """A frame that is not a well-formed OCPP-J message.

    message_type_id and message_id are what could still be read of it (None when unreadable),
    so that a broken CALL can be answered and a broken answer matched to its CALL.
    """

    def __init__(
        self, description: str, message_type_id: int | None = None, message_id: str | None = None
    ) -> None:
        super().__init__(description)
        self.message_type_id = message_type_id
        self.message_id = message_id


def encode(frame: list[Any]) -> bytes:
    """A frame as compact UTF-8 JSON."""
    return orjson.dumps(frame)


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALL, message_id, action, payload])


def encode_result(message_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALLRESULT, message_id, payload])


def error_frame(
    message_id: str, code: str, description: str = "", details: dict[str, Any] | None = None
) -> list[Any]:
    """A CALLERROR frame: description always a string (cut to MAX_DESCRIPTION_LENGTH), details
    always an object ({} when empty, OCPP-J 1.6 §4.2.3)."""
    text = description if type(description) is str else str(description)
    if len(text) > MAX_DESCRIPTION_LENGTH:
        text = text[: MAX_DESCRIPTION_LENGTH - 3] + "..."
    return [CALLERROR, message_id, code, text, details if type(details) is dict else {}]


def encode_error(
    message_id: str, code: str, description: str = "", details: dict[str, Any] | None = None
) -> bytes:
    frame = error_frame(message_id, code, description, details)
    try:
        return orjson.dumps(frame)
    except orjson.JSONEncodeError:
        # Details that are not JSON (a handler's mistake) must not cost the CALLERROR itself.
        frame[4] = {}
        return orjson.dumps(frame)


def decode(data: bytes | str) -> list[Any]:
    """Parse one received text frame and check its structure.

    Returns the frame as a list; a CALL or CALLRESULT whose payload is null gets {} (OCPP-J 1.6
    §4.2.1 allows null for "no payload"). Frames with an unknown MessageTypeId are returned
    as they are: the caller ignores them (OCPP-J 1.6 §4.1.3).
    Raises FrameError (a FormationViolation) carrying the type and id when they can be read.
    """
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        type_id, message_id = _scan_head(data)
        raise FrameError("malformed JSON", type_id, message_id) from None
    if type(frame) is not list or not frame:
        raise FrameError("a frame must be a non-empty JSON array")
    type_id = frame[0]
    if type(type_id) is not int:
        raise FrameError("MessageTypeId must be an integer", None, _echo_id(frame))
    expected = _FRAME_LENGTH.get(type_id)
    if expected is None:
        return frame
    if len(frame) != expected:
        raise FrameError(
            f"message type {type_id} needs {expected} elements, got {len(frame)}",
            type_id,
            _echo_id(frame),
        )
    message_id = frame[1]
    if type(message_id) is not str:
        raise FrameError("message id must be a string", type_id, _echo_id(frame))
    if type_id == CALL:
        if len(message_id) > MAX_ID_LENGTH:
            raise FrameError(
                f"message id longer than {MAX_ID_LENGTH} characters", type_id, message_id
            )
        if type(frame[2]) is not str:
            raise FrameError("action must be a string", type_id, message_id)
        payload = frame[3]
        if type(payload) is not dict:
            if payload is not None:
                raise FrameError("payload must be an object", type_id, message_id)
            frame[3] = {}
    elif type_id == CALLRESULT:
        payload = frame[2]
        if type(payload) is not dict:
            if payload is not None:
                raise FrameError("payload must be an object", type_id, message_id)
            frame[2] = {}
    else:
        if type(frame[2]) is not str or type(frame[3]) is not str:
            raise FrameError("errorCode and errorDescription must be strings", type_id, message_id)
        if type(frame[4]) is not dict:
            raise FrameError("errorDetails must be an object", type_id, message_id)
    return frame


def _echo_id(frame: list[Any]) -> str | None:
    """The id to echo in a CALLERROR for a broken frame: a string as it is, an integer as its
    digits (senders that number their messages), anything else cannot be echoed."""
    if len(frame) < 2:
        return None
    message_id = frame[1]
    if type(message_id) is str:
        return message_id
    if type(message_id) is int:
        return str(message_id)
    return None


def _scan_head(data: bytes | str) -> tuple[int | None, str | None]:
    """Type and id from the start of text that is not valid JSON, if they are readable."""
    head = data[:_SCAN_LIMIT]
    if not isinstance(head, str):
        head = bytes(head).decode("utf-8", "replace")
    match = _HEAD.match(head)
    if match is None:
        return None, None
    try:
        message_id = orjson.loads(match.group(2))
    except orjson.JSONDecodeError:
        return int(match.group(1)), None
    return int(match.group(1)), message_id
