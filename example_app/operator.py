"""The operator's pages: the live page, its JSON API, and its Server-Sent Events stream.

Every request to them must name this service in its ``Host`` header (the bound address, the
loopback names, or ``EXAMPLE_TRUSTED_HOSTS``): a page on another site whose name was re-pointed
at this machine (DNS rebinding) is refused. Without ``EXAMPLE_PASSWORD`` they answer loopback
clients only; with it, HTTP Basic authentication (any user name) guards them wherever the
client is, and wrong passwords are limited per client. Changes (the blocklist) also need
Flask-WTF's CSRF token, which the page sends in a header. Every error under ``/api/`` is JSON.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as ResponseBase

from flask_friendcb.policies import BlocklistEntry, PolicyStorageError
from flask_friendcb.state import get_state

from .accounts import ACCOUNT_MAX_BYTES, account_problem
from .audit_log import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_DELETED_COMMAND,
    REQUEST_COMMAND,
    MinuteCount,
)
from .audit_schema import RESPONSE_COMMAND
from .feed import POLL_SECONDS, Cursor, Feed, feed_of
from .policies import current_policies, listed_entry
from .service import Service, current_service
from .settings import ExampleSettings, is_loopback

logger = logging.getLogger("example_app.operator")

#: Seconds between two counter updates when nothing happens.
STATS_SECONDS = 15.0
#: Seconds a stream stays open. The browser then reconnects with ``Last-Event-ID`` and misses
#: nothing; a server restart or a worker recycle costs no more than that.
STREAM_SECONDS = 300.0
#: Seconds between two writes to an idle stream (a comment line when nothing else is sent).
HEARTBEAT_SECONDS = 5.0
#: What a page turned away (too many streams) is told to wait, in seconds.
RETRY_AFTER_SECONDS = 10
#: Bytes a stream may have queued in the kernel for a reader: a reader that stops reading is
#: cut off once that much waits for longer than ``EXAMPLE_STREAM_SEND_TIMEOUT``.
SEND_BUFFER_BYTES = 64 * 1024
#: How far back the counters look.
STATS_WINDOW_MS = 3600 * 1000
#: Most rows the page shows, and the API returns.
MAX_ROWS = 200
#: Minutes the chart shows, the current one included.
CHART_MINUTES = 60
#: Longest blocklist reason, in characters.
REASON_MAX_CHARS = 200
#: Longest search text, in characters (an account is at most 32 bytes).
SEARCH_MAX_CHARS = 64
#: Host names the pages always answer to.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

# A Host header: a name or IPv4 address, or an IPv6 address in brackets; then a port.
_HOST = re.compile(r"(?:\[(?P<ip6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::[0-9]{1,5})?", re.I)

operator = Blueprint(
    "operator",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/operator",
)


def _valid_account(account: str) -> None:
    problem = account_problem(account)
    if problem is not None:
        raise ValidationError(problem)


def _valid_reason(reason: str) -> None:
    if not _encodable(reason):
        raise ValidationError("a reason cannot hold unpaired surrogates")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class BlockSchema(Schema):
    """What the page sends to block an account."""

    class Meta:
        unknown = EXCLUDE

    account = fields.String(required=True, validate=_valid_account)
    reason = fields.String(
        load_default="",
        validate=[validate.Length(max=REASON_MAX_CHARS), _valid_reason],
    )
    #: An account already listed keeps its reason and time unless this is true (as the CLI's
    #: ``blocklist add --replace``).
    replace = fields.Boolean(load_default=False)


class UnblockSchema(Schema):
    """What the page sends to unblock an account: in the body, never in the URL, where a
    browser or a proxy would rewrite ``..`` or ``%2F``."""

    class Meta:
        unknown = EXCLUDE

    account = fields.String(required=True, validate=validate.Length(min=1))


def trusted_hosts(settings: ExampleSettings) -> tuple[str, ...]:
    """The host names the pages answer to: loopback, the bound address, the configured ones."""
    bound = () if settings.host in ("", "0.0.0.0", "::") else (settings.host.strip("[]"),)  # noqa: S104
    return tuple(
        dict.fromkeys(name.lower() for name in (*LOOPBACK_NAMES, *bound, *settings.trusted_hosts))
    )


def host_is_trusted(host: str | None, trusted: tuple[str, ...]) -> bool:
    """Whether a ``Host`` header names one of ``trusted`` (a leading dot: any subdomain).

    Werkzeug's own check (behind Flask's ``TRUSTED_HOSTS``) compares case-sensitively and never
    matches an IPv6 address, and Flask applies it to every route, Tencent's callback included:
    hence these few lines, for the operator's routes only.
    """
    match = _HOST.fullmatch(host or "")
    if match is None:
        return False
    if match["ip6"] is not None:
        try:
            name = str(ipaddress.IPv6Address(match["ip6"]))
        except ValueError:
            return False
    else:
        name = match["name"].lower().rstrip(".")
    for entry in trusted:
        if entry.startswith("."):
            if name.endswith(entry) or name == entry[1:]:
                return True
        elif name == _canonical(entry):
            return True
    return False


def _canonical(entry: str) -> str:
    try:
        return str(ipaddress.ip_address(entry.strip("[]")))
    except ValueError:
        return entry.rstrip(".")


def _refuse(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error of the operator's routes: JSON under ``/api/``, plain text elsewhere."""
    if _is_api():
        response = jsonify(error=message)
    else:
        response = Response(message + "\n", mimetype="text/plain")
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


