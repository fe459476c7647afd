"""What no log line, API answer or report may show: the AuthorizationKey a central system sets
with ChangeConfiguration (security whitepaper §7: write-only, a secret). Frames are kept and
shown through these functions, which put `<hidden>` in its place."""

from __future__ import annotations

from typing import Any

HIDDEN = "<hidden>"
SECRET_KEYS = frozenset({"authorizationkey"})


def shown_payload(action: str, payload: Any) -> Any:
    """The payload of a CALL of `action` as it may be shown."""
    if (
        action == "ChangeConfiguration"
        and isinstance(payload, dict)
        and str(payload.get("key", "")).casefold() in SECRET_KEYS
        and "value" in payload
    ):
        return {**payload, "value": HIDDEN}
    return payload


def shown_frame(frame: list[Any]) -> list[Any]:
    """An OCPP-J frame as it may be shown: a CALL's payload through shown_payload."""
    if len(frame) == 4 and frame[0] == 2 and isinstance(frame[2], str):
        payload = shown_payload(frame[2], frame[3])
        if payload is not frame[3]:
            return [frame[0], frame[1], frame[2], payload]
    return frame
