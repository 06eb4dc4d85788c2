"""The drainer: one background thread per process (a greenlet under gunicorn's gevent worker,
which patches ``threading``) that ships the spool to the audit database in batches, with
retries and backoff, and prunes the log past its retention.

Callbacks never wait on it. While the database is down, slow or refusing, the spool grows and
the machine's log says so once (and once more when it is back); past the spool's limit the log
says so loudly, every minute, and callbacks are still answered and recorded.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from .audit_log import AuditLog, ShippedBatch
from .forks import generation
from .spool import Claimed, Spool

logger = logging.getLogger("example_app.audit")

#: The ``on_shipped`` observers' type: called with each batch once it is committed.
Observer = Callable[[ShippedBatch], None]

_DAY_MS = 86_400_000

# Held by a drainer while it works in SQLite or the database driver, and taken by os.fork():
# a process forked while a drainer thread held one of their internal locks (a gunicorn master
# that made the app with --preload, a test forking workers) would inherit it locked forever.
# With this, fork waits until every drainer of the process is between two steps.
_WORKING = threading.Lock()
os.register_at_fork(
    before=_WORKING.acquire, after_in_parent=_WORKING.release, after_in_child=_WORKING.release
)
# Errors that belong to a record rather than to the database: shipped alone, such a record
# is set aside (kept, and reported) instead of holding up every record behind it.
_RECORD_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError)


class Drainer:
    """Ships ``spool`` to ``log``.

    - ``batch``: records per transaction; ``lease``: seconds a claimed batch is this
      drainer's before another may take it (a worker killed mid-batch delays its batch by
      that much, never loses it).
    - ``idle``: seconds between two looks at an empty spool (an append wakes it at once).
    - ``linger``: seconds a batch that is not full may gather records before it is shipped.
      Each transaction has a fixed cost (measured: about 0.9 ms of CPU on SQLite for a batch
      of one record); shipping every record alone, as soon as it is spooled, paid it for each
      callback. A read that waits for this process's own records (:meth:`sync`) cuts the wait
      short.
    - ``backoff``: first and longest wait between two attempts while the database fails.
    - ``spool_limit``: records waiting past which the log says so loudly.
    - ``retention_days``: callbacks older than that are pruned, in small batches, by one
      drainer of the machine at a time, every ``prune_every`` seconds.
    """

    def __init__(
        self,
        spool: Spool,
        log: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
        batch: int = 500,
        lease: float = 30.0,
        idle: float = 1.0,
        linger: float = 0.05,
        backoff: tuple[float, float] = (0.25, 5.0),
        spool_limit: int = 1_000_000,
        retention_days: int = 90,
        prune_every: float = 600.0,
        prune_batch: int = 500,
    ) -> None:
        self.spool = spool
        self.log = log
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.idle = idle
        self.linger = linger
        self.backoff = backoff
        self.spool_limit = spool_limit
        self.retention_days = retention_days
        self.prune_every = prune_every
        self.prune_batch = prune_batch
        #: Called after each batch is committed to the audit database, in the drainer's
        #: thread; a failing observer is logged and the others still run.
        self.on_shipped: list[Observer] = []
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self._last_batch = 0
        self._stopping = threading.Event()
        self._shipped = threading.Condition()
        self._thread: threading.Thread | None = None
        # The fork generation the thread was started in (-1: not started).
        self._generation = -1
        self._failing = False
        self._known_up = False
        self._delay = backoff[0]
        self._next_prune = 0.0
        #: Seconds between two looks for journal segments of processes that died.
        self.adopt_every = 1.0
        #: Seconds between two moves of the journal into the spool while a batch gathers.
        self.absorb_every = 0.002
        self._next_adopt = 0.0
        # The newest record this process appended, and the newest below which every record
        # is known to be shipped: what a read of this process's own decisions waits for.
        self._appended = 0
        self._confirmed = 0

    # -- the request path ------------------------------------------------------------------

    def appended(self, seq: int) -> None:
        """A record was spooled by this process: wake the drainer (started if this process
        has none yet: a worker forked after the app was made)."""
        self._appended = max(self._appended, seq)
        self.start()
        self._wake.set()

    def recorded(self) -> None:
        """A record was written to this process's journal (:meth:`Spool.record`): wake the
        drainer, which moves it to the spool's table with the others of its batch."""
        self.start()
        self._wake.set()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's drainer thread, once per process."""
        if self._generation == generation() and self._thread is not None:
            return
        self._generation = generation()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="audit-drainer", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, then ship what the spool holds for at most ``timeout`` seconds
        (at exit: gunicorn's SIGTERM lets a worker finish within its graceful timeout)."""
        if self._thread is None or self._generation != generation():
            return
        self._stopping.set()
        self._wake.set()
        self._hurry.set()
        self._thread.join(timeout)
        self._thread = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with _WORKING:
                outcome = self.ship_once()
            if outcome != "shipped":
                break

    def sync(self, timeout: float = 1.0) -> None:
        """Wait (at most ``timeout``) until what this process spooled is in the audit
        database: a read of the log then sees this process's own decisions. Returns at once
        while the database fails."""
        try:
            with _WORKING:
                self._absorbed(self.spool.absorb())
        except sqlite3.Error:
            logger.exception("the audit spool %s cannot be written", self.spool.path)
            return
        target = self._appended
        if target <= self._confirmed or self._failing:
            return
        self.start()
        self._wake.set()
        self._hurry.set()
        deadline = time.monotonic() + timeout
        with self._shipped:
            while self._confirmed < target and not self._failing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._shipped.wait(min(left, 0.05))
                self._confirm()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with _WORKING:
                    outcome = self.ship_once()
                if outcome == "idle":
                    self._prune_if_due()
            except Exception:  # the drainer must outlive anything it meets
                logger.exception("the audit drainer failed; it carries on")
                outcome = "failed"
            if outcome == "failed":
                # Jitter, so that the workers of a machine do not retry in step.
                self._stopping.wait(self._delay * random.uniform(0.8, 1.2))  # noqa: S311
                self._delay = min(self._delay * 2, self.backoff[1])
            elif outcome == "idle":
                woken = self._wake.wait(self.idle)
                self._wake.clear()
                if woken:  # by an append: let its batch gather
                    self._gather()
            elif self._last_batch < self.batch:
                self._gather()

    def _gather(self) -> None:
        """Wait ``linger`` seconds for more records, unless a reader is waiting for them.
        Meanwhile the journal is moved into the spool every ``absorb_every`` seconds (when it
        holds anything): the spool's order, which the shippers follow and the audit log's ids
        keep, is then the order the callbacks arrived in on every worker of the machine, to
        within that."""
        if self.linger > 0 and not self._stopping.is_set():
            deadline = time.monotonic() + self.linger
            while not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self._hurry.wait(min(left, self.absorb_every)):
                    break
                try:
                    with _WORKING:
                        self._absorbed(self.spool.absorb())
                except sqlite3.Error:
                    break  # ship_once says so
        self._hurry.clear()

    def ship_once(self) -> str:
        """Ship one batch: ``"shipped"``, ``"idle"`` (nothing to ship) or ``"failed"``."""
        try:
            # The journal first: every record written since the last batch, in one commit;
            # now and then the segments of processes that died too.
            adopt = time.monotonic() >= self._next_adopt
            if adopt:
                self._next_adopt = time.monotonic() + self.adopt_every
            self._absorbed(self.spool.absorb(adopt=adopt))
            claimed = self.spool.claim(self.batch, self.lease)
        except sqlite3.Error:
            logger.exception("the audit spool %s cannot be read", self.spool.path)
            return "failed"
        self._last_batch = len(claimed.seqs)
        if not claimed.seqs:
            self._confirm()
            return "idle"
        try:
            shipped = self.log.ship(claimed.records)
        except _RECORD_ERRORS:
            shipped = self._ship_one_by_one(claimed)
        except (sa.exc.SQLAlchemyError, OSError) as error:
            self.spool.release(claimed.seqs)
            self._failed(error)
            return "failed"
        self.spool.acknowledge(claimed.seqs)
        self._recovered(len(claimed.seqs))
        self._confirm()
        for observer in list(self.on_shipped):
            try:
                observer(shipped)
            except Exception:
                logger.exception("an on_shipped observer failed")
        return "shipped"

    def _ship_one_by_one(self, claimed: Claimed) -> ShippedBatch:
        record_ids: list[str] = []
        count = 0
        for seq, record in zip(claimed.seqs, claimed.records, strict=True):
            try:
                shipped = self.log.ship([record])
            except _RECORD_ERRORS as error:
                self.spool.set_aside(seq, str(error).splitlines()[0])
                logger.error(
                    "the audit database refuses record %s (%s): it is kept in the spool's "
                    "rejected table of %s",
                    record["record_id"],
                    type(error.orig).__name__ if error.orig is not None else "error",
                    self.spool.path,
                )
                continue
            record_ids += shipped.record_ids
            count += shipped.decisions
        return ShippedBatch(tuple(record_ids), count)

    def _failed(self, error: BaseException) -> None:
        self._failing = True
        with self._shipped:
            self._shipped.notify_all()
        if self.spool.flip("outage", 1):
            logger.warning(
                "the audit database %s is unavailable (%s): callbacks are still answered, and "
                "their records kept in the spool %s until it is back (%d waiting)",
                self.log.display_url,
                _reason(error),
                self.spool.path,
                self.spool.pending(),
            )
        self._check_limit()

    def _recovered(self, shipped: int) -> None:
        self._delay = self.backoff[0]
        if self._failing or not self._known_up:
            self._failing = False
            self._known_up = True
            if self.spool.flip("outage", 0):
                logger.warning(
                    "the audit database %s is back: %d records shipped, %d more waiting",
                    self.log.display_url,
                    shipped,
                    self.spool.pending(),
                )

    def _check_limit(self) -> None:
        waiting = self.spool.pending()
        if waiting <= self.spool_limit:
            if self.spool.flip("over_limit", 0):
                logger.warning("the audit spool is back under its limit (%d waiting)", waiting)
            return
        self.spool.flip("over_limit", 1)
        if self.spool.take_turn("over_limit_said", 60_000):
            logger.error(
                "the audit spool %s holds %d records, over EXAMPLE_AUDIT_SPOOL_LIMIT (%d): the "
                "audit database has been unavailable too long. Callbacks are still answered and "
                "every record is kept; the file grows until the database is back",
                self.spool.path,
                waiting,
                self.spool_limit,
            )

    def _absorbed(self, newest: int) -> None:
        self._appended = max(self._appended, newest)

    def _confirm(self) -> None:
        oldest = self.spool.oldest()
        confirmed = self._appended if oldest is None else min(self._appended, oldest - 1)
        with self._shipped:
            self._confirmed = max(self._confirmed, confirmed)
            self._shipped.notify_all()

    def _prune_if_due(self) -> None:
        # A local timer first: the machine-wide turn is a write to the spool, not made on
        # every idle second.
        if self._failing or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.prune_every
        with _WORKING:
            due = self.spool.take_turn("pruned_at", int(self.prune_every * 1000))
        if due:
            self.prune()

    def prune(self, *, budget: float = 30.0) -> int:
        """Delete callbacks past the retention, a small batch per transaction, a pause
        between two, for at most ``budget`` seconds; how many went."""
        before_ms = int(self.clock() * 1000) - self.retention_days * _DAY_MS
        deadline = time.monotonic() + budget
        total = 0
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                with _WORKING:
                    deleted = self.log.prune(before_ms, self.prune_batch)
            except sa.exc.SQLAlchemyError as error:
                logger.warning("pruning the audit log failed (%s); next time", _reason(error))
                break
            total += deleted
            if deleted < self.prune_batch:
                break
            # Short transactions with pauses: the drainer's inserts and the page's reads
            # get the database between two batches.
            self._stopping.wait(0.05)
        if total:
            logger.info("pruned %d audit callbacks older than %d days", total, self.retention_days)
        return total


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]
