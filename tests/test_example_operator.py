"""The operator's pages in process: access control, CSRF, the JSON API, the event stream."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from example_app import PolicyCode, audit_log
from example_app.operator import STATS_WINDOW_MS, stream
from example_app.service import get_service
from flask_friendcb.testing import response_item, signed_client

from .conftest import TOKEN, ExampleService

BuildExample = Callable[..., ExampleService]
PACKAGE = Path(__file__).resolve().parent.parent / "example_app"


def operator_client(service: ExampleService, remote: str = "127.0.0.1") -> FlaskClient:
    client = service.app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote
    return client


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page
    return match.group(1)


def parse_events(chunks: list[str]) -> list[tuple[str | None, str, object]]:
    """(id, event, data) of each event in a Server-Sent Events text."""
    events = []
    for block in "".join(chunks).split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return events


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/decisions", "/api/stats", "/api/blocklist", "/events"])
def test_without_a_password_only_loopback_clients_get_in(example: BuildExample, path: str) -> None:
    service = example()
    assert operator_client(service, "127.0.0.1").get(path, buffered=False).status_code == 200
    assert operator_client(service, "::1").get(path, buffered=False).status_code == 200
    refused = operator_client(service, "192.0.2.7").get(path)
    assert refused.status_code == 403
    assert "EXAMPLE_PASSWORD" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    "header", [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9")]
)
def test_without_a_password_a_request_through_a_proxy_is_refused(
    example: BuildExample, header: tuple[str, str]
) -> None:
    service = example()
    refused = operator_client(service, "127.0.0.1").get("/", headers=[header])
    assert refused.status_code == 403


def test_with_a_password_every_client_needs_it(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD="correct horse")
    for remote in ("127.0.0.1", "192.0.2.7"):
        client = operator_client(service, remote)
        refused = client.get("/")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic ")
        assert "correct horse" not in refused.get_data(as_text=True)
        assert client.get("/", auth=("operator", "wrong")).status_code == 401
        assert client.get("/", auth=("anyone", "correct horse")).status_code == 200
        assert client.get("/events", auth=("x", "correct horse"), buffered=False).status_code == 200


def test_the_callback_route_needs_no_password_and_no_csrf_token(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD="a long enough password")
    client = signed_client(service.app)
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    response = client.callback()
    assert response.status_code == 200
    assert response.json["ActionStatus"] == "OK"


def test_the_page_needs_nothing_from_elsewhere(example: BuildExample) -> None:
    client = operator_client(example())
    page = client.get("/").get_data(as_text=True)
    assets = [page] + [path.read_text(encoding="utf-8") for path in (PACKAGE / "static").iterdir()]
    for text in assets:
        # The SVG namespace is a name, never fetched.
        text = text.replace('"http://www.w3.org/2000/svg"', "")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE)
        assert "@import" not in text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        if url.startswith("#"):  # a place on the page itself
            assert f'id="{url[1:]}"' in page, url
            continue
        assert url.startswith("/"), url
        with client.get(url) as response:
            assert response.status_code == 200


# -- blocklist -------------------------------------------------------------------------------


def test_blocking_needs_the_pages_csrf_token(example: BuildExample) -> None:
    service = example()
    client = operator_client(service)
    refused = client.post("/api/blocklist", json={"account": "eve"})
    assert refused.status_code == 400
    assert "CSRF" in refused.json["error"]
    assert service.blocklist.entries() == []

    headers = {"X-CSRFToken": csrf_token(client)}
    created = client.post(
        "/api/blocklist", json={"account": "eve", "reason": "spam"}, headers=headers
    )
    assert created.status_code == 201
    assert created.json == {"account": "eve", "reason": "spam", "added_at_ms": 1_700_000_000_000}
    assert client.get("/api/blocklist").json == {"blocklist": [created.json]}
    assert service.codes("eve", "bob") == [PolicyCode.BLOCKLISTED]
    # Blocked already: kept as it is, and said so (as the CLI's blocklist add), unless replaced.
    again = {"account": "eve", "reason": "other"}
    kept = client.post("/api/blocklist", json=again, headers=headers)
    assert (kept.status_code, kept.json) == (200, {**created.json, "already_blocked": True})
    replaced = client.post("/api/blocklist", json={**again, "replace": True}, headers=headers)
    assert (replaced.status_code, replaced.json["reason"]) == (201, "other")
    assert client.get("/api/blocklist").json == {"blocklist": [replaced.json]}

    eve = {"account": "eve"}
    assert client.delete("/api/blocklist", json=eve).status_code == 400  # no token
    assert client.delete("/api/blocklist", json=eve, headers=headers).status_code == 200
    assert client.delete("/api/blocklist", json=eve, headers=headers).status_code == 404
    assert service.codes("eve", "bob") == [0]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"account": ""},
        {"account": "a" * 33},
        {"account": "\ud800"},
        {"account": "eve", "reason": "\udfff"},
        {"account": "好" * 11},
        {"account": 7},
        {"account": "eve", "reason": "r" * 201},
    ],
)
def test_invalid_blocklist_entries_are_refused(example: BuildExample, body: object) -> None:
    service = example()
    client = operator_client(service)
    response = client.post("/api/blocklist", json=body, headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 400
    assert response.json["error"] == "invalid request"
    assert service.blocklist.entries() == []


def test_blocking_again_keeps_the_reason_unless_told_to_replace_it(example: BuildExample) -> None:
    service = example()
    client = operator_client(service)
    headers = {"X-CSRFToken": csrf_token(client)}
    client.post("/api/blocklist", json={"account": "eve", "reason": "one"}, headers=headers)
    client.post("/api/blocklist", json={"account": "eve", "reason": "two"}, headers=headers)
    assert [(e.account, e.reason) for e in service.blocklist.entries()] == [("eve", "one")]
    body = {"account": "eve", "reason": "three", "replace": True}
    client.post("/api/blocklist", json=body, headers=headers)
    assert [(e.account, e.reason) for e in service.blocklist.entries()] == [("eve", "three")]


# -- decisions and counters ------------------------------------------------------------------


def test_decisions_are_listed_newest_first_and_filtered(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("eve", "")
    service.callback("alice", "bob", "eve")
    service.callback("carol", response_item("alice", "Response_Action_Reject"))
    client = operator_client(service)

    def listed(**query: str) -> list[tuple[str, str]]:
        answer = client.get("/api/decisions", query_string=query).json
        assert answer["last_id"] == 3
        return [(row["from_account"], row["to_account"]) for row in answer["decisions"]]

    assert listed() == [("carol", "alice"), ("alice", "eve"), ("alice", "bob")]
    assert listed(decision="blocked") == [("alice", "eve")]
    assert listed(decision="allowed") == [("carol", "alice"), ("alice", "bob")]
    assert listed(q="alice") == [("carol", "alice"), ("alice", "eve"), ("alice", "bob")]
    assert listed(q="bob") == [("alice", "bob")]
    assert listed(q="eve", decision="allowed") == []
    assert listed(q="ARO") == [("carol", "alice")]  # parts of accounts, in any case
    assert client.get("/api/decisions?decision=maybe").status_code == 400

    row = client.get("/api/decisions?decision=blocked").json["decisions"][0]
    assert row["blocked"] is True
    assert (row["policy"], row["result_code"]) == ("blocklist", PolicyCode.BLOCKLISTED)


def test_an_account_search_is_paged_in_bounded_slices(
    example: BuildExample, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no index for it (SQLite), a search reads a slice of ids at a time and stops on its
    time budget: a page that is not full says so and the next one goes on, until every match
    has been seen exactly once, in order."""
    service = example()
    for number in range(30):
        service.callback(f"user{number}", "match" if number % 4 == 0 else "other")
    monkeypatch.setattr(audit_log, "SEARCH_SLICE_IDS", 5)
    monkeypatch.setattr(audit_log, "SEARCH_BUDGET_S", 0.0)
    client = operator_client(service)
    seen: list[str] = []
    pages = partial_pages = 0
    query: dict[str, str] = {"q": "MATCH"}
    while True:
        answer = client.get("/api/decisions", query_string=query).json
        pages += 1
        seen += [row["from_account"] for row in answer["decisions"]]
        partial_pages += answer["partial"]
        if answer["next_before"] is None:
            assert answer["partial"] is False
            break
        query["before"] = str(answer["next_before"])
        assert pages < 20
    assert seen == [f"user{n}" for n in range(28, -1, -4)]
    assert pages == 6  # 30 ids in slices of 5, one slice a page
    assert partial_pages == 5
    # Without a search the budget does not apply: one query, one full answer.
    answer = client.get("/api/decisions").json
    assert (len(answer["decisions"]), answer["partial"]) == (30, False)


