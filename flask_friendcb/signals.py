"""Signals an app can connect to, to watch callbacks without writing a hook.

They are blinker signals, like Flask's own. The sender is the Flask app (or the
:class:`~flask_friendcb.FriendCallbackMiddleware`); a receiver that raises is logged and
ignored, so watching can never cost Tencent its answer::

    from flask_friendcb.signals import answer_decided

    @answer_decided.connect_via(app)
    def audit(sender, event, answer):
        for item, result in event.with_results(answer):  # every wire item, in order
            ...

``answer.results`` has one result per wire item; ``event.items`` holds only the items the hooks
decided, without those that failed the item schema (``event.invalid_items``), so
``event.with_results(answer)`` is how to pair them.

:data:`event_received` and :data:`answer_decided` are sent for both "before" commands: ``event``
is a :class:`~flask_friendcb.models.FriendResponseEvent` or a
:class:`~flask_friendcb.models.FriendAddEvent` (``event.callback_command`` tells which).
:data:`relation_changed` is sent for the four "after" commands.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from blinker import NamedSignal, Namespace

from .models import DecidedEvent, FriendResponseAnswer, RelationEvent

logger = logging.getLogger("flask_friendcb")

friendcb_signals = Namespace()

#: Sent with ``event`` (a :class:`~flask_friendcb.models.FriendResponseEvent` or
#: :class:`~flask_friendcb.models.FriendAddEvent`) for every authenticated, well-formed
#: friend-response or friend-request callback, before the hooks run.
event_received = friendcb_signals.signal("friendcb-event-received")

#: Sent with ``event`` and ``answer`` (a :class:`~flask_friendcb.models.FriendResponseAnswer`)
#: once the hooks have decided, before the answer is sent.
answer_decided = friendcb_signals.signal("friendcb-answer-decided")

#: Sent with ``event`` (a :class:`~flask_friendcb.models.RelationEvent` subclass) for every
#: authenticated, well-formed "after" callback (friend added or deleted, blocklist changed),
#: after its observers ran.
relation_changed = friendcb_signals.signal("friendcb-relation-changed")


class SignalSender:
    """Sends the signals with one sender (a Flask app, a middleware): the observers an adapter
    hands to the handler.

    Each receiver is called on its own, so that one that raises is logged and the others still
    run (blinker's ``send`` would stop at the first exception).
    """

    def __init__(self, sender: Any) -> None:
        self.sender = sender

    def event_received(self, event: DecidedEvent) -> None:
        """Send :data:`event_received`."""
        _send(event_received, self.sender, event=event)

    def answer_decided(self, event: DecidedEvent, answer: FriendResponseAnswer) -> None:
        """Send :data:`answer_decided`."""
        _send(answer_decided, self.sender, event=event, answer=answer)

    def relation_changed(self, event: RelationEvent) -> None:
        """Send :data:`relation_changed`."""
        _send(relation_changed, self.sender, event=event)


def _send(signal: NamedSignal, sender: Any, **kwargs: Any) -> None:
    if not signal.receivers:
        return
    for receiver in signal.receivers_for(sender):
        if inspect.iscoroutinefunction(receiver):
            logger.error(
                "observer %r of signal %s is async and cannot run here", receiver, signal.name
            )
            continue
        try:
            receiver(sender, **kwargs)
        except Exception:
            logger.exception("observer %r of signal %s failed", receiver, signal.name)
