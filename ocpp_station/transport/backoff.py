"""Reconnection delays: exponential back-off with "equal jitter".

[JE] 3.4: a charge point refused at the handshake (HTTP 404, also 401) SHALL retry "with an
appropriate back-off mechanism to prevent overloading the Central System".

Equal jitter (half of the exponential delay fixed, the other half random) rather than full
jitter (anything between 0 and the delay): the fixed half is a floor under every wait, so a
station the central system keeps refusing never retries in quick succession, however the dice
fall; the random half still spreads a fleet that lost its central system at the same moment
over a window half the delay wide (30 s at the 60 s cap), so the stations do not come back in one
wave. Full jitter spreads a little wider but lets single retries come almost at once.
"""

from __future__ import annotations

import random

# One generator for every station of the process: the jitter needs no per-station state, and a
# Random costs 2.5 KB, which a fleet of ten thousand stations pays ten thousand times.
_SHARED = random.Random()


class Backoff:
    """Delays base, 2*base, 4*base, ... up to cap, each drawn from [delay/2, delay]."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 60.0,
        *,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0:
            raise ValueError(f"back-off base must be positive, got {base}")
        if cap < base:
            raise ValueError(f"back-off cap {cap} is below its base {base}")
        if factor < 1:
            raise ValueError(f"back-off factor must be at least 1, got {factor}")
        self.base = base
        self.cap = cap
        self.factor = factor
        self._rng = rng if rng is not None else _SHARED
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays have been handed out since the last reset()."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        # Capped before it can overflow: factor ** attempt grows without limit.
        delay = self.base
        for _ in range(self._attempt):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)

    def next_delay(self) -> float:
        """The next wait in seconds; each call moves one step up the ladder."""
        ceiling = self.ceiling()
        self._attempt += 1
        half = ceiling / 2
        return half + self._rng.uniform(0.0, half)

    def reset(self) -> None:
        """Start again from the base delay (after a successful connection)."""
        self._attempt = 0
