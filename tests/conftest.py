"""Shared fixtures: a frozen clock, apps built both ways, and a way to call either alike."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from werkzeug.serving import make_server
from werkzeug.test import Client

from devtools.apps import example_config, flask_app, middleware
from devtools.apps import other_app as other_app
from devtools.signing import NOW as NOW
from devtools.signing import OLD_TOKEN as OLD_TOKEN
from devtools.signing import PATH, SDKAPPID, TOKEN, FrozenClock
from example_app import create_app, get_service
from example_app.policies import get_policies
from example_app.store import Store
from flask_friendcb import HookRegistry
from flask_friendcb.policies import BlocklistPolicy
from flask_friendcb.testing import (
    SAMPLE_REQUEST,
    callback_query,
    friend_add_body,
    friend_response_body,
    signed_client,
)

# The suite-wide rule: under CI (tests/ci.py says what counts), a skipped test is a failure.
# Hooks imported into a conftest are registered like those defined in it.
from .ci import in_ci, pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

# Property-based tests run a few dozen examples in `make test` (derandomized when CI is set,
# so CI is deterministic) and thousands in `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True, database=None)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))

# Real Redis and PostgreSQL servers: redis_server, redis_url, postgres_server, postgres_url.
pytest_plugins = ["tests.services"]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """One way of serving the callback (blueprint or middleware, in process or over HTTP),
    called the same way whichever it is."""

    kind: str
    wsgi: Any
    hooks: HookRegistry
    clock: FrozenClock
    base_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def query(self, token: str | None = TOKEN, **overrides: Any) -> str:
        params = {key: str(value) for key, value in overrides.items()}
        return callback_query(SDKAPPID, token=token, request_time=int(self.clock()), **params)

    def post(
        self,
        body: Any = None,
        query: str | None = None,
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        path: str = PATH,
    ) -> Answer:
        if body is None:
            body = SAMPLE_REQUEST
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        query = self.query() if query is None else query
        url = f"{path}?{query}" if query else path
        headers = {"Content-Type": "application/json", **(headers or {})}
        if self.base_url is None:
            response = Client(self.wsgi).open(url, method=method, data=data, headers=headers)
            return Answer(response.status_code, dict(response.headers), response.get_data())
        host, port = self.base_url.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request(method, url, body=data, headers=headers)
            reply = connection.getresponse()
            return Answer(reply.status, dict(reply.getheaders()), reply.read())
        finally:
            connection.close()


def build_receiver(kind: str, clock: FrozenClock, **settings: Any) -> Receiver:
    """``kind`` is "blueprint" or "middleware"; ``settings`` are lower-case setting names."""
    if kind == "blueprint":
        app, blueprint = flask_app(
            FRIENDCB_CLOCK=clock, **{f"FRIENDCB_{key.upper()}": v for key, v in settings.items()}
        )
        return Receiver(kind, app, blueprint.hooks, clock, extra={"app": app})
    wrapped = middleware(clock=clock, **settings)
    return Receiver(kind, wrapped, wrapped.hooks, clock)


@pytest.fixture(params=["blueprint", "middleware"])
def receiver(request: pytest.FixtureRequest, clock: FrozenClock) -> Receiver:
    """The callback served in process, once by each adapter."""
    return build_receiver(request.param, clock)


@contextlib.contextmanager
def serving(wsgi_app: Any) -> Iterator[str]:
    """Serve ``wsgi_app`` with Werkzeug's threaded server on a free loopback port; yields
    "127.0.0.1:port" and stops the server afterwards."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(params=["blueprint", "middleware"])
def served_receiver(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[Receiver]:
    """The callback served by a real server on loopback, once by each adapter."""
    receiver = build_receiver(request.param, clock)
    with serving(receiver.wsgi) as base_url:
        receiver.base_url = base_url
        yield receiver


@dataclass
class ExampleService:
    """example_app built for a test: its own database, the frozen clock, a signing client."""

    app: Flask
    clock: FrozenClock
    database: str

    @property
    def store(self) -> Store:
        return get_service(self.app).store

    @property
    def blocklist(self) -> BlocklistPolicy:
        return get_policies(self.app).blocklist

    def callback(self, from_account: str, *items: Any) -> list[tuple[int, str]]:
        """Send one signed callback; each item's (ResultCode, ResultInfo)."""
        response = signed_client(self.app).callback(
            friend_response_body(from_account, list(items), event_time_ms=int(self.clock() * 1000))
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return [(item["ResultCode"], item["ResultInfo"]) for item in response.json["ResultItem"]]

    def codes(self, from_account: str, *items: Any) -> list[int]:
        return [code for code, _ in self.callback(from_account, *items)]

    def request(self, from_account: str, *items: Any) -> list[tuple[int, str]]:
        """Send one signed friend-request callback (``Sns.CallbackPrevFriendAdd``); each
        item's (ResultCode, ResultInfo)."""
        response = signed_client(self.app).callback(
            friend_add_body(from_account, list(items), event_time_ms=int(self.clock() * 1000))
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return [(item["ResultCode"], item["ResultInfo"]) for item in response.json["ResultItem"]]

    def request_codes(self, from_account: str, *items: Any) -> list[int]:
        return [code for code, _ in self.request(from_account, *items)]

    def after(self, body: dict[str, Any]) -> None:
        """Send one signed after-callback (a ``friend_added_body(...)``, say); Tencent's
        answer to it is always OK."""
        response = signed_client(self.app).callback(body)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


@pytest.fixture
def example(tmp_path: Any, clock: FrozenClock) -> Iterator[Callable[..., ExampleService]]:
    """Builds example_app on a fresh database with the frozen clock; ``config`` adds keys.
    Every app built shares the database, like a restarted service or another worker."""
    built: list[ExampleService] = []

    def build(**config: Any) -> ExampleService:
        database = str(tmp_path / "example.sqlite3")
        app = create_app(example_config(database, FRIENDCB_CLOCK=clock, **config))
        built.append(ExampleService(app, clock, database))
        return built[-1]

    yield build
    for service in built:
        service.store.close()
