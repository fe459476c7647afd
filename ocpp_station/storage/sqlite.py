"""Opening an SQLite file the way every store of this project does, and growing its schema.

Both the station's state file and the central system's database are WAL files with
`synchronous=FULL`: a commit is on disk before the call returns, so whatever was acknowledged
to the other side survives a power loss (design notes, "durable before acknowledged"). A schema
carries a version in a one-row `schema_version` table and grows by numbered migrations: number
n brings it from n - 1 to n, each applied in its own transaction, so a crash in the middle
leaves the file at a version it really has. A file written by a newer program is refused
rather than guessed at.

Connections are in autocommit mode: a single statement commits at once, and work of several
statements opens one transaction (`transaction`) so that it lands all or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

Migration = tuple[int, Sequence[str]]

# How long a writer waits for another connection's write lock before giving up.
BUSY_TIMEOUT = 10.0


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Migrations are numbered 1, 2, 3, ... in order; anything else is a programming error."""
    numbers = [number for number, _ in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError("migrations must be numbered 1, 2, 3, ... in order")


def open_database(
    path: str | Path | None,
    migrations: Sequence[Migration],
    *,
    error: type[Exception],
    what: str = "the database",
    synchronous: str = "FULL",
) -> sqlite3.Connection:
    """A connection to `path` (None or ":memory:": in memory), migrated to the newest schema.

    A file that cannot be used (not a database, a write-ahead log refused, a schema newer than
    `migrations` knows, a migration that fails) raises `error` with a one-line reason and
    leaves the file as it was; `what` names the file in that reason. The folder of the file is
    created when missing (OSError when that is impossible).
    """
    check_migrations(migrations)
    file = None if path is None or str(path) == ":memory:" else Path(path)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(
            ":memory:" if file is None else str(file),
            isolation_level=None,
            timeout=BUSY_TIMEOUT,
        )
    except sqlite3.Error as exc:
        raise error(f"{path}: {exc}") from exc
    try:
        if file is not None:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise error(f"{path}: cannot use a write-ahead log (journal {mode})")
        db.execute(f"PRAGMA synchronous={_synchronous(synchronous)}")
        migrate(db, migrations, error=error, what=what)
    except sqlite3.Error as exc:
        db.close()
        raise error(f"{path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _synchronous(level: str) -> str:
    if level.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"not an SQLite synchronous level: {level!r}")
    return level.upper()


def schema_version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0])


def migrate(
    db: sqlite3.Connection,
    migrations: Sequence[Migration],
    *,
    error: type[Exception],
    what: str = "the database",
) -> None:
    """Apply the migrations the file does not have yet, each in its own transaction."""
    check_migrations(migrations)
    with transaction(db):
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            db.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = 0
        else:
            current = int(row[0])
    if current > len(migrations):
        raise error(f"{what} has schema version {current}; this version knows {len(migrations)}")
    for number, statements in migrations[current:]:
        with transaction(db):
            # Re-read under the write lock: another process may have migrated meanwhile.
            if schema_version(db) >= number:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", (number,))


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """All statements inside commit together or not at all (taking the write lock first).

    A block opened inside another joins it: the outer one commits or rolls back everything.
    """
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
