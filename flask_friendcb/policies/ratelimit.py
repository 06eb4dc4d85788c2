"""``RateLimitPolicy``: at most ``limit`` acceptances (or friend requests sent) per key and window,
counted by ``limits``."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Literal, cast

from .errors import missing_extra

try:
    import limits
    from limits.storage import MemoryStorage, MovingWindowSupport, Storage, storage_from_string
    from limits.strategies import MovingWindowRateLimiter
except ImportError as error:
    raise missing_extra("policies", error) from error

from ..models import Reject
from ..protocol import FRIEND_ADD_COMMAND, FRIEND_RESPONSE_COMMAND, ResponseAction
from . import storage as storages
from .base import OnError, PolicyEvent, PolicyItem, StoragePolicy
from .faults import FAILED

#: What a key names: a built-in or ``key(item, event) -> str``.
KeyFunction = Callable[[Any, Any], str]
KeyName = Literal["from_account", "to_account", "client_ip"]

_KEYS: dict[str, KeyFunction] = {
    "from_account": lambda item, event: event.from_account,
    "to_account": lambda item, event: item.to_account,
    "client_ip": lambda item, event: event.client_ip,
}


# Each step counts apart; responses keep the namespace they always had.
_NAMESPACES = {FRIEND_RESPONSE_COMMAND: "friendcb", FRIEND_ADD_COMMAND: "friendcb-request"}


class RateLimitPolicy(StoragePolicy):
    """Refuses an acceptance once ``limit`` have passed for the same key within the window.

    ``limit`` is in the ``limits`` library's notation (``"20/minute"``, ``"100 per hour"``),
    counted in a moving window: an item is counted when it passes, so exactly ``limit`` pass
    per window however many processes or machines share ``storage_uri``. Watches acceptances
    only (``AGREE_AND_ADD``, ``AGREE``): a declined request costs nothing. An item whose key
    is empty (no ``ClientIP``) is not counted.

    Registered with ``on_friend_add``, it counts friend requests sent: with the default key,
    per requester (``From_Account``), the classic pattern of a farm that sends 500 requests a
    minute. Requests and responses are counted apart, so one policy registered at both steps
    allows ``limit`` of each.
    """

    actions: ClassVar[frozenset[ResponseAction] | None] = frozenset(
        {ResponseAction.AGREE_AND_ADD, ResponseAction.AGREE}
    )

    def __init__(
        self,
        limit: str,
        *,
        storage_uri: str = "memory://",
        key: KeyName | KeyFunction = "from_account",
        code: int = 38002,
        timeout: float = 0.25,
        on_error: OnError = "allow",
    ) -> None:
        super().__init__(code, timeout=timeout, on_error=on_error, storage_uri=storage_uri)
        try:
            self.limit = limits.parse(limit)
        except (TypeError, ValueError) as error:
            raise ValueError(f'limit must read like "20/minute", got {limit!r}') from error
        if callable(key):
            self._key: KeyFunction = key
        elif key in _KEYS:
            self._key = _KEYS[key]
        else:
            raise ValueError(f"key must be one of {', '.join(_KEYS)} or a callable, got {key!r}")
        self.storage_uri = storage_uri
        self.storage = open_limits_storage(storage_uri, timeout=self.timeout)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._amount, self._expiry = self.limit.amount, self.limit.get_expiry()
        self._async_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]
        self._async_limiters = weakref.WeakKeyDictionary()
        self._info = f"more than {self.limit.amount} per {_window(self.limit)}"

    def __call__(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        key = self._key(item, event)
        if not isinstance(key, str):
            raise TypeError(f"the rate-limit key must be a str, got {type(key).__name__}")
        if not key:
            # No client IP in the query, say: counting every such item under one key would
            # refuse them all together.
            return None
        namespace = _NAMESPACES.get(event.callback_command, "friendcb")
        # What MovingWindowRateLimiter.hit does, one call shorter: the storage takes an entry.
        entry = self.limit.key_for(namespace, key)
        storage = cast(MovingWindowSupport, self.storage)
        passed = self.guard.call(lambda: storage.acquire_entry(entry, self._amount, self._expiry))
        if passed is FAILED:
            return self.unchecked()
        return None if passed else Reject(self.code, self._info)

    async def check_async(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        key = self._key(item, event)
        if not isinstance(key, str):
            raise TypeError(f"the rate-limit key must be a str, got {type(key).__name__}")
        if not key:
            return None
        namespace = _NAMESPACES.get(event.callback_command, "friendcb")
        scheme = storages.scheme_of(self.storage_uri)
        if scheme in storages.REDIS_SCHEMES:
            limiter = self._async_limiter()
            passed = await self.guard.call_async(lambda: limiter.hit(self.limit, namespace, key))
        elif scheme == "lmdb":
            # An entry taken in shared memory, in microseconds: cheaper on the loop than the
            # hand-off to a thread would be.
            passed = self.guard.call(lambda: self._limiter.hit(self.limit, namespace, key))
        else:
            passed = await asyncio.to_thread(
                self.guard.call, lambda: self._limiter.hit(self.limit, namespace, key)
            )
        if passed is FAILED:
            return self.unchecked()
        return None if passed else Reject(self.code, self._info)

    def _async_limiter(self) -> Any:
        # One limits storage on redis.asyncio per event loop: a connection belongs to its loop.
        loop = asyncio.get_running_loop()
        limiter = self._async_limiters.get(loop)
        if limiter is None:
            from limits.aio.strategies import MovingWindowRateLimiter as AsyncLimiter

            from .storage.redis import async_client_options

            storage = storage_from_string(
                "async+" + storages.as_redis_url(self.storage_uri),
                implementation="redispy",
                **async_client_options(self.timeout),
            )
            limiter = AsyncLimiter(storage)
            self._async_limiters[loop] = limiter
        return limiter

    async def aclose(self) -> None:
        """Let go of the connections :meth:`check_async` opened on the running event loop (at
        an ASGI app's shutdown, say)."""
        limiter = self._async_limiters.pop(asyncio.get_running_loop(), None)
        # limits keeps the redis.asyncio client as its storage's bridge's "storage".
        bridge = getattr(getattr(limiter, "storage", None), "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None:
            await client.aclose()

    def remaining(self, key: str, *, command: str = FRIEND_RESPONSE_COMMAND) -> int:
        """How many more items of ``command`` (responses unless told) ``key`` may pass in the
        current window."""
        stats = self._limiter.get_window_stats(self.limit, _NAMESPACES[command], key)
        return int(stats.remaining)

    def clear(self, key: str, *, command: str | None = None) -> None:
        """Forget what ``key`` has used, for ``command`` or for both steps."""
        for each in _NAMESPACES if command is None else (command,):
            self._limiter.clear(self.limit, _NAMESPACES[each], key)

    def __repr__(self) -> str:
        return f"RateLimitPolicy({str(self.limit)!r})"


def _window(limit: limits.RateLimitItem) -> str:
    multiples = limit.multiples
    unit = limit.GRANULARITY.name
    return unit if multiples == 1 else f"{multiples} {unit}s"


def open_limits_storage(uri: str, *, timeout: float) -> Storage:
    """The ``limits`` storage of ``uri``, its calls bounded by ``timeout`` seconds."""
    scheme = storages.scheme_of(uri)
    if scheme == "memory":
        return MemoryStorage()
    if scheme == "sqlite":
        from .storage import limits_sqlite  # noqa: F401  (registers the "sqlite" scheme)

        return _checked(storage_from_string(uri, timeout=timeout))
    if scheme == "lmdb":
        # A write waits for LMDB's lock, which is held for microseconds: no timeout to set.
        from .storage import limits_lmdb  # noqa: F401  (registers the "lmdb" scheme)

        return _checked(storage_from_string(uri))
    from .storage.redis import client_options  # raises the [redis] ImportError

    options: dict[str, Any] = client_options(timeout)
    # limits reads valkey:// with the valkey package; Valkey speaks Redis' protocol, so one
    # client (redis-py, extra [redis]) serves both.
    return _checked(storage_from_string(storages.as_redis_url(uri), **options))


def _checked(storage: object) -> Storage:
    if not isinstance(storage, Storage):  # an async storage: not for a sync hook
        raise TypeError(f"expected a synchronous limits storage, got {type(storage).__name__}")
    return storage