def test_the_counters_cover_the_last_hour(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT=1)
    service.callback("bob", "a", "b", response_item("c", "Response_Action_Reject"))
    service.clock.now += STATS_WINDOW_MS / 1000 - 1
    service.callback("carol", "d")
    service.request("carol", "e")
    client = operator_client(service)
    assert client.get("/api/stats").json == {
        "accepted": 2,
        "declined": 1,
        "requested": 1,
        "blocked": 1,
    }
    service.clock.now += 1  # the first callback is now an hour old
    assert client.get("/api/stats").json == {
        "accepted": 1,
        "declined": 0,
        "requested": 1,
        "blocked": 0,
    }


# -- the event stream ------------------------------------------------------------------------


def test_the_stream_sends_what_follows_the_given_id_then_the_counters(
    example: BuildExample,
) -> None:
    service = example()
    service.callback("alice", "bob")
    service.callback("mallory", response_item("x", remark="http://spam"), "y")
    events = parse_events(list(stream(get_service(service.app), 1, stop_after=0)))
    assert [(event_id, name) for event_id, name, _ in events] == [
        ("2", "decision"),
        ("3", "decision"),
        (None, "stats"),
    ]
    blocked = events[0][2]
    assert isinstance(blocked, dict)
    assert (blocked["to_account"], blocked["blocked"], blocked["policy"]) == ("x", True, "content")
    assert events[2][2] == {"accepted": 2, "declined": 0, "requested": 0, "blocked": 1}


