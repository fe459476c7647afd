"""The fleet profile against a minimal central system on 127.0.0.1.

Each size runs `ocpp-station fleet` (3-connector stations, the scenario's reference profile:
a session of 60-80 s every 15-30 s per connector, MeterValues every 30 s) as its own process
against `python -m ocpp_station.csms.minimal` in other processes, and measures:

- connect time: from the fleet's start until every station is Accepted;
- after a warm-up, over a window: the fleet process's CPU seconds (utime + stime from /proc)
  per OCPP frame it sent or received and per CALL it made, frames per second, RSS per station;
- RemoteStartTransaction answer latency seen by the central system (p50 / p99), for 200
  stations picked at random while the whole fleet runs;
- at the end (SIGTERM: sessions stop, queues flush), the central systems' ledgers: transactions
  started and stopped, open ones left (lost), duplicates.

Environment: FLEET_SIZES (default "1,1000,3000"), FLEET_WINDOW seconds (default 60),
FLEET_WARMUP seconds (default 30), FLEET_CONNECT_TIMEOUT seconds (default 900: the run fails
when not every station is Accepted by then), FLEET_RAMP stations/s (default 500), FLEET_LOOP and
FLEET_TRANSPORT (the fleet's --loop and --transport, default auto: uvloop and picows);
FLEET_DURABLE=1 gives the fleet a --state-dir (one SQLite file) instead of memory-only state.
The issue's acceptance run: FLEET_SIZES=10000 FLEET_WINDOW=600.

FLEET_RAY=N runs each size twice: the single-process fleet, then `fleet --ray --shards N` on a
Ray started for it (FLEET_RAY_ADDRESS: a cluster's instead), whose CPU is the head's, the
shards' (their summaries) and Ray's own (the rest of the head's process tree: GCS, raylet,
agents, idle workers), each shown per frame, so the ratio of CPU per frame is Ray's price;
stations and frames per shard are shown too.
A central system process holds as many stations as it may open files (`ulimit -n`, 20,000 on
the machines here): FLEET_CSMS central systems are started (default one per 10,000 stations)
and the fleet spreads over them (--csms repeated), their figures added up.
FLEET_RAY_ONLY=1 runs the sharded fleet alone; FLEET_CONNECTORS sets the connectors per station
(default 3). On 2 cores the reference profile of 3 connectors is about 600 frames/s per 500
stations: 20,000 stations need one connector each (FLEET_RAY=2 FLEET_RAY_ONLY=1
FLEET_CONNECTORS=1 FLEET_SIZES=20000).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from typing import Any

import aiohttp

SIZES = [int(n) for n in os.environ.get("FLEET_SIZES", "1,1000,3000").split(",")]
WINDOW = float(os.environ.get("FLEET_WINDOW", "60"))
WARMUP = float(os.environ.get("FLEET_WARMUP", "30"))
RAMP = float(os.environ.get("FLEET_RAMP", "500"))
LOOP = os.environ.get("FLEET_LOOP", "auto")
TRANSPORT = os.environ.get("FLEET_TRANSPORT", "auto")
DURABLE = os.environ.get("FLEET_DURABLE") == "1"
RAY_SHARDS = int(os.environ.get("FLEET_RAY", "0"))
# FLEET_RAY_ONLY=1: the sharded fleet alone (a size one process cannot carry here).
RAY_ONLY = os.environ.get("FLEET_RAY_ONLY") == "1"
RAY_ADDRESS = os.environ.get("FLEET_RAY_ADDRESS", "")
CONNECTORS = int(os.environ.get("FLEET_CONNECTORS", "3"))
CONNECT_TIMEOUT = float(os.environ.get("FLEET_CONNECT_TIMEOUT", "900"))
PER_CSMS = 10_000  # stations per central-system process, by default
CSMS_COUNT = int(os.environ.get("FLEET_CSMS", "0"))  # 0: one per PER_CSMS stations
# The central systems' counters that add up over several of them.
SUMMED = ("messagesTotal", "cpuSeconds", "booted", "started", "stopped", "open", "duplicates",
          "unknownStops", "refused")  # fmt: skip
PROBES = 200
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and all its descendants: for a Ray started by the fleet, the
    head, the shards' workers and every Ray daemon (GCS, raylet, agents, idle workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, ())
        try:
            total += proc_cpu(pid)
        except OSError:
            continue
    return total


def proc_rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


async def spawn(
    *args: str, lines: int | None = None
) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start `python ARGS`; the `name: value` lines it prints first (`lines` of them: two for a
    central system, csms and api, else one)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    found: dict[str, str] = {}
    wanted = lines if lines is not None else (2 if "minimal" in " ".join(args) else 1)
    async with asyncio.timeout(60):
        while len(found) < wanted:
            line = (await proc.stdout.readline()).decode().strip()
            if not line:
                raise RuntimeError(f"{args[:3]} exited early")
            name, _, value = line.partition(": ")
            found[name] = value
    return proc, found


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(120):
            return await proc.wait()
    except TimeoutError:
        proc.kill()
        return await proc.wait()


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        return await response.json(content_type=None)


async def csms_stats(http: aiohttp.ClientSession, apis: list[str]) -> dict[str, Any]:
    """The central systems' counters added up."""
    parts = [await get(http, f"{api}/stats") for api in apis]
    return {key: sum(part[key] for part in parts) for key in SUMMED}


