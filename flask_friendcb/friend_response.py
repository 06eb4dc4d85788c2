"""``Sns.CallbackPrevFriendResponse``: an authenticated body loaded into an event, the hooks run
on its items, the answer written, and the decisions logged, observed and counted.

One bad item costs one item: an item that names its requester but fails the item schema is
decided by the error policy and put back at its wire position; no hook sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .auth import describe
from .errors import CallbackRefused
from .hooks import HookPolicy, HookRegistry, decide
from .jsonbody import encode
from .models import (
    FriendResponseAnswer,
    FriendResponseEvent,
    FriendResponseItem,
    InvalidItem,
    ItemResult,
    Outcome,
)
from .protocol import FRIEND_RESPONSE_COMMAND, ErrorCode, ResponseAction
from .schemas import (
    CallbackQuery,
    FriendResponseAnswerSchema,
    FriendResponseBodySchema,
    ValidationError,
    describe_errors,
)

if TYPE_CHECKING:
    from .metrics import Metrics

logger = logging.getLogger("flask_friendcb")

#: Called with each authenticated friend-response event, before the hooks run.
EventObserver = Callable[[FriendResponseEvent], None]
#: Called with each event and the answer the hooks decided, before it is sent.
AnswerObserver = Callable[[FriendResponseEvent, FriendResponseAnswer], None]

# ErrorInfo is free text for people; a long schema report is cut rather than echoed whole.
MAX_INFO = 1000


class FriendResponseDecider:
    """Decides the friend-response callbacks of one receiver. Built once with the receiver's
    handler; :meth:`answer` shares nothing mutable between requests."""

    def __init__(
        self,
        sdkappid: str,
        hooks: HookRegistry,
        policy: HookPolicy,
        *,
        on_event: EventObserver | None = None,
        on_answer: AnswerObserver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.sdkappid = sdkappid
        self.hooks = hooks
        self.policy = policy
        self.on_event = on_event
        self.on_answer = on_answer
        self.metrics = metrics
        self._body_schema = FriendResponseBodySchema()
        self._answer_schema = FriendResponseAnswerSchema()

    def answer(self, body: dict[str, Any], query: CallbackQuery) -> bytes:
        """The JSON of the OK answer to an authenticated ``body``; raises
        :class:`CallbackRefused` (400) when its envelope is unusable."""
        try:
            data = self._body_schema.load(body)
        except ValidationError as error:
            raise CallbackRefused(
                400, ErrorCode.BODY_INVALID, describe_errors(error.messages, MAX_INFO)
            ) from None
        loaded = data["items"]
        items: tuple[FriendResponseItem, ...]
        invalid: tuple[InvalidItem, ...] = ()
        if type(loaded) is list:  # every item loaded: the common case
            items = tuple(loaded)
        else:
            items, invalid = _split(loaded)
        event = FriendResponseEvent(
            sdkappid=self.sdkappid,
            callback_command=FRIEND_RESPONSE_COMMAND,
            requester_account=data["requester_account"],
            from_account=data["from_account"],
            event_time_ms=data["event_time_ms"],
            items=items,
            client_ip=query.client_ip,
            opt_platform=query.opt_platform,
            invalid_items=invalid,
        )
        if self.on_event is not None:
            _observe(self.on_event, event)
        metrics = self.metrics
        if metrics is None:
            answer = decide(self.hooks, event, self.policy)
        else:
            answer = decide(self.hooks, event, self.policy, on_hook_time=metrics.hook_time)
        if invalid:
            answer = _with_invalid(answer, invalid, self.policy)
        if metrics is not None:
            metrics.answer(answer)
        if logger.isEnabledFor(logging.INFO):
            _log_decisions(data["from_account"], answer)
        if self.on_answer is not None:
            _observe(self.on_answer, event, answer)
        return encode(
            self._answer_schema.dump(
                {
                    "action_status": "OK",
                    "error_code": 0,
                    "error_info": "",
                    "results": answer.results,
                }
            )
        )


def _split(
    loaded: list[FriendResponseItem | InvalidItem | None],
) -> tuple[tuple[FriendResponseItem, ...], tuple[InvalidItem, ...]]:
    items = tuple(each for each in loaded if isinstance(each, FriendResponseItem))
    invalid = tuple(each for each in loaded if isinstance(each, InvalidItem))
    return items, invalid


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
            action,
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


__all__ = ["AnswerObserver", "EventObserver", "FriendResponseDecider"]