def test_the_events_route_resumes_after_last_event_id(example: BuildExample) -> None:
    service = example()
    for name in ("a", "b", "c"):
        service.callback("alice", name)
    client = operator_client(service)

    def first_events(**kwargs: object) -> list[tuple[str | None, str, object]]:
        response = client.get("/events", buffered=False, **kwargs)  # type: ignore[arg-type]
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        chunks = []
        for chunk in response.response:
            chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
            if "event: stats" in chunks[-1]:
                break
        response.close()
        return parse_events(chunks)

    def ids(events: list[tuple[str | None, str, object]]) -> list[str | None]:
        return [event_id for event_id, name, _ in events if name == "decision"]

    assert ids(first_events()) == []  # from now on
    assert ids(first_events(query_string={"after": "1"})) == ["2", "3"]
    assert ids(first_events(query_string={"after": "1"}, headers={"Last-Event-ID": "2"})) == ["3"]
    assert ids(first_events(query_string={"after": "junk"})) == []


def test_the_token_never_reaches_the_page_or_the_api(example: BuildExample) -> None:
    service = example()
    service.callback("alice", "bob")
    client = operator_client(service)
    for path in ("/", "/api/decisions", "/api/stats", "/api/blocklist"):
        assert TOKEN not in client.get(path).get_data(as_text=True)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


def test_no_input_makes_the_operator_api_fail(example: BuildExample) -> None:
    service = example()
    service.callback("alice", "bob")
    client = operator_client(service)
    headers = {"X-CSRFToken": csrf_token(client)}

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=_JSON | st.fixed_dictionaries({"account": st.text(), "reason": st.text()}),
        raw=st.binary(max_size=64),
        text=st.text(max_size=40),
    )
    def check(body: object, raw: bytes, text: str) -> None:
        statuses = [
            client.post("/api/blocklist", json=body, headers=headers).status_code,
            client.post(
                "/api/blocklist", data=raw, headers=headers, content_type="application/json"
            ).status_code,
            client.get(
                "/api/decisions", query_string={"q": text, "decision": text, "before": text}
            ).status_code,
            client.delete("/api/blocklist", json=body, headers=headers).status_code,
            client.delete(
                "/api/blocklist", data=raw, headers=headers, content_type="application/json"
            ).status_code,
        ]
        with client.get(
            "/events",
            query_string={"after": text},
            headers={"Last-Event-ID": " ".join(text[:30].splitlines())},
            buffered=False,
        ) as response:
            statuses.append(response.status_code)
        assert all(status < 500 for status in statuses), statuses

    check()
