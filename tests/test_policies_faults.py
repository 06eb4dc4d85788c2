"""Storage faults cost one check, never the answer: on_error decides, the outage is logged once."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import pytest

from flask_friendcb import FriendResponseEvent, FriendResponseItem, Reject, ResponseAction
from flask_friendcb.policies import BlocklistPolicy, PolicyStorageError, RateLimitPolicy
from flask_friendcb.policies.base import UNCHECKED_INFO
from flask_friendcb.policies.faults import FAILED, StorageGuard
from flask_friendcb.testing import friend_response_body, response_item
from tests.conftest import NOW, Receiver
from tests.services import RedisServer

#: What Tencent allows for the whole answer.
TENCENT_TIMEOUT = 2.0


def event(from_account: str = "responder") -> FriendResponseEvent:
    return FriendResponseEvent(
        "1400000000", "Sns.CallbackPrevFriendResponse", "", from_account, 0, ()
    )


ITEM = FriendResponseItem("requester", ResponseAction.AGREE_AND_ADD)


def outage_lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if words in record.getMessage()]


@pytest.mark.parametrize("on_error", ["allow", "reject"])
def test_redis_killed_mid_run(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture, on_error: str
) -> None:
    caplog.set_level(logging.INFO, "flask_friendcb.policies")
    limit = RateLimitPolicy("1000/minute", storage_uri=redis_url, on_error=on_error)  # type: ignore[arg-type]
    blocklist = BlocklistPolicy(storage_uri=redis_url, on_error=on_error)  # type: ignore[arg-type]
    blocklist.add("listed")
    for _ in range(5):
        assert limit(ITEM, event()) is None
        assert blocklist(ITEM, event()) is None

    redis_server.stop()
    expected_limit = Reject(38002, UNCHECKED_INFO) if on_error == "reject" else None
    expected_block = Reject(38001, UNCHECKED_INFO) if on_error == "reject" else None
    started = time.monotonic()
    for _ in range(50):
        before = time.monotonic()
        assert limit(ITEM, event()) == expected_limit
        assert (
            blocklist(FriendResponseItem("listed", ResponseAction.AGREE), event()) == expected_block
        )
        # Each check within its timeout (and the host's noise), never the callback's 2 s.
        assert time.monotonic() - before < 1.0
    # A hundred checks of a dead storage still fit in one answer: the outage is not paid per item.
    assert time.monotonic() - started < TENCENT_TIMEOUT
    assert len(outage_lines(caplog, "is unavailable")) == 2  # once per policy, not per item
    with pytest.raises(PolicyStorageError):
        blocklist.add("someone")

    redis_server.start()
    time.sleep(limit.guard.retry_after + 0.1)
    assert limit(ITEM, event()) is None
    assert (
        blocklist(FriendResponseItem("listed", ResponseAction.AGREE), event()) is None
    )  # data went with the kill
    recovered = outage_lines(caplog, "answers again")
    assert len(recovered) == 2
    assert "item(s) were decided by on_error" in recovered[0]


def test_a_hung_redis_costs_the_timeout(redis_server: RedisServer, redis_url: str) -> None:
    policy = BlocklistPolicy(storage_uri=redis_url, timeout=0.25, on_error="reject")
    assert policy(ITEM, event()) is None  # connected
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert policy(ITEM, event()) == Reject(38001, UNCHECKED_INFO)
        assert time.monotonic() - started < 1.0  # 0.25 s and the host's noise
        started = time.monotonic()
        for _ in range(20):  # known down: decided at once
            assert policy(ITEM, event()) == Reject(38001, UNCHECKED_INFO)
        assert time.monotonic() - started < 0.5
    finally:
        redis_server.process.send_signal(signal.SIGCONT)


def test_the_answer_still_leaves_in_time_through_the_receiver(
    redis_server: RedisServer, redis_url: str, receiver: Receiver
) -> None:
    receiver.hooks.on_friend_response(BlocklistPolicy(storage_uri=redis_url, on_error="reject"))
    receiver.hooks.on_friend_response(RateLimitPolicy("5/minute", storage_uri=redis_url))
    items = [response_item(f"r{n}") for n in range(20)]
    body = friend_response_body("responder", items, event_time_ms=NOW * 1000)
    assert receiver.post(body).status == 200
    redis_server.stop()
    started = time.monotonic()
    answer = receiver.post(body)
    elapsed = time.monotonic() - started
    assert answer.status == 200
    assert elapsed < TENCENT_TIMEOUT
    results = answer.json["ResultItem"]
    assert [(r["ResultCode"], r["ResultInfo"]) for r in results] == [(38001, UNCHECKED_INFO)] * 20


def test_an_unusable_sqlite_file_is_decided_by_on_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path}/missing-folder/blocklist.sqlite3"
    policy = BlocklistPolicy(storage_uri=uri, on_error="reject")
    assert policy(ITEM, event()) == Reject(38001, UNCHECKED_INFO)
    assert policy(ITEM, event()) == Reject(38001, UNCHECKED_INFO)
    assert len(outage_lines(caplog, "is unavailable")) == 1
    limit = RateLimitPolicy("1/minute", storage_uri=uri)
    assert limit(ITEM, event()) is None  # on_error="allow"


def test_a_password_never_reaches_the_log(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # The test server has no password: AUTH fails, and the URL is logged without it.
    url = redis_url.replace("redis://", "redis://user:pa55word-secret@")
    policy = BlocklistPolicy(storage_uri=url)
    assert policy(ITEM, event()) is None
    lines = outage_lines(caplog, "is unavailable")
    assert len(lines) == 1
    assert "pa55word-secret" not in caplog.text
    assert "user:***@127.0.0.1" in lines[0]


def test_the_guard_logs_an_outage_once_and_retries_on_its_own_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    guard = StorageGuard("P", "memory://", retry_after=1.0, clock=lambda: now[0])
    calls = []

    def broken() -> int:
        calls.append(now[0])
        raise ConnectionError("refused")

    assert guard.call(broken) is FAILED
    for _ in range(10):
        assert guard.call(broken) is FAILED
    assert len(calls) == 1  # known down: not asked again before retry_after
    now[0] += 1.5
    assert guard.call(broken) is FAILED
    assert len(calls) == 2  # one probe
    assert len(outage_lines(caplog, "is unavailable")) == 1
    now[0] += 1.5
    assert guard.call(lambda: 7) == 7
    assert not guard.down
    [line] = outage_lines(caplog, "answers again")
    assert "after 3.0 s; 12 item(s)" in line
    assert guard.call(lambda: 8) == 8
    assert len(outage_lines(caplog, "answers again")) == 1


def test_fallbacks_are_counted_in_the_metrics(redis_server: RedisServer, redis_url: str) -> None:
    from prometheus_client import REGISTRY

    from flask_friendcb import metrics

    metrics.enable()

    def count(reason: str) -> float:
        labels = {"policy": "BlocklistPolicy", "reason": reason}
        return REGISTRY.get_sample_value("friendcb_storage_fallbacks_total", labels) or 0.0

    policy = BlocklistPolicy(storage_uri=redis_url)
    assert policy(ITEM, event()) is None
    before_error, before_timeout = count("error"), count("timeout")
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        assert policy(ITEM, event()) is None  # timed out
        assert policy(ITEM, event()) is None  # known down
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert count("timeout") - before_timeout == 1
    assert count("error") - before_error == 1
