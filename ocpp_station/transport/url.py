"""The connection URL: the central system's endpoint plus the charge point identity."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

_SCHEMES = ("ws", "wss")


def build_url(base: str, identity: str) -> str:
    """The station's connection URL for endpoint `base` ([J] 3.1.1).

    `{id}` in `base` is replaced by the percent-encoded identity (for central systems that want
    the identity elsewhere than at the end of the path); otherwise `/` and the percent-encoded
    identity are appended to the path, after removing one trailing slash from it: a query
    (`?token=...`) stays after the identity, where a central system reads it.
    """
    if not identity:
        raise ValueError("the charge point identity is empty")
    scheme = urlsplit(base).scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"central system URL must start with ws:// or wss://, got {base!r}")
    # [J] 3.1.1: percent-encoded per RFC 3986; nothing is kept unencoded but unreserved characters
    # so an identity holding '/', '?' or '#' cannot change the shape of the URL.
    encoded = quote(identity, safe="")
    if "{id}" in base:
        return base.replace("{id}", encoded)
    parts = urlsplit(base)
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    return parts._replace(path=f"{path}/{encoded}", fragment="").geturl()


def is_secure(url: str) -> bool:
    """True for a wss:// URL, False for ws://; ValueError for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"connection URL must start with ws:// or wss://, got {url!r}")
    return scheme == "wss"
