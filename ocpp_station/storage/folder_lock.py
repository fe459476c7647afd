"""A state folder belongs to one process at a time: two stations (or two fleets) on one state
would each undo the other's writes, and both would speak to the central system as the same
identities.

An advisory lock (flock) on a file in the folder: the system releases it when the process
ends, however it ends, so a station killed with SIGKILL leaves no stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks, folders are not guarded
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class FolderInUse(Exception):
    """Another process holds the folder; the message names it."""


def lock_folder(folder: Path) -> IO[str] | None:
    """Lock `folder` for this process and write our PID in the lock file; the open lock file,
    which holds the lock until it is closed or the process ends (None where the system has no
    advisory locks)."""
    if fcntl is None:
        return None
    handle = (folder / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderInUse(f"in use by {holder}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"ocpp-station process {os.getpid()}\n")
    handle.flush()
    return handle
