"""Real Redis and PostgreSQL servers for the tests that claim their behaviour.

Each is Debian's own server (``redis-server``; PostgreSQL 15 from ``postgresql-15``), started in
a temporary folder on a free loopback port and stopped afterwards; ``make services`` installs
them on a fresh machine. A test may stop and start a server (the same port and data) to play an
outage. A missing server fails the test that needs it, with the command that installs it: a
storage test that quietly skipped would claim behaviour nobody checked. The servers themselves
are :mod:`devtools.services`'s, which ``make chaos`` starts the same way.

Fixtures (registered by ``tests/conftest.py``):

- ``redis_server`` (session): the running :class:`RedisServer`;
  ``redis_url``: its URL, emptied (``FLUSHALL``) before each test.
- ``postgres_server`` (session): the running :class:`PostgresServer`;
  ``postgres_url``: a SQLAlchemy URL (``postgresql+psycopg://``) of a new, empty database for
  each test.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.services import PostgresServer, RedisServer

__all__ = [
    "PostgresServer",
    "RedisServer",
    "postgres_running",
    "postgres_server",
    "postgres_url",
    "redis_running",
    "redis_server",
    "redis_url",
]


@contextlib.contextmanager
def redis_running() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="friendcb-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def postgres_running() -> Iterator[PostgresServer]:
    with tempfile.TemporaryDirectory(prefix="friendcb-pg-") as folder:
        server = PostgresServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with redis_running() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.start()  # a test before may have stopped it
    redis_server.command("FLUSHALL")
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with postgres_running() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    postgres_server.start()  # a test before may have stopped it
    return postgres_server.new_database()
