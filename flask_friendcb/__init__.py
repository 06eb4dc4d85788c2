"""Receive Tencent Cloud Chat's friend-response callback in Flask, or in any WSGI app.

::

    from flask_friendcb import FriendCallbackBlueprint, Reject

    friendcb = FriendCallbackBlueprint()

    @friendcb.on_friend_response
    def no_banned_requesters(item, event):
        if item.to_account in BANNED:
            return Reject(38001, "requester is banned")

    app.register_blueprint(friendcb, url_prefix="/im")   # POST /im/callback
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .auth import sign
from .blueprint import FriendCallbackBlueprint, FriendCallbackState
from .config import Settings
from .errors import ConfigError
from .hooks import HookRegistry
from .models import (
    Allow,
    CallbackContext,
    FriendResponseAnswer,
    FriendResponseEvent,
    FriendResponseItem,
    InvalidItem,
    ItemResult,
    Outcome,
    Reject,
)
from .protocol import FRIEND_RESPONSE_COMMAND, ErrorCode, ResponseAction
from .wsgi import FriendCallbackMiddleware

__all__ = [
    "FRIEND_RESPONSE_COMMAND",
    "Allow",
    "CallbackContext",
    "ConfigError",
    "ErrorCode",
    "FriendCallbackBlueprint",
    "FriendCallbackMiddleware",
    "FriendCallbackState",
    "FriendResponseAnswer",
    "FriendResponseEvent",
    "FriendResponseItem",
    "HookRegistry",
    "InvalidItem",
    "ItemResult",
    "Outcome",
    "Reject",
    "ResponseAction",
    "Settings",
    "sign",
]
