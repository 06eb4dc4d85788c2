"""Prometheus metrics of the callback, fed by the library itself (never by the app's hooks).

Opt-in: ``FRIENDCB_METRICS = True`` (the middleware: ``metrics=True``) records into
prometheus_client's default registry; install the extra ``flask-friendcb[metrics]``. With the
setting off, nothing here is imported by the request path and nothing is recorded. Serving
``/metrics`` stays the app's choice: :func:`render_metrics` gives the body and content type,
correct under gunicorn's several workers when ``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus
client's multiprocess mode). ``docs/metrics.md`` lists what is exported.

Ready policies report a storage that failed or timed out with :func:`record_storage_fallback`,
which costs nothing while no receiver of the process has metrics on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .models import FriendResponseAnswer, Outcome
from .protocol import FRIEND_RESPONSE_COMMAND

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

#: The prefix of every metric name.
PREFIX = "friendcb_"
#: Buckets of ``friendcb_hook_duration_seconds``: from half a millisecond up to Tencent's 2 s
#: timeout.
HOOK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
#: The environment variable of prometheus_client's multiprocess mode.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: What :func:`record_storage_fallback` accepts as ``reason``.
FALLBACK_REASONS = frozenset({"error", "timeout"})

_lock = threading.Lock()
_metrics: Metrics | None = None


class Metrics:
    """The library's metrics, registered once per process in prometheus_client's default
    registry; every receiver with metrics on records into the same ones."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.callbacks: Counter = Counter(
            PREFIX + "callbacks",
            "Requests to the callback route, by HTTP status, the ErrorCode answered (0 when "
            "the answer is OK) and the friend command (other: any other command; empty: "
            "refused before the command was read).",
            ["status", "error_code", "command"],
        )
        self.items: Counter = Counter(
            PREFIX + "items",
            "Items answered (friend responses and friend requests), by command, outcome, the "
            "hook that decided (empty when none did) and ResultCode.",
            ["command", "outcome", "hook", "result_code"],
        )
        self.hook_seconds: Histogram = Histogram(
            PREFIX + "hook_duration_seconds",
            "Time one hook took on one item, raising or not.",
            ["hook"],
            buckets=HOOK_BUCKETS,
        )
        self.deadline_fallbacks: Counter = Counter(
            PREFIX + "deadline_fallbacks",
            "Items the error policy decided because the hooks' deadline had passed.",
        )
        self.storage_fallbacks: Counter = Counter(
            PREFIX + "storage_fallbacks",
            "Checks a policy could not make because its storage failed or timed out, and "
            "left to its on_error setting.",
            ["policy", "reason"],
        )
        # Label lookups cost a lock and a dict each in prometheus_client: the children are
        # kept here, keyed by their labels, so a callback costs a dict lookup per item.
        self._callback_children: dict[tuple[int, int, str], Callable[[], None]] = {}
        self._item_children: dict[tuple[str, str, str, int], Callable[[], None]] = {}
        self._hook_children: dict[str, Callable[[float], None]] = {}

    def callback(self, status: int, error_code: int, command: str = "") -> None:
        """Count one request of ``command`` answered with ``status`` and ``error_code``."""
        key = (status, error_code, command)
        inc = self._callback_children.get(key)
        if inc is None:
            inc = self.callbacks.labels(str(status), str(error_code), command).inc
            self._callback_children[key] = inc
        inc()

    def answer(self, answer: FriendResponseAnswer, command: str = FRIEND_RESPONSE_COMMAND) -> None:
        """Count the items of one answer to ``command``, and its deadline fallbacks."""
        children = self._item_children
        for result in answer.results:
            hook = result.hook or ""
            key = (command, result.outcome.value, hook, result.result_code)
            inc = children.get(key)
            if inc is None:
                inc = self.items.labels(command, key[1], hook, str(result.result_code)).inc
                children[key] = inc
            inc()
            if result.outcome is Outcome.DEADLINE:
                self.deadline_fallbacks.inc()

    def hook_time(self, hook: str, seconds: float) -> None:
        """Observe one hook call that took ``seconds``."""
        observe = self._hook_children.get(hook)
        if observe is None:
            observe = self.hook_seconds.labels(hook).observe
            self._hook_children[hook] = observe
        observe(seconds)


def enable() -> Metrics:
    """The process's :class:`Metrics`, registered on first use. Raises ``ImportError`` naming
    the extra when prometheus_client is missing."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                require_prometheus_client()
                _metrics = Metrics()
    return _metrics


def enabled() -> Metrics | None:
    """The process's :class:`Metrics` when a receiver has turned them on, else ``None``."""
    return _metrics


def require_prometheus_client() -> None:
    """Raise ``ImportError`` naming the extra to install when prometheus_client is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ImportError(
            "metrics need prometheus_client: pip install 'flask-friendcb[metrics]'"
        ) from None


def record_storage_fallback(policy: str, *, reason: str = "error") -> None:
    """Count one check that ``policy`` (its name, such as ``"RateLimitPolicy"``) could not make
    because its storage failed (``reason="error"``) or took too long (``"timeout"``).

    For policies, ready or the app's own: a no-op costing one global read while no receiver of
    this process has metrics on, so a policy may call it unconditionally.
    """
    metrics = _metrics
    if metrics is None:
        return
    if reason not in FALLBACK_REASONS:
        raise ValueError(f"reason must be one of {sorted(FALLBACK_REASONS)}, got {reason!r}")
    metrics.storage_fallbacks.labels(str(policy), reason).inc()


def render_metrics() -> tuple[bytes, str]:
    """The text exposition of prometheus_client's default registry and its content type, for
    an app's ``/metrics`` route. Under ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn's workers), the
    values of every worker, summed, whichever worker serves the scrape."""
    require_prometheus_client()
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


__all__ = [
    "FALLBACK_REASONS",
    "HOOK_BUCKETS",
    "PREFIX",
    "Metrics",
    "enable",
    "enabled",
    "record_storage_fallback",
    "render_metrics",
]
