"""What hooks and observers see, and what hooks return.

Response hooks receive a :class:`FriendResponseItem` and its :class:`FriendResponseEvent`,
request hooks a :class:`FriendAddItem` and its :class:`FriendAddEvent`; both return
:class:`Allow`, :class:`Reject` or ``None``. The library answers Tencent from a
:class:`FriendResponseAnswer`, which signal receivers also get. Observers of the "after"
callbacks receive a :class:`RelationEvent` (one subclass per command) with its
:class:`FriendPair` s. All of them are immutable: a hook cannot change what the hooks after it
see.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .protocol import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    CODE_MAX,
    CODE_MIN,
    FRIEND_ADDED_COMMAND,
    FRIEND_DELETED_COMMAND,
    ResponseAction,
    is_code_in_range,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class FriendResponseItem:
    """One answered friend request (an element of ``ResponseFriendItem``)."""

    #: The user who sent the friend request (``To_Account``).
    to_account: str
    #: How the responding user answered (``ResponseAction``).
    response_action: ResponseAction
    #: The remark the responder gives the requester (``Remark``); "" when absent or null.
    remark: str = ""
    #: The friend group the responder puts the requester in (``TagName``); "" when absent or null.
    tag_name: str = ""


@dataclass(frozen=True, slots=True)
class InvalidItem:
    """An element of ``ResponseFriendItem`` (or of a request's ``FriendItem``) that names its
    user but fails the item schema: an unknown ``ResponseAction`` (Tencent may add one), a
    ``Remark``, ``TagName``, ``GroupName``, ``AddSource`` or ``AddWording`` that is not a
    string, a missing ``ResponseAction``.

    No hook sees it: the error policy (``FRIENDCB_ON_HOOK_ERROR``) decides it, its reason is
    logged, and the other items of the callback are decided by the hooks as usual. Observers
    find it in :attr:`FriendResponseEvent.invalid_items` (:attr:`FriendAddEvent.invalid_items`).
    The fields of the other command are "".
    """

    #: Its index in ``ResponseFriendItem``.
    position: int
    #: The user who sent the friend request (``To_Account``), a non-empty string.
    to_account: str
    #: What is wrong with it, by wire path, such as
    #: ``ResponseFriendItem[1].Remark: Not a valid string.`` (never the offending value).
    reason: str
    #: ``ResponseAction`` as it came, when it was a string (possibly one this library does not
    #: know yet); "" otherwise.
    response_action: str = ""
    #: ``Remark`` as it came, when it was a string; "" otherwise.
    remark: str = ""
    #: ``TagName`` as it came, when it was a string; "" otherwise.
    tag_name: str = ""
    #: A request's ``GroupName`` as it came, when it was a string; "" otherwise.
    group_name: str = ""
    #: A request's ``AddSource`` as it came, when it was a string; "" otherwise.
    add_source: str = ""
    #: A request's ``AddWording`` as it came, when it was a string; "" otherwise.
    add_wording: str = ""


@dataclass(frozen=True, slots=True)
class CallbackContext:
    """Where a callback came from, read from its query string.

    Handlers of other commands (:meth:`HookRegistry.on_command`) receive it with the body.
    """

    #: The SDKAppID the callback is for (always this application's: others are refused).
    sdkappid: str
    #: The ``CallbackCommand`` being answered.
    callback_command: str
    #: The chat client's IP address (``ClientIP``), "" when absent.
    client_ip: str = ""
    #: The chat client's platform (``OptPlatform``), free text such as ``iOS``; "" when absent.
    opt_platform: str = ""


@dataclass(frozen=True, slots=True)
class FriendResponseEvent:
    """One ``Sns.CallbackPrevFriendResponse`` callback: a user answered friend requests."""

    #: The SDKAppID the callback is for.
    sdkappid: str
    #: Always ``Sns.CallbackPrevFriendResponse``.
    callback_command: str
    #: The user who initiated this operation (``Requester_Account``); "" when absent.
    requester_account: str
    #: The user who answers the friend requests (``From_Account``).
    from_account: str
    #: When Tencent saw the answer, in milliseconds since the Unix epoch (``EventTime``).
    event_time_ms: int
    #: The answered requests that the hooks decide, in wire order.
    items: tuple[FriendResponseItem, ...]
    #: The chat client's IP address (``ClientIP`` in the query), "" when absent.
    client_ip: str = ""
    #: The chat client's platform (``OptPlatform`` in the query), "" when absent.
    opt_platform: str = ""
    #: The requests that failed the item schema, which the error policy decides (no hook sees
    #: them); usually empty. See :class:`InvalidItem`.
    invalid_items: tuple[InvalidItem, ...] = ()

    @property
    def event_time(self) -> datetime:
        """``event_time_ms`` as an aware UTC :class:`~datetime.datetime`."""
        # Adding a timedelta is exact to the millisecond, unlike fromtimestamp(ms / 1000).
        return _EPOCH + timedelta(milliseconds=self.event_time_ms)

    @property
    def context(self) -> CallbackContext:
        """Where the callback came from, as request events and handlers of other commands get
        it."""
        return CallbackContext(
            self.sdkappid, self.callback_command, self.client_ip, self.opt_platform
        )

    def with_results(
        self, answer: FriendResponseAnswer
    ) -> Iterator[tuple[FriendResponseItem | InvalidItem, ItemResult]]:
        """Every item as it came on the wire, hooked or invalid, with its result, in wire
        order: what an observer of :data:`~flask_friendcb.signals.answer_decided` pairs up.

        ``zip(event.items, answer.results)`` pairs them only while no item is invalid.
        """
        return _with_results(self.items, self.invalid_items, answer)


@dataclass(frozen=True, slots=True)
class FriendAddItem:
    """One friend request being sent (an element of ``FriendItem``)."""

    #: The user the request goes to (``To_Account``).
    to_account: str
    #: The remark the requester gives that user (``Remark``, at most 96 bytes); "" when absent.
    remark: str = ""
    #: The friend group the requester puts that user in (``GroupName``); "" when absent.
    group_name: str = ""
    #: Where the request comes from (``AddSource``, ``AddSource_Type_`` and a keyword); "" when
    #: absent.
    add_source: str = ""
    #: The requester's message to that user (``AddWording``, at most 256 bytes): what a spammer
    #: writes to every victim; "" when absent.
    add_wording: str = ""


class _FromContext:
    """The query's fields of an event that keeps them in ``context``, by their usual names."""

    __slots__ = ()
    context: CallbackContext

    @property
    def sdkappid(self) -> str:
        """The SDKAppID the callback is for."""
        return self.context.sdkappid

    @property
    def callback_command(self) -> str:
        """The ``CallbackCommand`` of the callback."""
        return self.context.callback_command

    @property
    def client_ip(self) -> str:
        """The chat client's IP address (``ClientIP`` in the query), "" when absent."""
        return self.context.client_ip

    @property
    def opt_platform(self) -> str:
        """The chat client's platform (``OptPlatform`` in the query), "" when absent."""
        return self.context.opt_platform


@dataclass(frozen=True, slots=True)
class FriendAddEvent(_FromContext):
    """One ``Sns.CallbackPrevFriendAdd`` callback: a user is sending friend requests.

    A request refused here never reaches the other user.
    """

    #: The user who initiated this operation (``Requester_Account``); "" when absent.
    requester_account: str
    #: The user who sends the requests (``From_Account``).
    from_account: str
    #: ``AddType`` as it came (``Add_Type_Both`` or ``Add_Type_Single``, see
    #: :class:`~flask_friendcb.protocol.AddType`); "" when absent.
    add_type: str
    #: ``ForceAddFlags``: 1 when the friendship is made whatever the other user's settings.
    force_add_flags: int
    #: When Tencent saw the request, in milliseconds since the Unix epoch (``EventTime``).
    event_time_ms: int
    #: The requests that the hooks decide, in wire order.
    items: tuple[FriendAddItem, ...]
    #: Where the callback came from (the query string).
    context: CallbackContext
    #: The requests that failed the item schema, which the error policy decides (no hook sees
    #: them); usually empty. See :class:`InvalidItem`.
    invalid_items: tuple[InvalidItem, ...] = ()

    @property
    def event_time(self) -> datetime:
        """``event_time_ms`` as an aware UTC :class:`~datetime.datetime`."""
        return _EPOCH + timedelta(milliseconds=self.event_time_ms)

    def with_results(
        self, answer: FriendResponseAnswer
    ) -> Iterator[tuple[FriendAddItem | InvalidItem, ItemResult]]:
        """Every item as it came on the wire, hooked or invalid, with its result, in wire
        order (see :meth:`FriendResponseEvent.with_results`)."""
        return _with_results(self.items, self.invalid_items, answer)


def _with_results(
    items: Sequence[FriendResponseItem | FriendAddItem],
    invalid_items: tuple[InvalidItem, ...],
    answer: FriendResponseAnswer,
) -> Iterator[tuple[Any, ItemResult]]:
    if not invalid_items:
        return zip(items, answer.results, strict=True)
    every: list[Any] = list(items)
    for invalid in invalid_items:  # in wire order, so each lands at its position
        every.insert(invalid.position, invalid)
    return zip(every, answer.results, strict=True)


#: What a before-callback hook receives: a response's event or a request's.
DecidedEvent = FriendResponseEvent | FriendAddEvent


@dataclass(frozen=True, slots=True)
class FriendPair:
    """One relationship an "after" callback reports (an element of ``PairList``)."""

    #: The user whose friend list or blocklist changed (``From_Account``).
    from_account: str
    #: The user added to or removed from it (``To_Account``).
    to_account: str
    #: Who sent the friend request that made the friendship (``Initiator_Account``,
    #: ``Sns.CallbackFriendAdd`` only); "" when absent.
    initiator_account: str = ""


@dataclass(frozen=True, slots=True)
class RelationEvent(_FromContext):
    """One "after" callback: relationships that changed. Observers get one of its subclasses,
    one per command; Tencent ignores what the answer says, so observers only watch."""

    #: The relationships, in wire order (``PairList``).
    pairs: tuple[FriendPair, ...]
    #: Where the callback came from (the query string).
    context: CallbackContext
    #: ``EventTime`` in milliseconds since the Unix epoch, when the body carries one (Tencent's
    #: pages do not list it for these commands); ``None`` otherwise.
    event_time_ms: int | None = None

    @property
    def event_time(self) -> datetime | None:
        """``event_time_ms`` as an aware UTC :class:`~datetime.datetime`, or ``None``."""
        if self.event_time_ms is None:
            return None
        return _EPOCH + timedelta(milliseconds=self.event_time_ms)


@dataclass(frozen=True, slots=True)
class FriendAddedEvent(RelationEvent):
    """``Sns.CallbackFriendAdd``: friendships were made (``From_Account`` now has
    ``To_Account`` as a friend). Not sent for friend imports."""

    #: What made them (``ClientCmd``): ``friend_add`` / ``FriendAdd`` for a request that needed
    #: no answer, ``friend_response`` / ``FriendResponse`` for an accepted request; "" when
    #: absent.
    client_cmd: str = ""
    #: The admin account, when the backend added the friends (``Admin_Account``); "" otherwise.
    admin_account: str = ""
    #: ``ForceFlag``: 1 when an admin forced the friendship, 0 otherwise.
    force_flag: int = 0


@dataclass(frozen=True, slots=True)
class FriendDeletedEvent(RelationEvent):
    """``Sns.CallbackFriendDelete``: friendships were removed (``To_Account`` is no longer in
    ``From_Account``'s friend list), by a user or because one blocklisted the other."""


@dataclass(frozen=True, slots=True)
class BlocklistAddedEvent(RelationEvent):
    """``Sns.CallbackBlackListAdd``: ``From_Account`` put ``To_Account`` on their blocklist:
    the strongest spam signal there is when many users do it to one account."""


@dataclass(frozen=True, slots=True)
class BlocklistRemovedEvent(RelationEvent):
    """``Sns.CallbackBlackListDelete``: ``From_Account`` took ``To_Account`` off their
    blocklist."""


#: The event class of each "after" command.
RELATION_EVENTS: dict[str, type[RelationEvent]] = {
    FRIEND_ADDED_COMMAND: FriendAddedEvent,
    FRIEND_DELETED_COMMAND: FriendDeletedEvent,
    BLOCKLIST_ADDED_COMMAND: BlocklistAddedEvent,
    BLOCKLIST_REMOVED_COMMAND: BlocklistRemovedEvent,
}


@dataclass(frozen=True, slots=True)
class Allow:
    """A hook's decision to let the item through; later hooks are skipped for that item."""


@dataclass(frozen=True, slots=True)
class Reject:
    """A hook's decision to block the item with ``code`` (in [38000, 39000]) and ``info``.

    Tencent refuses the friend operation and passes ``code`` and ``info`` on as the item's
    ``ResultCode`` and ``ResultInfo``.
    """

    code: int
    info: str = ""

    def __post_init__(self) -> None:
        # Checked here, at the hook's own line, rather than when the answer is sent.
        if not is_code_in_range(self.code):
            raise ValueError(
                f"Reject code must be an int in [{CODE_MIN}, {CODE_MAX}], got {self.code!r}"
            )
        if not isinstance(self.info, str):
            raise TypeError(f"Reject info must be a str, got {type(self.info).__name__}")


#: What a hook may return: a decision, or ``None`` for "no opinion".
Decision = Allow | Reject


class Outcome(str, enum.Enum):
    """Why an item got its result code."""

    #: A hook returned :class:`Allow`.
    ALLOWED = "allowed"
    #: A hook returned :class:`Reject`.
    REJECTED = "rejected"
    #: No hook decided: allowed.
    NO_DECISION = "no_decision"
    #: A hook raised or returned something else: the error policy decided.
    HOOK_ERROR = "hook_error"
    #: The deadline passed before the hooks were done: the error policy decided.
    DEADLINE = "deadline"
    #: The item failed the item schema (:class:`InvalidItem`): no hook saw it, the error
    #: policy decided.
    INVALID_ITEM = "invalid_item"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The verdict on one item (an element of ``ResultItem``), with how it was reached."""

    #: Echoes the item's ``To_Account``.
    to_account: str
    #: 0 allows the item; a code in [38000, 39000] blocks it.
    result_code: int
    #: Sent to Tencent as ``ResultInfo``.
    result_info: str
    #: Why the item got this result.
    outcome: Outcome
    #: The qualified name of the hook that decided or failed, or ``None``.
    hook: str | None = None
    #: The item's ``ResponseAction``, as it came on the wire; ``None`` for a request's item, and
    #: for an invalid item whose action is not one of :class:`ResponseAction`.
    response_action: ResponseAction | None = None

    @property
    def allowed(self) -> bool:
        """Whether Tencent will let the friend operation go ahead."""
        return self.result_code == 0


@dataclass(frozen=True, slots=True)
class FriendResponseAnswer:
    """The answer to one "before" callback (a response's or a request's): one result per item,
    in wire order."""

    results: tuple[ItemResult, ...]

    @property
    def blocked(self) -> tuple[ItemResult, ...]:
        """The results that block their item."""
        return tuple(result for result in self.results if not result.allowed)


# -- building on the request path --------------------------------------------------------------
#
# A frozen dataclass's __init__ sets each field through object.__setattr__, a lookup and a call
# per field. The request path builds an item and a result for every item of every callback, so
# it sets their slots through the slots' own descriptors instead: the same object (the tests
# compare it field by field with the class's own), for about half the time. Every field is
# given, in declaration order; none of these classes has a __post_init__.

_new = object.__new__
_RESULT_SLOTS = tuple(
    ItemResult.__dict__[name].__set__
    for name in ("to_account", "result_code", "result_info", "outcome", "hook", "response_action")
)
_RESPONSE_EVENT_SLOTS = tuple(
    FriendResponseEvent.__dict__[name].__set__
    for name in (
        "sdkappid",
        "callback_command",
        "requester_account",
        "from_account",
        "event_time_ms",
        "items",
        "client_ip",
        "opt_platform",
        "invalid_items",
    )
)
_RESPONSE_ITEM_SLOTS = tuple(
    FriendResponseItem.__dict__[name].__set__
    for name in ("to_account", "response_action", "remark", "tag_name")
)


def build_result(
    to_account: str,
    result_code: int,
    result_info: str,
    outcome: Outcome,
    hook: str | None,
    response_action: ResponseAction | None,
) -> ItemResult:
    """``ItemResult(to_account, result_code, ...)``, every field given, built faster."""
    result: ItemResult = _new(ItemResult)
    set_account, set_code, set_info, set_outcome, set_hook, set_action = _RESULT_SLOTS
    set_account(result, to_account)
    set_code(result, result_code)
    set_info(result, result_info)
    set_outcome(result, outcome)
    set_hook(result, hook)
    set_action(result, response_action)
    return result


def build_response_item(
    to_account: str, response_action: ResponseAction, remark: str, tag_name: str
) -> FriendResponseItem:
    """``FriendResponseItem(to_account, response_action, remark, tag_name)``, built faster."""
    item: FriendResponseItem = _new(FriendResponseItem)
    set_account, set_action, set_remark, set_tag = _RESPONSE_ITEM_SLOTS
    set_account(item, to_account)
    set_action(item, response_action)
    set_remark(item, remark)
    set_tag(item, tag_name)
    return item


def build_response_event(
    sdkappid: str,
    callback_command: str,
    requester_account: str,
    from_account: str,
    event_time_ms: int,
    items: tuple[FriendResponseItem, ...],
    client_ip: str,
    opt_platform: str,
    invalid_items: tuple[InvalidItem, ...],
) -> FriendResponseEvent:
    """``FriendResponseEvent(...)``, every field given in order, built faster."""
    event: FriendResponseEvent = _new(FriendResponseEvent)
    (
        set_sdkappid,
        set_command,
        set_requester,
        set_from,
        set_time,
        set_items,
        set_ip,
        set_platform,
        set_invalid,
    ) = _RESPONSE_EVENT_SLOTS
    set_sdkappid(event, sdkappid)
    set_command(event, callback_command)
    set_requester(event, requester_account)
    set_from(event, from_account)
    set_time(event, event_time_ms)
    set_items(event, items)
    set_ip(event, client_ip)
    set_platform(event, opt_platform)
    set_invalid(event, invalid_items)
    return event
