"""A ``limits`` storage in an LMDB file, registered under the ``lmdb`` scheme (extra ``[lmdb]``).

The cheapest store the processes of one machine can share: LMDB maps the file into every
process for reading and serialises writers with a mutex in that shared memory, so that taking
an entry costs a few writes of the file's pages and no lock call, where a SQLite commit makes
about ten system calls (locks on its WAL index, two writes of its WAL). Every check still sees
every other process's entries at once: exactly ``limit`` pass per window, as on SQLite or
Redis.

The pages are written with ``pwrite``, not through a writable mapping (LMDB's ``writemap``),
though that would cost half as much: a write to a mapped page the file system has no room
for kills the process (SIGBUS) where ``pwrite`` fails with an error the policy's ``on_error``
decides. They are never flushed to disk by this storage (``sync=False``): a process that dies
loses nothing (the kernel holds the pages); a machine that loses power may leave the file
unreadable: its checks then go to ``on_error``, logged with what to do (stop the processes
that use it, delete it and its ``-lock`` file: they hold counts of the last window). It is
not replaced here: processes that have it open would split between two files.
A writer holds LMDB's lock for microseconds and no timeout bounds the wait for it: a process
killed while it held the lock releases it (a robust mutex), but one stopped there (SIGSTOP, a
debugger) holds every other process's checks until it runs again. The file's size on disk is
what it holds, grown as it needs (a map of ``map_size``, 128 MiB unless the URI says
``?map_size=``, bounds it). Windows whose entries have all expired are
swept by the checks; live windows past three quarters of the map are refused (the caller's
``on_error`` decides, and the error says to raise ``map_size``), since an LMDB map filled to
its end cannot even delete.

Creating the class registers it: ``limits.storage.storage_from_string("lmdb:///path")``
returns one.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from ..errors import missing_extra

try:
    import lmdb
except ImportError as error:  # pragma: no cover - checked by hiding the module
    raise missing_extra("lmdb", error) from error

try:
    from limits.storage import MovingWindowSupport, Storage
except ImportError as error:  # pragma: no cover - checked by hiding the module
    raise missing_extra("policies", error) from error

from . import file_path
from .base import FORKS

logger = logging.getLogger("flask_friendcb.policies")

#: The clock of the windows' entries (seconds since the epoch), as limits' own storages keep.
_clock = time.time

#: The map's size unless the URI's ``map_size`` says otherwise: some 500,000 keys whose windows
#: hold 20 entries each (measured), more of fewer.
DEFAULT_MAP_SIZE = 128 * 2**20
#: The smallest map a URI may ask for: a quarter of it (what REFUSE_AT keeps free) is room for
#: the entries of several workers taken between two reads of the fill.
MIN_MAP_SIZE = 4 * 2**20
#: One check in this many (per process) also sweeps keys whose every entry has expired ...
SWEEP_EVERY = 1024
#: ... this many keys of them, from where the last sweep stopped: twice as many as checks
#: in between, so that keys that never come back cannot pile up faster than they go.
SWEEP_KEYS = 2 * SWEEP_EVERY
#: A sweep deletes in write transactions of at most this many keys, so that it holds LMDB's
#: writer lock (every other worker's checks) for a millisecond or two at a time.
SWEEP_BATCH = 4096
#: One check in this many (per process) reads how much of the map the windows fill ...
FILL_CHECK_EVERY = 16
#: ... past this share, every key is swept, again after FULL_SWEEP_PAUSE times what the last
#: such sweep took and at least a second later (a map full of live windows costs each process
#: at most a twentieth of a core in sweeps) ...
SWEEP_ALL_AT = 0.5
FULL_SWEEP_PAUSE = 20
#: The longest a check spends on such a sweep; the next one due goes on where it stopped.
SWEEP_BUDGET = 0.02
#: ... and past this one no entry is taken until a sweep makes room (the policy's on_error
#: decides, and its log says why): an LMDB map filled to its end cannot even delete, so the
#: rest stays free for the sweeps.
REFUSE_AT = 0.75

# Keys of the two kinds of value, apart in one key space.
_WINDOW = b"w:"
_COUNTER = b"c:"
# A counter: its value and when it expires.
_COUNTER_VALUE = struct.Struct("=qd")
# The longest key LMDB takes is 511 bytes.
_MAX_NAME = 511
_EMPTY: array.array[float] = array.array("d", (0.0,))

# LMDB lets a process open a file once: the storages of one file (two apps of one process, or
# two policies) share its environment, which closes with the last of them. A forked child
# closes what it inherited before it opens the file again: LMDB forbids using a parent's
# environment, and closing it there is safe (the child holds none of its reader slots, and
# fcntl locks are not inherited), and py-lmdb refuses a second open of a path until then.
_lock = threading.Lock()
_environments: dict[str, tuple[Any, int]] = {}
_forks_seen = [0]


def _share(path: str, map_size: int) -> Any:
    """The environment of ``path`` in this process, opened by its first user."""
    key = os.path.realpath(path)
    with _lock:
        if _forks_seen[0] != FORKS[0]:
            for inherited, _ in _environments.values():
                with contextlib.suppress(lmdb.Error):
                    inherited.close()
            _environments.clear()
            _forks_seen[0] = FORKS[0]
        env, users = _environments.get(key, (None, 0))
        if env is None:
            env = _open(path, map_size)
        _environments[key] = (env, users + 1)
        return env


def _let_go(env: Any) -> None:
    """One user fewer of ``env``: closed with its last one (in the process that opened it)."""
    with _lock:
        for key, (shared, users) in list(_environments.items()):
            if shared is env:
                if users > 1:
                    _environments[key] = (env, users - 1)
                else:
                    del _environments[key]
                    env.close()
                return


class DamagedFile(Exception):
    """An LMDB file that cannot be read: said once, with what to do, rather than replaced."""


class LMDBStorage(Storage, MovingWindowSupport):
    """Moving windows and fixed-window counters in an LMDB file.

    A moving window is one value per key: its window's length, then the times of its live
    entries, rewritten (its expired entries dropped) each time an entry is taken, in one write
    transaction. Keys that never come back are swept, a few at a time, by the checks
    themselves.
    """

    STORAGE_SCHEME = ["lmdb"]  # noqa: RUF012  (limits declares it a list)

    def __init__(
        self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path, self.map_size = _parse(uri)
        self._lock = threading.Lock()
        self._env: Any = None
        self._forks = -1
        self._checks = 0
        self._sweep_from = b""
        self._full = False
        self._full_sweep_due = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (lmdb.Error, DamagedFile)

    # -- the moving window ------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        name = _name(_WINDOW, key)
        now = _clock()
        if self._full:
            self._refuse_while_full(now)
        try:
            taken = self._take(name, limit, expiry, amount, now)
        except lmdb.MapFullError:
            # LMDB itself ran out (a burst between two reads of the fill, or pages a reader
            # that died holds): refuse until a sweep has made room.
            self._full = True
            with contextlib.suppress(lmdb.Error):
                self._environment().reader_check()
            raise
        self._after_check(now)
        return taken

    def _refuse_while_full(self, now: float) -> None:
        """Raise while live windows fill the map past REFUSE_AT, read again at every check (a
        policy's guard lets one through a second while its storage is down)."""
        self._checks += 1
        self._keep_house(now)
        if self._full:
            raise self._filled_up()

    def _after_check(self, now: float) -> None:
        """The housekeeping due after a check; it never changes the check's decision."""
        self._checks += 1
        if self._checks % FILL_CHECK_EVERY:
            return
        try:
            self._keep_house(now)
        except Exception:  # logged: the entry is taken either way
            logger.warning("%s: housekeeping failed; the next one tries again", self.path)

    def _keep_house(self, now: float) -> None:
        if self._checks % SWEEP_EVERY == 0:
            self.sweep(now, keys=SWEEP_KEYS)
        fill = self.fill()
        if fill > SWEEP_ALL_AT and now >= self._full_sweep_due:
            # Every key, from where the last such sweep stopped, for at most SWEEP_BUDGET
            # seconds of this check: a map of a million live windows is swept over many.
            started = time.monotonic()
            self.sweep(now, keys=None, budget=SWEEP_BUDGET)
            took = time.monotonic() - started
            self._full_sweep_due = now + max(1.0, FULL_SWEEP_PAUSE * took)
            fill = self.fill()
        self._full = fill > REFUSE_AT

    def fill(self) -> float:
        """The share of the map that the windows and counters hold now (across processes)."""
        env = self._environment()
        stat, size = env.stat(), env.info()["map_size"]
        pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
        return float(pages * stat["psize"] / size)

    def _filled_up(self) -> lmdb.MapFullError:
        size = self._environment().info()["map_size"]
        return lmdb.MapFullError(
            f"the live windows fill {self.fill():.0%} of the {size // 2**20} MiB map of "
            f"{self.path}: raise its ?map_size= (checks resume once a sweep makes room)"
        )

    def _take(self, name: bytes, limit: int, expiry: int, amount: int, now: float) -> bool:
        env = self._env if self._forks == FORKS[0] and self._env is not None else None
        # Not through _write's generator: this is every acceptance's path.
        with (env or self._environment()).begin(write=True) as txn:
            times, first = _window(txn.get(name), now - expiry)
            if len(times) - first + amount > limit:
                return False
            txn.put(name, _window_value(expiry, times, first, now, amount))
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = _clock()
        with self._read() as txn:
            times, first = _window(txn.get(_name(_WINDOW, key)), now - expiry)
        return (times[first] if first < len(times) else now, len(times) - first)

    def sweep(
        self, now: float | None = None, *, keys: int | None = None, budget: float | None = None
    ) -> int:
        """Delete the windows whose every entry has expired and the expired counters, looking
        at ``keys`` keys from where the last sweep stopped, up to the last key (every key from
        the first when ``None`` and no ``budget``), for at most ``budget`` seconds (one batch
        past it at most); how many went. Housekeeping: it never changes a decision."""
        at = _clock() if now is None else now
        if keys is None and budget is None:
            self._sweep_from = b""
        deadline = None if budget is None else time.monotonic() + budget
        removed = 0
        left = keys
        while (left is None or left > 0) and (deadline is None or time.monotonic() < deadline):
            gone, seen = self._sweep_batch(
                at, SWEEP_BATCH if left is None else min(left, SWEEP_BATCH)
            )
            removed += gone
            if left is not None:
                left -= seen
            if not self._sweep_from:  # past the last key
                break
        return removed

    def _sweep_batch(self, at: float, keys: int) -> tuple[int, int]:
        removed = seen = 0
        with self._write() as txn:
            cursor = txn.cursor()
            found = cursor.set_range(self._sweep_from)
            while found and seen < keys:
                name, value = cursor.item()
                seen += 1
                if _expired(name, value, at):
                    # Moves to the next key; past the last, the cursor's key is empty.
                    found = cursor.delete() and bool(cursor.key())
                    removed += 1
                else:
                    found = cursor.next()
            self._sweep_from = cursor.key() if found else b""
        return removed, seen

    # -- fixed-window counters (the rest of limits' Storage interface) -----------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        name = _name(_COUNTER, key)
        now = _clock()
        if self._full:
            self._refuse_while_full(now)
        with self._write() as txn:
            raw = txn.get(name)
            value, expires_at = _COUNTER_VALUE.unpack(raw) if raw else (0, 0.0)
            if expires_at <= now:
                value, expires_at = 0, now + expiry
            value += amount
            txn.put(name, _COUNTER_VALUE.pack(value, expires_at))
        self._after_check(now)
        return int(value)

    def get(self, key: str) -> int:
        with self._read() as txn:
            raw = txn.get(_name(_COUNTER, key))
        if not raw:
            return 0
        value, expires_at = _COUNTER_VALUE.unpack(raw)
        return int(value) if expires_at > _clock() else 0

    def get_expiry(self, key: str) -> float:
        with self._read() as txn:
            raw = txn.get(_name(_COUNTER, key))
        return float(_COUNTER_VALUE.unpack(raw)[1]) if raw else _clock()

    def check(self) -> bool:
        try:
            self._environment().stat()
        except lmdb.Error:
            return False
        return True

    def reset(self) -> int | None:
        main = self._environment().open_db()
        with self._write() as txn:
            count = int(txn.stat(main)["entries"])
            txn.drop(main, delete=False)
        return count

    def clear(self, key: str) -> None:
        with self._write() as txn:
            txn.delete(_name(_WINDOW, key))
            txn.delete(_name(_COUNTER, key))

    def close(self) -> None:
        with self._lock:
            env, self._env = self._env, None
            if env is not None and self._forks == FORKS[0]:
                _let_go(env)

    # -- the environment --------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._environment().begin(write=True) as txn:
            yield txn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._environment().begin() as txn:
            yield txn

    def _environment(self) -> Any:
        env = self._env
        if env is not None and self._forks == FORKS[0]:
            return env
        with self._lock:
            if self._env is None or self._forks != FORKS[0]:
                self._env = _share(self.path, self.map_size)
                self._forks = FORKS[0]
            return self._env


def _open(path: str, map_size: int) -> Any:
    """The environment of ``path``; a file that cannot be read (what a power loss can leave of
    a file that is never flushed) is an error that says what to do."""
    options: dict[str, Any] = {
        "map_size": map_size,
        "subdir": False,
        # Written with pwrite (a full disk is an error, not a SIGBUS), never flushed: see the
        # module's docstring.
        "writemap": False,
        "sync": False,
        "metasync": False,
        "readahead": False,
        "meminit": False,
        "max_dbs": 0,
    }
    try:
        env = lmdb.open(path, **options)
    except (lmdb.InvalidError, lmdb.CorruptedError) as error:
        # Not made again here: other processes may have it open, and one that unlinked it
        # under them would split the workers between two files (and two counts).
        raise DamagedFile(
            f"{path} is damaged ({type(error).__name__}): stop the processes that use it, "
            "delete it and its -lock file (it holds rate-limit counts only)"
        ) from None
    # Reader slots left by processes that died in a read.
    env.reader_check()
    return env


def _parse(uri: str) -> tuple[str, int]:
    """The file and the map size of an ``lmdb:///path/to/file?map_size=BYTES`` URI."""
    path = file_path(uri)
    if path == ":memory:":
        raise ValueError(f"an LMDB storage is a file: lmdb:///path/to/file, got {uri!r}")
    map_size = DEFAULT_MAP_SIZE
    query = uri.split("://", 1)[1].partition("?")[2]  # as file_path splits it, "#" and all
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name != "map_size":
            raise ValueError(f"an LMDB storage URI takes ?map_size=BYTES only, got {name!r}")
        map_size = int(values[-1]) if values[-1].isdigit() else 0
        if map_size < MIN_MAP_SIZE:
            raise ValueError(f"map_size is a number of bytes, at least 4 MiB, got {values[-1]!r}")
    return path, map_size


def _name(kind: bytes, key: str) -> bytes:
    """The LMDB key of ``key``: itself, or its digest past LMDB's 511 bytes (a key function of
    the app's may return anything)."""
    name = kind + key.encode("utf-8", "surrogatepass")
    if len(name) <= _MAX_NAME:
        return name
    return kind + b"#" + hashlib.blake2b(name, digest_size=32).digest()


def _window(raw: bytes | None, after: float) -> tuple[array.array[float], int]:
    """A window value's times (its length first) and the index of its first live entry: the
    times are in order, so a binary search finds it, in C, however long the window."""
    if not raw:
        return _EMPTY, 1
    times = array.array("d", raw)
    return times, bisect.bisect_right(times, after, 1)


def _window_value(
    expiry: int, times: array.array[float], first: int, now: float, amount: int
) -> bytes:
    """The value of a window: its length, its live entries, and ``amount`` new ones at
    ``now`` (or at its newest entry's time, if a clock stepped back, so the times stay in
    order)."""
    if first < len(times):
        now = max(now, times[-1])
    value = array.array("d", (float(expiry),))
    value.extend(times[first:])
    value.extend((now,) * amount)
    return value.tobytes()


def _expired(name: bytes, value: bytes, now: float) -> bool:
    if name.startswith(_COUNTER):
        return bool(_COUNTER_VALUE.unpack(value)[1] <= now)
    times = array.array("d")
    times.frombytes(value)
    # Entries are appended in time order: the last is the newest.
    return len(times) < 2 or times[-1] <= now - times[0]
