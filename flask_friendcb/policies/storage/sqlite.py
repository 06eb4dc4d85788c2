"""Storages in a SQLite file (``sqlite:///path``): shared by the processes of one machine.

Connections come from a small pool (a sqlite3 connection serves one caller at a time); every
statement waits at most ``timeout`` for another process's lock. A write that
must see and change the same rows takes the write lock first (``BEGIN IMMEDIATE``), so that two
processes cannot both read "one left" and both take it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence

from .base import BlocklistEntry

#: Idle connections kept per file and process; more are opened when needed, closed after use.
POOL_SIZE = 8

# Connections a forked child inherited from its parent: kept, never used, never closed (closing
# them could disturb the parent's).
_INHERITED: list[sqlite3.Connection] = []


class SQLiteFile:
    """A small pool of connections to one SQLite file, made with ``schema``.

    A pool rather than one connection per thread: under gevent every request is a greenlet of
    its own, and a connection per greenlet would be opened (and its schema run) per request.
    """

    def __init__(self, path: str, *, timeout: float, schema: str) -> None:
        self.path = path
        self.timeout = timeout
        self._schema = schema
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of the pool, for one statement or transaction."""
        db = self._acquire()
        try:
            yield db
        except BaseException:
            # A connection left in a transaction (or broken) is not given to the next caller.
            with contextlib.suppress(sqlite3.Error):
                db.close()
            raise
        self._release(db)

    @contextlib.contextmanager
    def immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the file's write lock from its first statement."""
        with self.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for db in idle:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if os.getpid() != self._pid:
                # A forked worker must not use its parent's connections.
                _INHERITED.extend(self._idle)
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _release(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if os.getpid() == self._pid and len(self._idle) < POOL_SIZE:
                self._idle.append(db)
                return
        db.close()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            if self.path != ":memory:":
                _use_wal(db, self.timeout)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            db.executescript(self._schema)
        except BaseException:
            db.close()
            raise
        return db


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Put the file in WAL mode (once set, it holds for every later connection).

    Switching needs the file to itself, and SQLite refuses at once, without its busy wait,
    while another connection holds it: gunicorn's workers starting together on a new file both
    try. So wait here, in short steps, up to ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


BLOCKLIST_SCHEMA = """
CREATE TABLE IF NOT EXISTS friendcb_blocklist (
    account TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_at REAL NOT NULL
);
"""


class SQLiteBlocklist:
    """A blocklist in a SQLite file."""

    def __init__(self, path: str, *, timeout: float) -> None:
        self._file = SQLiteFile(path, timeout=timeout, schema=BLOCKLIST_SCHEMA)

    def add(self, account: str, reason: str, timestamp: float) -> BlocklistEntry:
        with self._file.immediate() as db:
            db.execute("DELETE FROM friendcb_blocklist WHERE account = ?", (account,))
            db.execute(
                "INSERT INTO friendcb_blocklist (account, reason, added_at) VALUES (?, ?, ?)",
                (account, reason, timestamp),
            )
        return BlocklistEntry.at(account, reason, timestamp)

    def remove(self, account: str) -> bool:
        with self._file.connection() as db:
            cursor = db.execute("DELETE FROM friendcb_blocklist WHERE account = ?", (account,))
            return cursor.rowcount > 0

    def first_listed(self, accounts: Sequence[str]) -> str | None:
        if not accounts:
            return None
        marks = ", ".join("?" * len(accounts))
        with self._file.connection() as db:
            rows = db.execute(
                f"SELECT account FROM friendcb_blocklist WHERE account IN ({marks})",  # noqa: S608
                tuple(accounts),
            ).fetchall()
        listed = {row[0] for row in rows}
        return next((account for account in accounts if account in listed), None)

    def entries(self) -> list[BlocklistEntry]:
        with self._file.connection() as db:
            rows = db.execute(
                "SELECT account, reason, added_at FROM friendcb_blocklist"
                " ORDER BY added_at, account"
            ).fetchall()
        return [BlocklistEntry.at(account, reason, at) for account, reason, at in rows]

    def close(self) -> None:
        self._file.close()
