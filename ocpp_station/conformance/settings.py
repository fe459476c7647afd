"""The tool's settings: timeouts, the shrunk timings cases may be given, the central system's
answers and the cards it knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from ocpp_station.csms.tags import TagInfo


@dataclass(frozen=True, slots=True)
class TagSet:
    """The idTags the tool's central system knows, by role. Unknown tags are Invalid."""

    valid: str = "VALID-TAG-1"
    valid_2: str = "VALID-TAG-2"
    invalid: str = "INVALID-TAG"
    blocked: str = "BLOCKED-TAG"
    expired: str = "EXPIRED-TAG"
    group_a: str = "GROUP-TAG-A"
    """group_a and group_b share the parentIdTag `group_parent` ([S] 3.10, TC_069)."""
    group_b: str = "GROUP-TAG-B"
    group_parent: str = "GROUP-PARENT"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str) or not 1 <= len(value) <= 20:
                raise ValueError(f"tag {f.name} must be 1 to 20 characters (CiString20): {value!r}")
        tags = [self.valid, self.valid_2, self.invalid, self.blocked, self.expired]
        tags += [self.group_a, self.group_b]
        if len({t.casefold() for t in tags}) != len(tags):
            raise ValueError("the tags of the tag set must differ from one another")

    def table(self) -> dict[str, TagInfo]:
        """The central system's tag table."""
        return {
            self.valid: TagInfo(),
            self.valid_2: TagInfo(),
            self.invalid: TagInfo(status="Invalid"),
            self.blocked: TagInfo(status="Blocked"),
            self.expired: TagInfo(status="Expired", expiry_date=datetime(2020, 1, 1, tzinfo=UTC)),
            self.group_a: TagInfo(parent_id_tag=self.group_parent),
            self.group_b: TagInfo(parent_id_tag=self.group_parent),
        }


@dataclass(frozen=True, slots=True)
class Settings:
    expect_timeout: float = 10.0
    """How long expect() waits for the station's CALL unless the case says otherwise."""
    boot_timeout: float = 90.0
    """How long a (re)boot may take: from power-on (or Reset) to the BootNotification and the
    statuses after it. A real charger takes 30-90 s to reboot."""
    call_timeout: float = 30.0
    """How long the tool waits for the answer to its CALL. Longer than the 10 s PICS limit so
    that a slow answer is measured (and fails the performance row) rather than lost."""
    operator_timeout: float = 120.0
    """How long the operator has for one instruction on the console."""
    connect_timeout: float = 300.0
    """How long the tool waits for an external station to connect."""
    settle_timeout: float = 30.0
    """How long the station may take to come back to idle before and after a case (external
    stations): a transaction stopped, a cable out, a fault cleared."""
    status_settle: float = 5.0
    """After a (re)connection, how long the tool waits for the station's first statuses
    before a case begins; once per connection, so a station that never reports a connector
    costs this once, not at every case."""
    failure_grace: float = 1.0
    """After a failure, how long the tool keeps listening so the report shows what came next."""
    heartbeat_interval: int = 20
    """The interval of the central system's BootNotification.conf (the reference charger's
    HeartbeatInterval)."""
    frames_before: int = 10
    frames_after: int = 3
    timings: Mapping[str, float] = field(default_factory=dict)
    """Overrides of the cases' shrunk timings: `NAME` for every case, `TC_002_CS.NAME` for one."""
    tags: TagSet = field(default_factory=TagSet)
    file_host: str | None = None
    """The address the station reaches the tool's file server at (firmware images, diagnostics
    uploads); None: the address the tool's central system listens on."""
    file_protocol: str = "http"
    """How the tool serves those files: http or ftp (pyftpdlib)."""

    def __post_init__(self) -> None:
        for name in (
            "expect_timeout",
            "boot_timeout",
            "call_timeout",
            "operator_timeout",
            "connect_timeout",
            "settle_timeout",
            "status_settle",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.file_protocol not in ("http", "ftp"):
            raise ValueError(f"file_protocol must be http or ftp, got {self.file_protocol!r}")
        if self.failure_grace < 0 or self.frames_before < 0 or self.frames_after < 0:
            raise ValueError("failure_grace, frames_before and frames_after must not be negative")
        if isinstance(self.heartbeat_interval, bool) or self.heartbeat_interval < 0:
            raise ValueError("heartbeat_interval must be a non-negative integer")
        for name, value in self.timings.items():
            if not name or not value >= 0:
                raise ValueError(f"timing {name!r} must be a non-negative number, got {value!r}")

    def timing(self, case_id: str, name: str, default: float) -> float:
        """A case's timing `name`: the override for this case, else for every case, else the
        case's own (shrunk) default."""
        for key in (f"{case_id}.{name}", name):
            if key in self.timings:
                return float(self.timings[key])
        return default
