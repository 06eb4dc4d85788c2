"""Wire names and numbers of Tencent Cloud Chat's third-party callbacks.

Everything here is fixed by Tencent (``Sns.CallbackPrevFriendResponse`` and the callback
overview), except :class:`ErrorCode`, which lists the codes this library itself answers with.
"""

from __future__ import annotations

import enum
from typing import Any

#: Before a friend request is answered: its items are decided (``on_friend_response``).
FRIEND_RESPONSE_COMMAND = "Sns.CallbackPrevFriendResponse"
#: Before a friend request is sent: its items are decided (``on_friend_add``).
FRIEND_ADD_COMMAND = "Sns.CallbackPrevFriendAdd"
#: After a friendship is made (``on_friend_added``).
FRIEND_ADDED_COMMAND = "Sns.CallbackFriendAdd"
#: After a friendship is removed, by a user or by blocklisting (``on_friend_deleted``).
FRIEND_DELETED_COMMAND = "Sns.CallbackFriendDelete"
#: After a user puts another on their blocklist (``on_blocklist_added``).
BLOCKLIST_ADDED_COMMAND = "Sns.CallbackBlackListAdd"
#: After a user takes another off their blocklist (``on_blocklist_removed``).
BLOCKLIST_REMOVED_COMMAND = "Sns.CallbackBlackListDelete"

#: The "before" commands: each item is decided by hooks and answered in ``ResultItem``.
DECIDED_COMMANDS = (FRIEND_RESPONSE_COMMAND, FRIEND_ADD_COMMAND)
#: The "after" commands: observed, and always answered with the plain OK.
OBSERVED_COMMANDS = (
    FRIEND_ADDED_COMMAND,
    FRIEND_DELETED_COMMAND,
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
)
#: Every friend callback this library types.
FRIEND_COMMANDS = DECIDED_COMMANDS + OBSERVED_COMMANDS

# Query-string keys, spelled exactly as Tencent sends them.
QUERY_SDKAPPID = "SdkAppid"
QUERY_COMMAND = "CallbackCommand"
QUERY_CONTENT_TYPE = "contenttype"
QUERY_CLIENT_IP = "ClientIP"
QUERY_OPT_PLATFORM = "OptPlatform"
QUERY_SIGN = "Sign"
QUERY_REQUEST_TIME = "RequestTime"

#: The sample request of Tencent's page for ``Sns.CallbackPrevFriendResponse``.
SAMPLE_REQUEST: dict[str, Any] = {
    "CallbackCommand": "Sns.CallbackPrevFriendResponse",
    "Requester_Account": "id",
    "From_Account": "id",
    "ResponseFriendItem": [
        {
            "To_Account": "id1",
            "Remark": "remark1",
            "TagName": "group1",
            "ResponseAction": "Response_Action_AgreeAndAdd",
        },
        {
            "To_Account": "id2",
            "Remark": "remark2",
            "TagName": "group2",
            "ResponseAction": "Response_Action_Reject",
        },
    ],
    "EventTime": 1631777645424,
}

#: The sample request of Tencent's page for ``Sns.CallbackPrevFriendAdd``.
SAMPLE_FRIEND_ADD_REQUEST: dict[str, Any] = {
    "CallbackCommand": "Sns.CallbackPrevFriendAdd",
    "Requester_Account": "id",
    "From_Account": "id",
    "FriendItem": [
        {
            "To_Account": "id1",
            "Remark": "remark1",
            "GroupName": "group1",
            "AddSource": "AddSource_Type_Android",
            "AddWording": "this is id1!",
        },
        {
            "To_Account": "id2",
            "Remark": "remark2",
            "GroupName": "group1",
            "AddSource": "AddSource_Type_Android",
            "AddWording": "this is id2!",
        },
    ],
    "AddType": "Add_Type_Both",
    "ForceAddFlags": 0,
    "EventTime": 1631777344870,
}