@operator.before_request
def guard() -> Response | None:
    """A Host this service answers to; then loopback only without a password, HTTP Basic with
    one."""
    settings = current_service().settings
    if not host_is_trusted(request.headers.get("Host"), trusted_hosts(settings)):
        logger.warning(
            "operator page: refused a request for an untrusted Host from %s", request.remote_addr
        )
        return _refuse(
            400,
            "this Host is not one the operator pages answer to; add it to EXAMPLE_TRUSTED_HOSTS",
        )
    password = settings.password
    if password is None:
        # Behind a proxy on this machine every client comes from loopback: a forwarded request
        # is someone else's, whatever its address.
        forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
        if is_loopback(request.remote_addr) and not forwarded:
            return None
        return _refuse(403, "the operator pages answer loopback clients only; set EXAMPLE_PASSWORD")
    given = request.authorization.password if request.authorization else None
    if given is not None and hmac.compare_digest(given.encode(), password.encode()):
        return None
    if given is not None:
        # Counted by the login limit (see wrong_password); the password itself is never logged.
        g.operator_wrong_password = True
        logger.warning("operator page: wrong password from %s", request.remote_addr)
    return _refuse(
        401,
        "the operator pages need the password (EXAMPLE_PASSWORD)",
        {"WWW-Authenticate": 'Basic realm="friendcb operator", charset="UTF-8"'},
    )


def wrong_password(response: Response) -> bool:
    """Whether the request just answered sent a wrong password (Flask-Limiter's
    ``deduct_when``: only those count towards ``EXAMPLE_LOGIN_LIMIT``)."""
    return bool(g.get("operator_wrong_password"))


def login_limit_exempt() -> bool:
    """Without a password there is nothing to guess (Flask-Limiter's ``exempt_when``)."""
    return current_service().settings.password is None


@operator.get("/")
def page() -> str:
    """The live page."""
    return render_template(
        "operator.html",
        max_rows=MAX_ROWS,
        account_max_bytes=ACCOUNT_MAX_BYTES,
        reason_max_chars=REASON_MAX_CHARS,
    )


