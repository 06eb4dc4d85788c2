"""The operator pages' defences, in process: the Host check, the security headers and cookies,
the limit on wrong passwords, the minimum password length, and JSON for every API error."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from example_app.operator import host_is_trusted, trusted_hosts
from example_app.settings import MIN_PASSWORD_LENGTH, ExampleSettings
from flask_friendcb import ConfigError
from flask_friendcb.testing import signed_client

from .conftest import ExampleService
from .services import RedisServer

BuildExample = Callable[..., ExampleService]
PASSWORD = "correct horse battery"


def client_of(service: ExampleService, remote: str = "127.0.0.1") -> FlaskClient:
    client = service.app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote
    return client


def csrf_token(client: FlaskClient, **kwargs: object) -> str:
    page = client.get("/", **kwargs).get_data(as_text=True)  # type: ignore[arg-type]
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page
    return match.group(1)


# -- Host ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:5000", "127.0.0.1:5000", "[::1]:8080", "[0:0::1]", "localhost."],
)
def test_loopback_names_are_trusted(example: BuildExample, host: str) -> None:
    response = client_of(example()).get("/api/stats", headers={"Host": host})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "localhost.attacker.example",
        "127.0.0.1.nip.io",
        "[::2]",
        "",
        "local host",
        "localhost:99999999",
        "evil.com@localhost",
    ],
)
@pytest.mark.parametrize("path", ["/", "/api/decisions", "/api/blocklist", "/events"])
def test_a_foreign_host_is_refused_before_anything_is_read(
    example: BuildExample, host: str, path: str
) -> None:
    response = client_of(example()).get(path, headers={"Host": host})
    assert response.status_code == 400
    assert "EXAMPLE_TRUSTED_HOSTS" in response.get_data(as_text=True)
    if path.startswith("/api/"):
        assert response.is_json


def test_a_foreign_host_cannot_change_the_blocklist(example: BuildExample) -> None:
    service = example()
    client = client_of(service)
    token = csrf_token(client)
    response = client.post(
        "/api/blocklist",
        json={"account": "eve"},
        headers={"X-CSRFToken": token, "Host": "rebound.attacker.example"},
    )
    assert response.status_code == 400
    assert service.blocklist.entries() == []


def test_configured_names_and_subdomains_are_trusted(example: BuildExample) -> None:
    service = example(EXAMPLE_TRUSTED_HOSTS="ops.example.com, .internal.example")
    client = client_of(service)
    for host in (
        "ops.example.com",
        "OPS.example.com:443",
        "a.internal.example",
        "internal.example",
    ):
        assert client.get("/api/stats", headers={"Host": host}).status_code == 200, host
    # A leading dot is a subdomain boundary: ".internal.example" is no suffix of any name.
    for host in (
        "example.com",
        "xops.example.com",
        "internal.example.org",
        "xinternal.example",
        "a.xinternal.example",
    ):
        assert client.get("/api/stats", headers={"Host": host}).status_code == 400, host


def test_the_bound_address_is_trusted() -> None:
    settings = ExampleSettings.from_config(
        {"EXAMPLE_HOST": "192.0.2.10", "EXAMPLE_PASSWORD": PASSWORD}
    )
    assert host_is_trusted("192.0.2.10:5000", trusted_hosts(settings))
    assert not host_is_trusted("192.0.2.11:5000", trusted_hosts(settings))
    # Bound to every address: only the names given are known.
    everywhere = "0.0.0.0"  # noqa: S104
    anywhere = ExampleSettings.from_config(
        {"EXAMPLE_HOST": everywhere, "EXAMPLE_PASSWORD": PASSWORD}
    )
    assert not host_is_trusted(everywhere, trusted_hosts(anywhere))


def test_the_callback_answers_any_host_without_redirect(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD)
    client = signed_client(service.app)
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    response = client.callback(headers={"Host": "im.customer.example"})
    assert response.status_code == 200
    assert response.json["ActionStatus"] == "OK"
    assert "Location" not in response.headers


# -- headers and cookies ---------------------------------------------------------------------


def test_the_page_sends_csp_frame_nosniff_and_referrer_headers(example: BuildExample) -> None:
    response = client_of(example()).get("/")
    csp = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp
    assert directives["default-src"] == "'none'"
    # No <base> may re-point the page's scripts, fetch and the event stream reach this origin
    # only, and a form posts nowhere else.
    assert directives["base-uri"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # Nothing inline for the CSP to refuse.
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page
    assert not re.search(r"\son[a-z]+=|\sstyle=", page)


@pytest.mark.parametrize(("https", "secure"), [(False, False), (True, True)])
def test_the_session_cookie_is_samesite_and_secure_behind_https(
    example: BuildExample, https: bool, secure: bool
) -> None:
    response = client_of(example(EXAMPLE_HTTPS=https)).get("/")
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie
    assert "HttpOnly" in cookie
    assert ("Secure" in cookie) is secure
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: never


def test_no_https_redirect_by_default(example: BuildExample) -> None:
    response = client_of(example()).get("/", base_url="http://localhost")
    assert response.status_code == 200


# -- passwords -------------------------------------------------------------------------------


def test_wrong_passwords_are_limited_per_client_and_logged(
    example: BuildExample, caplog: pytest.LogCaptureFixture
) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD, EXAMPLE_LOGIN_LIMIT="3/minute")
    guesser = client_of(service, "192.0.2.7")
    other = client_of(service, "192.0.2.8")
    with caplog.at_level(logging.WARNING, logger="example_app"):
        # Asking without credentials (a browser's first request) is not a guess.
        for _ in range(5):
            assert guesser.get("/api/stats").status_code == 401
        for n in range(3):
            assert guesser.get("/api/stats", auth=("op", f"guess-{n}")).status_code == 401
        refused = guesser.get("/api/stats", auth=("op", "guess-3"))
        assert refused.status_code == 429
        assert refused.is_json
        assert "Retry-After" in refused.headers or "X-RateLimit-Reset" in refused.headers
        # Locked out even with the right password, until the window passes ...
        assert guesser.get("/api/stats", auth=("op", PASSWORD)).status_code == 429
        assert guesser.get("/", auth=("op", PASSWORD)).status_code == 429
    # ... while another client is not.
    assert other.get("/api/stats", auth=("op", PASSWORD)).status_code == 200
    log = caplog.text
    assert log.count("wrong password from 192.0.2.7") == 3
    assert "too many wrong passwords from 192.0.2.7" in log
    assert "guess-" not in log
    assert PASSWORD not in log


def test_with_redis_wrong_passwords_count_across_instances_and_outlive_an_outage(
    example: BuildExample, redis_url: str, redis_server: RedisServer
) -> None:
    settings = {
        "EXAMPLE_PASSWORD": PASSWORD,
        "EXAMPLE_LOGIN_LIMIT": "3/minute",
        "EXAMPLE_REDIS_URL": redis_url,
    }
    one, two = example(**settings), example(**settings)
    first, second = client_of(one, "192.0.2.9"), client_of(two, "192.0.2.9")
    # Two guesses at one instance and one at the other use up the whole allowance ...
    assert first.get("/api/stats", auth=("op", "guess-0")).status_code == 401
    assert first.get("/api/stats", auth=("op", "guess-1")).status_code == 401
    assert second.get("/api/stats", auth=("op", "guess-2")).status_code == 401
    # ... so both refuse the next, even with the right password.
    assert second.get("/api/stats", auth=("op", "guess-3")).status_code == 429
    assert first.get("/api/stats", auth=("op", PASSWORD)).status_code == 429
    # Redis down: each process counts alone, in memory, and the page still answers (no 500).
    redis_server.stop()
    try:
        other = client_of(one, "192.0.2.10")
        assert other.get("/api/stats", auth=("op", PASSWORD)).status_code == 200
        for n in range(3):
            assert other.get("/api/stats", auth=("op", f"guess-{n}")).status_code == 401
        assert other.get("/api/stats", auth=("op", "guess-3")).status_code == 429
    finally:
        redis_server.start()


def test_the_right_password_is_never_counted(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD, EXAMPLE_LOGIN_LIMIT="2/minute")
    client = client_of(service, "192.0.2.7")
    for _ in range(10):
        assert client.get("/api/stats", auth=("op", PASSWORD)).status_code == 200


def test_a_short_password_is_refused_at_start() -> None:
    short = "x" * (MIN_PASSWORD_LENGTH - 1)
    with pytest.raises(ConfigError, match=r"^EXAMPLE_PASSWORD: must be at least 12 characters"):
        ExampleSettings.from_config({"EXAMPLE_PASSWORD": short})
    assert ExampleSettings.from_config({"EXAMPLE_PASSWORD": short + "x"}).password


@pytest.mark.parametrize(
    ("key", "value"),
    [("EXAMPLE_LOGIN_LIMIT", "often"), ("EXAMPLE_HTTPS", "maybe"), ("EXAMPLE_TRUSTED_HOSTS", 5)],
)
def test_invalid_hardening_settings_name_their_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{key}"):
        ExampleSettings.from_config({key: value})


# -- JSON errors -----------------------------------------------------------------------------


def test_every_api_error_is_json(example: BuildExample) -> None:
    service = example()
    client = client_of(service)
    token = {"X-CSRFToken": csrf_token(client)}
    answers = {
        "unknown path": client.get("/api/nothing-here"),
        "wrong method": client.put("/api/blocklist", headers=token),
        "bad query": client.get("/api/decisions?before=x"),
        "bad body": client.post("/api/blocklist", data=b"{", headers=token),
        "no csrf": client.post("/api/blocklist", json={"account": "a"}),
        "not listed": client.delete("/api/blocklist", json={"account": "a"}, headers=token),
        "not loopback": client_of(service, "192.0.2.1").get("/api/stats"),
    }
    for what, response in answers.items():
        assert response.status_code >= 400, what
        assert response.is_json, (what, response.get_data(as_text=True))
        assert isinstance(response.json["error"], str), what
    assert answers["wrong method"].status_code == 405
    assert "GET" in answers["wrong method"].headers["Allow"]


def test_errors_outside_the_api_stay_as_they_were(example: BuildExample) -> None:
    client = client_of(example())
    assert not client.get("/nothing-here").is_json
    assert client.get("/nothing-here").status_code == 404
