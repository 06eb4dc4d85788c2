"""Storages in a SQLite file (``sqlite:///path``): shared by the processes of one machine.

Connections come from a small pool (a sqlite3 connection serves one caller at a time); every
statement waits at most ``timeout`` for another process's lock. A write that
must see and change the same rows takes the write lock first (``BEGIN IMMEDIATE``), so that two
processes cannot both read "one left" and both take it.

The blocklist keeps its accounts in each process's memory too, and asks the file again only
once something committed to it since: :class:`CommitWatch` tells, without a system call, from
the header of the file's WAL index, which every commit to a file in WAL mode rewrites (by any
process or program: another worker, the CLI, the ``sqlite3`` shell).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sqlite3
import struct
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from .base import FORKS, BlocklistEntry

#: Idle connections kept per file and process; more are opened when needed, closed after use.
POOL_SIZE = 8

# Connections a forked child inherited from its parent: kept, never used, never closed (closing
# them could disturb the parent's).
_INHERITED: list[sqlite3.Connection] = []

# Descriptors of WAL index (-shm) files and their mappings (an mmap holds a duplicate of its
# descriptor), kept open for the life of the process. Closing any descriptor of a file drops
# every fcntl lock this process holds on it (POSIX), SQLite's own included: its connections
# would lose the lock that tells other processes the WAL index is in use, and the next
# process to open the file would take itself for the first, truncate the index and build it
# again under them (a mapping read meanwhile is a SIGBUS). A few per file at most: one per
# mapping made (a new process, or an index replaced by hand).
_KEPT_OPEN: list[object] = []
# The SQLiteFile objects of each file that are not closed: a watch closed with no other one
# open on its file may close its descriptor (no connection of this process is left to lose a
# lock), so that policies made and closed by the thousand do not pile descriptors up.
_OPEN_FILES: dict[str, weakref.WeakSet[SQLiteFile]] = {}


#: Forks of this process so far (shared with every file storage).
_forks = FORKS


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
        self._forks = _forks[0]
        _OPEN_FILES.setdefault(_key(path), weakref.WeakSet()).add(self)

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

    def execute(self, statement: str, parameters: Sequence[object] = ()) -> tuple[int, list[Any]]:
        """One statement on a connection of the pool, as :meth:`connection` would run it
        (without its context manager: for the hot paths); its ``rowcount`` and rows."""
        db = self._acquire()
        try:
            cursor = db.execute(statement, parameters)
            rows = cursor.fetchall()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.close()
            raise
        self._release(db)
        return cursor.rowcount, rows

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
        _OPEN_FILES.get(_key(self.path), weakref.WeakSet()).discard(self)
        with self._lock:
            idle, self._idle = self._idle, []
        for db in idle:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._forks != _forks[0]:
                # A forked worker must not use its parent's connections.
                _INHERITED.extend(self._idle)
                self._idle, self._forks = [], _forks[0]
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _release(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if self._forks == _forks[0] and len(self._idle) < POOL_SIZE:
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


def _key(path: str) -> str:
    return path if path == ":memory:" else os.path.realpath(path)


def _others_open(file: SQLiteFile) -> bool:
    """Whether another SQLiteFile of this process is open on ``file``'s file."""
    return any(other is not file for other in _OPEN_FILES.get(_key(file.path), ()))


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


#: The WAL index's header (https://www.sqlite.org/walformat.html#the_wal_index_file_format):
#: two copies of 48 bytes, the second written first, then the first, at every commit. Its
#: ``iVersion`` (the first field) has been 3007000 since SQLite 3.7.0; another value, and the
#: watch is not used.
_WAL_INDEX_HEADER = 48
_WAL_INDEX_VERSION = 3007000
#: Seconds between two checks that the WAL index mapped is still the file's (a hand-deleted
#: ``-shm`` file, say); SQLite itself never removes it while a connection holds it open.
_RECHECK_EVERY = 1.0


