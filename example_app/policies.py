"""The anti-abuse policies: one hook each, with its own ResultCode, on the library's policies.

They run in the order below, per item; the first that decides wins, and an item no policy
refuses is allowed. The codes sit in [38000, 38899], below the library's own.

============ ======= ==========================================================================
policy       code    refuses
============ ======= ==========================================================================
declining    (0)     nothing: a declined request is always allowed, whoever sends it
blocklist    38001   an item whose requester (To_Account) or responder (From_Account) is on
                     the operator's blocklist (``BlocklistPolicy``)
content      38003   a Remark over 96 bytes or a TagName over 30 bytes (UTF-8), or either
                     holding a banned word, a link, an e-mail address or a contact number,
                     however written (``ContentPolicy``)
velocity     38002   an acceptance by a responder who has accepted EXAMPLE_VELOCITY_LIMIT
                     requests within the last EXAMPLE_VELOCITY_WINDOW seconds
                     (``RateLimitPolicy``)
============ ======= ==========================================================================

The same policies run at the request step (``Sns.CallbackPrevFriendAdd``), before a friend
request reaches the other user, in the same order and with the same codes:

================= ======= =====================================================================
request policy    code    refuses
================= ======= =====================================================================
request_blocklist 38001   a request whose sender (From_Account) is on the operator's blocklist
request_content   38003   an AddWording over 256 bytes, a Remark over 96 or a GroupName over 30
                          (UTF-8), or one holding a banned word, a link, an e-mail address or
                          a contact number (``ContentPolicy``)
request_velocity  38002   a request by a sender who has sent EXAMPLE_VELOCITY_LIMIT requests
                          within the last EXAMPLE_VELOCITY_WINDOW seconds (counted apart from
                          acceptances)
================= ======= =====================================================================

Velocity runs last, so an acceptance another policy refused does not use up the responder's
allowance. The blocklist and the velocity counts live in files beside the database, a SQLite
file and an LMDB file (the processes of one machine), or in Redis when ``EXAMPLE_REDIS_URL``
is set (many instances). A storage that fails costs the item its check, never the answer: the policy
allows it, and the outage is logged once.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from flask import Flask, current_app

from flask_friendcb import (
    Allow,
    ConfigError,
    FriendCallbackBlueprint,
    FriendResponseEvent,
    FriendResponseItem,
    Reject,
    ResponseAction,
)
from flask_friendcb.blueprint import get_state
from flask_friendcb.models import FriendAddEvent, FriendAddItem
from flask_friendcb.policies import BlocklistEntry, BlocklistPolicy, ContentPolicy, RateLimitPolicy
from flask_friendcb.policies.base import UNCHECKED_INFO, redact
from flask_friendcb.policies.content import REMARK_MAX_BYTES, TAG_MAX_BYTES, WORDING_MAX_BYTES
from flask_friendcb.policies.storage import as_redis_url, file_uri

from .service import current_service
from .settings import ExampleSettings

#: The key of the policies in ``app.extensions``.
POLICIES_KEY = "example_app.policies"


class PolicyCode(enum.IntEnum):
    """The ResultCode of each refusing policy."""

    #: The requester or the responder is on the blocklist.
    BLOCKLISTED = 38001
    #: The responder accepts requests faster than a person does.
    VELOCITY = 38002
    #: The remark or friend group is too long, or holds a banned word, a link, an e-mail
    #: address or a contact number.
    CONTENT = 38003


#: What the content policy's rules read as in the answer: the field and the rule, never the
#: word (the list is the operator's, not the spammer's).
CONTENT_INFO = {
    "too_long": "the {field} is over {limit} bytes",
    "banned_word": "the {field} holds a banned word",
    "link": "the {field} holds a link",
    "email": "the {field} holds an e-mail address",
    "contact": "the {field} holds a contact number",
}


@dataclass(frozen=True)
class Policies:
    """One app's policies, made from its settings."""

    blocklist: BlocklistPolicy
    content: ContentPolicy
    velocity: RateLimitPolicy

    def close(self) -> None:
        self.blocklist.close()


def install(app: Flask, settings: ExampleSettings, folder: str) -> Policies:
    """Make ``app``'s policies: on ``settings.redis_url``, else on files in ``folder`` (the
    blocklist's SQLite file and the velocity counts' LMDB file, :func:`embedded_uris`).
    An unusable ``EXAMPLE_REDIS_URL`` fails here, at start-up, with a
    :class:`~flask_friendcb.ConfigError` naming it."""
    if settings.redis_url:
        blocklist_uri = velocity_uri = settings.redis_url
        _check_redis(settings.redis_url)
    else:
        os.makedirs(folder, exist_ok=True)
        blocklist_uri, velocity_uri = embedded_uris(folder)
    window = settings.velocity_seconds
    policies = Policies(
        blocklist=BlocklistPolicy(
            storage_uri=blocklist_uri,
            code=PolicyCode.BLOCKLISTED,
            clock=get_state(app).settings.clock,
        ),
        # The operator's own words, each meant: not put through the check for public lists.
        content=ContentPolicy(always_banned=settings.banned_words, code=PolicyCode.CONTENT),
        velocity=RateLimitPolicy(
            f"{settings.velocity_limit} per {window} second",
            storage_uri=velocity_uri,
            key="from_account",
            code=PolicyCode.VELOCITY,
        ),
    )
    app.extensions[POLICIES_KEY] = policies
    return policies


