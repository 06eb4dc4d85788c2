"""The live feed: what wakes the operator page's streams when a decision is written.

A stream reads decisions from the audit store by id; the feed only says "look again". So it
never carries rows, a lost wake-up costs at most one poll interval, and it does not care how or
where rows are written: whoever commits audit rows calls :meth:`Feed.announce` after the commit.

- Embedded default (no shared server): :class:`Feed` wakes the streams of this process at once
  and the others poll (``POLL_SECONDS``).
- ``EXAMPLE_REDIS_URL`` set: :class:`RedisFeed`, Redis pub/sub.
- else ``EXAMPLE_DATABASE_URL`` on PostgreSQL: :class:`PostgresFeed`, ``LISTEN/NOTIFY``.

When the feed's server is down, the streams poll, and the feed reconnects in the background
with a backoff; nothing is lost either way, since the rows are in the store.

:class:`Cursor` is where a stream is in the log. Under concurrent writers (several workers or
instances on one PostgreSQL) ids are taken in one order and committed in another: id 11 may be
visible before id 10. A cursor that only remembered "after 11" would skip 10 for good, so it also
keeps the ids it jumped over (the gaps) and looks for them again for ``GAP_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask

from flask_friendcb.policies.storage import as_redis_url

logger = logging.getLogger("example_app.feed")

#: The pub/sub channel (Redis) and the notification channel (PostgreSQL) of the feed.
CHANNEL = "friendcb_decisions"
#: Seconds between two reads of the store when no wake-up can be trusted (embedded default, or
#: the feed's server unreachable).
POLL_SECONDS = 0.5
#: Seconds a cursor keeps looking for an id it jumped over: longer than any audit transaction
#: stays open, so a late commit is still shown; a gap that never fills (a rolled-back insert, a
#: sequence's skipped values) is then given up.
GAP_SECONDS = 30.0
#: Gaps a cursor remembers at most (the oldest is given up first): bounds each stream's work.
MAX_GAPS = 16
#: Seconds between two health checks of the feed's connection when nothing is published.
CHECK_SECONDS = 5.0
#: The feed's reconnection backoff, in seconds: first and longest wait.
BACKOFF = (0.2, 5.0)
#: Seconds a connection to the feed's server may take, to connect or to answer.
CONNECT_TIMEOUT = 2.0

#: The key of the app's feed in ``app.extensions``.
EXTENSION_KEY = "example_app.feed"


class Reader(Protocol):
    """What a cursor reads: the audit store's decisions by id."""

    def since(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]: ...


@dataclass
class Gap:
    """Ids ``low`` to ``high`` (inclusive) a cursor jumped over; given up at ``until``
    (``time.monotonic()``)."""

    low: int
    high: int
    until: float


