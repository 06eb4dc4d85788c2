"""The friend callbacks after authentication: a body loaded into its event, then decided item by
item (the "before" commands) or observed (the "after" commands), and the answer written.

Each command is a row of :data:`COMMANDS`-like tables built here, not a module of its own: a
:class:`ItemDecider` serves ``Sns.CallbackPrevFriendResponse`` and
``Sns.CallbackPrevFriendAdd`` alike, with the command's body schema and event, and a
:class:`RelationNotifier` serves the four "after" commands.

One bad item costs one item: an item that names its user but fails the item schema is decided
by the error policy and put back at its wire position; no hook sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .auth import describe
from .errors import CallbackRefused
from .hooks import HookCall, HookOutcome, HookPolicy, HookRegistry, decide, decision_steps, notify
from .models import (
    RELATION_EVENTS,
    CallbackContext,
    DecidedEvent,
    FriendAddEvent,
    FriendResponseAnswer,
    InvalidItem,
    ItemResult,
    Outcome,
    RelationEvent,
    build_response_event,
)
from .protocol import (
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_RESPONSE_COMMAND,
    ErrorCode,
    ResponseAction,
)
from .schemas import (
    CallbackQuery,
    FriendAddBodySchema,
    FriendAddedBodySchema,
    FriendResponseAnswerSchema,
    FriendResponseBodySchema,
    RelationBodySchema,
    ValidationError,
    describe_errors,
)

if TYPE_CHECKING:
    from marshmallow import Schema

    from .metrics import Metrics

logger = logging.getLogger("flask_friendcb")

#: Called with each authenticated event of a "before" command, before the hooks run.
EventObserver = Callable[[DecidedEvent], None]
#: Called with each event and the answer the hooks decided, before it is sent.
AnswerObserver = Callable[[DecidedEvent, FriendResponseAnswer], None]
#: Called with each authenticated event of an "after" command, after its observers ran.
ChangeObserver = Callable[[RelationEvent], None]

# ErrorInfo is free text for people; a long schema report is cut rather than echoed whole.
MAX_INFO = 1000


def load_body(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` loaded by ``schema``; raises :class:`CallbackRefused` (400) naming the fields
    at fault."""
    fast_load = getattr(schema, "fast_load", None)
    if fast_load is not None:
        loaded: dict[str, Any] | None = fast_load(body)
        if loaded is not None:
            return loaded
    try:
        loaded = schema.load(body)
    except ValidationError as error:
        raise CallbackRefused(
            400, ErrorCode.BODY_INVALID, describe_errors(error.messages, MAX_INFO)
        ) from None
    return loaded


def _response_event(
    data: dict[str, Any],
    items: tuple[Any, ...],
    invalid: tuple[InvalidItem, ...],
    sdkappid: str,
    query: CallbackQuery,
) -> DecidedEvent:
    return build_response_event(
        sdkappid,
        FRIEND_RESPONSE_COMMAND,
        data["requester_account"],
        data["from_account"],
        data["event_time_ms"],
        items,
        query.client_ip,
        query.opt_platform,
        invalid,
    )


def _request_event(
    data: dict[str, Any],
    items: tuple[Any, ...],
    invalid: tuple[InvalidItem, ...],
    sdkappid: str,
    query: CallbackQuery,
) -> DecidedEvent:
    context = CallbackContext(sdkappid, FRIEND_ADD_COMMAND, query.client_ip, query.opt_platform)
    return FriendAddEvent(
        requester_account=data["requester_account"],
        from_account=data["from_account"],
        add_type=data["add_type"],
        force_add_flags=data["force_add_flags"],
        event_time_ms=data["event_time_ms"],
        items=items,
        context=context,
        invalid_items=invalid,
    )


# The "before" commands: each one's body schema and the event its loaded body makes.
_DECIDED: dict[str, tuple[type[Schema], Callable[..., DecidedEvent]]] = {
    FRIEND_RESPONSE_COMMAND: (FriendResponseBodySchema, _response_event),
    FRIEND_ADD_COMMAND: (FriendAddBodySchema, _request_event),
}


