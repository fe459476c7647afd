"""Awaiting on the station's clock, so that virtual time drives async flows in tests."""

from __future__ import annotations

import asyncio

from ocpp_station.clock import Clock


async def sleep(clock: Clock, seconds: float) -> None:
    """Like asyncio.sleep, but on the station's clock (a VirtualClock in unit tests)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    timer = clock.call_later(seconds, wake)
    try:
        await future
    finally:
        timer.cancel()
