"""`--log-level` and `-v` before or after any subcommand (a newcomer types them after)."""

from __future__ import annotations

import pytest

from ocpp_station.cli import build_parser

FLEET = ["fleet", "--count", "1", "--csms", "ws://127.0.0.1:9000"]


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["run"], "INFO"),
        (["--log-level", "WARNING", "run"], "WARNING"),
        (["run", "--log-level", "WARNING"], "WARNING"),
        (["run", "-v"], "DEBUG"),
        (["-v", "csms"], "DEBUG"),
        (["csms", "--log-level", "DEBUG"], "DEBUG"),
        (["csms-minimal", "-v"], "DEBUG"),
        (["conformance", "--log-level", "WARNING"], "WARNING"),
        ([*FLEET, "-v"], "DEBUG"),
        (["--log-level", "WARNING", *FLEET, "--log-level", "DEBUG"], "DEBUG"),  # the last wins
    ],
)
def test_the_log_level_is_taken_on_either_side(argv: list[str], level: str) -> None:
    assert build_parser().parse_args(argv).log_level == level


def test_an_unknown_level_is_refused_after_the_subcommand_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "--log-level", "LOUD"])
    assert exited.value.code == 2
    assert "--log-level" in capsys.readouterr().err


def test_log_lines_are_stamped_in_utc() -> None:
    import logging

    from ocpp_station.cli import utc_formatter

    record = logging.LogRecord("ocpp_station.x", logging.INFO, __file__, 1, "hello", None, None)
    record.created, record.msecs = 1_780_000_000.25, 250.0  # 2026-05-28T20:26:40.250Z
    assert utc_formatter().format(record) == (
        "2026-05-28T20:26:40.250Z INFO    ocpp_station.x: hello"
    )


async def test_each_line_names_the_station_whose_work_wrote_it() -> None:
    """In a fleet many stations share one log: a line from a station's task (and the tasks it
    starts) carries "[id] "; a line from elsewhere carries nothing."""
    import asyncio
    import io
    import logging

    from ocpp_station.cli import utc_formatter
    from ocpp_station.station_logs import StationFilter, as_station

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(utc_formatter())
    handler.addFilter(StationFilter())
    log = logging.getLogger("ocpp_station.test_station_lines")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    async def work(n: int) -> None:
        log.info("working %d", n)
        await asyncio.create_task(asyncio.sleep(0))
        log.info("still working %d", n)

    try:
        tasks = []
        for n in (1, 2):
            with as_station(f"FLEET-{n}"):
                tasks.append(asyncio.create_task(work(n)))
        log.info("the fleet itself")
        await asyncio.gather(*tasks)
    finally:
        log.removeHandler(handler)
    lines = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert sorted(lines) == sorted(
        [
            "the fleet itself",
            "[FLEET-1] working 1",
            "[FLEET-2] working 2",
            "[FLEET-1] still working 1",
            "[FLEET-2] still working 2",
        ]
    )