@operator.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics (``FRIENDCB_METRICS``, on by default here), for loopback clients or
    with the operator password, as every operator route. Under gunicorn, set
    ``PROMETHEUS_MULTIPROC_DIR`` so that a scrape sums every worker."""
    if not get_state(current_app).settings.metrics:
        return _refuse(404, "metrics are off (FRIENDCB_METRICS)")
    # Imported here: with metrics off, nothing imports the module (the library's promise).
    from flask_friendcb.metrics import render_metrics

    body, content_type = render_metrics()
    return Response(body, content_type=content_type)


@operator.get("/api/decisions")
def decisions() -> Response:
    """The latest decisions, newest first: those whose responder or requester contains ``q``,
    ``decision`` (all, allowed, blocked), older than ``before`` (keyset paging). ``last_id``:
    where the live stream should start; ``next_before``: the ``before`` of the next page, or
    ``null`` at the end; ``partial``: a search that stopped on its time budget before the
    page was full (the next page goes on)."""
    store = current_service().store
    decision = request.args.get("decision", "all")
    if decision not in ("all", "allowed", "blocked"):
        abort(400, "decision must be all, allowed or blocked")
    contains = request.args.get("q", "")
    if len(contains) > SEARCH_MAX_CHARS or not _encodable(contains):
        abort(400, f"q is at most {SEARCH_MAX_CHARS} characters of text")
    before = request.args.get("before")
    before_id = _event_id(before) if before else None
    if before and before_id is None:
        abort(400, "before must be a decision id")
    # The id first, then the rows up to it: a decision written in between is not lost, it
    # comes with the stream.
    last_id = store.last_decision_id()
    page = store.search_page(
        contains=contains,
        blocked=None if decision == "all" else decision == "blocked",
        before_id=before_id if before_id is not None else last_id + 1,
        limit=MAX_ROWS,
    )
    return jsonify(
        decisions=[present(row) for row in page.rows],
        last_id=last_id,
        next_before=page.next_before,
        partial=page.partial,
    )


@operator.get("/api/stats")
def stats() -> Response:
    """Accepted and declined responses, requests let through, and blocked items in the last
    hour."""
    return jsonify(_stats(current_service()))


@operator.get("/api/chart")
def chart() -> Response:
    """Accepted and declined responses, requests let through, and blocked items (by policy)
    per minute, over the last hour: one entry per minute, oldest first, the current minute
    last."""
    service = current_service()
    now_ms = service.now_ms()
    current = now_ms - now_ms % 60_000
    first = current - (CHART_MINUTES - 1) * 60_000
    return jsonify(
        minutes=minutes_from(service.store.per_minute(first, current + 60_000), first),
        now_ms=now_ms,
    )


def minutes_from(counts: list[MinuteCount], first_ms: int) -> list[dict[str, Any]]:
    """The chart's minutes from ``first_ms`` on, empty ones included."""
    allowed: list[dict[str, int]] = [
        {"accepted": 0, "declined": 0, "requested": 0} for _ in range(CHART_MINUTES)
    ]
    blocked: list[dict[str, int]] = [{} for _ in range(CHART_MINUTES)]
    for count in counts:
        index = (count.minute_ms - first_ms) // 60_000
        if not 0 <= index < CHART_MINUTES:
            continue
        if count.kind == "blocked":
            policy = policy_name(count.hook)
            blocked[index][policy] = blocked[index].get(policy, 0) + count.count
        elif count.kind in allowed[index]:
            allowed[index][count.kind] += count.count
    return [
        {"minute_ms": first_ms + n * 60_000, **allowed[n], "blocked": blocked[n]}
        for n in range(CHART_MINUTES)
    ]


@operator.get("/api/blocklist")
def blocklist() -> tuple[Response, int]:
    """Every blocked account, the most recently added first."""
    try:
        entries = current_policies().blocklist.entries()
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    entries.sort(key=lambda entry: entry.added_at, reverse=True)
    return jsonify(blocklist=[_entry(entry) for entry in entries]), 200


