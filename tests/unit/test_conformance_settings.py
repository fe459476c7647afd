"""The tool's settings and the cards its central system knows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ocpp_station.conformance.settings import Settings, TagSet
from ocpp_station.csms.tags import id_tag_info


def test_the_tag_table_answers_each_role() -> None:
    tags = TagSet()
    table = tags.table()
    now = datetime(2026, 5, 1, tzinfo=UTC)

    def status(id_tag: str) -> dict[str, object]:
        return id_tag_info(table.get(id_tag), now, accept_unknown=False)

    assert status(tags.valid) == {"status": "Accepted"}
    assert status(tags.valid_2) == {"status": "Accepted"}
    assert status(tags.invalid) == {"status": "Invalid"}
    assert status(tags.blocked) == {"status": "Blocked"}
    assert status(tags.expired)["status"] == "Expired"
    assert status(tags.group_a) == {"status": "Accepted", "parentIdTag": tags.group_parent}
    assert status(tags.group_b) == {"status": "Accepted", "parentIdTag": tags.group_parent}
    assert status("SOMEONE-ELSE") == {"status": "Invalid"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"valid": "X" * 21}, "valid must be 1 to 20 characters"),
        ({"invalid": ""}, "invalid must be 1 to 20 characters"),
        ({"blocked": "valid-tag-1"}, "must differ"),
    ],
)
def test_bad_tags_are_refused(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TagSet(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expect_timeout": 0}, "expect_timeout must be positive"),
        ({"boot_timeout": -1}, "boot_timeout must be positive"),
        ({"failure_grace": -0.1}, "must not be negative"),
        ({"heartbeat_interval": -5}, "heartbeat_interval"),
        ({"timings": {"x": -1}}, "timing 'x' must be a non-negative number"),
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_a_timing_for_one_case_wins_over_one_for_all() -> None:
    settings = Settings(timings={"interval": 5, "TC_002_CS.interval": 7})
    assert settings.timing("TC_002_CS", "interval", 2) == 7
    assert settings.timing("TC_001_CS", "interval", 2) == 5
    assert settings.timing("TC_001_CS", "other", 2) == 2
