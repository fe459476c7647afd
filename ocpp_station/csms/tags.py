"""The central system's idTag table, the IdTagInfo it answers with, and tag list files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ocpp_station.timefmt import iso, parse

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


# ---------------------------------------------------------------------------------- tag lists

TAG_FILE_FORMAT = """\
A tag list file is JSON or CSV.
JSON: an array of objects {"idTag": "TAG1", "status": "Accepted", "parentIdTag": "GROUP",
"expiryDate": "2030-01-01T00:00:00Z"}, or an object {"TAG1": {"status": ...}, ...};
only idTag is required, status defaults to Accepted.
CSV: one tag a line, `idTag,status,parentIdTag,expiryDate`, trailing fields optional and
empty fields allowed; blank lines, lines starting with # and a header line starting with
`idTag` are skipped."""

_ID_TAG_MAX = 20  # IdToken is a CiString20 ([S] 7.28)


def _id_tag(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _ID_TAG_MAX:
        raise ValueError(f"{where}: idTag must be 1 to {_ID_TAG_MAX} characters, got {value!r}")
    if not value.isprintable() or value != value.strip():
        raise ValueError(f"{where}: idTag {value!r} holds spaces or control characters")
    return value


def make_tag(
    id_tag: Any,
    status: Any = None,
    parent_id_tag: Any = None,
    expiry_date: Any = None,
    *,
    where: str = "tag",
) -> tuple[str, TagInfo]:
    """Validate one tag list entry; empty or missing fields take their defaults."""
    tag = _id_tag(id_tag, where)
    for name, value in (
        ("status", status),
        ("parentIdTag", parent_id_tag),
        ("expiryDate", expiry_date),
    ):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}: {name} must be a string, got {value!r}")
    expiry = None
    if expiry_date:
        try:
            expiry = parse(expiry_date)
        except ValueError:
            raise ValueError(f"{where}: expiryDate is not a date-time: {expiry_date!r}") from None
    try:
        info = TagInfo(
            status=status or "Accepted",
            parent_id_tag=parent_id_tag or None,
            expiry_date=expiry,
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return tag, info


def _add(
    tags: dict[str, TagInfo], seen: dict[str, str], entry: tuple[str, TagInfo], where: str
) -> None:
    id_tag, info = entry
    folded = id_tag.casefold()
    if folded in seen:
        raise ValueError(f"{where}: idTag {id_tag!r} is listed twice (idTags ignore case)")
    seen[folded] = id_tag
    tags[id_tag] = info


def parse_tag_list(text: str, source: str = "tags") -> dict[str, TagInfo]:
    """The tags of a tag list file's text (TAG_FILE_FORMAT); ValueError names the bad entry."""
    tags: dict[str, TagInfo] = {}
    seen: dict[str, str] = {}
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON: {exc}") from None
        if isinstance(data, dict):
            items: list[Any] = []
            for key, value in data.items():
                if not isinstance(value, dict):
                    raise ValueError(f"{source}: the entry of {key!r} must be an object")
                items.append({**value, "idTag": key})
        elif isinstance(data, list):
            items = data
        else:
            raise ValueError(f"{source}: expected a JSON array or object")
        for index, item in enumerate(items):
            where = f"{source}: entry {index + 1}"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: expected an object, got {item!r}")
            unknown = set(item) - {"idTag", "status", "parentIdTag", "expiryDate"}
            if unknown:
                raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
            entry = make_tag(
                item.get("idTag"),
                item.get("status"),
                item.get("parentIdTag"),
                item.get("expiryDate"),
                where=where,
            )
            _add(tags, seen, entry, where)
        return tags
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        where = f"{source}:{number}"
        header = first and fields[0].casefold() == "idtag"
        first = False
        if header:
            continue
        if len(fields) > 4:
            raise ValueError(f"{where}: expected idTag,status,parentIdTag,expiryDate: {line!r}")
        fields += [""] * (4 - len(fields))
        _add(tags, seen, make_tag(*fields, where=where), where)
    return tags


def load_tags(path: str | Path) -> dict[str, TagInfo]:
    """The tags of a tag list file (TAG_FILE_FORMAT)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the tag list {path}: {exc}") from None
    return parse_tag_list(text, str(path))


def parse_tag_option(text: str) -> tuple[str, TagInfo]:
    """`idTag[:status[:parentIdTag]]`, the command line form of one tag."""
    parts = text.split(":")
    if len(parts) > 3:
        raise ValueError(f"expected idTag[:status[:parentIdTag]], got {text!r}")
    parts += [""] * (3 - len(parts))
    return make_tag(parts[0], parts[1], parts[2], where=f"tag {text!r}")


def merge_tags(*lists: Mapping[str, TagInfo]) -> dict[str, TagInfo]:
    """One table from several; a later entry replaces an earlier one of the same idTag."""
    merged: dict[str, TagInfo] = {}
    for tags in lists:
        for id_tag, info in tags.items():
            folded = id_tag.casefold()
            for key in [key for key in merged if key.casefold() == folded]:
                del merged[key]
            merged[id_tag] = info
    return merged