@operator.post("/api/blocklist")
def block() -> tuple[Response, int]:
    """Block an account, with a reason; it applies from the very next callback."""
    body = _json_object()
    if body is None:
        return _not_an_object('{"account": "...", "reason": "..."}')
    try:
        data = BlockSchema().load(body)
    except ValidationError as error:
        return jsonify(error="invalid request", fields=error.messages), 400
    policy = current_policies().blocklist
    try:
        listed = None if data["replace"] else listed_entry(policy, data["account"])
        if listed is not None:
            return jsonify({**_entry(listed), "already_blocked": True}), 200
        entry = policy.add(data["account"], reason=data["reason"])
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    return jsonify(_entry(entry)), 201


@operator.delete("/api/blocklist")
def unblock() -> tuple[Response, int]:
    """Unblock the account named in the JSON body: ``{"account": ...}``."""
    body = _json_object()
    if body is None:
        return _not_an_object('{"account": "..."}')
    try:
        data = UnblockSchema().load(body)
    except ValidationError as error:
        return jsonify(error="invalid request", fields=error.messages), 400
    account = data["account"]
    if not _encodable(account):
        return jsonify(error="not on the blocklist"), 404
    try:
        removed = current_policies().blocklist.remove(account)
    except PolicyStorageError as error:
        return _blocklist_unavailable(error)
    if not removed:
        return jsonify(error="not on the blocklist"), 404
    return jsonify(account=account), 200


@operator.get("/api/reported")
def reported() -> Response:
    """Accounts that at least ``EXAMPLE_REPORT_THRESHOLD`` distinct users put on their own
    blocklist (``Sns.CallbackBlackListAdd``) within the last ``EXAMPLE_REPORT_WINDOW``
    seconds, the most reported first, read from the audit log (every instance's callbacks);
    ``blocked``: whether the account is on the service's blocklist already (``null`` when the
    blocklist cannot be read)."""
    service = current_service()
    settings = service.settings
    since_ms = service.now_ms() - int(settings.report_window * 1000)
    accounts = service.store.blocked_by_users(since_ms, settings.report_threshold)
    listed: set[str] | None
    try:
        listed = (
            {entry.account for entry in current_policies().blocklist.entries()}
            if accounts
            else set()
        )
    except PolicyStorageError as error:
        logger.warning("the blocklist storage failed: %s", error)
        listed = None
    return jsonify(
        threshold=settings.report_threshold,
        window_s=settings.report_window,
        accounts=[
            {**account, "blocked": None if listed is None else account["account"] in listed}
            for account in accounts
        ],
    )


@operator.get("/api/story")
def story() -> Response:
    """The story of the pair ``a``, ``b`` (two accounts, in either order): every row between
    them, oldest first (the newest 100), and its stages (``requested``, ``accepted``,
    ``added``, ...)."""
    accounts = []
    for name in ("a", "b"):
        account = request.args.get(name, "")
        problem = account_problem(account)
        if problem is not None:
            abort(400, f"{name}: {problem}")
        accounts.append(account)
    rows = [present(row) for row in current_service().store.story(accounts[0], accounts[1])]
    return jsonify(a=accounts[0], b=accounts[1], rows=rows, stages=story_of(rows))


