"""The real servers behind the storage tests start, answer, stop and come back."""

from __future__ import annotations

import subprocess

import pytest

from tests.services import PostgresServer, RedisServer


def test_redis_answers_and_survives_a_restart(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == redis_server.url
    redis_server.command("SET", "key", "value")
    assert redis_server.command("GET", "key") == "value"
    redis_server.stop()
    with pytest.raises(subprocess.CalledProcessError):
        redis_server.command("PING")
    redis_server.start()
    assert redis_server.command("PING") == "PONG"
    # No persistence: an outage loses what was in memory, as a real crash would.
    assert redis_server.command("GET", "key") == ""


def test_postgres_gives_each_test_its_own_database(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    postgres_server.sql("CREATE TABLE t (n integer)", name)
    postgres_server.sql("INSERT INTO t VALUES (41), (1)", name)
    assert postgres_server.sql("SELECT sum(n) FROM t", name) == "42"
    assert postgres_server.sql("SHOW server_version_num").startswith("15")
    assert postgres_url != postgres_server.new_database()


def test_postgres_stops_and_starts_with_its_data(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    postgres_server.sql("CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)", name)
    postgres_server.stop()
    with pytest.raises(subprocess.CalledProcessError):
        postgres_server.sql("SELECT 1")
    postgres_server.start()
    assert postgres_server.sql("SELECT n FROM kept", name) == "7"
