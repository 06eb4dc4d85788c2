"""The service's stores: the audit log (through SQLAlchemy, ``audit_log.py``: SQLite or
PostgreSQL), and the SQLite database of its secret key (the blocklist and the velocity counts
are the library's policies', in their own storages).

They are the state every gunicorn worker shares, so whatever must hold across workers lives
here and nowhere in process memory. The SQLite database runs in WAL mode: readers (the live
page) never wait for writers, and writers queue on SQLite's lock instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .audit_log import AuditLog, MinuteCount, SearchPage
from .audit_log import escape_like as escape_like  # where the operator page's code finds it

if TYPE_CHECKING:
    from .drainer import Drainer

#: How long a change (the secret key, made once) waits for SQLite's lock; never on a
#: callback's path.
AUDIT_TIMEOUT = 10.0

# Idle connections kept per process; more are opened when needed and closed after use.
_POOL_SIZE = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Connections a forked child inherited: kept, never used, never closed.
_INHERITED: list[sqlite3.Connection] = []


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for db in connections:
        db.close()


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode, a property of the file that, once set, holds for every
    later connection.

    Switching needs the file to itself, and SQLite refuses at once (no busy timeout) while
    another connection holds it: two gunicorn workers starting on a new file both try. So wait
    here, in short steps, for the other one to finish.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def embedded_url(path: str) -> str:
    """The SQLAlchemy URL of the SQLite file at ``path``, quoted: a ``?`` or ``%`` in a folder's
    name is part of the path, not a query or an escape."""
    return sa.URL.create("sqlite", database=os.path.abspath(path)).render_as_string()


class Store:
    """The stores of the database file at ``path`` (created, with its folder, if missing) and
    of the audit log at ``audit_url`` (default: the same SQLite file).

    Safe to share between threads and greenlets: every SQLite operation takes a connection of
    its own from a small per-process pool, and SQLAlchemy pools the audit log's. A forked
    worker starts pools of its own.
    """

    def __init__(self, path: str, audit_url: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        # A store dropped without close() still closes its idle connections.
        weakref.finalize(self, _close_all, self._idle)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with self._connection(AUDIT_TIMEOUT) as db:
            _use_wal(db, AUDIT_TIMEOUT)
            db.executescript(_SCHEMA)
        self.audit_url = audit_url or embedded_url(path)
        self._audit: AuditLog | None = None
        #: The drainer that feeds the audit log, when this store is a running service's: a
        #: read waits (briefly) for this process's own decisions to be shipped.
        self.drainer: Drainer | None = None

    # -- audit log -------------------------------------------------------------------------

    @property
    def audit(self) -> AuditLog:
        """The audit log (its schema is Alembic's: ``flask --app example_app db upgrade``),
        made on first use: a process that only opens the store touches no SQLAlchemy state."""
        with self._lock:
            if self._audit is None:
                self._audit = AuditLog(self.audit_url)
            return self._audit

    def latest(
        self,
        *,
        account: str | None = None,
        blocked: bool | None = None,
        up_to: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The newest decisions first; only those involving ``account`` (as responder or
        requester), only blocked (``True``) or only allowed (``False``) ones, only those up to
        id ``up_to``, when asked."""
        self._sync()
        return self.audit.latest(account=account, blocked=blocked, up_to=up_to, limit=limit)

    def since(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """Decisions with an id above ``after_id``, oldest first: what a live page has not
        seen yet."""
        self._sync()
        return self.audit.since(after_id, limit)

    def last_decision_id(self) -> int:
        """The id of the newest decision, 0 when there is none."""
        self._sync()
        return self.audit.last_decision_id()

    def stats(self, since_ms: int) -> dict[str, int]:
        """Responses accepted and declined, requests let through, and items blocked after
        ``since_ms``."""
        self._sync()
        return self.audit.stats(since_ms)

    def counts(self) -> tuple[int, int]:
        """How many callbacks and item decisions the log holds."""
        self._sync()
        return self.audit.counts()

    def blocked_by_users(self, since_ms: int, threshold: int) -> list[dict[str, Any]]:
        """Accounts that ``threshold`` or more distinct users blocklisted since ``since_ms``;
        see :meth:`example_app.audit_log.AuditLog.blocked_by_users`."""
        self._sync()
        return self.audit.blocked_by_users(since_ms, threshold)

    def story(self, first: str, second: str) -> list[dict[str, Any]]:
        """The rows between two accounts, oldest first; see
        :meth:`example_app.audit_log.AuditLog.story`."""
        self._sync()
        return self.audit.story(first, second)

    def _sync(self) -> None:
        if self.drainer is not None:
            self.drainer.sync()

    # -- secret ----------------------------------------------------------------------------

    def secret_key(self) -> str:
        """A random key made once and kept here, so that every worker, and every restart,
        signs sessions with the same one."""
        with self._transaction(AUDIT_TIMEOUT) as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)",
                (secrets.token_hex(32),),
            )
            (value,) = db.execute("SELECT value FROM meta WHERE key = 'secret_key'").fetchone()
        return str(value)

    # -- connections -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the drainer (shipping what it can first) and close the idle connections
        (those in use close when released)."""
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer.spool.close()
        if self._audit is not None:
            self._audit.close()
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)

    @contextlib.contextmanager
    def _connection(self, timeout: float) -> Iterator[sqlite3.Connection]:
        db = self._acquire()
        try:
            # The busy timeout is how long this use waits for another writer's lock.
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
            # IMMEDIATE takes the write lock at once: a read-then-write cannot be overtaken.
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
                # Forked: the parent's connections are not ours to use, nor to close (closing
                # a file drops every POSIX lock this process holds on it, SQLite's included).
                _INHERITED.extend(self._idle)
                self._idle.clear()
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        # In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a commit then
        # survives a crash or restart of the service (not a power cut of the machine), and the
        # write lock is held for microseconds instead of a disk sync, which callbacks wait on.
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _release(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < _POOL_SIZE:
                self._idle.append(db)
                return
        db.close()

    # -- operator page reads -------------------------------------------------------------------

    def search(
        self,
        *,
        contains: str = "",
        blocked: bool | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Decisions newest first, ``limit`` at most, with the columns of :meth:`latest`.

        - ``contains``: only those whose responder or requester contains it (letters in any
          case; ``%``, ``_`` and ``\\`` match themselves, not as wildcards). ``""``: every
          decision.
        - ``blocked``: only blocked (``True``) or only allowed (``False``) ones.
        - ``before_id``: only those with a smaller id (keyset paging: pass the last id of the
          previous page). The newest page costs the same on ten million rows as on ten: the
          primary key is walked backwards from ``before_id`` and the walk stops at ``limit``.
        """
        self._sync()
        return self.audit.search(
            contains=contains, blocked=blocked, before_id=before_id, limit=limit
        )

    def search_page(
        self,
        *,
        contains: str = "",
        blocked: bool | None = None,
        before_id: int,
        limit: int = 200,
    ) -> SearchPage:
        """A page of :meth:`search` for the operator page, bounded in time when the account
        search has no index to read; see :meth:`example_app.audit_log.AuditLog.search_page`."""
        self._sync()
        return self.audit.search_page(
            contains=contains, blocked=blocked, before_id=before_id, limit=limit
        )

    def per_minute(self, since_ms: int, until_ms: int) -> list[MinuteCount]:
        """Items decided from ``since_ms`` (inclusive) to ``until_ms`` (exclusive), counted per
        minute, kind and blocking hook, oldest minute first; minutes without items are absent.

        Read from the ``decisions_by_time_counts`` index alone.
        """
        self._sync()
        return self.audit.per_minute(since_ms, until_ms)