def _json_object() -> dict[str, Any] | None:
    """The request's body as a JSON object, or ``None`` when it is not one (not JSON, not
    sent as ``application/json``, or JSON of another type)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _not_an_object(shape: str) -> tuple[Response, int]:
    return jsonify(error=f"the body must be a JSON object sent as application/json: {shape}"), 400


def _entry(entry: BlocklistEntry) -> dict[str, Any]:
    return {
        "account": entry.account,
        "reason": entry.reason,
        "added_at_ms": int(entry.added_at.timestamp() * 1000),
    }


def _blocklist_unavailable(error: PolicyStorageError) -> tuple[Response, int]:
    # The operator's log gets the cause; the page only learns to try again.
    logger.warning("the blocklist storage failed: %s", error)
    return jsonify(error="the blocklist is unavailable; try again"), 503


@operator.get("/events")
def events() -> Response:
    """Server-Sent Events: ``decision`` for each new decision, ``stats`` for the counters.
    Resumes after ``Last-Event-ID``, else after ``?after=`` (a decision id), else from now.

    At most ``EXAMPLE_MAX_STREAMS`` at once per process: the next is told to come back later
    (503, ``Retry-After``) rather than take a connection a callback needs.
    """
    service = current_service()
    cursor = Cursor.parse(request.headers.get("Last-Event-ID"))
    if cursor is None:
        after = _event_id(request.args.get("after"))
        cursor = Cursor(service.store.last_decision_id() if after is None else after)
    slots = _slots(current_app)
    if not slots.take(service.settings.max_streams):
        busy = jsonify(error="too many live streams on this server; retry later")
        busy.status_code = 503
        busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return busy
    try:
        _bound_sending(request.environ, service.settings.stream_send_timeout)
        response = Response(
            stream(service, cursor, feed=feed_of(current_app)),
            mimetype="text/event-stream",
            # Proxies (nginx) must pass every event on at once rather than buffer them.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    except BaseException:
        slots.release()
        raise
    # The server closes the response however the stream ends (finished, cut off, client gone,
    # or never started): the slot is given back then.
    response.call_on_close(slots.release)
    return response


def stream(
    service: Service,
    after: int | Cursor,
    *,
    stop_after: float = STREAM_SECONDS,
    feed: Feed | None = None,
) -> Iterator[str]:
    """The events after ``after`` (a decision id or a cursor), for ``stop_after`` seconds.

    Rows come from the shared audit store, so a decision made by any worker, instance or
    command shows on every page; ``feed`` only says when to look again (without one, or while
    it is down, the stream polls every ``POLL_SECONDS``).
    """
    cursor = after if isinstance(after, Cursor) else Cursor(after)
    feed = feed or Feed()
    started = time.monotonic()
    stats_due = 0.0
    heartbeat_due = started + HEARTBEAT_SECONDS
    store_down = False
    yield "retry: 2000\n\n"
    while True:
        # Taken before reading: a wake-up that comes while reading is not missed.
        generation = feed.generation
        try:
            rows = cursor.read(service.store, MAX_ROWS)
            stats = _stats(service) if rows or time.monotonic() >= stats_due else None
            store_down = False
        except Exception:  # the audit store unreachable: the page stays, and looks again
            if not store_down:
                logger.warning("a live stream cannot read the audit log; retrying", exc_info=True)
            rows, stats, store_down = [], None, True
        for row, event_id in rows:
            yield _event("decision", present(row), event_id=event_id)
        now = time.monotonic()
        if stats is not None:
            yield _event("stats", stats)
            stats_due = now + STATS_SECONDS
            heartbeat_due = now + HEARTBEAT_SECONDS
        elif now >= heartbeat_due:
            # A comment line, which the browser ignores: writing is how a server learns that
            # the page was closed, and a stream nobody reads should not outlive it by long.
            yield ":\n\n"
            heartbeat_due = now + HEARTBEAT_SECONDS
        if now - started >= stop_after:
            return
        if len(rows) >= MAX_ROWS:
            continue
        wake_at = min(stats_due, heartbeat_due, started + stop_after)
        if cursor.gaps or store_down:
            # A late row is announced when it commits, but a look now and then costs little.
            wake_at = min(wake_at, now + POLL_SECONDS)
        feed.wait(generation, max(0.0, wake_at - now))


#: The step of each command in a friendship's story, and the kind of its rows.
STEPS = {
    REQUEST_COMMAND: ("request", "requested"),
    RESPONSE_COMMAND: ("response", ""),
    FRIEND_ADDED_COMMAND: ("after", "added"),
    FRIEND_DELETED_COMMAND: ("after", "deleted"),
    BLOCKLIST_ADDED_COMMAND: ("after", "blocklisted"),
    BLOCKLIST_REMOVED_COMMAND: ("after", "unblocklisted"),
}


def present(row: dict[str, Any]) -> dict[str, Any]:
    """A row of the audit log as the page shows it: ``step`` (request, response, after),
    ``kind`` (blocked; requested; accepted, declined; added, deleted, blocklisted,
    unblocklisted)."""
    command = row.get("command") or RESPONSE_COMMAND
    step, kind = STEPS.get(command, ("after", "other"))
    blocked = row["result_code"] != 0
    if blocked:
        kind = "blocked"
    elif step == "response":
        kind = "accepted" if row["action"] in _ACCEPTING else "declined"
    return {
        **row,
        "command": command,
        "step": step,
        "policy": policy_name(row["hook"]),
        "blocked": blocked,
        "kind": kind,
    }


def story_of(rows: list[dict[str, Any]]) -> list[str]:
    """The stages of a pair's story, oldest first, from its presented rows: ``requested``,
    ``request blocked``, ``accepted``, ``declined``, ``response blocked``, ``added``,
    ``deleted``, ``blocklisted``, ``unblocklisted``."""
    stages = []
    for row in rows:
        if row["blocked"]:
            stages.append(f"{row['step']} blocked")
        else:
            stages.append(row["kind"])
    return stages


def policy_name(hook: str | None) -> str:
    """A hook's short name (``example_app.policies.content``: ``content``); ``""`` for none."""
    return (hook or "").rsplit(".", 1)[-1]


