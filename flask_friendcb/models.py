"""What hooks see and return.

Hooks receive a :class:`FriendResponseItem` and its :class:`FriendResponseEvent`, and return
:class:`Allow`, :class:`Reject` or ``None``. The library answers Tencent from a
:class:`FriendResponseAnswer`, which signal receivers also get. All of them are immutable: a
hook cannot change what the hooks after it see.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .protocol import CODE_MAX, CODE_MIN, ResponseAction, is_code_in_range

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
    """An element of ``ResponseFriendItem`` that names its requester but fails the item schema:
    an unknown ``ResponseAction`` (Tencent may add one), a ``Remark`` or ``TagName`` that is
    not a string, a missing ``ResponseAction``.

    No hook sees it: the error policy (``FRIENDCB_ON_HOOK_ERROR``) decides it, its reason is
    logged, and the other items of the callback are decided by the hooks as usual. Observers
    find it in :attr:`FriendResponseEvent.invalid_items`.
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

    def with_results(
        self, answer: FriendResponseAnswer
    ) -> Iterator[tuple[FriendResponseItem | InvalidItem, ItemResult]]:
        """Every item as it came on the wire, hooked or invalid, with its result, in wire
        order: what an observer of :data:`~flask_friendcb.signals.answer_decided` pairs up.

        ``zip(event.items, answer.results)`` pairs them only while no item is invalid.
        """
        if not self.invalid_items:
            return zip(self.items, answer.results, strict=True)
        items: list[FriendResponseItem | InvalidItem] = list(self.items)
        for invalid in self.invalid_items:  # in wire order, so each lands at its position
            items.insert(invalid.position, invalid)
        return zip(items, answer.results, strict=True)


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
    #: The item's ``ResponseAction``, as it came on the wire; ``None`` for an invalid item whose
    #: action is not one of :class:`ResponseAction`.
    response_action: ResponseAction | None = None

    @property
    def allowed(self) -> bool:
        """Whether Tencent will let the friend operation go ahead."""
        return self.result_code == 0


@dataclass(frozen=True, slots=True)
class FriendResponseAnswer:
    """The answer to one friend-response callback: one result per item, in wire order."""

    results: tuple[ItemResult, ...]

    @property
    def blocked(self) -> tuple[ItemResult, ...]:
        """The results that block their item."""
        return tuple(result for result in self.results if not result.allowed)
