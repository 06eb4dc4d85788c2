"""The local spool: where a decision is recorded, durably and in microseconds, before its answer
leaves; the drainer (``drainer.py``) ships it to the audit database later.

A SQLite file in WAL mode in the instance folder, shared by every worker of the machine: a
worker killed with SIGKILL leaves its records here for the others, or for the next start.
``synchronous = NORMAL`` makes a commit survive a crash or kill of the process (not a power cut
of the machine) without a disk sync per callback.

Shippers claim a batch with a lease (a time until which no other shipper takes it), ship it,
then delete it. A shipper that dies lets its lease run out and another takes the batch again;
shipping is idempotent, so the rows it had already written are not written twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .audit_log import AuditRecord

# How long an append waits for another process's write lock. Every transaction on the spool
# is a few statements long, so this is never reached unless the disk itself stalls.
_APPEND_TIMEOUT = 2.0
_POOL_SIZE = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record TEXT NOT NULL,
    lease_until_ms INTEGER NOT NULL DEFAULT 0
);
-- Records the audit database refused on their own (a value it cannot store): kept for the
-- operator, never dropped.
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# Connections a forked child inherited: kept, never used, never closed (closing would drop
# the parent's POSIX locks on the file).
_INHERITED: list[sqlite3.Connection] = []


@dataclass(frozen=True)
class Claimed:
    """A batch taken from the spool: the spool's sequence numbers and the records."""

    seqs: tuple[int, ...]
    records: tuple[AuditRecord, ...]


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for db in connections:
        db.close()


class Spool:
    """The spool file at ``path``, created (with its folder) if missing. Safe to share between
    threads, greenlets and the processes of one machine."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        weakref.finalize(self, _close_all, self._idle)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with self._connection(30.0) as db:
            _use_wal(db, 30.0)
            db.executescript(_SCHEMA)

    def append(self, record: AuditRecord) -> int:
        """Record one callback; its sequence number. Committed (durable) on return."""
        payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        with self._connection(_APPEND_TIMEOUT) as db:
            cursor = db.execute("INSERT INTO spool (record) VALUES (?)", (payload,))
        return int(cursor.lastrowid or 0)

    def claim(self, limit: int, lease_seconds: float, now_ms: int | None = None) -> Claimed:
        """Take up to ``limit`` of the oldest records no other shipper holds, for
        ``lease_seconds``."""
        now = now_ms if now_ms is not None else _now_ms()
        with self._transaction(_APPEND_TIMEOUT) as db:
            rows = db.execute(
                "UPDATE spool SET lease_until_ms = ? WHERE seq IN ("
                " SELECT seq FROM spool WHERE lease_until_ms <= ? ORDER BY seq LIMIT ?)"
                " RETURNING seq, record",
                (now + int(lease_seconds * 1000), now, limit),
            ).fetchall()
        rows.sort()
        return Claimed(tuple(seq for seq, _ in rows), tuple(json.loads(r) for _, r in rows))

    def release(self, seqs: Sequence[int]) -> None:
        """Give a batch back (shipping failed): any shipper may take it again at once."""
        self._by_seq("UPDATE spool SET lease_until_ms = 0 WHERE seq IN ({})", seqs)

    def acknowledge(self, seqs: Sequence[int]) -> None:
        """Forget a shipped batch."""
        self._by_seq("DELETE FROM spool WHERE seq IN ({})", seqs)

    def set_aside(self, seq: int, reason: str) -> None:
        """Move a record the audit database refuses to the ``rejected`` table."""
        with self._transaction(_APPEND_TIMEOUT) as db:
            db.execute(
                "INSERT OR IGNORE INTO rejected (seq, record, reason)"
                " SELECT seq, record, ? FROM spool WHERE seq = ?",
                (reason, seq),
            )
            db.execute("DELETE FROM spool WHERE seq = ?", (seq,))

    def pending(self) -> int:
        """How many records wait to be shipped (held by a shipper or not)."""
        with self._connection(_APPEND_TIMEOUT) as db:
            (count,) = db.execute("SELECT count(*) FROM spool").fetchone()
        return int(count)

    def oldest(self) -> int | None:
        """The sequence number of the oldest record waiting, ``None`` when none does."""
        with self._connection(_APPEND_TIMEOUT) as db:
            (seq,) = db.execute("SELECT min(seq) FROM spool").fetchone()
        return None if seq is None else int(seq)

    def flip(self, key: str, value: int) -> bool:
        """Set the machine-wide flag ``key`` (0 until set) to ``value``; whether this call
        changed it (so that, of all the workers noticing the same thing, one says so)."""
        with self._transaction(_APPEND_TIMEOUT) as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            if (row[0] if row is not None else 0) == value:
                return False
            db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        return True

    def flag(self, key: str) -> int:
        """The machine-wide flag ``key`` (0 until set)."""
        with self._connection(_APPEND_TIMEOUT) as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def take_turn(self, key: str, every_ms: int, now_ms: int | None = None) -> bool:
        """Whether this process should do the machine-wide chore ``key`` now: true for one
        caller per ``every_ms``."""
        now = now_ms if now_ms is not None else _now_ms()
        with self._transaction(_APPEND_TIMEOUT) as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            if row is not None and now - row[0] < every_ms:
                return False
            db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, now),
            )
        return True

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)

    def _by_seq(self, statement: str, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self._connection(_APPEND_TIMEOUT) as db:
            # Only placeholders are put together here; the values are bound.
            db.execute(statement.format(",".join("?" * len(seqs))), tuple(seqs))

    @contextlib.contextmanager
    def _connection(self, timeout: float) -> Iterator[sqlite3.Connection]:
        db = self._acquire()
        try:
            db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            yield db
        except BaseException:
            db.close()
            raise
        else:
            self._release(db)

    @contextlib.contextmanager
    def _transaction(self, timeout: float) -> Iterator[sqlite3.Connection]:
        with self._connection(timeout) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                _INHERITED.extend(self._idle)
                self._idle.clear()
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _release(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < _POOL_SIZE:
                self._idle.append(db)
                return
        db.close()


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    # Switching to WAL needs the file to itself, and SQLite refuses at once (no busy wait)
    # while another worker starting at the same moment holds it: retry in short steps.
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _now_ms() -> int:
    return int(time.time() * 1000)
