"""OCPP-J 1.6 words every WebSocket end of the project uses, written once: the subprotocol, the
largest frame accepted, and the charge point identity at the end of the URL path."""

from __future__ import annotations

from urllib.parse import unquote

# [J] 3.1.2: the WebSocket subprotocol both ends must agree on.
SUBPROTOCOL = "ocpp1.6"
# Largest frame accepted (1 MiB); a larger one closes the connection with 1009.
MAX_FRAME_SIZE = 1 << 20


def identity_from_path(path: str) -> str:
    """The charge point identity: the last path segment, percent-decoded ([J] 3.1.1)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segment = path.rsplit("/", 1)[-1]
    if not segment:
        raise ValueError("no charge point identity at the end of the URL path")
    try:
        identity = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("the charge point identity is not valid percent-encoded UTF-8") from None
    if not identity.isprintable():
        raise ValueError("the charge point identity holds control characters")
    return identity
