"""The callback inside host apps whose app-wide code runs before it (docs/deploying.md): a
Flask-Login style guard, Flask-WTF's CSRF protection, Flask-Talisman behind a TLS proxy, a
before_request that reads the body, and the host's MAX_CONTENT_LENGTH. Each test shows what
goes wrong, then the fix."""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Blueprint, Flask, request
from flask_login import LoginManager, UserMixin, current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder

from flask_friendcb import ConfigError, FriendCallbackBlueprint
from flask_friendcb.blueprint import is_callback_endpoint
from flask_friendcb.testing import callback_query, friend_response_body, signed_client

from .conftest import SDKAPPID, TOKEN, FrozenClock, serving

BODY = friend_response_body("bob", ["alice"])


def host_app(clock: FrozenClock, **config: Any) -> Flask:
    app = Flask("guarded_host")
    app.config.update(
        FRIENDCB_SDKAPPID=int(SDKAPPID), FRIENDCB_TOKEN=TOKEN, FRIENDCB_CLOCK=clock, **config
    )
    return app


# -- an app-wide login guard (Flask-Login) -----------------------------------------------------


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def with_login_guard(app: Flask, public: Callable[[str | None], bool]) -> list[str | None]:
    """Flask-Login's LoginManager and the usual app-wide guard: every endpoint needs a
    logged-in user unless ``public(request.endpoint)``; returns the endpoints it saw."""
    login_manager = LoginManager(app)
    login_manager.user_loader(lambda user_id: None)  # nobody is logged in here
    seen: list[str | None] = []

    @app.before_request
    def require_login() -> Any:
        seen.append(request.endpoint)
        if public(request.endpoint) or current_user.is_authenticated:
            return None
        return login_manager.unauthorized()  # 401 (or a redirect to login_view)

    return seen


# How the blueprint is registered, and the endpoint its callback route gets.
REGISTRATIONS: list[tuple[str, str, str]] = [
    ("plain", "/im/callback", "friendcb.callback"),
    ("nested", "/api/im/callback", "api.friendcb.callback"),
    ("renamed", "/tencent/callback", "tencent.callback"),
    ("nested-renamed", "/api/tencent/callback", "api.tencent.callback"),
]


def register(app: Flask, how: str) -> None:
    friendcb = FriendCallbackBlueprint()
    if how == "plain":
        app.register_blueprint(friendcb, url_prefix="/im")
    elif how == "renamed":
        app.register_blueprint(friendcb, url_prefix="/tencent", name="tencent")
    else:
        parent = Blueprint("api", __name__)
        if how == "nested":
            parent.register_blueprint(friendcb, url_prefix="/im")
        else:
            parent.register_blueprint(friendcb, url_prefix="/tencent", name="tencent")
        app.register_blueprint(parent, url_prefix="/api")


@pytest.mark.parametrize(("how", "path", "endpoint"), REGISTRATIONS)
def test_a_login_guard_refuses_tencent_until_it_skips_the_endpoint(
    clock: FrozenClock, how: str, path: str, endpoint: str
) -> None:
    app = host_app(clock)
    register(app, how)
    seen = with_login_guard(app, public=lambda name: name == "login")
    refused = signed_client(app).callback(BODY, path=path)
    # The problem: Flask-Login's HTML 401, which Tencent takes as "no callback".
    assert refused.status_code == 401
    assert refused.mimetype == "text/html"
    assert seen == [endpoint]  # the exact name the guard must skip

    for public in (lambda name: name == endpoint, is_callback_endpoint):
        fixed = host_app(clock)
        register(fixed, how)
        with_login_guard(fixed, public=public)
        answer = signed_client(fixed).callback(BODY, path=path)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.json["ResultItem"][0]["ResultCode"] == 0
        # Skipping the guard does not skip authentication: the Sign still decides.
        forged = signed_client(fixed).callback(BODY, path=path, token="forged")
        assert (forged.status_code, forged.json["ErrorCode"]) == (401, 38902)


