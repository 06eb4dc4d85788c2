"""The operator's pages: the live page, its JSON API, and its Server-Sent Events stream.

Without ``EXAMPLE_PASSWORD`` they answer loopback clients only; with it, HTTP Basic
authentication (any user name) guards them wherever the client is. Changes (the blocklist)
also need Flask-WTF's CSRF token, which the page sends in a header.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from flask_friendcb.policies import BlocklistEntry, PolicyStorageError

from .policies import current_policies
from .service import Service, current_service
from .settings import is_loopback

#: Seconds between two looks at the database for new decisions, per open live page.
POLL_SECONDS = 0.5
#: Seconds between two counter updates when nothing happens.
STATS_SECONDS = 15.0
#: Seconds a stream stays open. The browser then reconnects with ``Last-Event-ID`` and misses
#: nothing; a server restart or a worker recycle costs no more than that.
STREAM_SECONDS = 300.0
#: How far back the counters look.
STATS_WINDOW_MS = 3600 * 1000
#: Most rows the page shows, and the API returns.
MAX_ROWS = 200

operator = Blueprint(
    "operator",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/operator",
)


def _valid_account(account: str) -> None:
    # Tencent's UserIDs are at most 32 bytes.
    if (
        not account
        or len(account.encode("utf-8", "surrogatepass")) > 32
        or account != account.strip()
    ):
        raise ValidationError("an account is 1 to 32 bytes, without surrounding spaces")


class BlockSchema(Schema):
    """What the page sends to block an account."""

    class Meta:
        unknown = EXCLUDE

    account = fields.String(required=True, validate=_valid_account)
    reason = fields.String(load_default="", validate=validate.Length(max=200))


@operator.before_request
def guard() -> Response | None:
    """Loopback only without a password; HTTP Basic with one."""
    password = current_service().settings.password
    if password is None:
        # Behind a proxy on this machine every client comes from loopback: a forwarded request
        # is someone else's, whatever its address.
        forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
        if is_loopback(request.remote_addr) and not forwarded:
            return None
        abort(403, "the operator pages answer loopback clients only; set EXAMPLE_PASSWORD")
    given = request.authorization.password if request.authorization else None
    if given is not None and hmac.compare_digest(given.encode(), password.encode()):
        return None
    return Response(
        "the operator pages need the password (EXAMPLE_PASSWORD)\n",
        401,
        {"WWW-Authenticate": 'Basic realm="friendcb operator", charset="UTF-8"'},
        mimetype="text/plain",
    )


@operator.get("/")
def page() -> str:
    """The live page."""
    return render_template("operator.html", max_rows=MAX_ROWS)


@operator.get("/api/decisions")
def decisions() -> Response:
    """The latest decisions, filtered by ``account`` and ``decision`` (allowed, blocked), with
    ``last_id``: where the live stream should start."""
    store = current_service().store
    decision = request.args.get("decision", "all")
    if decision not in ("all", "allowed", "blocked"):
        abort(400, "decision must be all, allowed or blocked")
    # The id first, then the rows up to it: a decision written in between is not lost, it
    # comes with the stream.
    last_id = store.last_decision_id()
    rows = store.latest(
        account=request.args.get("account", "").strip() or None,
        blocked=None if decision == "all" else decision == "blocked",
        up_to=last_id,
        limit=MAX_ROWS,
    )
    return jsonify(decisions=[present(row) for row in rows], last_id=last_id)


@operator.get("/api/stats")
def stats() -> Response:
    """Accepted, declined and blocked items in the last hour."""
    return jsonify(_stats(current_service()))


@operator.get("/api/blocklist")
def blocklist() -> tuple[Response, int]:
    """Every blocked account."""
    try:
        entries = current_policies().blocklist.entries()
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    # The most recently blocked first, as the page shows them.
    entries.sort(key=lambda entry: entry.added_at, reverse=True)
    return jsonify(blocklist=[_entry(entry) for entry in entries]), 200


@operator.post("/api/blocklist")
def block() -> tuple[Response, int]:
    """Block an account, with a reason; it applies from the very next callback."""
    try:
        data = BlockSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return jsonify(error="invalid request", fields=error.messages), 400
    try:
        entry = current_policies().blocklist.add(data["account"], reason=data["reason"])
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    return jsonify(_entry(entry)), 201


@operator.delete("/api/blocklist/<path:account>")
def unblock(account: str) -> tuple[Response, int]:
    """Unblock an account."""
    try:
        removed = current_policies().blocklist.remove(account)
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    if not removed:
        return jsonify(error="not on the blocklist"), 404
    return jsonify(account=account), 200


def _entry(entry: BlocklistEntry) -> dict[str, Any]:
    return {
        "account": entry.account,
        "reason": entry.reason,
        "added_at_ms": int(entry.added_at.timestamp() * 1000),
    }


def _blocklist_unavailable(error: PolicyStorageError) -> tuple[Response, int]:
    # The operator's log gets the cause; the page only learns to try again.
    logging.getLogger("example_app").warning("the blocklist storage failed: %s", error)
    return jsonify(error="the blocklist is unavailable; try again"), 503


@operator.get("/events")
def events() -> Response:
    """Server-Sent Events: ``decision`` for each new decision (its ``id`` is the decision's),
    ``stats`` for the counters. Resumes after ``Last-Event-ID``, else after ``?after=``, else
    from now."""
    service = current_service()
    after = _event_id(request.headers.get("Last-Event-ID")) or _event_id(request.args.get("after"))
    if after is None:
        after = service.store.last_decision_id()
    return Response(
        stream(service, after),
        mimetype="text/event-stream",
        # Proxies (nginx) must pass every event on at once rather than buffer them.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def stream(service: Service, after: int, *, stop_after: float = STREAM_SECONDS) -> Iterator[str]:
    """The events after decision ``after``, for ``stop_after`` seconds.

    It polls the shared database rather than listening in memory: a decision made by any
    worker, or by ``flask friendcb send`` in another process, shows on every page.
    """
    started = time.monotonic()
    stats_due = 0.0
    yield "retry: 2000\n\n"
    while True:
        rows = service.store.since(after, limit=MAX_ROWS)
        for row in rows:
            after = row["id"]
            yield _event("decision", present(row), event_id=after)
        now = time.monotonic()
        if rows or now >= stats_due:
            yield _event("stats", _stats(service))
            stats_due = now + STATS_SECONDS
        else:
            # A comment line, which the browser ignores: writing is how a server learns that
            # the page was closed, and a stream nobody reads should not outlive it by long.
            yield ":\n\n"
        if now - started >= stop_after:
            return
        if len(rows) < MAX_ROWS:
            time.sleep(POLL_SECONDS)


def present(row: dict[str, Any]) -> dict[str, Any]:
    """A decision as the page shows it."""
    hook = row["hook"] or ""
    return {
        **row,
        "policy": hook.rsplit(".", 1)[-1],
        "blocked": row["result_code"] != 0,
    }


@operator.app_errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[Response, int]:
    """A change without the page's CSRF token: JSON, like the rest of the API."""
    return jsonify(error=error.description), 400


def _stats(service: Service) -> dict[str, int]:
    return service.store.stats(service.now_ms() - STATS_WINDOW_MS)


def _event(name: str, data: Any, *, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    # json.dumps escapes newlines, so the data is one line, as the format needs.
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _event_id(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None