async def remote_start_latency(http: aiohttp.ClientSession, csms_api: str, n: int) -> Any:
    """RemoteStartTransaction answer times seen by the central system: PROBES stations chosen
    at random, or PROBES requests to the same station when the fleet is smaller."""
    body = {"count": min(PROBES, n), "connectorId": 1, "idTag": "BENCH"}
    if n >= PROBES:
        async with http.post(f"{csms_api}/remote-start", json=body) as response:
            return await response.json(content_type=None)
    times: list[float] = []
    statuses: dict[str, int] = {}
    for _ in range(PROBES // n):
        async with http.post(f"{csms_api}/remote-start", json=body) as response:
            answer = await response.json(content_type=None)
        times.append(answer["maxMs"])
        for status, count in answer["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    times.sort()
    return {
        "p50Ms": times[len(times) // 2],
        "p99Ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "statuses": statuses,
    }


async def run_size(
    n: int, state: str | None, profile: dict[str, Any] | None = None, shards: int = 0
) -> dict[str, Any]:
    """One fleet of n stations; with `profile` (a SetChargingProfile.req payload), every station
    gets it once all are Accepted, before the warm-up."""
    minimal = ("-m", "ocpp_station.csms.minimal", "--listen", "127.0.0.1:0", "--api",
               "127.0.0.1:0", "--heartbeat-interval", "300")  # fmt: skip
    centrals = [await spawn(*minimal) for _ in range(CSMS_COUNT or -(-n // PER_CSMS))]
    apis = [addresses["api"] for _, addresses in centrals]
    csms_api = apis[0]  # the RemoteStart probes: the first one's stations
    urls = [arg for _, addresses in centrals for arg in ("--csms", addresses["csms"])]
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    started = time.monotonic()
    fleet, found = await spawn(
        "-m", "ocpp_station", "fleet", *urls, "--count", str(n),
        "--connectors", str(CONNECTORS), "--control", "127.0.0.1:0", "--ramp-up", str(RAMP),
        "--summary-every", "3600", "--loop", LOOP, "--transport", TRANSPORT,
        *(("--state-dir", state) if state else ()),
        *(("--ray", *((RAY_ADDRESS,) if RAY_ADDRESS else ()), "--shards", str(shards))
          if shards else ()),
    )  # fmt: skip
    api = found["control"]
    result: dict[str, Any] = {"stations": n, "shards": shards, "central_systems": len(apis)}

    def cpu_now(summary: dict[str, Any]) -> dict[str, float]:
        """CPU seconds so far: the fleet's process, and for shards on a Ray started here the
        shards (their own figures) and the rest of the head's process tree (Ray itself). On a
        cluster (FLEET_RAY_ADDRESS) only the head and the shards are seen."""
        head = proc_cpu(fleet.pid)
        if not shards:
            return {"head": head}
        on_shards = float(summary["process"]["cpuSeconds"])
        ray = 0.0 if RAY_ADDRESS else tree_cpu(fleet.pid) - head - on_shards
        return {"head": head, "shards": on_shards, "ray": ray}

    def rss_mb(summary: dict[str, Any]) -> float:
        shards_rss = int(summary["process"]["rssBytes"]) if shards else 0
        return (proc_rss(fleet.pid) + shards_rss) / 1e6

    try:
        deadline = started + CONNECT_TIMEOUT
        while True:
            summary = await get(http, f"{api}/api/fleet")
            accepted = summary.get("registration", {}).get("Accepted", 0)  # a busy shard: later
            if accepted == n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{accepted} of {n} stations Accepted after {CONNECT_TIMEOUT:.0f} s "
                    f"(FLEET_CONNECT_TIMEOUT); {summary.get('connected')} connected"
                )
            await asyncio.sleep(0.2)
        result["connect_s"] = time.monotonic() - started
        if profile is not None:
            statuses: dict[str, int] = {}
            for api_url in apis:
                async with http.post(f"{api_url}/charging-profile-all", json=profile) as answer:
                    for status, count in (await answer.json(content_type=None))["statuses"].items():
                        statuses[status] = statuses.get(status, 0) + count
            result["profile_statuses"] = statuses
        await asyncio.sleep(WARMUP)
        s0 = await get(http, f"{api}/api/fleet")
        cpu0, t0 = cpu_now(s0), time.monotonic()
        stats0 = await csms_stats(http, apis)
        probe = await remote_start_latency(http, csms_api, -(-n // len(apis)))
        await asyncio.sleep(max(0.0, WINDOW - (time.monotonic() - t0)))
        s1 = await get(http, f"{api}/api/fleet")
        cpu1, t1 = cpu_now(s1), time.monotonic()
        stats1 = await csms_stats(http, apis)
        frames = sum(s1["messages"].values()) - sum(s0["messages"].values())
        calls = stats1["messagesTotal"] - stats0["messagesTotal"]
        parts = {key: cpu1[key] - cpu0[key] for key in cpu1}
        cpu = sum(parts.values())
        result.update(
            cpu_us_per_frame_parts={
                key: value / frames * 1e6 if frames else float("nan")
                for key, value in parts.items()
            },
            window_s=t1 - t0,
            cpu_cores=cpu / (t1 - t0),
            frames_per_s=frames / (t1 - t0),
            calls_per_s=calls / (t1 - t0),
            cpu_us_per_frame=cpu / frames * 1e6 if frames else float("nan"),
            cpu_us_per_call=cpu / calls * 1e6 if calls else float("nan"),
            rss_mb=rss_mb(s1),
            rss_kb_per_station=rss_mb(s1) * 1e3 / n,
            # (stations, frames per second) of each shard over the window.
            per_shard=[
                (a["count"], (b["frames"] - a["frames"]) / (t1 - t0))
                for a, b in zip(s0.get("shards", ()), s1.get("shards", ()), strict=True)
            ],
            sessions=s1["sessions"],
            remote_start_p50_ms=probe.get("p50Ms"),
            remote_start_p99_ms=probe.get("p99Ms"),
            remote_start_statuses=probe.get("statuses"),
            csms_cpu_cores=(stats1["cpuSeconds"] - stats0["cpuSeconds"]) / (t1 - t0),
        )
    finally:
        stopping = time.monotonic()
        code = await stop(fleet)
        result["stop_s"] = time.monotonic() - stopping
        await asyncio.sleep(1)
        final = await csms_stats(http, apis)
        await http.close()
        for csms, _ in centrals:
            await stop(csms)
    result.update(
        exit_code=code,
        accepted=final["booted"],
        started=final["started"],
        stopped=final["stopped"],
        lost=final["open"],
        duplicates=final["duplicates"],
        unknown_stops=final["unknownStops"],
        refused=final["refused"],
    )
    return result


def show(r: dict[str, Any]) -> None:
    where = f" in {r['shards']} Ray shards" if r["shards"] else ""
    print(
        f"{r['stations']:>6} stations{where}: connect {r['connect_s']:.1f} s | "
        f"fleet CPU {r['cpu_cores']:.3f} cores, {r['cpu_us_per_frame']:.0f} us/frame, "
        f"{r['cpu_us_per_call']:.0f} us/CALL | {r['frames_per_s']:.0f} frames/s, "
        f"{r['calls_per_s']:.0f} CALLs/s | RSS {r['rss_mb']:.0f} MB "
        f"({r['rss_kb_per_station']:.0f} KB/station) | RemoteStart p50 "
        f"{r['remote_start_p50_ms']:.2f} ms p99 {r['remote_start_p99_ms']:.2f} ms | "
        f"{r['central_systems']} central system(s) {r['csms_cpu_cores']:.2f} cores"
    )
    if r["per_shard"]:
        shards = ", ".join(
            f"{count} stations {rate:.0f} frames/s" for count, rate in r["per_shard"]
        )
        print(f"{'':>6}  shards: {shards}")
        split = ", ".join(f"{k} {v:.0f} us" for k, v in r["cpu_us_per_frame_parts"].items())
        print(f"{'':>6}  CPU per frame: {split}")
    print(
        f"{'':>6}  after SIGTERM (exit {r['exit_code']} in {r['stop_s']:.1f} s): "
        f"accepted {r['accepted']}, "
        f"transactions started {r['started']}, stopped {r['stopped']}, lost {r['lost']}, "
        f"duplicates {r['duplicates']}, unknown stops {r['unknown_stops']}, "
        f"refused at capacity {r['refused']}"
    )


async def main() -> None:
    state = "one SQLite file (--state-dir)" if DURABLE else "memory-only state"
    print(f"fleet profile, {CONNECTORS} connectors per station, {state}, window {WINDOW:.0f} s "
          f"after {WARMUP:.0f} s warm-up, {os.cpu_count()} CPUs")  # fmt: skip
    results = []
    for n in SIZES:
        kinds = (RAY_SHARDS,) if RAY_ONLY else (0, RAY_SHARDS) if RAY_SHARDS else (0,)
        for shards in kinds:
            with tempfile.TemporaryDirectory() as folder:
                result = await run_size(n, folder if DURABLE else None, shards=shards)
            show(result)
            results.append(result)
        if RAY_SHARDS and not RAY_ONLY:
            alone, sharded = results[-2:]
            ratio = sharded["cpu_us_per_frame"] / alone["cpu_us_per_frame"]
            print(f"{'':>6}  CPU per frame on Ray / in one process: {ratio:.2f}")
    if os.environ.get("FLEET_JSON"):
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
