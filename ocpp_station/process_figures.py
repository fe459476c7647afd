"""What a long-running process shows of its own health: CPU, memory, tasks, open files.

For the control API (`GET /api/health`) and the fleet's summary, so that an operator (and the
soak benchmark) can see whether memory, tasks or file descriptors creep up over hours.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any


def process_figures() -> dict[str, Any]:
    """CPU seconds, resident memory and open files (Linux /proc; elsewhere 0), asyncio tasks
    and the event loop of this process."""
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        rss = 0
    try:
        files = len(os.listdir("/proc/self/fd"))
    except OSError:
        files = 0
    loop = asyncio.get_running_loop()
    return {
        "cpuSeconds": round(time.process_time(), 2),
        "rssBytes": rss,
        "openFiles": files,
        "tasks": len(asyncio.all_tasks(loop)),
        "loop": type(loop).__module__.split(".")[0],
    }
