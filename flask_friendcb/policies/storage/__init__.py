"""Where the policies keep their state, chosen by URI as in ``limits.storage``.

============================== ===========================================================
URI                            storage
============================== ===========================================================
``memory://``                  this process only
``sqlite:///path/to/file``     the processes of one machine (a file; ``sqlite:///:memory:``
                               is one process)
``lmdb:///path/to/file``       the processes of one machine, for ``RateLimitPolicy``: the
                               cheapest shared window (an LMDB file, extra ``[lmdb]``)
``redis://``, ``rediss://``    many machines, through redis-py (extra ``[redis]``)
``valkey://``, ``valkeys://``  Valkey, which speaks Redis' protocol, through the same client
============================== ===========================================================
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit

from .base import BlocklistEntry, BlocklistStorage

REDIS_SCHEMES = frozenset({"redis", "rediss", "valkey", "valkeys"})
SCHEMES = frozenset({"memory", "sqlite", "lmdb"}) | REDIS_SCHEMES

__all__ = ["SCHEMES", "BlocklistEntry", "BlocklistStorage", "open_blocklist", "scheme_of"]


def scheme_of(uri: str) -> str:
    """The scheme of a storage URI; raises ``ValueError`` for one no storage serves."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ValueError(
            f"storage_uri must look like memory://, sqlite:///path or redis://..., got {uri!r}"
        )
    scheme = urlsplit(uri).scheme.lower()
    if scheme not in SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(SCHEMES))
        raise ValueError(f"unknown storage scheme {scheme!r}; use one of {known}")
    return scheme


def file_path(uri: str) -> str:
    """The file of a ``sqlite:///path`` or ``lmdb:///path`` URI (three slashes, then the path,
    percent-decoded as in any URL, so ``%3F`` is a ``?`` of the path; a query after it is the
    storage's own)."""
    scheme, path = uri.split("://", 1)
    path, _, query = path.partition("?")
    if query and scheme.lower() == "sqlite":
        raise ValueError(
            f"a SQLite storage URI takes no query, got {uri!r} (write a ? of the path as %3F)"
        )
    path = unquote(path)
    if not path.startswith("/") or path == "/":
        raise ValueError(f"a storage URI of {scheme}:// is {scheme}:///path/to/file, got {uri!r}")
    # sqlite:////abs/path and sqlite:///relative/path, as SQLAlchemy reads them.
    path = path[1:]
    return path or ":memory:"


def file_uri(scheme: str, path: str) -> str:
    """The ``scheme`` URI of the file at ``path`` (made absolute), quoted so that any path
    reads back as itself."""
    return f"{scheme}:///" + quote(os.path.abspath(path), safe="/")


def as_redis_url(uri: str) -> str:
    """``uri`` for redis-py: Valkey speaks Redis' protocol, so ``valkey://`` is ``redis://``."""
    scheme, rest = uri.split("://", 1)
    scheme = {"valkey": "redis", "valkeys": "rediss"}.get(scheme.lower(), scheme)
    return f"{scheme}://{rest}"


def open_blocklist(uri: str, *, timeout: float) -> BlocklistStorage:
    """The blocklist storage ``uri`` names, its every call bounded by ``timeout`` seconds."""
    scheme = scheme_of(uri)
    if scheme == "memory":
        from .memory import MemoryBlocklist

        return MemoryBlocklist()
    if scheme == "sqlite":
        from .sqlite import SQLiteBlocklist

        return SQLiteBlocklist(file_path(uri), timeout=timeout)
    if scheme == "lmdb":
        raise ValueError(
            "lmdb:// holds RateLimitPolicy's windows only; a blocklist on one machine is "
            f"sqlite:///path/to/file (got {uri!r})"
        )
    from .redis import RedisBlocklist

    return RedisBlocklist(as_redis_url(uri), timeout=timeout)