def test_is_callback_endpoint_names_the_callback_only(clock: FrozenClock) -> None:
    app = host_app(clock)
    register(app, "plain")

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    with app.app_context():
        assert is_callback_endpoint("friendcb.callback")
        assert not is_callback_endpoint("hello")
        assert not is_callback_endpoint("static")
        assert not is_callback_endpoint(None)
        assert not is_callback_endpoint("callback")  # a look-alike name is not enough
    assert is_callback_endpoint("friendcb.callback", app)


def test_a_logged_in_user_and_the_rest_of_the_app_keep_the_guard(clock: FrozenClock) -> None:
    app = host_app(clock)
    register(app, "plain")
    with_login_guard(app, public=is_callback_endpoint)

    @app.get("/private")
    def private() -> str:
        return "secret"

    assert app.test_client().get("/private").status_code == 401
    with serving(app) as base_url:
        host, port = base_url.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            query = callback_query(SDKAPPID, token=TOKEN, request_time=int(clock()))
            connection.request(
                "POST",
                f"/im/callback?{query}",
                body=json.dumps(BODY),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["ActionStatus"] == "OK"
        finally:
            connection.close()


# -- Flask-WTF's CSRFProtect --------------------------------------------------------------------


@pytest.mark.parametrize("order", ["csrf-first", "csrf-after"])
def test_csrf_protection_skips_the_callback_unless_opted_out(
    clock: FrozenClock, order: str
) -> None:
    answers = {}
    for exempt in (True, False):
        app = host_app(clock, SECRET_KEY="host secret", FRIENDCB_CSRF_EXEMPT=exempt)
        if order == "csrf-first":
            CSRFProtect(app)
        register(app, "plain")
        if order == "csrf-after":
            CSRFProtect(app)

        @app.post("/form")
        def form() -> str:
            return "posted"

        answers[exempt] = signed_client(app).callback(BODY)
        # The host's own forms stay protected either way.
        assert app.test_client().post("/form").status_code == 400
    assert answers[True].status_code == 200
    assert answers[True].json["ResultItem"][0]["ResultCode"] == 0
    # Opted out: Flask-WTF's own refusal (Tencent sends no CSRF token).
    assert answers[False].status_code == 400
    assert "CSRF" in answers[False].get_data(as_text=True)


def test_a_bad_csrf_opt_out_value_names_its_key(clock: FrozenClock) -> None:
    with pytest.raises(ConfigError, match=r"^FRIENDCB_CSRF_EXEMPT: must be True or False"):
        register(host_app(clock, FRIENDCB_CSRF_EXEMPT="perhaps"), "plain")


# -- Flask-Talisman behind a TLS proxy ---------------------------------------------------------


def talisman_app(clock: FrozenClock, proxies: int | None) -> Flask:
    app = host_app(clock)
    register(app, "plain")
    Talisman(app, force_https=True, content_security_policy=None)
    if proxies is not None:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=proxies)  # type: ignore[method-assign]
    return app


def post_through(base_url: str, clock: FrozenClock, headers: dict[str, str]) -> Any:
    host, port = base_url.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        query = callback_query(SDKAPPID, token=TOKEN, request_time=int(clock()))
        connection.request(
            "POST",
            f"/im/callback?{query}",
            body=json.dumps(BODY),
            headers={"Content-Type": "application/json", **headers},
        )
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_talisman_redirects_a_callback_the_proxy_does_not_mark_as_https(
    clock: FrozenClock,
) -> None:
    # The TLS proxy forwards over plain HTTP and says nothing: Talisman answers 302 to
    # https://, which Tencent does not follow (and a POST would not survive).
    with serving(talisman_app(clock, proxies=None)) as base_url:
        response = post_through(base_url, clock, {})
    assert response.status == 302
    assert response.getheader("Location").startswith("https://")


@pytest.mark.parametrize(
    ("forwarded_proto", "proxies"),
    [
        ("https", 1),  # one proxy: nginx's proxy_set_header X-Forwarded-Proto $scheme
        ("https, https", 2),  # a load balancer, then nginx appending
    ],
)
def test_talisman_behind_a_tls_proxy_with_proxy_fix(
    clock: FrozenClock, forwarded_proto: str, proxies: int
) -> None:
    headers = {"X-Forwarded-Proto": forwarded_proto}
    with serving(talisman_app(clock, proxies=proxies)) as base_url:
        response = post_through(base_url, clock, headers)
    assert response.status == 200
    # Flask itself now sees HTTPS (request.is_secure), so Talisman adds HSTS.
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")


