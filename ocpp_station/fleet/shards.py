"""A fleet beyond one process, on Ray: `ocpp-station fleet --ray [ADDRESS] --shards N`.

The fleet's stations are split into N contiguous ranges of numbers; each range is a whole
single-process fleet (fleet.py, the same scenario, its share of the ramp-up) in a Ray actor,
with its own HTTP API. The process that starts them serves one view of them all
(sharded_api.py). Without an address Ray starts locally, so a laptop runs it as a cluster does.
A controlled stop (SIGTERM) stops every shard as SIGTERM stops one fleet: sessions end, the
queues drain within the grace time.

Ray is an optional extra (`pip install 'ocpp-station[ray]'`); this module imports it only when
a sharded fleet starts."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from typing import Any

from ocpp_station.control.gate import Gate, new_token
from ocpp_station.fleet.api import FleetApi
from ocpp_station.fleet.fleet import Fleet, FleetOptions
from ocpp_station.fleet.sharded_api import Shard, ShardedFleetApi

log = logging.getLogger("ocpp_station.fleet")

# How long a shard's controlled stop may take before the head gives up on it (its stations'
# own grace is within this).
STOP_TIMEOUT = 180.0
# A shard whose process dies (killed, out of memory, its node lost) is started again by Ray, at
# most this many times, and the head then starts its stations again: with a state folder they
# recover as after a power cut (interrupted sessions end with PowerLoss), without one they boot
# afresh.
SHARD_RESTARTS = 20
WATCH_EVERY = 2.0  # seconds between the head's looks at its shards


def split(options: FleetOptions, shards: int) -> list[FleetOptions]:
    """The options of each shard: contiguous ranges of station numbers, as even as can be, and
    an equal share of the ramp-up rate, so the whole fleet ramps up at the rate asked."""
    if shards < 1:
        raise ValueError("a sharded fleet has at least one shard")
    shards = min(shards, options.count)
    size, extra = divmod(options.count, shards)
    parts = []
    first = options.first
    for k in range(shards):
        count = size + (1 if k < extra else 0)
        state_dir = options.state_dir / f"shard-{k + 1}" if options.state_dir else None
        parts.append(
            replace(
                options,
                first=first,
                count=count,
                ramp_up=options.ramp_up / shards,
                state_dir=state_dir,
            )
        )
        first += count
    return parts


def cluster_cpus() -> float:
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources.get("CPU", 1.0)


class FleetShard:
    """One shard, in its Ray actor (an async actor: its fleet runs on the actor's event loop
    between the calls)."""

    def __init__(self) -> None:
        self.fleet: Fleet | None = None
        self.api: FleetApi | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(
        self, options: FleetOptions, host: str | None, token: str, log_level: str = "INFO"
    ) -> tuple[str, str]:
        """Start the shard's stations and its API on `host` (None: the address of this
        actor's node, which the head on another node can reach) on a free port; its URL and
        the ID of the node it runs on. The shard logs as the fleet's own process does, at
        `log_level`, on its stderr, which Ray passes to the head's."""
        import ray

        from ocpp_station.cli import configure_logging
        from ocpp_station.fleet.cli import quiet_stations
        from ocpp_station.storage.fleet import FleetDatabase

        configure_logging(log_level)
        quiet_stations()

        if host is None:
            host = str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]

        database = None
        if options.state_dir is not None:
            options.state_dir.mkdir(parents=True, exist_ok=True)
            database = FleetDatabase(options.state_dir / "fleet.db")
        fleet = Fleet(options, store_for=database.station if database is not None else None)
        self.fleet = fleet
        self.api = FleetApi(fleet, Gate(loopback=False, token=token))
        await self.api.start(host, 0)
        self.task = asyncio.ensure_future(fleet.run())
        return self.api.url, ray.get_runtime_context().get_node_id()

    async def running(self) -> bool:
        """Whether the stations run: not so in an actor Ray has just started again."""
        return self.task is not None

    async def stop(self) -> dict[str, Any]:
        """A controlled stop of every station of the shard; the shard's last summary."""
        assert self.fleet is not None and self.api is not None and self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        summary = self.fleet.summary()
        await self.api.stop()
        return summary


