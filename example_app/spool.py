"""The local spool: where a decision is recorded, durably and in microseconds, before its answer
leaves; the drainer (``drainer.py``) ships it to the audit database later.

A SQLite file in WAL mode in the instance folder, shared by every worker of the machine: a
worker killed with SIGKILL leaves its records here for the others, or for the next start.
``synchronous = NORMAL`` makes a commit survive a crash or kill of the process (not a power cut
of the machine) without a disk sync per callback.

The request path writes one line to a journal instead (:meth:`Spool.record`): a file of this
process's own, opened in append mode, one ``write`` per callback and no lock file, no
transaction. Like the table's commits, a written line survives a crash or kill of the process
(the kernel holds it), not a power cut. The drainer moves the journal's lines into the table in
one transaction per batch (group commit: many callbacks, one commit), then deletes the journal
segment. A process holds an ``flock`` on its segment while it lives; a segment nobody holds
(its process killed) is adopted by whichever drainer of the machine finds it first. A segment
imported twice (a drainer killed between its commit and the delete) only spools its records
twice, and shipping is idempotent.

Shippers claim a batch with a lease (a time until which no other shipper takes it), ship it,
then delete it. A shipper that dies lets its lease run out and another takes the batch again;
shipping is idempotent, so the rows it had already written are not written twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .audit_log import AuditRecord
from .forks import generation

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


def journal_folder(path: str) -> Path:
    """The folder of the journal segments of the spool file at ``path``."""
    return Path(f"{path}.journal")


def waiting(path: str) -> int:
    """How many records wait in the spool file at ``path`` and its journal, read without
    changing either (for a look from outside, such as a test's). A drainer may move a segment
    into the table between the two reads (its records then in neither): the table is read
    again after the journal, until it did not change meanwhile."""
    with contextlib.closing(sqlite3.connect(path)) as db:

        def table() -> int:
            (count,) = db.execute("SELECT count(*) FROM spool").fetchone()
            return int(count)

        after = table()
        for _ in range(100):
            before = after
            lines = journal_lines(path)
            after = table()
            if after == before:
                break
    return after + lines


def journal_lines(path: str) -> int:
    """How many records wait in the journal of the spool file at ``path``."""
    return _journal_lines(journal_folder(path))


def _journal_lines(folder: Path) -> int:
    total = 0
    for segment in folder.glob("*.jsonl"):
        with contextlib.suppress(FileNotFoundError):
            total += segment.read_bytes().count(b"\n")
    return total


class Journal:
    """This process's journal segments in ``folder``: one ``write`` per record."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._pid = 0
        # The fork generation the segments were opened in (-1: none yet).
        self._generation = -1
        self._name = ""
        self._number = 0
        self._fd = -1
        self._path: Path | None = None
        self._written = 0
        # Finished segments being imported, each with its still-locked descriptor.
        self._held: dict[str, int] = {}
        folder.mkdir(exist_ok=True)

    def write(self, line: bytes) -> None:
        """Append ``line`` (one record and its newline), durable against a kill on return."""
        with self._lock:
            if self._generation != generation():
                self._start()
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            self._written += 1

    def rotate(self) -> Path | None:
        """Start a new segment; the finished one (no more writes go to it) to import, or
        ``None`` when nothing was written since the last rotation."""
        with self._lock:
            if self._generation != generation() or not self._written:
                return None
            finished, fd = self._path, self._fd
            self._open_next()
        # Still locked by this process (its descriptor): no other drainer adopts it meanwhile.
        self._held[str(finished)] = fd
        return finished

    def release(self, segment: Path) -> None:
        """Delete an imported segment, then let go of its lock."""
        with contextlib.suppress(FileNotFoundError):
            segment.unlink()
        fd = self._held.pop(str(segment), -1)
        if fd >= 0:
            os.close(fd)

    def own(self, segment: Path) -> bool:
        return segment == self._path or str(segment) in self._held

    def _start(self) -> None:
        # A new process (the first write, or a forked worker): segments of its own. What the
        # parent held stays the parent's (its descriptors are left alone, never used).
        if self._fd >= 0:
            # Inherited from the parent: closed here, so that only the parent's own
            # descriptors keep its segments locked (and a dead parent's are adopted).
            for fd in (self._fd, *self._held.values()):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pid = os.getpid()
        self._generation = generation()
        self._name = f"{self._pid}-{secrets.token_hex(4)}"
        self._number = 0
        self._held = {}
        self._open_next()

    def _open_next(self) -> None:
        self._number += 1
        path = self.folder / f"{self._name}-{self._number:08d}.jsonl"
        # Created under a name no drainer adopts, and renamed once locked: a segment is never
        # seen unlocked, else another worker's drainer could adopt it (empty) and delete it
        # before this process locks it, and the records written to it then would be lost.
        # A process killed in between leaves an empty ``.new`` file behind, never a record.
        fresh = path.with_name(path.name + ".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(fresh, path)
        self._fd, self._path, self._written = fd, path, 0


class Spool:
    """The spool file at ``path``, created (with its folder) if missing, and its journal.
    Safe to share between threads, greenlets and the processes of one machine."""

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
        self.journal = Journal(journal_folder(path))
        # One import of this process's journal at a time: a reader waiting for its own
        # records knows, once it has its turn, that every earlier one is in the table.
        self._absorbing = threading.Lock()

    def record(self, record: AuditRecord) -> None:
        """Record one callback in this process's journal: durable on return, one ``write``.
        The drainer moves it to the table (:meth:`absorb`)."""
        self.journal.write(_line(record))

    def append(self, record: AuditRecord) -> int:
        """Record one callback in the table; its sequence number. Committed (durable) on
        return."""
        payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        with self._connection(_APPEND_TIMEOUT) as db:
            cursor = db.execute("INSERT INTO spool (record) VALUES (?)", (payload,))
        return int(cursor.lastrowid or 0)

    def absorb(self, *, adopt: bool = False) -> int:
        """Move this process's journal into the table, in one transaction; with ``adopt``,
        also the segments no living process holds. The newest sequence number given to a
        record of this process's, 0 when none was."""
        with self._absorbing:
            newest = 0
            segment = self.journal.rotate()
            if segment is not None:
                newest = self._import(segment)
                self.journal.release(segment)
            if adopt:
                self._adopt()
            return newest

    def _adopt(self) -> None:
        for segment in sorted(self.journal.folder.glob("*.jsonl")):
            if self.journal.own(segment):
                continue
            try:
                fd = os.open(segment, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process lives (or another drainer adopts it now)
                if os.fstat(fd).st_nlink == 0:
                    continue  # imported and deleted by another drainer meanwhile
                self._import(segment)
                with contextlib.suppress(FileNotFoundError):
                    segment.unlink()
            finally:
                os.close(fd)

    def _import(self, segment: Path) -> int:
        """The segment's records into the table; the newest sequence number, 0 if none."""
        try:
            data = segment.read_bytes()
        except FileNotFoundError:
            return 0
        # A last line without its newline was cut by a kill mid-write: never answered.
        payloads = [line.decode("utf-8") for line in data.split(b"\n")[:-1] if line]
        if not payloads:
            return 0
        with self._transaction(_APPEND_TIMEOUT) as db:
            db.executemany("INSERT INTO spool (record) VALUES (?)", [(p,) for p in payloads])
            (newest,) = db.execute("SELECT max(seq) FROM spool").fetchone()
        return int(newest or 0)

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
        """How many records wait to be shipped (held by a shipper or not, in the table or in
        a journal)."""
        with self._connection(_APPEND_TIMEOUT) as db:
            (count,) = db.execute("SELECT count(*) FROM spool").fetchone()
        return int(count) + _journal_lines(self.journal.folder)

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


def _line(record: AuditRecord) -> bytes:
    # JSON escapes every newline inside a value: one record, one line.
    return _ENCODER.encode(record).encode("utf-8") + b"\n"


# Built once: json.dumps builds an encoder on every call that passes options.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


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
