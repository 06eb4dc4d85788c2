"""The live feed: a decision made on one instance reaches every instance's live stream within a
second, through Redis pub/sub or PostgreSQL LISTEN/NOTIFY (real servers); while the feed's
server is down the streams poll, and they follow again once it is back; a row committed late
(ids committed out of order) is not skipped, nor lost across a reconnection."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from example_app import create_app
from example_app.feed import (
    GAP_SECONDS,
    POLL_SECONDS,
    Cursor,
    Feed,
    Gap,
    PostgresFeed,
    RedisFeed,
    feed_of,
    make_feed,
    postgres_conninfo,
)
from flask_friendcb.testing import response_item, signed_client

from .conftest import example_config, serving
from .live_events import live_stream
from .services import PostgresServer, RedisServer

# Within a second, as the issue asks; no tighter (the machine is shared).
WITHIN = 1.0


def wait_until(condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.05)


# -- the cursor ------------------------------------------------------------------------------


class Decisions:
    """A decisions table on a real PostgreSQL, read the way the audit store is (``since``)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        with psycopg.connect(conninfo, autocommit=True) as db:
            db.execute("CREATE TABLE decisions (id bigserial PRIMARY KEY, who text NOT NULL)")

    def since(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        with psycopg.connect(self.conninfo, autocommit=True) as db:
            rows = db.execute(
                "SELECT id, who FROM decisions WHERE id > %s ORDER BY id LIMIT %s",
                (after_id, limit),
            ).fetchall()
        return [{"id": row[0], "who": row[1]} for row in rows]


def test_a_row_committed_after_a_later_id_is_not_skipped(postgres_url: str) -> None:
    conninfo = postgres_conninfo(postgres_url)
    assert conninfo is not None
    decisions = Decisions(conninfo)
    cursor = Cursor(0)
    # Two writers: the first takes id 1 and commits late, the second takes id 2 and commits
    # at once, as two workers shipping audit rows may.
    with psycopg.connect(conninfo) as late, psycopg.connect(conninfo, autocommit=True) as early:
        late.execute("INSERT INTO decisions (who) VALUES ('late')")
        early.execute("INSERT INTO decisions (who) VALUES ('early')")
        first = cursor.read(decisions, 200)
        assert [row["who"] for row, _ in first] == ["early"]
        resume_id = first[0][1]
        late.commit()
    assert [(row["id"], row["who"]) for row, _ in cursor.read(decisions, 200)] == [(1, "late")]
    assert cursor.gaps == []
    # A page that reconnected after "early" (Last-Event-ID) gets the late row too...
    resumed = Cursor.parse(resume_id)
    assert resumed is not None
    assert [row["who"] for row, _ in resumed.read(decisions, 200)] == ["late"]
    # ...which a cursor that knew only the highest id would have skipped.
    assert Cursor(2).read(decisions, 200) == []


def test_a_gap_that_never_fills_is_given_up(postgres_url: str) -> None:
    conninfo = postgres_conninfo(postgres_url)
    assert conninfo is not None
    decisions = Decisions(conninfo)
    with psycopg.connect(conninfo) as rolled_back:
        rolled_back.execute("INSERT INTO decisions (who) VALUES ('never')")
        rolled_back.rollback()
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute("INSERT INTO decisions (who) VALUES ('kept')")
    cursor = Cursor(0)
    now = time.monotonic()
    assert [row["who"] for row, _ in cursor.read(decisions, 200, now)] == ["kept"]
    assert [(gap.low, gap.high) for gap in cursor.gaps] == [(1, 1)]
    assert cursor.read(decisions, 200, now + GAP_SECONDS / 2) == []
    assert cursor.gaps
    assert cursor.read(decisions, 200, now + GAP_SECONDS + 1) == []
    assert cursor.gaps == []
    assert cursor.event_id == "2"


def test_an_event_id_names_the_open_gaps_and_reads_back() -> None:
    cursor = Cursor(12, [Gap(3, 4, 0.0), Gap(7, 7, 0.0)])
    assert cursor.event_id == "12~3-4.7-7"
    parsed = Cursor.parse(cursor.event_id)
    assert parsed is not None
    assert (parsed.after, [(g.low, g.high) for g in parsed.gaps]) == (12, [(3, 4), (7, 7)])
    plain = Cursor.parse("41")
    assert plain is not None
    assert (plain.after, plain.gaps) == (41, [])


@pytest.mark.parametrize(
    "value",
    ["", "x", "-1", "1.5", "12~", "12~3", "12~4-3", "12~3-12", "12~0-1", "12~a-b", "١٢",
     "9" * 30, "12~" + ".".join(["1-1"] * 300), "12\n", "12~3-4~5-6"],
)  # fmt: skip
def test_an_event_id_not_of_ours_is_ignored(value: str) -> None:
    assert Cursor.parse(value) is None


# -- the feeds through a server ----------------------------------------------------------------


@pytest.fixture(params=["redis", "postgresql"])
def feed_server(request: pytest.FixtureRequest) -> tuple[str, RedisServer | PostgresServer, str]:
    """("redis" or "postgresql", the running server, the environment variable that names it
    and its URL)."""
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return "EXAMPLE_REDIS_URL", request.getfixturevalue("redis_server"), url
    url = request.getfixturevalue("postgres_url")
    return "EXAMPLE_DATABASE_URL", request.getfixturevalue("postgres_server"), url


@pytest.fixture
def two_feeds(
    feed_server: tuple[str, RedisServer | PostgresServer, str],
) -> Iterator[tuple[Feed, Feed, RedisServer | PostgresServer]]:
    variable, server, url = feed_server
    urls = (url, None) if variable == "EXAMPLE_REDIS_URL" else (None, url)
    feeds = [make_feed(*urls), make_feed(*urls)]
    kind = RedisFeed if variable == "EXAMPLE_REDIS_URL" else PostgresFeed
    assert all(isinstance(feed, kind) for feed in feeds)
    try:
        for feed in feeds:
            feed.wait(feed.generation, 0)  # starts its listener
        wait_until(lambda: all(feed.live for feed in feeds), "the feeds subscribed")
        yield feeds[0], feeds[1], server
    finally:
        server.start()
        for feed in feeds:
            feed.close()


def test_an_announcement_wakes_the_other_instances_feed(
    two_feeds: tuple[Feed, Feed, RedisServer | PostgresServer],
) -> None:
    one, other, _ = two_feeds
    for _ in range(3):
        seen = other.generation
        started = time.monotonic()
        one.announce()
        assert other.wait(seen, 10) != seen
        assert time.monotonic() - started < WITHIN


def test_while_the_feeds_server_is_down_streams_poll_and_then_follow_again(
    two_feeds: tuple[Feed, Feed, RedisServer | PostgresServer],
) -> None:
    one, other, server = two_feeds
    server.stop()
    wait_until(lambda: not other.live, "the feed noticed the outage")
    # Not live: a stream waits no longer than a poll, and announcing neither blocks nor fails.
    seen = other.generation
    started = time.monotonic()
    other.wait(seen, 30)
    assert time.monotonic() - started < POLL_SECONDS + WITHIN
    started = time.monotonic()
    one.announce()
    assert time.monotonic() - started < 0.1
    server.start()
    wait_until(lambda: one.live and other.live, "the feeds resubscribed")
    seen = other.generation
    started = time.monotonic()
    one.announce()
    assert other.wait(seen, 10) != seen
    assert time.monotonic() - started < WITHIN


def test_the_embedded_default_has_no_server_and_polls() -> None:
    feed = make_feed(None, "sqlite:///somewhere.sqlite3")
    assert type(feed) is Feed
    assert not feed.live
    seen = feed.generation
    feed.announce()  # this process's streams wake at once
    assert feed.wait(seen, 10) != seen


# -- through the app: two instances, one live page ----------------------------------------------


def instance(database: str, variable: str, url: str) -> Any:
    return create_app(example_config(database, **{variable: url}))


def test_a_decision_on_one_instance_shows_on_the_others_stream_within_a_second(
    tmp_path: Path, feed_server: tuple[str, RedisServer | PostgresServer, str]
) -> None:
    variable, server, url = feed_server
    database = str(tmp_path / "shared.sqlite3")
    deciding, watching = instance(database, variable, url), instance(database, variable, url)
    try:
        with serving(watching) as address, live_stream(address) as page:
            assert page.status == 200
            page.next("stats", within=10)
            wait_until(lambda: feed_of(watching).live, "the watching instance's feed is live")

            def decide(who: str) -> float:
                client = signed_client(deciding)
                body = {
                    "CallbackCommand": "Sns.CallbackPrevFriendResponse",
                    "From_Account": who,
                    "Requester_Account": who,
                    "EventTime": int(time.time() * 1000),
                    "ResponseFriendItem": [response_item("x", remark="www.spam.example")],
                }
                assert client.callback(body).status_code == 200
                return time.monotonic()

            for round_ in range(3):
                decided = decide(f"mallory{round_}")
                event = page.decision(within=10, where={"from_account": f"mallory{round_}"})
                assert event.at - decided < WITHIN
                assert event.json["result_code"] == 38003

            # The feed's server goes away: the stream polls; it comes back: the stream follows.
            server.stop()
            wait_until(lambda: not feed_of(watching).live, "the outage noticed")
            decided = decide("during")
            event = page.decision(within=10, where={"from_account": "during"})
            assert event.at - decided < POLL_SECONDS + WITHIN
            server.start()
            wait_until(lambda: feed_of(watching).live and feed_of(deciding).live, "recovered")
            decided = decide("after")
            event = page.decision(within=10, where={"from_account": "after"})
            assert event.at - decided < WITHIN
    finally:
        server.start()
        for app in (deciding, watching):
            feed_of(app).close()
