"""A ``limits`` storage in a SQLite file, registered under the ``sqlite`` scheme.

``limits`` ships storages for memory, Redis, Memcached and MongoDB; this one lets the processes
of one machine (gunicorn's workers) share a moving window without a server. Creating the class
registers it: ``limits.storage.storage_from_string("sqlite:///path")`` then returns one.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

from ..errors import missing_extra

try:
    from limits.storage import MovingWindowSupport, Storage
except ImportError as error:  # pragma: no cover - checked by hiding the module
    raise missing_extra("policies", error) from error

from . import file_path
from .sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS friendcb_window (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS friendcb_window_key_at ON friendcb_window (key, at);
CREATE TABLE IF NOT EXISTS friendcb_counter (
    key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS friendcb_window_seconds (seconds INTEGER PRIMARY KEY);
"""


#: One check in this many (per process) also prunes its key's expired entries.
PRUNE_EVERY = 16
#: One check in this many (per process) also sweeps the whole file: the entries older than the
#: longest window any process has used on it, and the expired counters, whatever their key (a
#: key that never comes back is never pruned by its own checks).
SWEEP_EVERY = 4096


class SQLiteStorage(Storage, MovingWindowSupport):
    """Moving windows and fixed-window counters in a SQLite file.

    Every check that may take an entry counts the key's live entries and adds the new one
    under the file's write lock (one ``INSERT ... SELECT`` statement for one entry, a
    ``BEGIN IMMEDIATE`` transaction for more), so exactly ``limit`` entries are taken per
    window however many processes ask. Expired entries are pruned per key, one check in
    ``PRUNE_EVERY``, in a statement of their own whose failure changes no decision.
    """

    STORAGE_SCHEME = ["sqlite"]  # noqa: RUF012  (limits declares it a list)

    def __init__(
        self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        timeout = float(options.get("timeout", 5.0))
        self._file = SQLiteFile(file_path(uri), timeout=timeout, schema=SCHEMA)
        self._checks = 0
        # The window lengths this process has written to the file (friendcb_window_seconds):
        # the sweep keeps whatever the longest one of any process still counts.
        self._windows: set[int] = set()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    # -- the moving window ------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        if expiry not in self._windows:
            self._note_window(expiry)
        now = time.time()
        if amount == 1:
            # One statement: an INSERT takes the file's write lock before it reads, so the
            # count and the new entry are one atomic step, as under BEGIN IMMEDIATE, for one
            # commit instead of a transaction of four statements.
            taken, _ = self._file.execute(
                "INSERT INTO friendcb_window (key, at) SELECT ?, ?"
                " WHERE (SELECT COUNT(*) FROM friendcb_window WHERE key = ? AND at > ?) < ?",
                (key, now, key, now - expiry, limit),
            )
            self._checks += 1
            if self._checks % PRUNE_EVERY == 0:
                self._prune(key, now - expiry)
                if self._checks % SWEEP_EVERY == 0:
                    self.sweep(now)
            return taken == 1
        with self._file.immediate() as db:
            db.execute("DELETE FROM friendcb_window WHERE key = ? AND at <= ?", (key, now - expiry))
            (count,) = db.execute(
                "SELECT COUNT(*) FROM friendcb_window WHERE key = ? AND at > ?",
                (key, now - expiry),
            ).fetchone()
            if count + amount > limit:
                return False
            db.executemany(
                "INSERT INTO friendcb_window (key, at) VALUES (?, ?)", [(key, now)] * amount
            )
        return True

    def _prune(self, key: str, before: float) -> None:
        # The key's expired entries, which the count never reads. Housekeeping only: a prune
        # that fails (a busy file) leaves them for the next one, and never changes a decision.
        with contextlib.suppress(sqlite3.Error), self._file.connection() as db:
            db.execute("DELETE FROM friendcb_window WHERE key = ? AND at <= ?", (key, before))

    def _note_window(self, expiry: int) -> None:
        with self._file.connection() as db:
            db.execute(
                "INSERT OR IGNORE INTO friendcb_window_seconds (seconds) VALUES (?)", (expiry,)
            )
        self._windows.add(expiry)

    def sweep(self, now: float | None = None) -> int:
        """Delete every entry older than the longest window any process has used on this file,
        and every expired counter; how many rows went. Housekeeping: run by every process one
        check in ``SWEEP_EVERY``, and never changes a decision (a failure leaves the rows for
        the next sweep)."""
        at = time.time() if now is None else now
        with contextlib.suppress(sqlite3.Error), self._file.connection() as db:
            entries = db.execute(
                "DELETE FROM friendcb_window WHERE at <= ? - "
                "(SELECT MAX(seconds) FROM friendcb_window_seconds)",
                (at,),
            ).rowcount
            counters = db.execute(
                "DELETE FROM friendcb_counter WHERE expires_at <= ?", (at,)
            ).rowcount
            return max(entries, 0) + max(counters, 0)
        return 0

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        if expiry not in self._windows:
            self._note_window(expiry)
        now = time.time()
        with self._file.connection() as db:
            oldest, count = db.execute(
                "SELECT MIN(at), COUNT(*) FROM friendcb_window WHERE key = ? AND at > ?",
                (key, now - expiry),
            ).fetchone()
        return (float(oldest) if oldest is not None else now, int(count))

    # -- fixed-window counters (the rest of limits' Storage interface) -----------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._file.immediate() as db:
            row = db.execute(
                "SELECT value, expires_at FROM friendcb_counter WHERE key = ?", (key,)
            ).fetchone()
            if row is None or row[1] <= now:
                value, expires_at = amount, now + expiry
            else:
                value, expires_at = row[0] + amount, row[1]
            db.execute(
                "INSERT OR REPLACE INTO friendcb_counter (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, expires_at),
            )
        return int(value)

    def get(self, key: str) -> int:
        with self._file.connection() as db:
            row = db.execute(
                "SELECT value FROM friendcb_counter WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        with self._file.connection() as db:
            row = db.execute(
                "SELECT expires_at FROM friendcb_counter WHERE key = ?", (key,)
            ).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            with self._file.connection() as db:
                db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._file.immediate() as db:
            windows = db.execute("DELETE FROM friendcb_window").rowcount
            counters = db.execute("DELETE FROM friendcb_counter").rowcount
        return int(windows + counters)

    def clear(self, key: str) -> None:
        with self._file.immediate() as db:
            db.execute("DELETE FROM friendcb_window WHERE key = ?", (key,))
            db.execute("DELETE FROM friendcb_counter WHERE key = ?", (key,))

    def close(self) -> None:
        self._file.close()
