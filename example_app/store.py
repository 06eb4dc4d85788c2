"""The service's SQLite database: audit log and its secret key (the blocklist and the velocity
counts are the library's policies', in their own storages).

It is the one piece of state every gunicorn worker shares, so whatever must hold across workers
lives here and nowhere in process memory. The database runs in WAL mode: readers (the live
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask_friendcb import FriendResponseAnswer, FriendResponseEvent, ResponseAction

#: How long a hook waits for SQLite's write lock: well under the library's deadline, so a busy
#: database costs one hook, not Tencent's 2 s timeout.
HOOK_TIMEOUT = 0.5
#: How long an audit write waits for the lock: losing a row is worse than a slow answer.
AUDIT_TIMEOUT = 10.0

_ACCEPTING = (ResponseAction.AGREE_AND_ADD.value, ResponseAction.AGREE.value)
# Idle connections kept per process; more are opened when needed and closed after use.
_POOL_SIZE = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per friend-response callback.
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    received_at_ms INTEGER NOT NULL,
    event_time_ms INTEGER NOT NULL,
    sdkappid TEXT NOT NULL,
    from_account TEXT NOT NULL,
    requester_account TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    platform TEXT NOT NULL
);
-- One row per item of a callback, with the decision it got.
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    callback_id INTEGER NOT NULL REFERENCES callbacks (id),
    position INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    from_account TEXT NOT NULL,
    to_account TEXT NOT NULL,
    action TEXT NOT NULL,
    remark TEXT NOT NULL,
    tag_name TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    result_info TEXT NOT NULL,
    outcome TEXT NOT NULL,
    hook TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions (received_at_ms);
CREATE INDEX IF NOT EXISTS decisions_by_from ON decisions (from_account, id);
CREATE INDEX IF NOT EXISTS decisions_by_to ON decisions (to_account, id);
-- The operator page's counters and chart read only these columns of a time range: a covering
-- index answers them without touching the table, however long the log grows.
CREATE INDEX IF NOT EXISTS decisions_by_time_counts
    ON decisions (received_at_ms, result_code, action, hook);
"""

