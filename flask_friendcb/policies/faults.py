"""One storage call at a time, and what an outage means for the items it meets.

A storage that fails (or answers later than its client's socket timeouts allow) costs the item
at hand its check: the policy's ``on_error`` decides it. The outage is logged once, when it
starts, and once more when the storage answers again, not once per item. While the storage is
down it is tried again at most every ``retry_after`` seconds; the items in between are decided
at once, so a dead storage cannot spend a callback's 2 s one timeout at a time.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

T = TypeVar("T")

logger = logging.getLogger("flask_friendcb.policies")


class _Failed:
    """The marker :meth:`StorageGuard.call` returns when the storage could not answer."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = _Failed()


class StorageGuard:
    """Runs a policy's storage calls; tracks and logs outages."""

    def __init__(
        self,
        policy: str,
        storage: str,
        *,
        retry_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        #: The storage URI without its password: what the log names.
        self.storage = storage
        self.retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._missed = 0

    @property
    def down(self) -> bool:
        """Whether the last call failed and no call has succeeded since."""
        return self._down_since is not None

    def call(self, func: Callable[[], T]) -> T | _Failed:
        """``func()``, or :data:`FAILED` when it raised or the storage is known to be down."""
        if self._skip():
            return FAILED
        try:
            result = func()
        except Exception as error:
            self._failed(error)
            record_storage_fallback(self.policy, reason=_reason(error))
            return FAILED
        self._recovered()
        return result

    async def call_async(self, func: Callable[[], Awaitable[T]]) -> T | _Failed:
        """:meth:`call` for a storage call that is awaited (on an event loop)."""
        if self._skip():
            return FAILED
        try:
            result = await func()
        except Exception as error:
            self._failed(error)
            record_storage_fallback(self.policy, reason=_reason(error))
            return FAILED
        self._recovered()
        return result

    def _skip(self) -> bool:
        """Whether the storage is down and not due for another try: the item is decided at
        once."""
        now = self._clock()
        with self._lock:
            if self._down_since is not None and now < self._retry_at:
                self._missed += 1
                record_storage_fallback(self.policy, reason="error")
                return True
            if self._down_since is not None:
                # This call probes; the others keep deciding at once until it is back.
                self._retry_at = now + self.retry_after
        return False

    def _failed(self, error: Exception) -> None:
        with self._lock:
            self._missed += 1
            self._retry_at = self._clock() + self.retry_after
            if self._down_since is not None:
                return
            self._down_since = self._clock()
        logger.warning(
            "%s: storage %s is unavailable (%s: %s); its items are decided by on_error "
            "until it is back",
            self.policy,
            self.storage,
            type(error).__name__,
            str(error)[:200],
            extra={"friendcb_policy": self.policy},
        )

    def _recovered(self) -> None:
        if self._down_since is None:  # the common case, read without the lock
            return
        outage = self._end_outage()
        if outage is None:
            return  # another thread logged the recovery
        down_since, missed = outage
        seconds = self._clock() - down_since
        logger.warning(
            "%s: storage %s answers again after %.1f s; %d item(s) were decided by on_error",
            self.policy,
            self.storage,
            seconds,
            missed,
            extra={"friendcb_policy": self.policy},
        )

    def _end_outage(self) -> tuple[float, int] | None:
        """When the outage began and how many items it cost; ``None`` if none is open."""
        with self._lock:
            down_since, self._down_since = self._down_since, None
            if down_since is None:
                return None
            missed, self._missed = self._missed, 0
            return down_since, missed


def _reason(error: Exception) -> str:
    """``"timeout"`` for a storage that took too long (a socket timeout, SQLite's busy wait
    running out), else ``"error"``: the metrics' label."""
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return "timeout"
    return "timeout" if "database is locked" in str(error) else "error"


def record_storage_fallback(policy: str, *, reason: str) -> None:
    """Count the fallback in the library's metrics, when a receiver of this process turned
    them on; metrics off, their module is not even imported, and this costs a dict read."""
    metrics = sys.modules.get("flask_friendcb.metrics")
    if metrics is not None:
        metrics.record_storage_fallback(policy, reason=reason)
