"""Storages on Redis or Valkey (``redis://``, ``rediss://``, ``valkey://``), through redis-py."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from typing import Any

from ..errors import missing_extra

try:
    import redis
    import redis.asyncio
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as error:  # pragma: no cover - checked by hiding the module
    raise missing_extra("redis", error) from error

from .base import BlocklistEntry

#: The hash of listed accounts: field = account, value = {"reason", "added_at"} as JSON.
BLOCKLIST_KEY = "friendcb:blocklist"


def client_options(timeout: float) -> dict[str, Any]:
    """redis-py settings that bound every call by ``timeout``: the socket waits, and no
    retry (redis-py retries three times by default, which would multiply the wait)."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
    }


def async_client_options(timeout: float) -> dict[str, Any]:
    """:func:`client_options` for ``redis.asyncio``."""
    return {**client_options(timeout), "retry": AsyncRetry(NoBackoff(), 0)}


class RedisBlocklist:
    """A blocklist in one Redis hash; :meth:`first_listed_async` asks it through
    ``redis.asyncio``, with a client per event loop (a connection belongs to its loop)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._redis: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, **client_options(timeout)
        )
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]
        self._async = weakref.WeakKeyDictionary()

    async def first_listed_async(self, accounts: Sequence[str]) -> str | None:
        """:meth:`first_listed`, awaited on the running loop."""
        if not accounts:
            return None
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = redis.asyncio.Redis.from_url(
                self._url, decode_responses=True, **async_client_options(self._timeout)
            )
            self._async[loop] = client
        values = await client.hmget(BLOCKLIST_KEY, list(accounts))
        return next(
            (account for account, value in zip(accounts, values, strict=True) if value is not None),
            None,
        )

    def add(self, account: str, reason: str, timestamp: float) -> BlocklistEntry:
        value = json.dumps({"reason": reason, "added_at": timestamp})
        self._redis.hset(BLOCKLIST_KEY, account, value)
        return BlocklistEntry.at(account, reason, timestamp)

    def remove(self, account: str) -> bool:
        return int(self._redis.hdel(BLOCKLIST_KEY, account)) > 0

    def first_listed(self, accounts: Sequence[str]) -> str | None:
        if not accounts:
            return None
        values = self._redis.hmget(BLOCKLIST_KEY, list(accounts))
        return next(
            (account for account, value in zip(accounts, values, strict=True) if value is not None),
            None,
        )

    async def aclose(self) -> None:
        """Close the running loop's ``redis.asyncio`` client, if it has one."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def entries(self) -> list[BlocklistEntry]:
        entries = []
        for account, value in self._redis.hscan_iter(BLOCKLIST_KEY, count=500):
            try:
                data = json.loads(value)
                entries.append(
                    BlocklistEntry.at(account, str(data["reason"]), float(data["added_at"]))
                )
            except (ValueError, KeyError, TypeError):
                # Written by something else: still listed, reason unknown.
                entries.append(BlocklistEntry.at(account, "", 0.0))
        return sorted(entries, key=lambda entry: (entry.added_at, entry.account))

    def close(self) -> None:
        self._redis.close()