class ItemDecider:
    """Decides the callbacks of one "before" command for one receiver. Built once with the
    receiver's handler; nothing mutable is shared between requests.

    :meth:`begin` loads the event, :meth:`decide` runs the hooks in the caller's thread (an
    asynchronous adapter drives :meth:`steps` its own way instead), :meth:`finish` writes the
    answer.
    """

    def __init__(
        self,
        command: str,
        sdkappid: str,
        hooks: HookRegistry,
        policy: HookPolicy,
        *,
        on_event: EventObserver | None = None,
        on_answer: AnswerObserver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        schema, self._make_event = _DECIDED[command]
        self.command = command
        self.sdkappid = sdkappid
        self.hooks = hooks
        self.policy = policy
        self.on_event = on_event
        self.on_answer = on_answer
        self.metrics = metrics
        self._body_schema = schema()
        self._answer_schema = FriendResponseAnswerSchema()

    def begin(self, body: dict[str, Any], query: CallbackQuery) -> DecidedEvent:
        """The event of an authenticated ``body``, after its observer saw it; raises
        :class:`CallbackRefused` (400) when its envelope is unusable."""
        data = load_body(self._body_schema, body)
        loaded = data["items"]
        items: tuple[Any, ...]
        invalid: tuple[InvalidItem, ...] = ()
        if type(loaded) is list:  # every item loaded: the common case
            items = tuple(loaded)
        else:
            items = tuple(each for each in loaded if not isinstance(each, InvalidItem))
            invalid = tuple(each for each in loaded if isinstance(each, InvalidItem))
        event = self._make_event(data, items, invalid, self.sdkappid, query)
        if self.on_event is not None:
            _observe(self.on_event, event)
        return event

    def steps(self, event: DecidedEvent) -> Generator[HookCall, HookOutcome, FriendResponseAnswer]:
        """The hook calls due on ``event``, for a driver of its own (see
        :func:`~flask_friendcb.hooks.decision_steps`)."""
        metrics = self.metrics
        return decision_steps(
            self.hooks,
            event,
            self.policy,
            on_hook_time=None if metrics is None else metrics.hook_time,
        )

    def finish(self, event: DecidedEvent, answer: FriendResponseAnswer, from_account: str) -> bytes:
        """The JSON of the OK answer, once the hooks decided ``answer``: the invalid items put
        back, the decisions counted, logged and observed. ``from_account`` is the event's as
        :meth:`begin` made it (a hook may have forced a change on the frozen event)."""
        if event.invalid_items:
            answer = _with_invalid(answer, event.invalid_items, self.policy)
        if self.metrics is not None:
            self.metrics.answer(answer, self.command)
        if logger.isEnabledFor(logging.INFO):
            _log_decisions(from_account, answer)
        if self.on_answer is not None:
            _observe(self.on_answer, event, answer)
        return self._answer_schema.ok_json(answer.results)

    def decide(self, event: DecidedEvent) -> FriendResponseAnswer:
        """The hooks' answer on ``event``, each hook called in this thread."""
        metrics = self.metrics
        if metrics is None:
            return decide(self.hooks, event, self.policy)
        return decide(self.hooks, event, self.policy, on_hook_time=metrics.hook_time)


class RelationNotifier:
    """Loads the callbacks of the four "after" commands into their events for one receiver.
    Their answer is always the plain OK: Tencent ignores it."""

    def __init__(self, hooks: HookRegistry, *, on_relation: ChangeObserver | None = None) -> None:
        self.hooks = hooks
        self.on_relation = on_relation
        self._schemas: dict[str, Schema] = {
            command: (
                FriendAddedBodySchema if command == FRIEND_ADDED_COMMAND else RelationBodySchema
            )()
            for command in RELATION_EVENTS
        }

    def event(self, body: dict[str, Any], context: CallbackContext) -> RelationEvent:
        """The event of an authenticated ``body`` of ``context.callback_command``; raises
        :class:`CallbackRefused` (400) when ``PairList`` or another field is unusable."""
        command = context.callback_command
        data = load_body(self._schemas[command], body)
        return RELATION_EVENTS[command](pairs=tuple(data.pop("pairs")), context=context, **data)

    def observed(self, event: RelationEvent) -> None:
        """Tell the receiver's own observer (the signal) that ``event``'s observers ran."""
        if self.on_relation is not None:
            _observe(self.on_relation, event)

    def notify(self, event: RelationEvent) -> None:
        """Run ``event``'s observers in this thread, then tell the receiver's own observer."""
        notify(self.hooks, event)
        self.observed(event)


def _with_invalid(
    answer: FriendResponseAnswer, invalid: tuple[InvalidItem, ...], policy: HookPolicy
) -> FriendResponseAnswer:
    """``answer`` (the hooks' results) with the error policy's result for each invalid item
    put back at its wire position."""
    results = list(answer.results)
    for each in invalid:  # in wire order, so each lands at its position
        logger.warning(
            "item %d (To_Account %s) fails the schema and is %s by the error policy: %s",
            each.position,
            describe(each.to_account),
            "allowed" if policy.result_code == 0 else "blocked",
            each.reason,
            extra={
                "friendcb_item": each.position,
                "friendcb_to_account": each.to_account,
                "friendcb_result_code": policy.result_code,
                "friendcb_outcome": Outcome.INVALID_ITEM.value,
                "friendcb_reason": each.reason,
            },
        )
        results.insert(
            each.position,
            ItemResult(
                each.to_account,
                policy.result_code,
                policy.result_info,
                Outcome.INVALID_ITEM,
                None,
                _known_action(each.response_action),
            ),
        )
    return FriendResponseAnswer(tuple(results))


def _known_action(value: str) -> ResponseAction | None:
    try:
        return ResponseAction(value)
    except ValueError:
        return None


def _log_decisions(from_account: str, answer: FriendResponseAnswer) -> None:
    # Blocked items at INFO, allowed ones at DEBUG; the extra= fields are for log pipelines
    # that index records, the message for people. Only the results are read: they hold what
    # came on the wire, whatever a hook did to the event.
    for result in answer.results:
        level = logging.DEBUG if result.allowed else logging.INFO
        if not logger.isEnabledFor(level):
            continue
        action = result.response_action.value if result.response_action else ""
        logger.log(
            level,
            "%s %s: From_Account %s, To_Account %s, ResultCode %d (%s)",
            "allowed" if result.allowed else "blocked",
            action or "request",
            describe(from_account),
            describe(result.to_account),
            result.result_code,
            result.hook or "no hook decided",
            extra={
                "friendcb_from_account": from_account,
                "friendcb_to_account": result.to_account,
                "friendcb_action": action,
                "friendcb_result_code": result.result_code,
                "friendcb_outcome": result.outcome.value,
                "friendcb_hook": result.hook,
            },
        )


def _observe(observer: Callable[..., None], *args: Any) -> None:
    # An observer is the app's code, like a hook: its failure must not cost Tencent an answer.
    try:
        observer(*args)
    except Exception:
        logger.exception("callback observer %r failed", observer)


__all__ = [
    "MAX_INFO",
    "AnswerObserver",
    "ChangeObserver",
    "EventObserver",
    "ItemDecider",
    "RelationNotifier",
    "load_body",
]