class RayFleet:
    """The head: starts the shards on Ray, serves their one view, stops them."""

    def __init__(
        self,
        options: FleetOptions,
        shards: int | None = None,
        address: str | None = None,
        shard_host: str | None = None,
        log_level: str = "INFO",
        loop: str = "auto",
    ) -> None:
        """`shard_host`: where the shards' APIs listen; default: 127.0.0.1 on a Ray started
        here, each node's own address on a cluster. `log_level`: the shards' log, passed on to
        this process's stderr by Ray. `loop`: the shards' event loop, as `--loop` (Ray runs an
        async actor on uvloop where installed; "asyncio" asks it not to)."""
        self.options = options
        self.log_level = log_level
        self.loop = loop
        self.wanted = shards
        self.address = address
        self.shard_host = shard_host or ("127.0.0.1" if address is None else None)
        self.actors: list[Any] = []
        self.parts: list[FleetOptions] = []
        # Read by the one view at each request: a restarted shard's entry is replaced in place.
        self.shards: list[Shard] = []
        self.token = new_token()  # the shards' APIs answer the head only
        self.last: list[dict[str, Any]] = []
        self._watch: asyncio.Task[None] | None = None
        self._joined = False  # this head called ray.init (and so ends with ray.shutdown)
        self._count: int | None = None  # shards, once connect() has decided

    def connect(self) -> int:
        """Join the Ray cluster at `address` (None: start Ray here); the number of shards,
        decided once: the state folder's layout and the split must agree on it."""
        import ray

        if self._count is not None:
            return self._count

        if not sys.stderr.isatty():
            # The shards' lines come through Ray, prefixed "(FleetShard pid=N)": in a log file
            # without the terminal's colour codes around the prefix.
            os.environ.setdefault("RAY_COLOR_PREFIX", "0")
        if not ray.is_initialized():
            # Ray puts its own SIGTERM handler in this process (a stack trace, then the end):
            # ours goes back, so that SIGTERM stops every shard and drains their queues.
            ours = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
            if self.address is None:
                # "local": a Ray of our own, never a cluster already running on this machine
                # (ray.init without an address joins the one `ray start` left there).
                ray.init(address="local", include_dashboard=False)
            else:
                ray.init(address=self.address)
            for sig, handler in ours.items():
                if handler is not None:
                    signal.signal(sig, handler)
            self._joined = True
        self._count = max(1, self.wanted or int(cluster_cpus()))
        return self._count

    async def start(self) -> list[Shard]:
        import ray

        count = self.connect()
        parts = split(self.options, count)
        cpus = cluster_cpus()
        # One core each while there are enough; else an equal share, so that all start.
        actor = ray.remote(num_cpus=min(1.0, cpus / len(parts)), max_restarts=SHARD_RESTARTS)(
            FleetShard
        )
        placement: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
        if self.loop == "asyncio":
            placement["runtime_env"] = {"env_vars": {"RAY_USE_UVLOOP": "0"}}
        self.actors = [actor.options(**placement).remote() for _ in parts]
        answers = await asyncio.gather(
            *(
                a.start.remote(p, self.shard_host, self.token, self.log_level)
                for a, p in zip(self.actors, parts, strict=True)
            ),
            return_exceptions=True,
        )
        where = [answer for answer in answers if isinstance(answer, tuple)]
        if len(where) < len(answers):
            # A shard that cannot start (more stations than its process may open): the others
            # stop again, so that nothing is left running, and the first reason is raised.
            started = zip(self.actors, answers, strict=True)
            self.actors = [a for a, answer in started if isinstance(answer, tuple)]
            await self.stop()
            raise next(e for e in answers if isinstance(e, BaseException))
        self.parts = parts
        self.shards[:] = [
            Shard(url, p.first, p.count, self.token, node)
            for (url, node), p in zip(where, parts, strict=True)
        ]
        log.info("%d shards started: %s", len(self.shards), ", ".join(s.url for s in self.shards))
        self._watch = asyncio.ensure_future(self._watch_shards())
        return self.shards

    async def _watch_shards(self) -> None:
        """Start again the stations of a shard Ray has restarted."""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            for k, actor in enumerate(self.actors):
                try:
                    async with asyncio.timeout(5 * WATCH_EVERY):
                        if await actor.running.remote():
                            continue
                        url, node = await actor.start.remote(
                            self.parts[k], self.shard_host, self.token, self.log_level
                        )
                except Exception as exc:  # restarting, or gone for good: the view says so
                    log.debug("shard %d: %s", k + 1, exc)
                    continue
                old = self.shards[k]
                self.shards[k] = replace(old, url=url, node=node, restarts=old.restarts + 1)
                log.warning(
                    "shard %d (stations %d to %d) was started again by Ray at %s: its stations "
                    "start again",
                    k + 1,
                    old.first,
                    old.first + old.count - 1,
                    url,
                )

    def api(self, gate: Gate | None = None) -> ShardedFleetApi:
        return ShardedFleetApi(self.shards, self.options.id_prefix, gate)

    async def stop(self) -> None:
        """Every shard stops as one fleet does on SIGTERM, all at once; then Ray."""
        import ray

        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        if self.actors:
            async with asyncio.timeout(STOP_TIMEOUT):
                ends = await asyncio.gather(
                    *(a.stop.remote() for a in self.actors), return_exceptions=True
                )
            # A shard gone for good has no last summary: the others' are added up.
            self.last = [end for end in ends if isinstance(end, dict)]
            for k, end in enumerate(ends):
                if not isinstance(end, dict):
                    log.error("shard %d did not stop cleanly: %s", k + 1, end)
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []
        if self._joined:
            # A Ray started here ends with it; a cluster joined goes on (only we leave it).
            ray.shutdown()
            self._joined = False
