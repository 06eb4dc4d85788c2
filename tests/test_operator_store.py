"""The store's reads for the operator page: keyset paging, partial account search, and the
per-minute counts of the chart, each checked against what was sent."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from example_app import PolicyCode
from example_app.store import MinuteCount, escape_like
from flask_friendcb.testing import response_item

from .conftest import NOW, ExampleService

BuildExample = Callable[..., ExampleService]
REJECT = "Response_Action_Reject"


def test_keyset_pages_walk_every_decision_once_newest_first(example: BuildExample) -> None:
    service = example()
    for n in range(23):
        service.callback(f"responder{n}", f"requester{n}")
    seen: list[int] = []
    before: int | None = None
    while True:
        page = service.store.search(before_id=before, limit=5)
        if not page:
            break
        seen += [row["id"] for row in page]
        before = page[-1]["id"]
    assert len(seen) == 23
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 23
    # A page starts strictly below the id it is given.
    assert [row["id"] for row in service.store.search(before_id=seen[2], limit=2)] == seen[3:5]


@pytest.mark.parametrize(
    ("contains", "expected"),
    [
        ("ALI", {"alice", "Ali_ce", "bob->alice"}),  # ASCII letters in any case
        ("li_c", {"Ali_ce"}),  # "_" is a character, not "any one character"
        ("%", {"a%li"}),  # "%" is a character, not "anything"
        ("\\", {"back\\slash"}),
        ("l\u200bi", {"al\u200bice"}),
        ("", {"alice", "Ali_ce", "bob->alice", "a%li", "back\\slash", "al\u200bice", "zed"}),
    ],
)
def test_search_finds_accounts_that_contain_the_text_literally(
    example: BuildExample, contains: str, expected: set[str]
) -> None:
    service = example()
    for account in ("alice", "Ali_ce", "a%li", "back\\slash", "al\u200bice", "zed"):
        service.callback("someone", account)
    service.callback("bob->alice", "quiet")
    found = service.store.search(contains=contains)
    names = {row["to_account"] for row in found if row["to_account"] != "quiet"}
    names |= {row["from_account"] for row in found if row["from_account"] != "someone"}
    assert names == expected


def test_search_filters_by_decision_and_pages_within_it(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("spammer", "")
    for n in range(6):
        service.callback(f"user{n}", "spammer" if n % 2 else "friend")
    blocked = service.store.search(contains="spam", blocked=True)
    assert [row["result_code"] for row in blocked] == [PolicyCode.BLOCKLISTED] * 3
    assert service.store.search(contains="spam", blocked=False) == []
    older = service.store.search(blocked=False, before_id=blocked[0]["id"])
    assert [row["from_account"] for row in older] == ["user4", "user2", "user0"]


def test_per_minute_counts_each_kind_and_the_policy_that_blocked(example: BuildExample) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino")
    service.blocklist.add("mallory", "")
    minute0 = (NOW * 1000 // 60000) * 60000
    service.callback("alice", "bob", "carol")  # 2 accepted
    service.callback("alice", response_item("dave", REJECT))  # 1 declined
    service.callback("alice", "mallory", response_item("x", remark="casino"))  # 2 blocked
    service.clock.advance(60)
    service.callback("erin", "frank")
    service.clock.advance(600)
    service.callback("late", "one")

    counts = service.store.per_minute(minute0, minute0 + 12 * 60000)
    assert counts == [
        MinuteCount(minute0, "accepted", None, 2),
        MinuteCount(minute0, "blocked", "example_app.policies.blocklist", 1),
        MinuteCount(minute0, "blocked", "example_app.policies.content", 1),
        MinuteCount(minute0, "declined", None, 1),
        MinuteCount(minute0 + 60000, "accepted", None, 1),
        MinuteCount(minute0 + 660000, "accepted", None, 1),
    ]
    # The end is exclusive, the start inclusive.
    assert service.store.per_minute(minute0 + 60000, minute0 + 660000) == [
        MinuteCount(minute0 + 60000, "accepted", None, 1)
    ]


def test_the_counters_read_an_index_not_the_table(example: BuildExample) -> None:
    service = example()
    store = service.store
    # The store's own queries, as SQLAlchemy sends them, with their parameters.
    sent: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    sa.event.listen(store.audit.engine, "before_cursor_execute", catch)
    try:
        store.stats(1)
        store.per_minute(1, 2)
    finally:
        sa.event.remove(store.audit.engine, "before_cursor_execute", catch)
    counting = [(query, params) for query, params in sent if "count(*)" in query]
    assert len(counting) == 2, sent
    with contextlib.closing(sqlite3.connect(service.database)) as reader:
        for query, params in counting:
            plan = reader.execute("EXPLAIN QUERY PLAN " + query, params).fetchall()
            text = " ".join(row[-1] for row in plan)
            assert "USING COVERING INDEX decisions_by_time_counts" in text, (query, text)


def test_escape_like_leaves_no_wildcard() -> None:
    assert escape_like("a%b_c\\d") == "a\\%b\\_c\\\\d"
    assert escape_like("plain") == "plain"