def test_talisman_alone_misreads_a_list_of_proxies(clock: FrozenClock) -> None:
    # Talisman reads X-Forwarded-Proto itself, but only an exact "https": with two proxies
    # the header is a list, and the callback is redirected without ProxyFix.
    with serving(talisman_app(clock, proxies=None)) as base_url:
        assert post_through(base_url, clock, {"X-Forwarded-Proto": "https"}).status == 200
        assert post_through(base_url, clock, {"X-Forwarded-Proto": "https, https"}).status == 302


# -- a before_request that reads the body; the host's MAX_CONTENT_LENGTH ------------------------


class CountingInput(io.RawIOBase):
    """A wsgi.input that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def call(app: Flask, body: bytes, token: str = TOKEN, clock: FrozenClock | None = None) -> Any:
    """Call ``app`` as a server would; (status, body, bytes read from wsgi.input)."""
    request_time = int(clock()) if clock is not None else 0
    builder = EnvironBuilder(
        path="/im/callback",
        method="POST",
        query_string=callback_query(SDKAPPID, token=token, request_time=request_time),
        data=body,
        content_type="application/json",
    )
    environ = builder.get_environ()
    stream = CountingInput(body)
    environ["wsgi.input"] = stream
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    chunks: Iterable[bytes] = app(environ, start_response)
    answer = b"".join(chunks)
    return int(statuses[0].split()[0]), answer, stream.bytes_read


def reading_app(clock: FrozenClock, skip_callback: bool, **config: Any) -> Flask:
    app = host_app(clock, **config)
    register(app, "plain")

    @app.before_request
    def audit_every_body() -> None:
        # A host's app-wide hook that looks at every JSON body (auditing, a WAF, ...).
        if skip_callback and is_callback_endpoint(request.endpoint):
            return
        request.get_json(silent=True)

    return app


def test_a_body_reading_before_request_reads_forged_bodies(clock: FrozenClock) -> None:
    body = json.dumps(friend_response_body("bob", [f"user{i}" for i in range(900)])).encode()
    status, answer, read = call(reading_app(clock, skip_callback=False), body, "forged", clock)
    # Still refused, but only after the host read every byte a forger sent.
    assert (status, json.loads(answer)["ErrorCode"]) == (401, 38902)
    assert read == len(body)
    status, answer, read = call(reading_app(clock, skip_callback=True), body, "forged", clock)
    assert (status, json.loads(answer)["ErrorCode"]) == (401, 38902)
    assert read == 0  # refused from its query, the body unread
    # Genuine callbacks are answered either way.
    for skip in (False, True):
        status, answer, _ = call(reading_app(clock, skip_callback=skip), body, TOKEN, clock)
        assert status == 200
        assert len(json.loads(answer)["ResultItem"]) == 900


def test_the_hosts_max_content_length_and_a_body_reading_before_request(
    clock: FrozenClock,
) -> None:
    body = json.dumps(friend_response_body("bob", [f"user{i}" for i in range(100)])).encode()
    assert len(body) > 2048
    # Alone, the host's limit does not apply to the callback: FRIENDCB_MAX_CONTENT_LENGTH does.
    alone = host_app(clock, MAX_CONTENT_LENGTH=2048)
    register(alone, "plain")
    status, _, _ = call(alone, body, TOKEN, clock)
    assert status == 200
    # Read by the host's before_request, the body meets the host's limit first: Flask's HTML
    # 413, and Tencent lets every item through unchecked.
    status, answer, read = call(
        reading_app(clock, skip_callback=False, MAX_CONTENT_LENGTH=2048), body, TOKEN, clock
    )
    assert status == 413
    assert not answer.startswith(b"{")
    assert read == 0
    # The fix: the before_request skips the callback endpoint.
    status, answer, _ = call(
        reading_app(clock, skip_callback=True, MAX_CONTENT_LENGTH=2048), body, TOKEN, clock
    )
    assert status == 200
    assert len(json.loads(answer)["ResultItem"]) == 100