_SELECT_DECISIONS = """
SELECT d.id, d.callback_id, d.position, d.received_at_ms, d.from_account, d.to_account, d.action,
    d.remark, d.tag_name, d.result_code, d.result_info, d.outcome, d.hook,
    c.event_time_ms, c.requester_account, c.client_ip, c.platform
FROM decisions d JOIN callbacks c ON c.id = d.callback_id
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


@dataclass(frozen=True)
class MinuteCount:
    """How many items of one kind one policy decided in one minute (see
    :meth:`Store.per_minute`)."""

    #: The minute's start, in ms since the epoch (a multiple of 60,000).
    minute_ms: int
    #: ``"accepted"``, ``"declined"`` (both allowed) or ``"blocked"``.
    kind: str
    #: The hook that blocked (``None`` for allowed items, and for a blocked item no hook named).
    hook: str | None
    count: int


class Store:
    """The database at ``path``, created (with its folder) if missing.

    Safe to share between threads and greenlets: every operation takes a connection of its own
    from a small per-process pool. A forked worker starts a pool of its own.
    """

    def __init__(self, path: str) -> None:
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

    # -- audit log -------------------------------------------------------------------------

    def record(
        self, event: FriendResponseEvent, answer: FriendResponseAnswer, received_at_ms: int
    ) -> int:
        """Write one callback and the decision on each of its items; returns the callback id."""
        with self._transaction(AUDIT_TIMEOUT) as db:
            cursor = db.execute(
                "INSERT INTO callbacks (received_at_ms, event_time_ms, sdkappid, from_account,"
                " requester_account, client_ip, platform) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    received_at_ms,
                    event.event_time_ms,
                    event.sdkappid,
                    event.from_account,
                    event.requester_account,
                    event.client_ip,
                    event.opt_platform,
                ),
            )
            callback_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO decisions (callback_id, position, received_at_ms, from_account,"
                " to_account, action, remark, tag_name, result_code, result_info, outcome, hook)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        callback_id,
                        position,
                        received_at_ms,
                        event.from_account,
                        item.to_account,
                        # The wire value; an invalid item's may be one the library
                        # does not know yet.
                        str(item.response_action),
                        item.remark,
                        item.tag_name,
                        result.result_code,
                        result.result_info,
                        result.outcome.value,
                        result.hook,
                    )
                    # Every wire item, those that failed the item schema included.
                    for position, (item, result) in enumerate(event.with_results(answer))
                ],
            )
        return callback_id

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
        where: list[str] = []
        params: list[Any] = []
        if up_to is not None:
            where.append("d.id <= ?")
            params.append(up_to)
        if account:
            where.append("(d.from_account = ? OR d.to_account = ?)")
            params += [account, account]
        if blocked is not None:
            where.append("d.result_code != 0" if blocked else "d.result_code = 0")
        return self._decisions(where, params, "d.id DESC", limit)

    def since(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """Decisions with an id above ``after_id``, oldest first: what a live page has not
        seen yet."""
        return self._decisions(["d.id > ?"], [after_id], "d.id", limit)

    def last_decision_id(self) -> int:
        """The id of the newest decision, 0 when there is none."""
        with self._connection(HOOK_TIMEOUT) as db:
            (value,) = db.execute("SELECT coalesce(max(id), 0) FROM decisions").fetchone()
        return int(value)

    def stats(self, since_ms: int) -> dict[str, int]:
        """Items accepted, declined and blocked after ``since_ms``."""
        with self._connection(HOOK_TIMEOUT) as db:
            row = db.execute(
                "SELECT"
                " count(*) FILTER (WHERE result_code = 0 AND action IN (?, ?)),"
                " count(*) FILTER (WHERE result_code = 0 AND action NOT IN (?, ?)),"
                " count(*) FILTER (WHERE result_code != 0)"
                " FROM decisions WHERE received_at_ms > ?",
                (*_ACCEPTING, *_ACCEPTING, since_ms),
            ).fetchone()
        return {"accepted": row[0], "declined": row[1], "blocked": row[2]}

    def counts(self) -> tuple[int, int]:
        """How many callbacks and item decisions the log holds."""
        with self._connection(HOOK_TIMEOUT) as db:
            (callbacks,) = db.execute("SELECT count(*) FROM callbacks").fetchone()
            (decisions,) = db.execute("SELECT count(*) FROM decisions").fetchone()
        return int(callbacks), int(decisions)

    def _decisions(
        self, where: Sequence[str], params: Sequence[Any], order: str, limit: int
    ) -> list[dict[str, Any]]:
        # Only constant fragments are put together here; values are bound parameters.
        query = _SELECT_DECISIONS
        if where:
            query += " WHERE " + " AND ".join(where)
        query += f" ORDER BY {order} LIMIT ?"
        with self._connection(HOOK_TIMEOUT) as db:
            rows = db.execute(query, [*params, limit]).fetchall()
        return [dict(row) for row in rows]

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
        """Close the idle connections (those in use close when released)."""
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
    # Added for the operator page; each is one query, ported as it stands.

    def search(
        self,
        *,
        contains: str = "",
        blocked: bool | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Decisions newest first, ``limit`` at most, with the columns of :meth:`latest`.

        - ``contains``: only those whose responder or requester contains it (ASCII letters
          in any case; ``%``, ``_`` and ``\\`` match themselves, not as wildcards). ``""``:
          every decision.
        - ``blocked``: only blocked (``True``) or only allowed (``False``) ones.
        - ``before_id``: only those with a smaller id (keyset paging: pass the last id of the
          previous page). The newest page costs the same on ten million rows as on ten: the
          primary key is walked backwards from ``before_id`` and the walk stops at ``limit``.
        """
        where: list[str] = []
        params: list[Any] = []
        if before_id is not None:
            where.append("d.id < ?")
            params.append(before_id)
        if contains:
            pattern = "%" + escape_like(contains) + "%"
            where.append("(d.from_account LIKE ? ESCAPE '\\' OR d.to_account LIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        if blocked is not None:
            where.append("d.result_code != 0" if blocked else "d.result_code = 0")
        return self._decisions(where, params, "d.id DESC", limit)

    def per_minute(self, since_ms: int, until_ms: int) -> list[MinuteCount]:
        """Items decided from ``since_ms`` (inclusive) to ``until_ms`` (exclusive), counted per
        minute, kind and blocking hook, oldest minute first; minutes without items are absent.

        Read from the ``decisions_by_time_counts`` index alone.
        """
        with self._connection(HOOK_TIMEOUT) as db:
            rows = db.execute(
                "SELECT (received_at_ms / 60000) * 60000 AS minute_ms,"
                " CASE WHEN result_code != 0 THEN 'blocked'"
                "  WHEN action IN (?, ?) THEN 'accepted' ELSE 'declined' END AS kind,"
                " CASE WHEN result_code != 0 THEN hook END AS blocker,"
                " count(*)"
                " FROM decisions WHERE received_at_ms >= ? AND received_at_ms < ?"
                " GROUP BY minute_ms, kind, blocker ORDER BY minute_ms, kind, blocker",
                (*_ACCEPTING, since_ms, until_ms),
            ).fetchall()
        return [MinuteCount(int(row[0]), str(row[1]), row[2], int(row[3])) for row in rows]


def escape_like(text: str) -> str:
    """``text`` for a ``LIKE ... ESCAPE '\\'`` pattern: its ``\\``, ``%`` and ``_`` matched
    as themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
