"""OCPP timestamps: strict on what we send (UTC, milliseconds, Z), lenient on what we read."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(dt: datetime) -> str:
    """2024-05-01T10:00:00.123Z, the reference charger's format (product spec: timestamps)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse(text: str) -> datetime:
    """Read an ISO 8601 timestamp; one without a zone is taken as UTC ([E] 3.10 leniency)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