class CommitWatch:
    """Whether anything was committed to a SQLite file in WAL mode since a :meth:`mark`.

    A mark is the header of the file's WAL index (its ``-shm`` file, mapped read-only here):
    every commit rewrites it (its change counter, its frame count, its checksums), whichever
    process or program commits, and nothing else does; SQLite's own readers decide by it
    whether their page cache still holds. Reading it is a memory read, no system call. A
    connection of this watch's own stays open, so that SQLite keeps the file's WAL index (it
    removes it when its last connection closes).

    :meth:`mark` is ``None`` when it cannot tell (the file is not in WAL mode, a ``:memory:``
    database, a header being rewritten this instant): the caller then asks the file.
    """

    def __init__(self, file: SQLiteFile) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._forks = -1
        self._db: sqlite3.Connection | None = None
        self._map: mmap.mmap | None = None
        self._fd = -1
        self._inode = 0
        self._checked_at = 0.0

    def mark(self) -> bytes | None:
        """The WAL index's header now; ``None`` when it cannot be read."""
        view = self._map
        if view is None or self._forks != _forks[0] or time.monotonic() >= self._checked_at:
            view = self._reopen()
            if view is None:
                return None
        header = view[: 2 * _WAL_INDEX_HEADER]
        first = header[:_WAL_INDEX_HEADER]
        # The two copies differ while a commit rewrites them; isInit (byte 12) is 0 until
        # the index is built.
        if first != header[_WAL_INDEX_HEADER:] or not first[12]:
            return None
        return first

    def close(self) -> None:
        with self._lock:
            # The file's own pool first (SQLiteBlocklist.close closes it after): with no other
            # open SQLiteFile on this file, no connection here would lose a lock.
            self._drop(release=not _others_open(self._file))

    def _reopen(self) -> mmap.mmap | None:
        """The mapping, (re)made when missing, in a new process, or no longer the file's."""
        with self._lock:
            now = time.monotonic()
            if self._map is not None and self._forks == _forks[0]:
                if now < self._checked_at:
                    return self._map
                try:
                    current = os.stat(self._file.path + "-shm").st_ino
                except OSError:
                    current = -1
                if current == self._inode:
                    self._checked_at = now + _RECHECK_EVERY
                    return self._map
            if self._forks != _forks[0]:
                # A forked child: the parent's connection stays the parent's, never used here.
                if self._db is not None:
                    _INHERITED.append(self._db)
                if self._map is not None:
                    _KEPT_OPEN.extend((self._map, self._fd))
                self._db, self._map, self._fd = None, None, -1
                self._forks = _forks[0]
            self._drop()
            if self._file.path == ":memory:":
                return None
            try:
                db = self._file._open()
            except sqlite3.Error:
                return None
            try:
                (mode,) = db.execute("PRAGMA journal_mode").fetchone()
                # A read, so that this connection opens the WAL index (and keeps it).
                db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                fd = os.open(self._file.path + "-shm", os.O_RDONLY | os.O_CLOEXEC)
            except (sqlite3.Error, OSError):
                db.close()
                return None
            try:
                stat = os.fstat(fd)
                if str(mode).lower() != "wal" or stat.st_size < 2 * _WAL_INDEX_HEADER:
                    db.close()
                    return None
                view = mmap.mmap(fd, 2 * _WAL_INDEX_HEADER, mmap.MAP_SHARED, mmap.PROT_READ)
            except (OSError, ValueError):
                db.close()
                return None
            finally:
                _KEPT_OPEN.append(fd)  # not closed while connections may use it: _KEPT_OPEN
            if struct.unpack_from("=I", view)[0] != _WAL_INDEX_VERSION:
                _KEPT_OPEN.append(view)
                db.close()
                return None
            _KEPT_OPEN.remove(fd)
            self._db, self._map, self._fd, self._inode = db, view, fd, stat.st_ino
            self._checked_at = now + _RECHECK_EVERY
            return view

    def _drop(self, *, release: bool = False) -> None:
        """Let go of the connection; the mapping and its descriptor are closed only when
        ``release`` says no connection of this process uses the file (see _KEPT_OPEN)."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        if self._map is not None:
            if release:
                self._map.close()
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            else:
                _KEPT_OPEN.extend((self._map, self._fd))
        self._db, self._map, self._fd = None, None, -1


#: The most accounts a process keeps in memory; a longer list is asked of the file each time.
CACHE_MAX_ENTRIES = 100_000


class SQLiteBlocklist:
    """A blocklist in a SQLite file.

    :meth:`first_listed` answers from this process's copy of the listed accounts while nothing
    was committed to the file since it was read (:class:`CommitWatch`), and reads them again
    otherwise: a change made by any process is seen by the next check of every other. A list
    of more than ``CACHE_MAX_ENTRIES`` accounts is not copied: each check asks the file.
    """

    def __init__(self, path: str, *, timeout: float) -> None:
        self._file = SQLiteFile(path, timeout=timeout, schema=BLOCKLIST_SCHEMA)
        self._watch = CommitWatch(self._file)
        # (the WAL index's header when the accounts were read, the accounts)
        self._cache: tuple[bytes, frozenset[str]] | None = None

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
        cache = self._cache
        mark = self._watch.mark()
        if cache is None or mark is None or cache[0] != mark:
            listed = self._read(mark)
            if listed is None:
                return self._query(accounts)
        else:
            listed = cache[1]
        return next((account for account in accounts if account in listed), None)

    def _read(self, mark: bytes | None) -> frozenset[str] | None:
        """Every listed account, kept as of ``mark`` (taken before the read: a commit in
        between only makes the next check read again); ``None`` when they are not kept."""
        self._cache = None
        if mark is None:
            return None
        _, rows = self._file.execute(
            "SELECT account FROM friendcb_blocklist LIMIT ?", (CACHE_MAX_ENTRIES + 1,)
        )
        if len(rows) > CACHE_MAX_ENTRIES:
            return None
        listed = frozenset(row[0] for row in rows)
        self._cache = (mark, listed)
        return listed

    def _query(self, accounts: Sequence[str]) -> str | None:
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
        self._cache = None
        self._file.close()
        self._watch.close()
