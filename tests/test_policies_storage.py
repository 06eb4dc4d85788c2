"""RateLimitPolicy and BlocklistPolicy on each storage: memory, SQLite and a real Redis."""

from __future__ import annotations

import logging
import multiprocessing
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flask_friendcb import (
    FriendResponseEvent,
    FriendResponseItem,
    HookRegistry,
    Reject,
    ResponseAction,
)
from flask_friendcb.policies import BlocklistPolicy, ContentPolicy, RateLimitPolicy
from tests.conftest import NOW, Receiver
from tests.services import RedisServer

ACCEPT = ResponseAction.AGREE_AND_ADD


def event(
    from_account: str = "responder", *items: FriendResponseItem, ip: str = ""
) -> FriendResponseEvent:
    return FriendResponseEvent(
        "1400000000", "Sns.CallbackPrevFriendResponse", "", from_account, 0, items, client_ip=ip
    )


def item(to_account: str = "requester", action: ResponseAction = ACCEPT) -> FriendResponseItem:
    return FriendResponseItem(to_account, action)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def storage_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/policies.sqlite3"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture(params=["memory", "sqlite", "lmdb", "redis"])
def window_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage of RateLimitPolicy's windows: each of storage_uri's, and an LMDB file."""
    if request.param == "memory":
        return "memory://"
    if request.param in ("sqlite", "lmdb"):
        return f"{request.param}:///{tmp_path}/windows.{request.param}"
    url: str = request.getfixturevalue("redis_url")
    return url


# -- RateLimitPolicy --------------------------------------------------------------------------


def test_exactly_limit_pass_per_key(window_uri: str) -> None:
    policy = RateLimitPolicy("3/minute", storage_uri=window_uri)
    decisions = [policy(item(), event("alice")) for _ in range(5)]
    assert decisions[:3] == [None, None, None]
    assert decisions[3:] == [Reject(38002, "more than 3 per minute")] * 2
    # Another key has its own allowance.
    assert policy(item(), event("bob")) is None
    assert policy.remaining("alice") == 0
    assert policy.remaining("bob") == 2
    policy.clear("alice")
    assert policy(item(), event("alice")) is None


def test_the_window_moves(tmp_path: Path) -> None:
    policy = RateLimitPolicy("2/second", storage_uri=f"sqlite:///{tmp_path}/w.sqlite3")
    assert [policy(item(), event()) for _ in range(3)] == [
        None,
        None,
        Reject(38002, "more than 2 per second"),
    ]
    time.sleep(1.1)
    assert policy(item(), event()) is None


def test_the_sqlite_file_sheds_the_entries_of_keys_that_never_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from flask_friendcb.policies.storage import limits_sqlite

    path = tmp_path / "v.sqlite3"
    short = RateLimitPolicy("5/second", storage_uri=f"sqlite:///{path}")
    # Another process's policy on the same file, with a longer window: its entries stay.
    long = RateLimitPolicy("5/hour", storage_uri=f"sqlite:///{path}")
    assert long(item(), event("kept")) is None
    for n in range(50):  # 50 responders, each seen once
        assert short(item(), event(f"once{n}")) is None

    def rows() -> int:
        with sqlite3.connect(path) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM friendcb_window").fetchone()
        return int(count)

    assert rows() == 51
    # A second later every short entry has expired, but the hour's window holds them all:
    # nothing goes while a process counts an hour on this file.
    assert short.storage.sweep(time.time() + 2) == 0
    assert rows() == 51
    # Over an hour later, everything goes, the kept entry included.
    assert short.storage.sweep(time.time() + 3700) == 51
    assert rows() == 0
    # And every process sweeps on its own, one check in SWEEP_EVERY.
    monkeypatch.setattr(limits_sqlite, "SWEEP_EVERY", 16)
    swept = []
    monkeypatch.setattr(short.storage, "sweep", lambda now=None: swept.append(now))
    for n in range(16):
        short(item(), event(f"again{n}"))
    assert len(swept) == 1


def test_the_lmdb_file_sheds_the_windows_of_keys_that_never_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_friendcb.policies.storage import limits_lmdb

    uri = f"lmdb:///{tmp_path}/v.lmdb"
    short = RateLimitPolicy("5/second", storage_uri=uri)
    long = RateLimitPolicy("5/hour", storage_uri=uri)
    assert long(item(), event("kept")) is None
    for n in range(50):  # 50 responders, each seen once
        assert short(item(), event(f"once{n}")) is None
    storage = short.storage
    assert isinstance(storage, limits_lmdb.LMDBStorage)
    # A second later the short windows have expired, the hour's has not: each window knows
    # its own length.
    assert storage.sweep(time.time() + 2) == 50
    assert long.remaining("kept") == 4
    assert storage.sweep(time.time() + 3700) == 1
    assert long.remaining("kept") == 5
    # Every process sweeps on its own, a few keys at a time, one check in SWEEP_EVERY.
    monkeypatch.setattr(limits_lmdb, "SWEEP_EVERY", 16)
    swept: list[int | None] = []
    monkeypatch.setattr(storage, "sweep", lambda now=None, keys=None: swept.append(keys))
    for n in range(16):
        short(item(), event(f"again{n}"))
    assert swept == [limits_lmdb.SWEEP_KEYS]


def test_a_bounded_lmdb_sweep_goes_on_where_the_last_one_stopped(tmp_path: Path) -> None:
    from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage

    storage = LMDBStorage(f"lmdb:///{tmp_path}/v.lmdb")
    for n in range(10):
        assert storage.acquire_entry(f"key{n}", 5, 1)
    later = time.time() + 5
    assert [storage.sweep(later, keys=4) for _ in range(4)] == [4, 4, 2, 0]
    assert storage.get_moving_window("key0", 5, 1)[1] == 0


def test_the_lmdb_counters_serve_limits_fixed_window(tmp_path: Path) -> None:
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage

    storage = LMDBStorage(f"lmdb:///{tmp_path}/v.lmdb")
    limiter = FixedWindowRateLimiter(storage)
    three = parse("3/minute")
    assert [limiter.hit(three, "k") for _ in range(4)] == [True, True, True, False]
    assert storage.get_expiry(three.key_for("k")) > time.time()
    assert limiter.get_window_stats(three, "k").remaining == 0
    assert storage.reset() == 1
    assert limiter.hit(three, "k")
    assert storage.check()


def test_a_full_lmdb_map_refuses_in_time_and_recovers_once_windows_expire(
    tmp_path: Path,
) -> None:
    import lmdb

    from flask_friendcb.policies.storage.limits_lmdb import REFUSE_AT, LMDBStorage

    storage = LMDBStorage(f"lmdb:///{tmp_path}/v.lmdb?map_size={4 * 2**20}")
    taken = 0
    with pytest.raises(lmdb.MapFullError, match=r"raise its \?map_size="):  # noqa: PT012
        while taken < 200_000:
            storage.acquire_entry(f"responder{taken}", 5, 2)
            taken += 1
    assert taken > 10_000
    # Refused a quarter short of the end: LMDB keeps room to delete (a map filled to its end
    # could not even sweep), and an operator's clear still works.
    assert REFUSE_AT < storage.fill() < REFUSE_AT + 0.05
    storage.clear("responder0")
    # Two seconds on, every window has expired: within a second and a few checks the sweeps
    # have made room, and every check passes again.
    time.sleep(2.1)
    deadline = time.monotonic() + 5
    while True:
        try:
            if storage.acquire_entry("after", 5, 2):
                break
        except lmdb.MapFullError:
            assert time.monotonic() < deadline, "still full 5 s after every window expired"
            time.sleep(0.01)
    assert all(storage.acquire_entry(f"later{n}", 5, 60) for n in range(1000))
    # The checks sweep a slice at a time (a budget per check); a whole sweep takes the rest.
    storage.sweep()
    assert storage.fill() < 0.1


def test_lmdb_keys_of_any_length_count_apart(tmp_path: Path) -> None:
    from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage

    storage = LMDBStorage(f"lmdb:///{tmp_path}/v.lmdb")
    # LMDB takes keys of up to 511 bytes; an app's key function may return more.
    long = "k" * 2000
    assert storage.acquire_entry(long, 1, 60)
    assert not storage.acquire_entry(long, 1, 60)
    assert storage.acquire_entry(long + "2", 1, 60)
    assert storage.acquire_entry("\ud800 lone surrogate", 1, 60)
    storage.clear(long)
    assert storage.acquire_entry(long, 1, 60)


def test_an_lmdb_window_stays_in_order_when_the_clock_steps_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_friendcb.policies.storage import limits_lmdb

    storage = limits_lmdb.LMDBStorage(f"lmdb:///{tmp_path}/v.lmdb")
    clock = iter([1000.0, 1000.5, 999.0, 1002.1, 1002.2])
    monkeypatch.setattr(limits_lmdb, "_clock", lambda: next(clock))
    assert storage.acquire_entry("k", 3, 2)  # 1000.0
    assert storage.acquire_entry("k", 3, 2)  # 1000.5
    assert storage.acquire_entry("k", 3, 2)  # 999.0, kept at 1000.5
    # At 1002.1 the first has expired, the two at 1000.5 have not: one more passes.
    assert storage.acquire_entry("k", 3, 2)
    assert storage.get_moving_window("k", 3, 2) == (1000.5, 3)


def test_a_damaged_lmdb_file_is_reported_with_what_to_do_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.lmdb"
    # What a power loss can leave of a file that is never flushed: not an LMDB file at all.
    damaged = b"\x00garbage" * 1000
    path.write_bytes(damaged)
    policy = RateLimitPolicy("1/minute", storage_uri=f"lmdb:///{path}")
    with caplog.at_level(logging.WARNING, logger="flask_friendcb.policies"):
        assert policy(item(), event("alice")) is None  # on_error: allow, logged
    assert "delete it and its -lock file" in caplog.text
    # Not unlinked under the other processes that may have it open (they would split
    # between two files): the operator deletes it once they are stopped.
    assert path.read_bytes() == damaged
    path.unlink()
    fresh = RateLimitPolicy("1/minute", storage_uri=f"lmdb:///{path}")
    assert fresh(item(), event("alice")) is None
    assert fresh(item(), event("alice")) == Reject(38002, "more than 1 per minute")


def test_an_lmdb_check_makes_no_lock_call_and_a_few_writes(tmp_path: Path) -> None:
    """What the storage is for: an entry taken under LMDB's mutex in shared memory, with a few
    writes of the file's pages and no lock call (fcntl) nor flush, where a SQLite commit makes
    about ten system calls. Counted with strace, on the real file."""
    import collections
    import shutil
    import subprocess
    import sys

    strace = shutil.which("strace")
    assert strace, "strace is installed by make test (Debian's strace package)"
    script = (
        "import os, sys\n"
        "from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage\n"
        "storage = LMDBStorage(sys.argv[1])\n"
        "storage.acquire_entry('warm', 5, 60)\n"
        "os.write(1, b'from here\\n')\n"
        "for n in range(500):\n"
        "    storage.acquire_entry(f'key{n % 50}', 5, 60)\n"
        "os.write(1, b'to here\\n')\n"
    )
    trace = tmp_path / "trace"
    subprocess.run(
        [strace, "-f", "-o", str(trace), sys.executable, "-c", script, f"lmdb:///{tmp_path}/v"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    lines = trace.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if "from here" in line)
    end = next(n for n, line in enumerate(lines) if "to here" in line)
    calls = collections.Counter(
        line.split(None, 1)[1].split("(", 1)[0] for line in lines[start + 1 : end]
    )
    assert set(calls) <= {"pwrite64", "pwritev", "writev", "lseek"}, calls
    assert sum(calls.values()) <= 6 * 500, calls


def test_an_lmdb_write_that_fails_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A file that cannot grow (a full disk; here a file-size limit) fails the write with an
    error, which the policy's on_error decides and logs, and the process lives on."""
    import subprocess
    import sys

    from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage

    # Pages go out with pwrite: through a writable mapping (LMDB's writemap), a write to a
    # page a full file system has no room for kills the process with SIGBUS instead.
    storage = LMDBStorage(f"lmdb:///{tmp_path}/flags.lmdb")
    assert storage.check()
    assert storage._environment().flags()["writemap"] is False

    script = (
        "import logging, resource, signal, sys\n"
        "from flask_friendcb import FriendResponseEvent, FriendResponseItem, ResponseAction\n"
        "from flask_friendcb.policies import RateLimitPolicy\n"
        "logging.basicConfig(level=logging.WARNING, stream=sys.stdout)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))\n"
        "policy = RateLimitPolicy('5/minute', storage_uri=sys.argv[1])\n"
        "item = FriendResponseItem('x', ResponseAction.AGREE_AND_ADD)\n"
        "for n in range(20000):\n"
        "    event = FriendResponseEvent('1', 'Sns.CallbackPrevFriendResponse', '', f'r{n}', 0,"
        " (), client_ip='')\n"
        "    policy(item, event)\n"
        "print('alive after', n + 1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"lmdb:///{tmp_path}/v.lmdb"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "alive after 20000" in done.stdout
    assert "is unavailable" in done.stdout  # the outage, logged once by the policy
    assert (tmp_path / "v.lmdb").stat().st_size <= 256 * 1024


def test_an_lmdb_window_in_a_forked_worker_is_the_file_s(tmp_path: Path) -> None:
    policy = RateLimitPolicy("3/minute", storage_uri=f"lmdb:///{tmp_path}/v.lmdb")
    assert policy(item(), event("alice")) is None  # the parent opens the file
    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child() -> None:
        queue.put([policy(item(), event("alice")) is None for _ in range(3)])

    process = context.Process(target=child)
    process.start()
    try:
        # The child takes two more through a file of its own opening, then is refused.
        assert queue.get(timeout=30) == [True, True, False]
    finally:
        process.join(30)
    assert process.exitcode == 0
    assert policy(item(), event("alice")) == Reject(38002, "more than 3 per minute")


def test_a_worker_killed_holding_the_lmdb_lock_does_not_hold_the_others(tmp_path: Path) -> None:
    """LMDB's writer lock is a robust mutex: a process killed while it holds it (SIGKILL, the
    OOM killer) leaves it to the next writer, and what it had committed stays."""
    import signal
    import subprocess
    import sys

    uri = f"lmdb:///{tmp_path}/v.lmdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage\n"
            "storage = LMDBStorage(sys.argv[1])\n"
            "storage.acquire_entry('k', 5, 60)\n"
            "held = storage._environment().begin(write=True)\n"
            "print('holding', flush=True)\n"
            "time.sleep(60)\n",
            uri,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()
    # In a process of its own, so that a lock never released fails the test (a timeout) where
    # it would hang the suite.
    taken = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from flask_friendcb.policies.storage.limits_lmdb import LMDBStorage\n"
            "storage = LMDBStorage(sys.argv[1])\n"
            "print(storage.acquire_entry('k', 5, 60), storage.get_moving_window('k', 5, 60)[1])\n",
            uri,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert taken.stdout.split() == ["True", "2"]


def test_a_blocklist_on_lmdb_is_refused_with_what_to_use() -> None:
    with pytest.raises(ValueError, match=r"sqlite:///path/to/file"):
        BlocklistPolicy(storage_uri="lmdb:///x.lmdb")


def test_keys_and_code() -> None:
    by_requester = RateLimitPolicy("1/hour", key="to_account", code=38100)
    assert by_requester(item("x"), event("a")) is None
    assert by_requester(item("x"), event("b")) == Reject(38100, "more than 1 per hour")
    assert by_requester(item("y"), event("a")) is None

    by_ip = RateLimitPolicy("1/hour", key="client_ip")
    assert by_ip(item(), event("a", ip="10.0.0.1")) is None
    assert by_ip(item(), event("b", ip="10.0.0.1")) is not None
    # Without an IP there is nothing to count by: never one shared allowance.
    assert [by_ip(item(), event(f"n{n}")) for n in range(3)] == [None] * 3

    custom = RateLimitPolicy("1/hour", key=lambda it, ev: it.to_account[:1])
    assert custom(item("xa"), event()) is None
    assert custom(item("xb"), event()) is not None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("twenty a minute",), {}),
        (("20/minute",), {"key": "nobody"}),
        (("20/minute",), {"storage_uri": "mysql://x"}),
        (("20/minute",), {"storage_uri": "localhost"}),
        (("20/minute",), {"storage_uri": "sqlite://relative"}),
        (("20/minute",), {"storage_uri": "sqlite:////srv/what?/db"}),
        (("20/minute",), {"storage_uri": "lmdb://relative"}),
        (("20/minute",), {"storage_uri": "lmdb:///:memory:"}),
        (("20/minute",), {"storage_uri": "lmdb:///w.lmdb?map_size=100"}),
        (("20/minute",), {"storage_uri": "lmdb:///w.lmdb?map_size=lots"}),
        (("20/minute",), {"storage_uri": "lmdb:///w.lmdb?sync=1"}),
        (("20/minute",), {"timeout": 0}),
        (("20/minute",), {"timeout": 3}),
        (("20/minute",), {"on_error": "ignore"}),
        (("20/minute",), {"code": 40000}),
    ],
)
def test_bad_arguments_are_refused(args: tuple[str], kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        RateLimitPolicy(*args, **kwargs)  # type: ignore[arg-type]


def test_registered_alone_it_never_counts_a_decline(receiver: Receiver) -> None:
    from flask_friendcb.testing import friend_response_body, response_item

    policy = RateLimitPolicy("2/minute")
    receiver.hooks.on_friend_response(policy)
    declines = [response_item(f"d{n}", ResponseAction.REJECT) for n in range(5)]
    accepts = [response_item(f"a{n}", ACCEPT) for n in range(3)]
    body = friend_response_body("responder", [*declines, *accepts], event_time_ms=NOW * 1000)
    answer = receiver.post(body)
    assert answer.status == 200
    codes = [result["ResultCode"] for result in answer.json["ResultItem"]]
    assert codes == [0] * 5 + [0, 0, 38002]


def test_actions_given_at_registration_win() -> None:
    registry = HookRegistry()
    policy = RateLimitPolicy("2/minute")
    registry.on_friend_response(policy)
    registry.add_hook(BlocklistPolicy())
    registry.on_friend_response(ContentPolicy())
    registry.on_friend_response(actions=[ResponseAction.REJECT])(RateLimitPolicy("1/minute"))
    names = {
        action: [hook.name for hook in registry.hooks_for(action)] for action in ResponseAction
    }
    assert len(names[ResponseAction.AGREE]) == 3
    assert len(names[ResponseAction.AGREE_AND_ADD]) == 3
    assert len(names[ResponseAction.REJECT]) == 3
    assert any("RateLimitPolicy('1 per 1 minute')" in name for name in names[ResponseAction.REJECT])
    assert not any("RateLimitPolicy('2" in name for name in names[ResponseAction.REJECT])


KEYS = 30
LIMIT = 10


def _hammer(uri: str, keys: int, ready: Any, results: Any) -> None:
    """One process's share of the exactness test: how many of its attempts passed, per key.
    Every process tries every key LIMIT times, the keys in turn, so that each key reaches its
    limit while all four processes are at it."""
    policy = RateLimitPolicy(f"{LIMIT}/minute", storage_uri=uri, timeout=1.0)
    one = item()
    events = [event(f"key{n}") for n in range(keys)]
    passed = [0] * keys
    policy(one, event("warm-up"))  # connected before the start
    ready.wait(60)
    for _ in range(LIMIT):
        for n, shared in enumerate(events):
            passed[n] += policy(one, shared) is None
    results.put(passed)


@pytest.mark.parametrize("kind", ["sqlite", "lmdb", "redis"])
def test_four_processes_on_one_key_admit_exactly_limit(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = (
        request.getfixturevalue("redis_url")
        if kind == "redis"
        else f"{kind}:///{tmp_path}/shared.{kind}"
    )
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(4)  # every process starts at the same instant
    queue = context.Queue()
    # Enough keys that every process is still at it when the last one passes the barrier (it
    # may wake some milliseconds after the first): LMDB takes an entry in microseconds.
    keys = KEYS * 50 if kind == "lmdb" else KEYS * 5
    processes = [context.Process(target=_hammer, args=(uri, keys, ready, queue)) for _ in range(4)]
    for process in processes:
        process.start()
    try:
        results = [queue.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():  # pragma: no cover - a hung worker
                process.kill()
    per_key = [sum(column) for column in zip(*results, strict=True)]
    # 40 attempts on each key, 4 processes at once: exactly LIMIT pass, on every key.
    assert per_key == [LIMIT] * keys, per_key
    # The work was shared: more than one process got some of it.
    assert sum(1 for counts in results if sum(counts)) > 1, results


# -- BlocklistPolicy ---------------------------------------------------------------------------


def test_blocklist_both_roles(storage_uri: str) -> None:
    policy = BlocklistPolicy(storage_uri=storage_uri)
    assert policy(item("requester"), event("responder")) is None
    policy.add("requester", reason="sends spam")
    assert policy(item("requester"), event("responder")) == Reject(
        38001, "the requester is blocked"
    )
    assert policy(item("requester", ResponseAction.REJECT), event("x")) is not None  # any action
    policy.add("responder")
    assert policy(item("other"), event("responder")) == Reject(38001, "the responder is blocked")
    assert policy.remove("requester") is True
    assert policy.remove("requester") is False
    assert policy(item("requester"), event("someone")) is None


def test_blocklist_entries_keep_reason_and_time(storage_uri: str) -> None:
    policy = BlocklistPolicy(storage_uri=storage_uri, code=38123)
    before = datetime.now(timezone.utc)
    policy.add("a", reason="first")
    policy.add("b")
    policy.add("a", reason="again")  # replaces
    after = datetime.now(timezone.utc)
    entries = policy.entries()
    assert [(entry.account, entry.reason) for entry in entries] == [("b", ""), ("a", "again")]
    for entry in entries:
        assert before.timestamp() - 1 <= entry.added_at.timestamp() <= after.timestamp() + 1
        assert entry.added_at.tzinfo is not None
    assert "a" in policy
    assert "c" not in policy
    assert 3 not in policy
    assert policy(item("a"), event()) == Reject(38123, "the requester is blocked")
    with pytest.raises(ValueError, match="non-empty"):
        policy.add("")


def test_blocklist_is_shared_through_the_storage(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.sqlite3"
    operator, worker = BlocklistPolicy(storage_uri=uri), BlocklistPolicy(storage_uri=uri)
    operator.add("spammer", reason="reported")
    assert worker(item("spammer"), event()) is not None
    assert [entry.reason for entry in worker.entries()] == ["reported"]


def test_blocklist_costs_one_redis_round_trip_per_item(
    redis_server: RedisServer, redis_url: str
) -> None:
    policy = BlocklistPolicy(storage_uri=redis_url)
    policy.add("listed")
    policy(item("warm"), event())  # the connection is made
    redis_server.command("CONFIG", "RESETSTAT")
    for n in range(10):
        policy(item(f"r{n}"), event(f"s{n}"))
    assert policy(item("listed"), event()) is not None
    stats = redis_server.command("INFO", "stats")
    processed = int(
        next(
            line.split(":")[1]
            for line in stats.splitlines()
            if line.startswith("total_commands_processed")
        )
    )
    assert processed == 11 + 1  # eleven checks, and this INFO


def test_valkey_scheme_speaks_to_the_same_server(redis_url: str) -> None:
    valkey = redis_url.replace("redis://", "valkey://")
    BlocklistPolicy(storage_uri=redis_url).add("x")
    assert "x" in BlocklistPolicy(storage_uri=valkey)
    limit = RateLimitPolicy("1/minute", storage_uri=valkey)
    assert limit(item(), event("v")) is None
    assert limit(item(), event("v")) is not None
    assert RateLimitPolicy("1/minute", storage_uri=redis_url)(item(), event("v")) is not None


# -- SQLite blocklist: this process's copy, kept until the file changes ------------------------


def _file_reads(policy: BlocklistPolicy, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the policy's storage sends its file from now on."""
    sent: list[str] = []
    file = policy.storage._file  # type: ignore[attr-defined]
    execute, connection = file.execute, file.connection

    def counted_execute(statement: str, parameters: Any = ()) -> Any:
        sent.append(statement)
        return execute(statement, parameters)

    def counted_connection() -> Any:
        sent.append("connection")
        return connection()

    monkeypatch.setattr(file, "execute", counted_execute)
    monkeypatch.setattr(file, "connection", counted_connection)
    return sent


def test_sqlite_blocklist_reads_the_file_again_only_after_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path}/blocklist.sqlite3"
    worker, operator = BlocklistPolicy(storage_uri=uri), BlocklistPolicy(storage_uri=uri)
    operator.add("spammer")
    assert worker(item("spammer"), event()) is not None
    sent = _file_reads(worker, monkeypatch)
    for n in range(50):
        assert worker(item(f"user{n}"), event(f"responder{n}")) is None
    assert worker(item("spammer"), event()) is not None
    assert sent == []  # answered from memory: nothing committed since
    # Another instance's change (another worker, the CLI) is seen by the very next check.
    operator.add("responder7")
    assert worker(item("x"), event("responder7")) == Reject(38001, "the responder is blocked")
    assert len(sent) == 1
    operator.remove("spammer")
    assert worker(item("spammer"), event()) is None
    assert len(sent) == 2


def _block_in_another_process(uri: str, account: str) -> None:
    BlocklistPolicy(storage_uri=uri).add(account, reason="from another process")


def test_the_sqlite_watch_leaves_sqlite_its_locks_on_the_wal_index(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every fcntl lock the process holds on it: a
    watch that closed its own would take SQLite's lock on the WAL index from this process's
    connections, and the next process to open the file would take itself for the first and
    rebuild the index under them (truncating it first: a SIGBUS for a mapping read then)."""
    import os

    path = tmp_path / "blocklist.sqlite3"
    policy = BlocklistPolicy(storage_uri=f"sqlite:///{path}")
    policy.add("eve")
    inode = os.stat(f"{path}-shm").st_ino

    def locks() -> list[str]:
        with open("/proc/locks", encoding="ascii") as table:
            return [line for line in table if f":{inode} " in line and f" {os.getpid()} " in line]

    assert locks(), "SQLite holds a lock on the WAL index while a connection is open"
    assert policy(item("eve"), event()) is not None  # the watch maps the index
    assert policy(item("eve"), event()) is not None
    assert locks(), "the watch took SQLite's lock away"
    policy.close()


def test_sqlite_blocklist_sees_changes_of_other_processes_and_programs(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "blocklist.sqlite3"
    uri = f"sqlite:///{path}"
    worker = BlocklistPolicy(storage_uri=uri)
    assert worker(item("a"), event("b")) is None  # the copy is made (empty)
    process = multiprocessing.get_context("spawn").Process(
        target=_block_in_another_process, args=(uri, "a")
    )
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert worker(item("a"), event("b")) == Reject(38001, "the requester is blocked")
    # A program that is not this library at all (the sqlite3 shell, an older release).
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM friendcb_blocklist")
    db.close()
    assert worker(item("a"), event("b")) is None
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO friendcb_blocklist VALUES ('b', '', 0)")
    db.close()
    assert worker(item("a"), event("b")) == Reject(38001, "the responder is blocked")


def _check_after_fork(ready: Any, blocked: Any, results: Any) -> None:
    ready.set()
    blocked.wait(30)
    results.put(_INHERITED_POLICY[0](item("late"), event()))


_INHERITED_POLICY: list[BlocklistPolicy] = []


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork")
def test_sqlite_blocklist_copy_of_a_forked_worker_follows_the_file(tmp_path: Path) -> None:
    # gunicorn --preload: the policy is made (and its copy read) before the workers fork.
    uri = f"sqlite:///{tmp_path}/blocklist.sqlite3"
    policy = BlocklistPolicy(storage_uri=uri)
    assert policy(item("late"), event()) is None
    _INHERITED_POLICY[:] = [policy]
    context = multiprocessing.get_context("fork")
    ready, blocked, results = context.Event(), context.Event(), context.Queue()
    child = context.Process(target=_check_after_fork, args=(ready, blocked, results))
    child.start()
    try:
        assert ready.wait(30)
        BlocklistPolicy(storage_uri=uri).add("late")
        blocked.set()
        assert results.get(timeout=30) == Reject(38001, "the requester is blocked")
    finally:
        child.join(30)
        _INHERITED_POLICY.clear()
    assert policy(item("late"), event()) is not None


def test_sqlite_blocklist_longer_than_the_copy_is_asked_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_friendcb.policies.storage import sqlite as sqlite_storage

    monkeypatch.setattr(sqlite_storage, "CACHE_MAX_ENTRIES", 2)
    policy = BlocklistPolicy(storage_uri=f"sqlite:///{tmp_path}/blocklist.sqlite3")
    for account in ("a", "b", "c"):
        policy.add(account)
    sent = _file_reads(policy, monkeypatch)
    assert policy(item("c"), event("x")) == Reject(38001, "the requester is blocked")
    assert policy(item("x"), event("b")) == Reject(38001, "the responder is blocked")
    assert policy(item("x"), event("y")) is None
    assert len(sent) >= 3  # no copy kept: the file answers every check
    policy.remove("c")
    assert policy(item("c"), event("x")) is None