#: The sample requests of Tencent's pages for the "after" commands, by command.
SAMPLE_OBSERVED_REQUESTS: dict[str, dict[str, Any]] = {
    "Sns.CallbackFriendAdd": {
        "CallbackCommand": "Sns.CallbackFriendAdd",
        "PairList": [
            {"From_Account": "id", "To_Account": "id1", "Initiator_Account": "id"},
            {"From_Account": "id", "To_Account": "id2", "Initiator_Account": "id"},
        ],
        "ClientCmd": "friend_add",
        "Admin_Account": "",
        "ForceFlag": 0,
    },
    **{
        command: {
            "CallbackCommand": command,
            "PairList": [
                {"From_Account": "id", "To_Account": "id1"},
                {"From_Account": "id", "To_Account": "id2"},
            ],
        }
        for command in (
            "Sns.CallbackFriendDelete",
            "Sns.CallbackBlackListAdd",
            "Sns.CallbackBlackListDelete",
        )
    },
}

#: Lowest and highest code Tencent accepts to refuse an item (``ResultCode``) or to report a
#: failure (``ErrorCode``); both ends are included.
CODE_MIN = 38000
CODE_MAX = 39000

#: Tencent waits this many seconds for an answer, then goes ahead as if no callback existed.
TENCENT_TIMEOUT = 2.0


class ResponseAction(str, enum.Enum):
    """How the responding user answered a friend request (``ResponseAction`` on the wire)."""

    #: Accept and add the requester back: a two-way friendship.
    AGREE_AND_ADD = "Response_Action_AgreeAndAdd"
    #: Let the requester add you: one-way.
    AGREE = "Response_Action_Agree"
    #: Decline the request.
    REJECT = "Response_Action_Reject"

    def __str__(self) -> str:
        return self.value


class AddType(str, enum.Enum):
    """What kind of friendship a request asks for (``AddType`` on the wire).

    Kept as text on the event (:attr:`~flask_friendcb.models.FriendAddEvent.add_type`), since
    Tencent may add values; these members compare equal to it.
    """

    #: Both users become each other's friend.
    BOTH = "Add_Type_Both"
    #: Only the requester adds the other user.
    SINGLE = "Add_Type_Single"

    def __str__(self) -> str:
        return self.value


class ErrorCode(enum.IntEnum):
    """The ``ErrorCode`` values this library answers with when it refuses a request.

    They sit in Tencent's failure range [38000, 39000], at its top, so that the lower part of the
    range stays free for an application's own ``Reject`` codes.
    """

    #: ``SdkAppid`` is missing, repeated or not this application's (HTTP 403).
    SDKAPPID_MISMATCH = 38900
    #: ``Sign`` is missing or repeated (HTTP 401).
    SIGN_MISSING = 38901
    #: ``Sign`` does not match any configured token (HTTP 401).
    SIGN_MISMATCH = 38902
    #: ``RequestTime`` is missing or repeated (HTTP 401).
    REQUEST_TIME_MISSING = 38903
    #: ``RequestTime`` is not plain ASCII decimal seconds (HTTP 401).
    REQUEST_TIME_INVALID = 38904
    #: ``RequestTime`` is further from our clock than the allowed skew (HTTP 401).
    REQUEST_TIME_STALE = 38905
    #: The body is empty, not UTF-8 or not JSON (HTTP 400).
    BODY_NOT_JSON = 38910
    #: The body is JSON but not an object (HTTP 400).
    BODY_NOT_OBJECT = 38911
    #: The body does not match the command's schema; ``ErrorInfo`` names the field (HTTP 400).
    BODY_INVALID = 38912
    #: ``CallbackCommand`` is missing, repeated, or differs between query and body (HTTP 400).
    COMMAND_INVALID = 38913
    #: The body is larger than the configured limit (HTTP 413).
    BODY_TOO_LARGE = 38914
    #: The request could not be read from the client (HTTP 400).
    BODY_UNREADABLE = 38915
    #: The query string cannot be parsed, or has far more parameters than Tencent sends (HTTP 400).
    QUERY_INVALID = 38916
    #: The route only answers POST (HTTP 405).
    METHOD_NOT_ALLOWED = 38920
    #: The library failed (a bug, never an input): logged with its traceback (HTTP 500).
    INTERNAL_ERROR = 38930
    #: Default ``ResultCode`` for an item whose hooks failed under the "reject" policy.
    HOOK_FAILED = 38999


def is_code_in_range(code: object) -> bool:
    """Whether ``code`` is an ``int`` (not a ``bool``) in Tencent's range [38000, 39000]."""
    return isinstance(code, int) and not isinstance(code, bool) and CODE_MIN <= code <= CODE_MAX
