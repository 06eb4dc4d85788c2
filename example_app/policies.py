"""The anti-abuse policies: one hook each, with its own ResultCode.

They run in the order below, per item; the first that decides wins, and an item no policy
refuses is allowed. The codes sit in [38000, 38899], below the library's own.

============ ======= ==========================================================================
policy       code    refuses
============ ======= ==========================================================================
declining    (0)     nothing: a declined request is always allowed, whoever sends it
blocklist    38001   an item whose requester (To_Account) or responder (From_Account) is on
                     the operator's blocklist
content      38003   a Remark over 96 bytes or a TagName over 30 bytes (UTF-8), or either
                     holding a URL or a banned word (after NFKC normalisation)
velocity     38002   an acceptance by a responder who has accepted EXAMPLE_VELOCITY_LIMIT
                     requests within the last EXAMPLE_VELOCITY_WINDOW seconds
============ ======= ==========================================================================

Velocity runs last, so an acceptance another policy refused does not use up the responder's
allowance.
"""

from __future__ import annotations

import enum

from flask_friendcb import (
    Allow,
    FriendCallbackBlueprint,
    FriendResponseEvent,
    FriendResponseItem,
    Reject,
    ResponseAction,
)

from .service import current_service
from .text import (
    REMARK_MAX_BYTES,
    TAG_MAX_BYTES,
    find_banned_word,
    find_url,
    normalise,
    utf8_length,
)


class PolicyCode(enum.IntEnum):
    """The ResultCode of each refusing policy."""

    #: The requester or the responder is on the blocklist.
    BLOCKLISTED = 38001
    #: The responder accepts requests faster than a person does.
    VELOCITY = 38002
    #: The remark or friend group is too long, or holds a URL or a banned word.
    CONTENT = 38003


#: The friend-callback blueprint of the service, with the policies as its hooks.
friendcb = FriendCallbackBlueprint()


@friendcb.on_friend_response(actions=[ResponseAction.REJECT])
def declining(item: FriendResponseItem, event: FriendResponseEvent) -> Allow:
    """A user may always say no, even to or from a blocked account."""
    return Allow()


@friendcb.on_friend_response
def blocklist(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """Neither a blocked requester nor a blocked responder makes a friend this way."""
    blocked = current_service().store.first_blocked(item.to_account, event.from_account)
    if blocked is None:
        return None
    role = "requester" if blocked.account == item.to_account else "responder"
    return Reject(PolicyCode.BLOCKLISTED, f"the {role} is blocked")


@friendcb.on_friend_response
def content(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """Remarks and friend groups within Tencent's limits, without links or banned words."""
    banned = current_service().settings.banned_words
    for field, text, limit in (
        ("remark", item.remark, REMARK_MAX_BYTES),
        ("friend group", item.tag_name, TAG_MAX_BYTES),
    ):
        if utf8_length(text) > limit:
            return Reject(PolicyCode.CONTENT, f"the {field} is over {limit} bytes")
        plain = normalise(text)
        if find_url(plain):
            return Reject(PolicyCode.CONTENT, f"the {field} holds a link")
        if find_banned_word(plain, banned):
            # Which word is not said: the list is the operator's, not the spammer's.
            return Reject(PolicyCode.CONTENT, f"the {field} holds a banned word")
    return None


@friendcb.on_friend_response(actions=[ResponseAction.AGREE_AND_ADD, ResponseAction.AGREE])
def velocity(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """At most EXAMPLE_VELOCITY_LIMIT acceptances per responder per window, counted in the
    shared database so that every worker sees every acceptance."""
    service = current_service()
    settings = service.settings
    if service.store.take_acceptance(
        event.from_account,
        service.now_ms(),
        int(settings.velocity_window * 1000),
        settings.velocity_limit,
    ):
        return None
    return Reject(
        PolicyCode.VELOCITY,
        f"more than {settings.velocity_limit} acceptances in {settings.velocity_window:g} s",
    )
