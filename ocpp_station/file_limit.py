"""Open files: each station of a fleet, and each station a central system serves, is a socket.

A process may hold as many open files as its soft limit (`ulimit -n`), which it may lift up to
the hard limit. Linux gives 1,024 soft by default: a fleet of ten thousand needs the lift, and
a count beyond the hard limit cannot run in one process at all. Past the limit, accept() and
connect() fail with EMFILE; said at the start instead, the reason is plain.
"""

from __future__ import annotations

import resource

# Files besides the stations' sockets: stdio, the event loop's own, listening sockets, the
# control API's clients, the SQLite store and its journal, log files.
RESERVE = 64


class FileLimitError(Exception):
    """More sockets are wanted than the process may open."""


def raise_file_limit() -> int:
    """Lift the soft limit on open files to the hard one where allowed; the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft  # a limit we may not raise stays as it is
        return hard
    return soft


def make_room(sockets: int, what: str, remedy: str) -> int:
    """Lift the limit and check that `sockets` more open files fit beside the reserve; the
    limit in force. FileLimitError says how many are needed, what the process may open and
    `remedy`."""
    limit = raise_file_limit()
    if limit != resource.RLIM_INFINITY and sockets + RESERVE > limit:
        raise FileLimitError(
            f"{what} need about {sockets + RESERVE:,} open files and this process may open "
            f"{limit:,} (ulimit -n): {remedy}"
        )
    return limit
