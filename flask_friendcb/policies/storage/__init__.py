"""Where the policies keep their state, chosen by URI as in ``limits.storage``.

============================ =============================================================
URI                          storage
============================ =============================================================
``memory://``                this process only
``sqlite:///path/to/file``   the processes of one machine (a file; ``sqlite:///:memory:``
                             is one process)
``redis://``, ``rediss://``  many machines, through redis-py (extra ``[redis]``)
``valkey://``, ``valkeys://`` Valkey, which speaks Redis' protocol, through the same client
============================ =============================================================
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import BlocklistEntry, BlocklistStorage

REDIS_SCHEMES = frozenset({"redis", "rediss", "valkey", "valkeys"})
SCHEMES = frozenset({"memory", "sqlite"}) | REDIS_SCHEMES

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


def sqlite_path(uri: str) -> str:
    """The file of a ``sqlite:///path`` URI (three slashes, then the path)."""
    path = uri.split("://", 1)[1]
    if not path.startswith("/") or path == "/":
        raise ValueError(f"a SQLite storage URI is sqlite:///path/to/file, got {uri!r}")
    # sqlite:////abs/path and sqlite:///relative/path, as SQLAlchemy reads them.
    path = path[1:]
    return path or ":memory:"


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

        return SQLiteBlocklist(sqlite_path(uri), timeout=timeout)
    from .redis import RedisBlocklist

    return RedisBlocklist(as_redis_url(uri), timeout=timeout)
