"""The central system's idTag table and the IdTagInfo it answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp_station.timefmt import iso

AUTHORIZATION_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})
"""AuthorizationStatus values ([S] 7.2)."""


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the central system knows of one idTag."""

    status: str = "Accepted"
    parent_id_tag: str | None = None
    expiry_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in AUTHORIZATION_STATUSES:
            raise ValueError(
                f"tag status must be one of {sorted(AUTHORIZATION_STATUSES)}, got {self.status!r}"
            )
        if self.expiry_date is not None and self.expiry_date.tzinfo is None:
            raise ValueError("tag expiry_date must be timezone-aware")
        if self.parent_id_tag is not None and not 0 < len(self.parent_id_tag) <= 20:
            raise ValueError(f"parentIdTag must be 1 to 20 characters: {self.parent_id_tag!r}")


def find_tag(tags: Mapping[str, TagInfo], id_tag: str) -> TagInfo | None:
    """The entry for `id_tag`; IdToken is a CiString20 ([S] 7.28), compared case-insensitively."""
    tag = tags.get(id_tag)
    if tag is not None:
        return tag
    folded = id_tag.casefold()
    for key, value in tags.items():
        if key.casefold() == folded:
            return value
    return None


def id_tag_info(tag: TagInfo | None, now: datetime, *, accept_unknown: bool) -> dict[str, Any]:
    """The IdTagInfo ([S] 7.27) for a tag, or for an unknown one (tag None)."""
    if tag is None:
        return {"status": "Accepted" if accept_unknown else "Invalid"}
    status = tag.status
    if status == "Accepted" and tag.expiry_date is not None and tag.expiry_date <= now:
        status = "Expired"
    info: dict[str, Any] = {"status": status}
    if tag.expiry_date is not None:
        info["expiryDate"] = iso(tag.expiry_date)
    if tag.parent_id_tag is not None:
        info["parentIdTag"] = tag.parent_id_tag
    return info
