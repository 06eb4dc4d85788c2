"""Storages in a SQLite file (``sqlite:///path``): shared by the processes of one machine.

Each thread has its own connection (sqlite3 connections are not to be shared between
threads); every statement waits at most ``timeout`` for another process's lock. A write that
must see and change the same rows takes the write lock first (``BEGIN IMMEDIATE``), so that two
processes cannot both read "one left" and both take it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence

from .base import BlocklistEntry


class SQLiteFile:
    """Per-thread connections to one SQLite file, made with ``schema``."""

    def __init__(self, path: str, *, timeout: float, schema: str) -> None:
        self.path = path
        self.timeout = timeout
        self._schema = schema
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema made) on first use."""
        if os.getpid() != self._pid:
            # A forked worker must not use its parent's connections.
            self._local = threading.local()
            self._all = []
            self._pid = os.getpid()
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                if self.path != ":memory:":
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                db.executescript(self._schema)
            except BaseException:
                db.close()
                raise
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextlib.contextmanager
    def immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the file's write lock from its first statement."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self._local = threading.local()


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
        cursor = self._file.connection().execute(
            "DELETE FROM friendcb_blocklist WHERE account = ?", (account,)
        )
        return cursor.rowcount > 0

    def first_listed(self, accounts: Sequence[str]) -> str | None:
        if not accounts:
            return None
        marks = ", ".join("?" * len(accounts))
        rows = self._file.connection().execute(
            f"SELECT account FROM friendcb_blocklist WHERE account IN ({marks})",  # noqa: S608
            tuple(accounts),
        )
        listed = {row[0] for row in rows}
        return next((account for account in accounts if account in listed), None)

    def entries(self) -> list[BlocklistEntry]:
        rows = self._file.connection().execute(
            "SELECT account, reason, added_at FROM friendcb_blocklist ORDER BY added_at, account"
        )
        return [BlocklistEntry.at(account, reason, at) for account, reason, at in rows]

    def close(self) -> None:
        self._file.close()
