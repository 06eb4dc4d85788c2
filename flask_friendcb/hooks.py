"""The hook registry, and the per-item decision it drives.

Hooks run in registration order for every item whose action they watch. The first
:class:`~flask_friendcb.models.Allow` or :class:`~flask_friendcb.models.Reject` decides the
item; when no hook decides, the item is allowed. A hook that raises or returns anything else is
logged with its traceback, and the error policy decides the item. Once the deadline's worth of
hook time is spent, no further hook is called: every item still undecided gets the error policy
too, so the answer reaches Tencent before its 2 s timeout.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .auth import describe
from .models import (
    Allow,
    CallbackContext,
    FriendResponseAnswer,
    FriendResponseEvent,
    FriendResponseItem,
    ItemResult,
    Outcome,
    Reject,
)
from .protocol import FRIEND_RESPONSE_COMMAND, ResponseAction, is_code_in_range

logger = logging.getLogger("flask_friendcb.hooks")

#: A friend-response hook: ``hook(item, event)`` returns a decision or ``None``.
FriendResponseHook = Callable[[FriendResponseItem, FriendResponseEvent], Allow | Reject | None]
#: A handler of another command: ``handler(body, context)`` returns fields to merge into the OK
#: answer, or ``None``.
CommandHandler = Callable[[dict[str, Any], CallbackContext], Mapping[str, Any] | None]

HookT = TypeVar("HookT", bound=FriendResponseHook)
HandlerT = TypeVar("HandlerT", bound=CommandHandler)

#: ``ResultInfo`` of an item the error policy rejected; deliberately says nothing of the cause.
HOOK_FAILED_INFO = "the friend response could not be checked"


@dataclass(frozen=True, slots=True)
class RegisteredHook:
    """A hook with the actions it watches (``None``: every action)."""

    func: FriendResponseHook
    actions: frozenset[ResponseAction] | None
    name: str


@dataclass(frozen=True, slots=True)
class HookPolicy:
    """What a failing hook, or a passed deadline, means for an item."""

    #: ``ResultCode`` for such items: 0 under the "allow" policy.
    result_code: int
    #: Seconds of hook time per request.
    deadline: float

    @property
    def result_info(self) -> str:
        """``ResultInfo`` for such items: nothing when they are allowed."""
        return "" if self.result_code == 0 else HOOK_FAILED_INFO


class HookRegistry:
    """The hooks of one receiver. A blueprint creates one in ``__init__``, so hooks declared
    before any app exists run once the blueprint is registered; a middleware can share it
    (``hooks=friendcb.hooks``)."""

    def __init__(self) -> None:
        self._hooks: list[RegisteredHook] = []
        self._by_action: dict[ResponseAction, tuple[RegisteredHook, ...]] = {}
        self._commands: dict[str, CommandHandler] = {}
        self._rebuild()

    @overload
    def on_friend_response(self, func: HookT, /) -> HookT: ...

    @overload
    def on_friend_response(
        self, /, *, actions: Iterable[ResponseAction | str] | None = None
    ) -> Callable[[HookT], HookT]: ...

    def on_friend_response(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        actions: Iterable[ResponseAction | str] | None = None,
    ) -> Any:
        """Register ``func(item, event)`` to run on every item, or only on items whose
        ``response_action`` is in ``actions``. Works bare and with arguments, and returns the
        function unchanged."""
        watched = _actions(actions)

        def register(hook: HookT) -> HookT:
            self._add(hook, _own_actions(hook) if actions is None else watched)
            return hook

        return register if func is None else register(func)

    def add_hook(
        self, func: FriendResponseHook, *, actions: Iterable[ResponseAction | str] | None = None
    ) -> None:
        """Register a hook without the decorator syntax."""
        self._add(func, _own_actions(func) if actions is None else _actions(actions))

    def _add(self, hook: FriendResponseHook, watched: frozenset[ResponseAction] | None) -> None:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, got {hook!r}")
        if inspect.iscoroutinefunction(hook):
            # Its coroutine would never run: hooks are called in the request's thread.
            raise TypeError(f"a hook must be a plain function, not async: {_qualified_name(hook)}")
        self._hooks.append(RegisteredHook(hook, watched, _qualified_name(hook)))
        self._rebuild()

    def on_command(self, command: str) -> Callable[[HandlerT], HandlerT]:
        """Register ``handler(body, context)`` for another ``CallbackCommand`` sent to the same
        URL. It gets the authenticated JSON body and a
        :class:`~flask_friendcb.models.CallbackContext`, and returns a dict merged into the OK
        answer, or ``None`` for the plain OK. One handler per command."""
        if not isinstance(command, str) or not command:
            raise ValueError(f"command must be a non-empty str, got {command!r}")
        if command == FRIEND_RESPONSE_COMMAND:
            raise ValueError(f"{command} is decided by on_friend_response hooks")

        def register(handler: HandlerT) -> HandlerT:
            if not callable(handler):
                raise TypeError(f"a command handler must be callable, got {handler!r}")
            if command in self._commands:
                raise ValueError(
                    f"{command} already has a handler: {_qualified_name(self._commands[command])}"
                )
            self._commands[command] = handler
            return handler

        return register

    def hooks_for(self, action: ResponseAction) -> tuple[RegisteredHook, ...]:
        """The hooks that watch ``action``, in registration order."""
        return self._by_action[action]

    def command_handler(self, command: str) -> CommandHandler | None:
        """The handler registered for ``command``, if any."""
        return self._commands.get(command)

    def __iter__(self) -> Iterator[RegisteredHook]:
        return iter(tuple(self._hooks))

    def __len__(self) -> int:
        return len(self._hooks)

    def _rebuild(self) -> None:
        # Hooks are filtered by action once, when registered, not on every item.
        self._by_action = {
            action: tuple(
                hook for hook in self._hooks if hook.actions is None or action in hook.actions
            )
            for action in ResponseAction
        }


class HookDecorators:
    """The decorators of a receiver that keeps its hooks in ``self.hooks``; shared by the
    blueprint and the middleware so both read the same."""

    hooks: HookRegistry

    @overload
    def on_friend_response(self, func: HookT, /) -> HookT: ...

    @overload
    def on_friend_response(
        self, /, *, actions: Iterable[ResponseAction | str] | None = None
    ) -> Callable[[HookT], HookT]: ...

    def on_friend_response(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        actions: Iterable[ResponseAction | str] | None = None,
    ) -> Any:
        """Register ``func(item, event)`` as a friend-response hook, for every item or only
        those whose ``response_action`` is in ``actions``; returns the function unchanged.
        See :meth:`HookRegistry.on_friend_response`."""
        return self.hooks.on_friend_response(func, actions=actions)  # type: ignore[call-overload]

    def on_command(self, command: str) -> Callable[[HandlerT], HandlerT]:
        """Register ``handler(body, context)`` for another ``CallbackCommand`` sent to the same
        URL; returns the function unchanged. See :meth:`HookRegistry.on_command`."""
        return self.hooks.on_command(command)


#: Called with a hook's name and the seconds one call of it took (metrics).
HookTimeObserver = Callable[[str, float], None]


def decide(
    registry: HookRegistry,
    event: FriendResponseEvent,
    policy: HookPolicy,
    timer: Callable[[], float] = time.perf_counter,
    on_hook_time: HookTimeObserver | None = None,
) -> FriendResponseAnswer:
    """Run the hooks on every item of ``event`` and return one result per item, in order.
    ``on_hook_time``, when given, is told how long each hook call took, raising or not."""
    results = []
    expires = timer() + policy.deadline
    late = False
    # Read before any hook runs: the answer echoes the wire, even if a hook forces a change on
    # the frozen event or on an item (object.__setattr__).
    wire = [(item, item.to_account, item.response_action) for item in event.items]
    for index, (item, to_account, action) in enumerate(wire):
        result = None
        for hook in registry.hooks_for(action):
            # Once late, no more timer calls: every item left falls back at once.
            if late or (started := timer()) >= expires:
                if not late:
                    logger.warning(
                        "deadline of %g s passed before hook %s on item %d of %d",
                        policy.deadline,
                        hook.name,
                        index,
                        len(wire),
                        extra={"friendcb_hook": hook.name, "friendcb_item": index},
                    )
                late = True
                result = _fallback(to_account, action, Outcome.DEADLINE, hook.name, policy)
                break
            try:
                decision: object = hook.func(item, event)
            except Exception:
                if on_hook_time is not None:
                    on_hook_time(hook.name, timer() - started)
                logger.exception(
                    "hook %s raised on item %d (To_Account %s)",
                    hook.name,
                    index,
                    describe(to_account),
                    extra={"friendcb_hook": hook.name, "friendcb_item": index},
                )
                result = _fallback(to_account, action, Outcome.HOOK_ERROR, hook.name, policy)
                break
            if on_hook_time is not None:
                on_hook_time(hook.name, timer() - started)
            if decision is None:
                continue
            try:
                result = _decided(decision, to_account, action, hook.name)
            except Exception:
                # Logged with a traceback too, so the report looks the same as for a hook that
                # raised.
                logger.exception(
                    "hook %s returned junk on item %d",
                    hook.name,
                    index,
                    extra={"friendcb_hook": hook.name, "friendcb_item": index},
                )
                result = _fallback(to_account, action, Outcome.HOOK_ERROR, hook.name, policy)
            break
        if result is None:
            result = ItemResult(to_account, 0, "", Outcome.NO_DECISION, None, action)
        results.append(result)
    return FriendResponseAnswer(tuple(results))


def _decided(decision: object, to_account: str, action: ResponseAction, hook: str) -> ItemResult:
    """The result of a hook's decision; raises ``TypeError`` for anything but ``Allow()`` or a
    well-formed ``Reject``."""
    if isinstance(decision, Allow):
        return ItemResult(to_account, 0, "", Outcome.ALLOWED, hook, action)
    if isinstance(decision, Reject):
        # Reject checks itself when built; one forged past its checks is junk like any other.
        code, info = getattr(decision, "code", None), getattr(decision, "info", None)
        # isinstance first narrows the type; int() drops an int subclass's overrides.
        if isinstance(code, int) and is_code_in_range(code) and isinstance(info, str):
            return ItemResult(to_account, int(code), info, Outcome.REJECTED, hook, action)
    raise TypeError(
        f"hook {hook} returned {_safe_repr(decision)} ({type(decision).__name__}); "
        "expected None, Allow() or Reject(...)"
    )


def _safe_repr(value: object) -> str:
    try:
        return repr(value)[:200]
    except Exception:
        return object.__repr__(value)


def _fallback(
    to_account: str, action: ResponseAction, outcome: Outcome, hook: str, policy: HookPolicy
) -> ItemResult:
    return ItemResult(to_account, policy.result_code, policy.result_info, outcome, hook, action)


def _actions(actions: Iterable[ResponseAction | str] | None) -> frozenset[ResponseAction] | None:
    if actions is None:
        return None
    if isinstance(actions, (str, ResponseAction)):
        # A lone action is a common slip for a list of one; a str would iterate by character.
        actions = [actions]
    watched = set()
    for action in actions:
        try:
            watched.add(ResponseAction(action))
        except ValueError:
            valid = ", ".join(member.value for member in ResponseAction)
            raise ValueError(f"unknown ResponseAction {action!r}; use one of {valid}") from None
    if not watched:
        raise ValueError("actions is empty: the hook would never run; omit it to watch all")
    return frozenset(watched)


def _own_actions(hook: object) -> frozenset[ResponseAction] | None:
    """The actions a hook object declares (a ready policy's ``actions``), used when it is
    registered without ``actions=``: a rate limit then never counts a decline."""
    own = getattr(hook, "actions", None)
    return None if own is None else _actions(own)


def _qualified_name(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{name}" if module else name