def get_policies(app: Flask) -> Policies:
    """``app``'s policies."""
    policies: Policies = app.extensions[POLICIES_KEY]
    return policies


def listed_entry(policy: BlocklistPolicy, account: str) -> BlocklistEntry | None:
    """``account``'s entry on the blocklist, or ``None``: what the CLI and the API show of an
    account blocked already (each keeps its reason unless told to replace it)."""
    return next((entry for entry in policy.entries() if entry.account == account), None)


def current_policies() -> Policies:
    """The policies of the app handling the current request."""
    return get_policies(current_app)


def embedded_uris(folder: str) -> tuple[str, str]:
    """The blocklist's and the velocity counts' storage URIs without Redis: files in ``folder``
    (the database's), shared by the processes of this machine. The blocklist is a SQLite file
    (the operator's record, read from each process's copy); the velocity counts an LMDB file,
    where an acceptance is taken in shared memory for a fraction of a SQLite commit."""
    return (
        file_uri("sqlite", os.path.join(folder, "blocklist.sqlite3")),
        file_uri("lmdb", os.path.join(folder, "velocity.lmdb")),
    )


def _check_redis(url: str) -> None:
    """Refuse a Redis URL that cannot be reached now, rather than run without a blocklist."""
    try:
        from flask_friendcb.policies.storage.redis import RedisBlocklist

        probe = RedisBlocklist(as_redis_url(url), timeout=2.0)
        try:
            probe.first_listed(("",))
        finally:
            probe.close()
    except Exception as error:
        raise ConfigError(
            "EXAMPLE_REDIS_URL",
            f"cannot use {redact(url)}: {type(error).__name__}: {str(error)[:200]}",
        ) from None


#: The friend-callback blueprint of the service, with the policies as its hooks.
friendcb = FriendCallbackBlueprint()


@friendcb.on_friend_response(actions=[ResponseAction.REJECT])
def declining(item: FriendResponseItem, event: FriendResponseEvent) -> Allow:
    """A user may always say no, even to or from a blocked account."""
    return Allow()


@friendcb.on_friend_response
def blocklist(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """Neither a blocked requester nor a blocked responder makes a friend this way."""
    return current_policies().blocklist(item, event)


@friendcb.on_friend_response
def content(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """Remarks and friend groups within Tencent's limits, without banned words, links, e-mail
    addresses or contact numbers."""
    policy = current_policies().content
    for field, text, limit in (
        ("remark", item.remark, REMARK_MAX_BYTES),
        ("friend group", item.tag_name, TAG_MAX_BYTES),
    ):
        match = policy.find(text, max_bytes=limit)
        if match is not None:
            return Reject(
                PolicyCode.CONTENT, CONTENT_INFO[match.rule].format(field=field, limit=limit)
            )
    return None


@friendcb.on_friend_response(actions=[ResponseAction.AGREE_AND_ADD, ResponseAction.AGREE])
def velocity(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """At most EXAMPLE_VELOCITY_LIMIT acceptances per responder per window, counted in the
    shared storage so that every worker (and, on Redis, every instance) sees every one."""
    decision = current_policies().velocity(item, event)
    if decision is None or decision.info == UNCHECKED_INFO:
        return decision
    settings = current_service().settings
    return Reject(
        PolicyCode.VELOCITY,
        f"more than {settings.velocity_limit} acceptances in {settings.velocity_seconds} s",
    )


@friendcb.on_friend_add
def request_blocklist(item: FriendAddItem, event: FriendAddEvent) -> Reject | None:
    """A blocked account sends no friend request: it never reaches the other user."""
    return current_policies().blocklist(item, event)


@friendcb.on_friend_add
def request_content(item: FriendAddItem, event: FriendAddEvent) -> Reject | None:
    """Wordings, remarks and friend groups within Tencent's limits, without banned words,
    links, e-mail addresses or contact numbers: the wording first, what a spammer writes to
    every victim."""
    policy = current_policies().content
    for field, text, limit in (
        ("wording", item.add_wording, WORDING_MAX_BYTES),
        ("remark", item.remark, REMARK_MAX_BYTES),
        ("friend group", item.group_name, TAG_MAX_BYTES),
    ):
        match = policy.find(text, max_bytes=limit)
        if match is not None:
            return Reject(
                PolicyCode.CONTENT, CONTENT_INFO[match.rule].format(field=field, limit=limit)
            )
    return None


@friendcb.on_friend_add
def request_velocity(item: FriendAddItem, event: FriendAddEvent) -> Reject | None:
    """At most EXAMPLE_VELOCITY_LIMIT requests sent per sender per window (the farm that
    sends 500 requests a minute), counted apart from acceptances."""
    decision = current_policies().velocity(item, event)
    if decision is None or decision.info == UNCHECKED_INFO:
        return decision
    settings = current_service().settings
    return Reject(
        PolicyCode.VELOCITY,
        f"more than {settings.velocity_limit} requests in {settings.velocity_seconds} s",
    )
