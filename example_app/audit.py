"""The audit log: every friend-response callback and the decision on each item, via the
library's signals, so that it records what was answered whichever hook decided.

The answer never waits on the audit database: the record goes to the local spool's journal
(one write, durable in microseconds) before the answer leaves, and the drainer ships it later
(``drainer.py``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, g

from flask_friendcb import FriendResponseAnswer, FriendResponseEvent
from flask_friendcb.signals import answer_decided, event_received

from .audit_log import AuditRecord
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
    # Once a batch is committed to the audit database, every instance's live streams look again.
    connect_feed(app)


def note_arrival(sender: Flask, event: FriendResponseEvent, **_: Any) -> None:
    """Keep when the callback arrived, before the hooks spent any time on it."""
    g.friendcb_received_at_ms = get_service(sender).now_ms()


def record_answer(
    sender: Flask, event: FriendResponseEvent, answer: FriendResponseAnswer, **_: Any
) -> None:
    """Spool the callback and its decisions. The library logs a failure here and answers
    Tencent all the same: an audit problem never blocks a friend request."""
    service = get_service(sender)
    received_at_ms = g.get("friendcb_received_at_ms") or service.now_ms()
    # One write to this process's journal; the drainer commits many at once to the spool.
    service.spool.record(audit_record(event, answer, received_at_ms))
    service.drainer.recorded()


def audit_record(
    event: FriendResponseEvent, answer: FriendResponseAnswer, received_at_ms: int
) -> AuditRecord:
    """The spool's record of one answered callback, with a new unique id."""
    return {
        "record_id": uuid.uuid4().hex,
        "received_at_ms": received_at_ms,
        "event_time_ms": event.event_time_ms,
        "sdkappid": _text(event.sdkappid),
        "from_account": _text(event.from_account),
        "requester_account": _text(event.requester_account),
        "client_ip": _text(event.client_ip),
        "platform": _text(event.opt_platform),
        "items": [
            {
                "to_account": _text(item.to_account),
                # The wire value; an invalid item's may be one the library does not know yet.
                "action": _text(str(item.response_action)),
                "remark": _text(item.remark),
                "tag_name": _text(item.tag_name),
                "result_code": int(result.result_code),
                "result_info": _text(result.result_info),
                "outcome": result.outcome.value,
                "hook": result.hook,
            }
            # Every wire item, those that failed the item schema included.
            for item, result in event.with_results(answer)
        ],
    }


def _text(value: str) -> str:
    return _UNSTORABLE.sub("\ufffd", value)