_ACCEPTING = ("Response_Action_AgreeAndAdd", "Response_Action_Agree")


@operator.app_errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[Response, int]:
    """A change without the page's CSRF token: JSON, like the rest of the API."""
    return jsonify(error=error.description), 400


@operator.app_errorhandler(HTTPException)
def api_error(error: HTTPException) -> ResponseBase:
    """Errors under ``/api/`` (an unknown path, a wrong method, a bad query, too many wrong
    passwords) as JSON; everywhere else, as Flask would answer without this handler."""
    response = error.get_response()
    if error.code == 429:
        logger.warning("operator page: too many wrong passwords from %s", request.remote_addr)
        # Flask-Limiter's headers are off (they would ride on every answer, a 200 too): the
        # refusal alone says when to come back.
        response.headers["Retry-After"] = str(_retry_after(error))
    if not _is_api():
        return response
    json_response = jsonify(error=error.description or error.name)
    json_response.status_code = response.status_code
    # Allow (405) and Retry-After (429) stay; the HTML's length and type do not.
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            json_response.headers[name] = value
    return json_response


def _retry_after(error: HTTPException) -> int:
    """Seconds until the login limit lets this client try again."""
    now = time.time()
    for limiter in current_app.extensions.get("limiter", ()):
        limit = limiter.current_limit
        if limit is not None:
            return max(1, math.ceil(float(limit.reset_at) - now))
    # Not known: the limit's whole window, which is never too soon.
    expiry = error.limit.limit.get_expiry() if hasattr(error, "limit") else 60
    return max(1, int(expiry))


def _stats(service: Service) -> dict[str, int]:
    return service.store.stats(service.now_ms() - STATS_WINDOW_MS)


def _event(name: str, data: Any, *, event_id: int | str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    # json.dumps escapes newlines, so the data is one line, as the format needs.
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _event_id(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


class StreamSlots:
    """How many live streams an app serves at once, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


_slots_lock = threading.Lock()


def _slots(app: Flask) -> StreamSlots:
    with _slots_lock:
        slots: StreamSlots = app.extensions.setdefault("example_app.streams", StreamSlots())
    return slots


def _bound_sending(environ: dict[str, Any], timeout: float) -> None:
    """Cut off a reader that stops reading: a small send buffer, and a send that waits longer
    than ``timeout`` fails (the server then closes the connection and the slot is free)."""
    sock: Any = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    # gevent's socket is not the standard library's under every patching: ask what it can do.
    if sock is None or not (hasattr(sock, "settimeout") and hasattr(sock, "setsockopt")):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.settimeout(timeout)