class Cursor:
    """Where one stream is: every id up to ``after`` was read, except those in ``gaps``."""

    def __init__(self, after: int, gaps: list[Gap] | None = None) -> None:
        self.after = after
        self.gaps: list[Gap] = gaps or []

    def read(
        self, reader: Reader, limit: int, now: float | None = None
    ) -> list[tuple[dict[str, Any], str]]:
        """The rows not read yet, late ones (from a gap) first, then new ones by id; each with
        the event id to resume after it.

        A late row's event id still names its gap: resuming there shows it again rather than
        risk losing another; the page keeps one row per id.
        """
        now = time.monotonic() if now is None else now
        before = self.event_id
        rows = [(row, before) for row in self._fill_gaps(reader, limit, now)]
        for row in reader.since(self.after, limit=limit):
            row_id = int(row["id"])
            if row_id > self.after + 1:
                self.gaps.append(Gap(self.after + 1, row_id - 1, now + GAP_SECONDS))
                # The oldest gaps go first: a stream's work per read stays bounded.
                del self.gaps[:-MAX_GAPS]
            self.after = row_id
            rows.append((row, self.event_id))
        return rows

    @property
    def event_id(self) -> str:
        """The cursor as an event id (``Last-Event-ID`` on reconnection): ``after``, then the
        open gaps, e.g. ``12`` or ``12~7-7.9-10``."""
        if not self.gaps:
            return str(self.after)
        return f"{self.after}~" + ".".join(f"{gap.low}-{gap.high}" for gap in self.gaps)

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        """A cursor from an event id of :attr:`event_id`'s form (or a plain id); ``None`` for
        anything else. The gaps get a fresh ``GAP_SECONDS``."""
        if not value or not value.isascii() or len(value) > 600:
            return None
        head, tilde, tail = value.partition("~")
        after = _small_int(head)
        if after is None or (tilde and not tail):
            return None
        gaps: list[Gap] = []
        until = time.monotonic() + GAP_SECONDS
        for part in tail.split(".") if tilde else ():
            low_text, _, high_text = part.partition("-")
            low, high = _small_int(low_text), _small_int(high_text)
            if low is None or high is None or not 0 < low <= high < after:
                return None
            gaps.append(Gap(low, high, until))
        return cls(after, gaps[-MAX_GAPS:])

    def _fill_gaps(self, reader: Reader, limit: int, now: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kept: list[Gap] = []
        for gap in self.gaps:
            if now >= gap.until or len(found) >= limit:
                if now < gap.until:
                    kept.append(gap)
                continue
            size = min(gap.high - gap.low + 1, limit - len(found))
            rows = [row for row in reader.since(gap.low - 1, limit=size) if row["id"] <= gap.high]
            found += rows
            # What is left of the gap: the ids between those found.
            low = gap.low
            for row_id in sorted(int(row["id"]) for row in rows):
                if row_id > low:
                    kept.append(Gap(low, row_id - 1, gap.until))
                low = row_id + 1
            if low <= gap.high:
                kept.append(Gap(low, gap.high, gap.until))
        self.gaps = kept
        return found


def _small_int(text: str) -> int | None:
    if text.isdigit() and len(text) < 19:
        return int(text)
    return None


class Feed:
    """Wake-ups within this process only: the embedded default, where the other processes
    poll. The base of the feeds through a server."""

    kind = "polling"

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._live = False
        self._closed = threading.Event()

    @property
    def live(self) -> bool:
        """Whether wake-ups from other processes and instances arrive; when not, streams
        poll."""
        return self._live

    @property
    def generation(self) -> int:
        """Bumped by every wake-up; a stream waits for it to change."""
        return self._generation

    def announce(self) -> None:
        """New decisions are committed: wake every stream, here and elsewhere. Never blocks,
        never raises: it runs where callbacks are answered or their audit rows shipped."""
        self.wake()

    def wait(self, generation: int, timeout: float) -> int:
        """Wait until a wake-up after ``generation``, at most ``timeout`` seconds (less when
        the feed is not live); returns the generation now."""
        if not self._live:
            timeout = min(timeout, POLL_SECONDS)
        with self._condition:
            self._condition.wait_for(lambda: self._generation != generation, timeout)
            return self._generation

    def wake(self) -> None:
        """Wake the streams of this process."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def close(self) -> None:
        self._closed.set()
        self.wake()

    def _set_live(self, live: bool) -> None:
        if live != self._live:
            self._live = live
            # Streams re-read at once: a reconnection may have missed a wake-up, and a stream
            # that waited for one must start polling.
            self.wake()


class ServerFeed(Feed):
    """A feed through a server: a listener and a publisher thread (greenlets under gevent),
    started in the process that uses them (after gunicorn's fork)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._down_since: float | None = None

    def start(self) -> None:
        """Start listening (idempotent); called by the first stream or announcement."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        for target in (self._listen_forever, self._publish_forever):
            threading.Thread(target=target, name=f"feed-{self.kind}", daemon=True).start()

    def announce(self) -> None:
        self.wake()
        self.start()
        # The publisher sends it: a callback never waits for the feed's server, and a burst
        # of decisions becomes one message.
        self._pending.set()

    def wait(self, generation: int, timeout: float) -> int:
        self.start()
        return super().wait(generation, timeout)

    def close(self) -> None:
        super().close()
        self._pending.set()

    # -- what a server feed implements --------------------------------------------------------

    def _listen(self) -> None:
        """Connect, subscribe, call :meth:`_set_live` (True), then :meth:`wake` for each
        message until the connection fails (raise) or the feed is closed (return)."""
        raise NotImplementedError

    def _publish(self) -> None:
        """Send one message to every listener; raise when the server cannot be reached."""
        raise NotImplementedError

    # -- the threads ---------------------------------------------------------------------------

    def _listen_forever(self) -> None:
        delay = BACKOFF[0]
        while not self._closed.is_set():
            started = time.monotonic()
            try:
                self._listen()
            except Exception as error:  # any failure: poll, then reconnect
                self._down(error)
            self._set_live(False)
            if time.monotonic() - started > CHECK_SECONDS:
                delay = BACKOFF[0]  # it was up a while: this is a new outage
            self._closed.wait(delay)
            delay = min(delay * 2, BACKOFF[1])

    def _publish_forever(self) -> None:
        while not self._closed.is_set():
            self._pending.wait()
            self._pending.clear()
            if self._closed.is_set():
                return
            try:
                self._publish()
            except Exception as error:  # the others poll meanwhile
                self._down(error)

    def _down(self, error: Exception) -> None:
        # One warning per outage, not one per callback; none for a server gone after close().
        if self._down_since is None and not self._closed.is_set():
            self._down_since = time.monotonic()
            logger.warning(
                "the live feed (%s) is unreachable, the live pages poll until it is back: %s",
                self.kind,
                type(error).__name__,
            )

    def _up(self) -> None:
        if self._down_since is not None:
            logger.warning(
                "the live feed (%s) is back after %.1f s",
                self.kind,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
        self._set_live(True)


class RedisFeed(ServerFeed):
    """Redis pub/sub on ``CHANNEL``."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        import redis  # only when Redis is configured

        super().__init__()
        self._redis = redis
        options: dict[str, Any] = {
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": CONNECT_TIMEOUT,
        }
        # Valkey speaks the same protocol; redis-py knows only its own schemes.
        url = as_redis_url(url)
        self._publisher = redis.Redis.from_url(url, **options)
        self._url = url
        self._options = options

    def _listen(self) -> None:
        client = self._redis.Redis.from_url(self._url, **self._options)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(CHANNEL)
            # The subscription's confirmation: from here on no message is missed.
            while pubsub.get_message(timeout=CONNECT_TIMEOUT) is not None:
                pass
            if not pubsub.subscribed:
                raise ConnectionError("no subscription confirmed")
            self._up()
            checked = time.monotonic()
            while not self._closed.is_set():
                message = pubsub.get_message(timeout=CHECK_SECONDS)
                if message is not None and message.get("type") == "message":
                    self.wake()
                if time.monotonic() - checked >= CHECK_SECONDS:
                    # A server that hangs rather than closing the connection still fails here.
                    pubsub.ping()
                    checked = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                pubsub.close()
            with contextlib.suppress(Exception):
                client.close()

    def _publish(self) -> None:
        self._publisher.publish(CHANNEL, b"")

    def close(self) -> None:
        super().close()
        with contextlib.suppress(Exception):
            self._publisher.close()


class PostgresFeed(ServerFeed):
    """PostgreSQL ``LISTEN/NOTIFY`` on ``CHANNEL``."""

    kind = "postgresql"

    def __init__(self, conninfo: str) -> None:
        import psycopg  # only when PostgreSQL is configured

        super().__init__()
        self._psycopg = psycopg
        self._conninfo = conninfo
        self._publisher: Any = None

    def _connect(self) -> Any:
        return self._psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)
        )

    def _listen(self) -> None:
        with self._connect() as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._up()
            while not self._closed.is_set():
                woken = False
                for _ in connection.notifies(timeout=CHECK_SECONDS, stop_after=1):
                    woken = True
                if woken:
                    self.wake()
                else:
                    # Quiet for a while: make sure the connection still works.
                    connection.execute("SELECT 1")

    def _publish(self) -> None:
        try:
            if self._publisher is None or self._publisher.closed:
                self._publisher = self._connect()
            self._publisher.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        except Exception:
            if self._publisher is not None:
                with contextlib.suppress(Exception):
                    self._publisher.close()
                self._publisher = None
            raise

    def close(self) -> None:
        super().close()
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                self._publisher.close()


