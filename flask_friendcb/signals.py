"""Signals an app can connect to, to watch callbacks without writing a hook.

They are blinker signals, like Flask's own. The sender is the Flask app (or the
:class:`~flask_friendcb.FriendCallbackMiddleware`); a receiver that raises is logged and
ignored, so watching can never cost Tencent its answer::

    from flask_friendcb.signals import answer_decided

    @answer_decided.connect_via(app)
    def audit(sender, event, answer):
        for item, result in zip(event.items, answer.results):
            ...
"""

from __future__ import annotations

from blinker import Namespace

friendcb_signals = Namespace()

#: Sent with ``event`` (a :class:`~flask_friendcb.models.FriendResponseEvent`) for every
#: authenticated, well-formed friend-response callback, before the hooks run.
event_received = friendcb_signals.signal("friendcb-event-received")

#: Sent with ``event`` and ``answer`` (a :class:`~flask_friendcb.models.FriendResponseAnswer`)
#: once the hooks have decided, before the answer is sent.
answer_decided = friendcb_signals.signal("friendcb-answer-decided")
