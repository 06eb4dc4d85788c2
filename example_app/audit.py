"""The audit log: every friend-response callback and the decision on each item, via the
library's signals, so that it records what was answered whichever hook decided."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from flask_friendcb import FriendResponseAnswer, FriendResponseEvent
from flask_friendcb.signals import answer_decided, event_received

from .feed import feed_of
from .service import get_service


def connect_audit(app: Flask) -> None:
    """Record ``app``'s callbacks in its service's database."""
    # Module-level receivers: blinker holds them weakly, and these live as long as the module.
    event_received.connect(note_arrival, sender=app)
    answer_decided.connect(record_answer, sender=app)


def note_arrival(sender: Flask, event: FriendResponseEvent, **_: Any) -> None:
    """Keep when the callback arrived, before the hooks spent any time on it."""
    g.friendcb_received_at_ms = get_service(sender).now_ms()


def record_answer(
    sender: Flask, event: FriendResponseEvent, answer: FriendResponseAnswer, **_: Any
) -> None:
    """Write the callback and its decisions. The library logs a failure here and answers
    Tencent all the same: an audit problem never blocks a friend request."""
    service = get_service(sender)
    received_at_ms = g.get("friendcb_received_at_ms") or service.now_ms()
    service.store.record(event, answer, received_at_ms)
    # After the commit: every instance's live streams look again (they read the store).
    feed_of(sender).announce()
