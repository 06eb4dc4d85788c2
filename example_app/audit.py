"""The audit log: every friend callback, via the library's signals, so that it records what
was answered whichever hook decided: each request's and each response's item with its
decision, and each pair an after-callback reported (friend added or deleted, blocklist
changed), every one with its ``command``.

The answer never waits on the audit database: the record goes to the local spool's journal
(one write, durable in microseconds) before the answer leaves, and the drainer ships it later
(``drainer.py``).
"""

from __future__ import annotations

import random
import re
from typing import Any

from flask import Flask, g

from flask_friendcb import FriendResponseAnswer
from flask_friendcb.models import DecidedEvent, FriendAddedEvent, FriendAddEvent, RelationEvent
from flask_friendcb.signals import answer_decided, event_received, relation_changed

from .audit_log import AuditRecord, ItemRecord
from .feed import connect_feed
from .service import get_service

# Characters no audit database stores as text: NUL (PostgreSQL refuses it) and lone UTF-16
# surrogates (not encodable in UTF-8). A hostile remark may hold either; each becomes U+FFFD,
# so that its record is stored rather than refused.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def connect_audit(app: Flask) -> None:
    """Record ``app``'s callbacks in its service's spool."""
    # Module-level receivers: blinker holds them weakly, and these live as long as the module.
    event_received.connect(note_arrival, sender=app)
    answer_decided.connect(record_answer, sender=app)
    relation_changed.connect(record_relation, sender=app)
    # Once a batch is committed to the audit database, every instance's live streams look again.
    connect_feed(app)


def note_arrival(sender: Flask, event: DecidedEvent, **_: Any) -> None:
    """Keep when the callback arrived, before the hooks spent any time on it."""
    g.friendcb_received_at_ms = get_service(sender).now_ms()


def record_answer(
    sender: Flask, event: DecidedEvent, answer: FriendResponseAnswer, **_: Any
) -> None:
    """Spool the callback and its decisions. The library logs a failure here and answers
    Tencent all the same: an audit problem never blocks a friend request."""
    service = get_service(sender)
    received_at_ms = g.get("friendcb_received_at_ms") or service.now_ms()
    # One write to this process's journal; the drainer commits many at once to the spool.
    service.spool.record(audit_record(event, answer, received_at_ms))
    service.drainer.recorded()


def record_relation(sender: Flask, event: RelationEvent, **_: Any) -> None:
    """Spool an after-callback's pairs: one write, as for a before-callback."""
    service = get_service(sender)
    service.spool.record(relation_record(event, service.now_ms()))
    service.drainer.recorded()


def audit_record(
    event: DecidedEvent, answer: FriendResponseAnswer, received_at_ms: int
) -> AuditRecord:
    """The spool's record of one answered callback (a response or a request), with a new
    unique id."""
    return {
        "record_id": new_record_id(),
        "command": _text(event.callback_command),
        "received_at_ms": received_at_ms,
        "event_time_ms": event.event_time_ms,
        "sdkappid": _text(event.sdkappid),
        "from_account": _text(event.from_account),
        "requester_account": _text(event.requester_account),
        "client_ip": _text(event.client_ip),
        "platform": _text(event.opt_platform),
        "items": [
            # Every wire item, those that failed the item schema included.
            _item_record(event, item, result)
            for item, result in event.with_results(answer)
        ],
    }


def _item_record(event: DecidedEvent, item: Any, result: Any) -> ItemRecord:
    # ``item`` is a response's or a request's item, or an InvalidItem of either (which carries
    # every field, "" where the wire had none).
    if isinstance(event, FriendAddEvent):
        # A request has no ResponseAction: its AddType says what it asks for.
        action, group, wording = event.add_type, item.group_name, item.add_wording
    else:
        # The wire value; an invalid item's may be one the library does not know yet.
        action, group, wording = str(item.response_action), item.tag_name, ""
    return {
        "to_account": _text(item.to_account),
        "action": _text(action),
        "remark": _text(item.remark),
        "tag_name": _text(group),
        "wording": _text(wording),
        "result_code": int(result.result_code),
        "result_info": _text(result.result_info),
        "outcome": result.outcome.value,
        "hook": result.hook,
    }


def relation_record(event: RelationEvent, received_at_ms: int) -> AuditRecord:
    """The spool's record of one after-callback: one item per pair, each with its own
    From_Account, ``outcome`` ``observed`` (Tencent asks for no decision)."""
    action = _text(event.client_cmd) if isinstance(event, FriendAddedEvent) else ""
    return {
        "record_id": new_record_id(),
        "command": _text(event.callback_command),
        "received_at_ms": received_at_ms,
        # These bodies need not carry an EventTime: 0 then.
        "event_time_ms": event.event_time_ms or 0,
        "sdkappid": _text(event.sdkappid),
        "from_account": _text(event.pairs[0].from_account) if event.pairs else "",
        "requester_account": (
            _text(event.admin_account) if isinstance(event, FriendAddedEvent) else ""
        ),
        "client_ip": _text(event.client_ip),
        "platform": _text(event.opt_platform),
        "items": [
            {
                "from_account": _text(pair.from_account),
                "to_account": _text(pair.to_account),
                "action": action,
                "remark": "",
                "tag_name": "",
                "wording": "",
                "result_code": 0,
                "result_info": "",
                "outcome": OBSERVED,
                "hook": None,
            }
            for pair in event.pairs
        ],
    }


def new_record_id() -> str:
    """A record's unique id: 32 hex digits (128 random bits), the key that makes shipping a
    record twice store it once.

    From ``random``, which every process seeds from the OS (and each child again after a fork),
    rather than ``uuid4``: one system call less per callback. An id is no secret, and 128 bits
    make a collision in the lifetime of any log improbable beyond concern."""
    return f"{random.getrandbits(128):032x}"


#: The ``outcome`` of an after-callback's pair: seen, not decided.
OBSERVED = "observed"


def _text(value: str) -> str:
    # str.isascii is a flag read, and an ASCII string can hold no surrogate: the common case
    # skips the regular expression.
    if value.isascii() and "\x00" not in value:
        return value
    return _UNSTORABLE.sub("\ufffd", value)