def postgres_conninfo(database_url: str | None) -> str | None:
    """The libpq URL of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://...``), else
    ``None``."""
    if not database_url:
        return None
    scheme, separator, rest = database_url.partition("://")
    if not separator or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        return None
    return f"postgresql://{rest}"


def make_feed(redis_url: str | None, database_url: str | None) -> Feed:
    """The feed a configuration calls for: Redis, else PostgreSQL, else this process only."""
    if redis_url:
        return RedisFeed(redis_url)
    conninfo = postgres_conninfo(database_url)
    if conninfo is not None:
        return PostgresFeed(conninfo)
    return Feed()


_lock = threading.Lock()


def feed_of(app: Flask) -> Feed:
    """``app``'s feed, made from its ``EXAMPLE_REDIS_URL`` and ``EXAMPLE_DATABASE_URL`` on first
    use (so that its threads start in the worker, after gunicorn's fork)."""
    feed: Feed | None = app.extensions.get(EXTENSION_KEY)
    if feed is None:
        with _lock:
            feed = app.extensions.get(EXTENSION_KEY)
            if feed is None:
                feed = make_feed(*_urls(app.config))
                app.extensions[EXTENSION_KEY] = feed
    return feed


def connect_feed(app: Flask) -> bool:
    """Announce on ``app``'s feed after each batch of audit rows its drainer commits (the
    store's ``on_shipped`` list); whether the app has such a drainer."""
    service = app.extensions.get("example_app")
    drainer = getattr(service, "drainer", None)
    on_shipped = getattr(drainer, "on_shipped", None)
    if not isinstance(on_shipped, list):
        return False
    on_shipped.append(announcer(app))
    return True


def announcer(app: Flask) -> Callable[..., None]:
    """A callable that announces on ``app``'s feed whatever it is given (for a store's
    ``on_shipped`` list, which calls it after each committed batch)."""

    def announce(*_: Any, **__: Any) -> None:
        feed_of(app).announce()

    return announce


def _urls(config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    def get(key: str) -> str | None:
        value = config.get(key)
        return str(value) if value else None

    return get("EXAMPLE_REDIS_URL"), get("EXAMPLE_DATABASE_URL")
