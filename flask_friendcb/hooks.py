"""The hook registry, and the per-item decision it drives.

Two "before" commands are decided per item: responses (``on_friend_response``, filtered by
``actions=``) and requests (``on_friend_add``, filtered by ``add_types=``); each has its own
hooks, and neither's hooks run for the other. Hooks run in registration order for every item
they watch. The first :class:`~flask_friendcb.models.Allow` or
:class:`~flask_friendcb.models.Reject` decides the item; when no hook decides, the item is
allowed. A hook that raises or returns anything else is logged with its traceback, and the
error policy decides the item. Once the deadline's worth of hook time is spent, no further hook
is called: every item still undecided gets the error policy too, so the answer reaches Tencent
before its 2 s timeout.

The rules live in one generator, :func:`decision_steps`, which yields each hook call and is
sent its outcome; :func:`decide` drives it by calling each hook in the request's thread, and
:func:`decide_async` drives the same generator on an event loop, for an asynchronous adapter.
The four "after" commands are observed: ``observer(event)``, never decided.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import CoroutineType
from typing import Any, TypeVar, cast, overload

from .auth import describe
from .models import (
    Allow,
    CallbackContext,
    DecidedEvent,
    FriendAddEvent,
    FriendAddItem,
    FriendResponseAnswer,
    FriendResponseEvent,
    FriendResponseItem,
    ItemResult,
    Outcome,
    Reject,
    RelationEvent,
    build_result,
)
from .protocol import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_DELETED_COMMAND,
    FRIEND_RESPONSE_COMMAND,
    OBSERVED_COMMANDS,
    AddType,
    ResponseAction,
    is_code_in_range,
)

logger = logging.getLogger("flask_friendcb.hooks")

#: A friend-response hook: ``hook(item, event)`` returns a decision or ``None``.
FriendResponseHook = Callable[[FriendResponseItem, FriendResponseEvent], Allow | Reject | None]
#: A friend-request hook: ``hook(item, event)`` returns a decision or ``None``.
FriendAddHook = Callable[[FriendAddItem, FriendAddEvent], Allow | Reject | None]
#: An observer of an "after" callback: ``observer(event)``; what it returns is ignored.
RelationObserver = Callable[[Any], Any]
#: A handler of another command: ``handler(body, context)`` returns fields to merge into the OK
#: answer, or ``None``.
CommandHandler = Callable[[dict[str, Any], CallbackContext], Mapping[str, Any] | None]

HookT = TypeVar("HookT", bound=Callable[..., Any])
HandlerT = TypeVar("HandlerT", bound=CommandHandler)
ObserverT = TypeVar("ObserverT", bound=RelationObserver)

#: ``ResultInfo`` of an item the error policy rejected; deliberately says nothing of the cause.
HOOK_FAILED_INFO = "the friend response could not be checked"


@dataclass(frozen=True, slots=True)
class RegisteredHook:
    """A hook with what it watches: a response hook's actions, a request hook's add types
    (``None``: all of them)."""

    func: Callable[..., Any]
    actions: frozenset[ResponseAction] | None
    name: str
    #: The ``AddType`` values a request hook watches (``None``: every request).
    add_types: frozenset[str] | None = None
    #: Whether ``func`` is a coroutine function, which an adapter awaits.
    is_async: bool = False


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
        self._request_hooks: list[RegisteredHook] = []
        self._by_add_type: dict[str, tuple[RegisteredHook, ...]] = {}
        self._observers: dict[str, tuple[RegisteredHook, ...]]
        self._observers = dict.fromkeys(OBSERVED_COMMANDS, ())
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
        self._hooks.append(_registered(hook, "hook", actions=watched))
        self._rebuild()

    @overload
    def on_friend_add(self, func: HookT, /) -> HookT: ...

    @overload
    def on_friend_add(
        self, /, *, add_types: Iterable[AddType | str] | None = None
    ) -> Callable[[HookT], HookT]: ...

    def on_friend_add(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        add_types: Iterable[AddType | str] | None = None,
    ) -> Any:
        """Register ``func(item, event)`` to run on every friend request being sent
        (``Sns.CallbackPrevFriendAdd``), or only on requests whose ``AddType`` is in
        ``add_types``. ``item`` is a :class:`~flask_friendcb.models.FriendAddItem`, ``event``
        a :class:`~flask_friendcb.models.FriendAddEvent`; the rules are those of
        :meth:`on_friend_response`. Works bare and with arguments, and returns the function
        unchanged."""
        watched = _add_types(add_types)

        def register(hook: HookT) -> HookT:
            self._request_hooks.append(_registered(hook, "hook", add_types=watched))
            self._rebuild()
            return hook

        return register if func is None else register(func)

    def observe(self, command: str, observer: ObserverT) -> ObserverT:
        """Register ``observer(event)`` for one of the "after" commands
        (:data:`~flask_friendcb.protocol.OBSERVED_COMMANDS`); several may watch one command,
        and run in registration order. Returns the function unchanged."""
        if command not in self._observers:
            known = ", ".join(OBSERVED_COMMANDS)
            raise ValueError(f"{command!r} is not observed; use one of {known}")
        self._observers[command] = (
            *self._observers[command],
            _registered(observer, "observer"),
        )
        return observer

    def on_command(self, command: str) -> Callable[[HandlerT], HandlerT]:
        """Register ``handler(body, context)`` for another ``CallbackCommand`` sent to the same
        URL. It gets the authenticated JSON body and a
        :class:`~flask_friendcb.models.CallbackContext`, and returns a dict merged into the OK
        answer, or ``None`` for the plain OK. One handler per command."""
        if not isinstance(command, str) or not command:
            raise ValueError(f"command must be a non-empty str, got {command!r}")
        if command in _TYPED_COMMANDS:
            raise ValueError(f"{command} is typed: register with {_TYPED_COMMANDS[command]}")

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
        """The response hooks that watch ``action``, in registration order."""
        return self._by_action[action]

    def request_hooks_for(self, add_type: str) -> tuple[RegisteredHook, ...]:
        """The request hooks that watch requests of ``add_type``, in registration order; only
        those that watch every request for a value this library does not know."""
        found = self._by_add_type.get(add_type)
        return self._by_add_type[""] if found is None else found

    def observers_for(self, command: str) -> tuple[RegisteredHook, ...]:
        """The observers of an "after" command, in registration order."""
        return self._observers.get(command, ())

    @property
    def request_hooks(self) -> tuple[RegisteredHook, ...]:
        """Every request hook, in registration order."""
        return tuple(self._request_hooks)

    def command_handler(self, command: str) -> CommandHandler | None:
        """The handler registered for ``command``, if any."""
        return self._commands.get(command)

    def __iter__(self) -> Iterator[RegisteredHook]:
        """The response hooks, in registration order."""
        return iter(tuple(self._hooks))

    def __len__(self) -> int:
        return len(self._hooks)

    def _rebuild(self) -> None:
        # Hooks are filtered once, when registered, not on every item.
        self._by_action = {
            action: tuple(
                hook for hook in self._hooks if hook.actions is None or action in hook.actions
            )
            for action in ResponseAction
        }
        self._by_add_type = {
            add_type: tuple(
                hook
                for hook in self._request_hooks
                if hook.add_types is None or add_type in hook.add_types
            )
            for add_type in ("", *(member.value for member in AddType))
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

    @overload
    def on_friend_add(self, func: HookT, /) -> HookT: ...

    @overload
    def on_friend_add(
        self, /, *, add_types: Iterable[AddType | str] | None = None
    ) -> Callable[[HookT], HookT]: ...

    def on_friend_add(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        add_types: Iterable[AddType | str] | None = None,
    ) -> Any:
        """Register ``func(item, event)`` as a friend-request hook
        (``Sns.CallbackPrevFriendAdd``), for every request or only those whose ``AddType`` is
        in ``add_types``; returns the function unchanged. See
        :meth:`HookRegistry.on_friend_add`."""
        return self.hooks.on_friend_add(func, add_types=add_types)  # type: ignore[call-overload]

    def on_friend_added(self, observer: ObserverT) -> ObserverT:
        """Register ``observer(event)`` for ``Sns.CallbackFriendAdd``: ``event`` is a
        :class:`~flask_friendcb.models.FriendAddedEvent`. Returns the function unchanged."""
        return self.hooks.observe(FRIEND_ADDED_COMMAND, observer)

    def on_friend_deleted(self, observer: ObserverT) -> ObserverT:
        """Register ``observer(event)`` for ``Sns.CallbackFriendDelete``: ``event`` is a
        :class:`~flask_friendcb.models.FriendDeletedEvent`. Returns the function unchanged."""
        return self.hooks.observe(FRIEND_DELETED_COMMAND, observer)

    def on_blocklist_added(self, observer: ObserverT) -> ObserverT:
        """Register ``observer(event)`` for ``Sns.CallbackBlackListAdd``: ``event`` is a
        :class:`~flask_friendcb.models.BlocklistAddedEvent`. Returns the function unchanged."""
        return self.hooks.observe(BLOCKLIST_ADDED_COMMAND, observer)

    def on_blocklist_removed(self, observer: ObserverT) -> ObserverT:
        """Register ``observer(event)`` for ``Sns.CallbackBlackListDelete``: ``event`` is a
        :class:`~flask_friendcb.models.BlocklistRemovedEvent`. Returns the function
        unchanged."""
        return self.hooks.observe(BLOCKLIST_REMOVED_COMMAND, observer)

    def on_command(self, command: str) -> Callable[[HandlerT], HandlerT]:
        """Register ``handler(body, context)`` for another ``CallbackCommand`` sent to the same
        URL; returns the function unchanged. See :meth:`HookRegistry.on_command`."""
        return self.hooks.on_command(command)


# The commands the library types, and the decorator that registers for each.
_TYPED_COMMANDS = {
    FRIEND_RESPONSE_COMMAND: "on_friend_response",
    FRIEND_ADD_COMMAND: "on_friend_add",
    FRIEND_ADDED_COMMAND: "on_friend_added",
    FRIEND_DELETED_COMMAND: "on_friend_deleted",
    BLOCKLIST_ADDED_COMMAND: "on_blocklist_added",
    BLOCKLIST_REMOVED_COMMAND: "on_blocklist_removed",
}


#: Called with a hook's name and the seconds one call of it took (metrics).
HookTimeObserver = Callable[[str, float], None]


#: What :func:`decision_steps` yields for each hook call: the hook, the item, and the timer
#: reading at which the deadline passes.
HookCall = tuple[RegisteredHook, Any, float]
#: What :func:`decision_steps` is sent back: ``(True, returned)`` or ``(False, exception)``, or
#: :data:`TIMED_OUT` when the driver stopped waiting for the hook at the deadline.
HookOutcome = tuple[bool, Any]
#: Sent to :func:`decision_steps` by a driver that stopped waiting at the deadline.
TIMED_OUT: HookOutcome = (False, None)


def decision_steps(
    registry: HookRegistry,
    event: DecidedEvent,
    policy: HookPolicy,
    timer: Callable[[], float] = time.perf_counter,
    on_hook_time: HookTimeObserver | None = None,
) -> Generator[HookCall, HookOutcome, FriendResponseAnswer]:
    """The rules of a decision, as steps: yields each hook call due, in order, and is sent
    its outcome; returns one result per item, in order. ``on_hook_time``, when given, is told
    how long each hook call took, raising or not."""
    results = []
    no_decision = Outcome.NO_DECISION
    expires = timer() + policy.deadline
    late = False
    # Read before any hook runs: the answer echoes the wire, even if a hook forces a change on
    # the frozen event or on an item (object.__setattr__).
    wire: list[tuple[Any, str, ResponseAction | None, tuple[RegisteredHook, ...]]]
    if type(event) is FriendAddEvent:
        hooks = registry.request_hooks_for(event.add_type)
        wire = [(item, item.to_account, None, hooks) for item in event.items]
    else:
        by_action = registry._by_action
        wire = [
            (item, item.to_account, item.response_action, by_action[item.response_action])
            for item in cast(tuple[FriendResponseItem, ...], event.items)
        ]
    for index, (item, to_account, action, watching) in enumerate(wire):
        result = None
        for hook in watching:
            # Once late, no more timer calls: every item left falls back at once.
            if late or (started := timer()) >= expires:
                if not late:
                    _log_deadline(policy, hook, index, len(wire), "before")
                late = True
                result = _fallback(to_account, action, Outcome.DEADLINE, hook.name, policy)
                break
            outcome = yield hook, item, expires
            if on_hook_time is not None:
                on_hook_time(hook.name, timer() - started)
            if outcome is TIMED_OUT:
                _log_deadline(policy, hook, index, len(wire), "during")
                late = True
                result = _fallback(to_account, action, Outcome.DEADLINE, hook.name, policy)
                break
            returned, decision = outcome
            if not returned:
                logger.error(
                    "hook %s raised on item %d (To_Account %s)",
                    hook.name,
                    index,
                    describe(to_account),
                    exc_info=decision,
                    extra={"friendcb_hook": hook.name, "friendcb_item": index},
                )
                result = _fallback(to_account, action, Outcome.HOOK_ERROR, hook.name, policy)
                break
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
            result = build_result(to_account, 0, "", no_decision, None, action)
        results.append(result)
    return FriendResponseAnswer(tuple(results))


def decide(
    registry: HookRegistry,
    event: DecidedEvent,
    policy: HookPolicy,
    timer: Callable[[], float] = time.perf_counter,
    on_hook_time: HookTimeObserver | None = None,
) -> FriendResponseAnswer:
    """Run the hooks on every item of ``event`` (a response's or a request's) in this thread
    and return one result per item, in order. ``on_hook_time``, when given, is told how long
    each hook call took, raising or not. An ``async def`` hook runs to its end on an event loop
    of its own here (an asynchronous adapter awaits it instead)."""
    steps = decision_steps(registry, event, policy, timer, on_hook_time)
    try:
        hook, item, _ = next(steps)
        while True:
            try:
                value = hook.func(item, event)
                if hook.is_async:
                    value = asyncio.run(value)
                outcome: HookOutcome = (True, value)
            except Exception as error:
                outcome = (False, error)
            hook, item, _ = steps.send(outcome)
    except StopIteration as done:
        answer: FriendResponseAnswer = done.value
        return answer


async def decide_async(
    steps: Generator[HookCall, HookOutcome, FriendResponseAnswer],
    event: DecidedEvent,
    timer: Callable[[], float] = time.perf_counter,
) -> FriendResponseAnswer:
    """Drive ``steps`` (:func:`decision_steps` on ``event``, made with the same ``timer``) on
    the running event loop and return its answer. An ``async def`` hook is awaited on the
    loop; plain hooks run in a worker thread of the loop's default executor, one thread hop for
    each run of them in a row, so the loop never waits on one. At the deadline the driver stops
    waiting, for either kind: a late ``async def`` hook is cancelled; a plain one runs on in its
    thread, and its outcome is dropped."""
    try:
        call = next(steps)
    except StopIteration as done:  # no hook is due
        answer: FriendResponseAnswer = done.value
        return answer
    # Made when first waited on: hooks that end without waiting need none. call[2], the
    # timer reading at which the deadline passes, is the same for every call.
    deadline: Deadline | None = None
    try:
        while True:
            hook = call[0]
            if not hook.is_async:
                if deadline is None:
                    deadline = Deadline(call[2] - timer())
                finished, value = await _run_plain_hooks(steps, call, event, deadline)
                if finished:
                    return cast(FriendResponseAnswer, value)
                call = value
                continue
            # Inline, not a coroutine of its own per call: one per item adds up. The generator
            # checks the time before each call; a hook that ends without waiting ran like a
            # plain one in a synchronous adapter, which keeps what it returned however long it
            # took; one that waits is cut at the deadline.
            outcome: HookOutcome
            try:
                ended, returned = first_step(hook.func(call[1], event))
                if ended:
                    outcome = (True, returned)
                else:
                    if deadline is None:
                        deadline = Deadline(call[2] - timer())
                    late, returned = await deadline.resume(returned)
                    outcome = TIMED_OUT if late else (True, returned)
            except Exception as error:
                outcome = (False, error)
            try:
                call = steps.send(outcome)
            except StopIteration as done:
                return cast(FriendResponseAnswer, done.value)
    finally:
        if deadline is not None:
            deadline.close()


class Deadline:
    """A deadline for the running task, ``delay`` seconds from now: when it passes while the
    task is in :meth:`wait`, the task is cancelled out of that await, and only then (between
    waits it runs on; a decision's generator sees the time itself). One deadline for many
    waits: cheaper than a task and a timeout for each, as ``asyncio.wait_for`` makes before
    3.12. :meth:`close` it when done.

    The loop's timer is armed only when an awaited call first suspends: a hook that returns
    without waiting, or a body the server already holds, costs no timer at all.
    """

    __slots__ = ("_at", "_handle", "_loop", "_task", "_waiting", "passed")

    def __init__(self, delay: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._at = self._loop.time() + max(0.0, delay)
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._waiting = False
        self.passed = False

    def _arm(self) -> None:
        # In the waiting task, at its first suspension.
        if self._handle is None:
            self._task = asyncio.current_task()
            self._handle = self._loop.call_at(self._at, self._expire)

    def _expire(self) -> None:
        self.passed = True
        if self._waiting and self._task is not None:
            self._task.cancel()

    async def wait(self, awaitable: Awaitable[Any]) -> tuple[bool, Any]:
        """``(late, value)``: ``late`` when the deadline passed before ``awaitable`` ended."""
        if self.has_passed():
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            return True, None
        ended, value = first_step(awaitable)
        if ended:
            return self.has_passed(), value
        return await self.resume(value)

    async def resume(self, started: _Resumed) -> tuple[bool, Any]:
        """:meth:`wait` for an await whose :func:`first_step` suspended."""
        self._arm()
        self._waiting = True
        try:
            value = await started
        except asyncio.CancelledError:
            if not self.has_passed():
                raise  # the request itself is cancelled
            uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
            return True, None
        finally:
            self._waiting = False
        return self.has_passed(), value

    def has_passed(self) -> bool:
        """Whether the deadline has passed (read afresh: the timer sets it meanwhile)."""
        if not self.passed and self._handle is None and self._loop.time() >= self._at:
            self.passed = True
        return self.passed

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def first_step(awaitable: Awaitable[Any]) -> tuple[bool, Any]:
    """The first step of ``await awaitable``, taken now, as ``await`` takes it: ``(True,
    value)`` when it ended in it (most awaits of a hook or a body do), else ``(False, rest)``,
    where ``await rest`` finishes it. What the awaited call raises in its first step is
    raised."""
    # A coroutine is its own iterator: no __await__ wrapper to make for the usual case.
    iterator = awaitable if type(awaitable) is CoroutineType else awaitable.__await__()
    try:
        signal = iterator.send(None)
    except StopIteration as done:
        return True, done.value
    return False, _Resumed(iterator, signal)


class _Resumed:
    """The rest of an await whose first step was taken: yields ``signal`` (what the awaited
    call suspended on) to the task, then passes what the task sends or throws in on to
    ``iterator``, as ``await`` does."""

    __slots__ = ("_iterator", "_signal")

    def __init__(
        self, iterator: Generator[Any, Any, Any] | Coroutine[Any, Any, Any], signal: Any
    ) -> None:
        self._iterator, self._signal = iterator, signal

    def __await__(self) -> Generator[Any, Any, Any]:
        iterator, signal = self._iterator, self._signal
        while True:
            try:
                sent = yield signal
            except GeneratorExit:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as error:
                try:
                    signal = iterator.throw(error)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    signal = iterator.send(sent)
                except StopIteration as done:
                    return done.value


def _step(
    steps: Generator[HookCall, HookOutcome, FriendResponseAnswer], outcome: HookOutcome
) -> tuple[bool, Any]:
    """``(True, answer)`` once ``steps`` is done, else ``(False, the next hook call)``."""
    try:
        return False, steps.send(outcome)
    except StopIteration as done:
        return True, done.value


class _PlainRun:
    """What a worker thread running plain hooks shares with the loop that waits for it: the
    lock held while the generator is advanced, whether the loop gave up, and how it ended."""

    __slots__ = ("abandoned", "lock", "result")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.abandoned = False
        self.result: tuple[bool, Any] | None = None

    def given_up(self) -> bool:
        """Whether the loop stopped waiting (read afresh each time)."""
        return self.abandoned


def _call_plain_hooks(
    steps: Generator[HookCall, HookOutcome, FriendResponseAnswer],
    call: HookCall,
    event: DecidedEvent,
    run: _PlainRun,
) -> None:
    # In the worker thread: call plain hooks until the decision is done or an async hook is
    # due, advancing the generator only under the lock and only while the loop still waits.
    while True:
        hook, item, _ = call
        if run.given_up():  # queued past the deadline: call nothing
            return
        try:
            outcome: HookOutcome = (True, hook.func(item, event))
        except Exception as error:
            outcome = (False, error)
        with run.lock:
            if run.given_up():
                return
            finished, value = _step(steps, outcome)
            if finished or value[0].is_async:
                run.result = (finished, value)
                return
            call = value


async def _run_plain_hooks(
    steps: Generator[HookCall, HookOutcome, FriendResponseAnswer],
    call: HookCall,
    event: DecidedEvent,
    deadline: Deadline,
) -> tuple[bool, Any]:
    run = _PlainRun()
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    # A failure of the library itself in the thread is raised here.
    await deadline.wait(
        loop.run_in_executor(None, context.run, _call_plain_hooks, steps, call, event, run)
    )
    with run.lock:
        if run.result is not None:
            return run.result
        # The deadline passed in a hook: the thread drops what that hook returns.
        run.abandoned = True
        return _step(steps, TIMED_OUT)


def _log_deadline(
    policy: HookPolicy, hook: RegisteredHook, index: int, count: int, when: str
) -> None:
    logger.warning(
        "deadline of %g s passed %s hook %s on item %d of %d",
        policy.deadline,
        when,
        hook.name,
        index,
        count,
        extra={"friendcb_hook": hook.name, "friendcb_item": index},
    )


def _decided(
    decision: object, to_account: str, action: ResponseAction | None, hook: str
) -> ItemResult:
    """The result of a hook's decision; raises ``TypeError`` for anything but ``Allow()`` or a
    well-formed ``Reject``."""
    if isinstance(decision, Allow):
        return build_result(to_account, 0, "", Outcome.ALLOWED, hook, action)
    if isinstance(decision, Reject):
        # Reject checks itself when built; one forged past its checks is junk like any other.
        code, info = getattr(decision, "code", None), getattr(decision, "info", None)
        # isinstance first narrows the type; int() drops an int subclass's overrides.
        if isinstance(code, int) and is_code_in_range(code) and isinstance(info, str):
            return build_result(to_account, int(code), info, Outcome.REJECTED, hook, action)
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
    to_account: str,
    action: ResponseAction | None,
    outcome: Outcome,
    hook: str,
    policy: HookPolicy,
) -> ItemResult:
    return build_result(to_account, policy.result_code, policy.result_info, outcome, hook, action)


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


def _add_types(add_types: Iterable[AddType | str] | None) -> frozenset[str] | None:
    if add_types is None:
        return None
    if isinstance(add_types, (str, AddType)):
        add_types = [add_types]
    watched = set()
    for add_type in add_types:
        try:
            watched.add(AddType(add_type).value)
        except ValueError:
            valid = ", ".join(member.value for member in AddType)
            raise ValueError(f"unknown AddType {add_type!r}; use one of {valid}") from None
    if not watched:
        raise ValueError("add_types is empty: the hook would never run; omit it to watch all")
    return frozenset(watched)


def _registered(
    func: Callable[..., Any],
    kind: str,
    *,
    actions: frozenset[ResponseAction] | None = None,
    add_types: frozenset[str] | None = None,
) -> RegisteredHook:
    if not callable(func):
        raise TypeError(f"a {kind} must be callable, got {func!r}")
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - a callable object's async __call__
    )
    return RegisteredHook(func, actions, _qualified_name(func), add_types, is_async)


def notify(registry: HookRegistry, event: RelationEvent) -> None:
    """Run the observers of ``event``'s command in this thread, in registration order; one that
    raises is logged and the others still run. An ``async def`` observer runs to its end on an
    event loop of its own here."""
    for observer in registry.observers_for(event.callback_command):
        try:
            returned = observer.func(event)
            if observer.is_async:
                asyncio.run(returned)
        except Exception:
            log_observer_failure(observer, event)


async def notify_async(registry: HookRegistry, event: RelationEvent) -> None:
    """:func:`notify` on the running event loop: an ``async def`` observer is awaited, a plain
    one runs in a worker thread."""
    for observer in registry.observers_for(event.callback_command):
        try:
            if observer.is_async:
                await observer.func(event)
            else:
                await asyncio.to_thread(observer.func, event)
        except Exception:
            log_observer_failure(observer, event)


def log_observer_failure(observer: RegisteredHook, event: RelationEvent) -> None:
    """Log the exception being handled, raised by ``observer`` on ``event``."""
    logger.exception(
        "observer %s of %s failed; answered OK",
        observer.name,
        event.callback_command,
        extra={"friendcb_command": event.callback_command, "friendcb_hook": observer.name},
    )


def _own_actions(hook: object) -> frozenset[ResponseAction] | None:
    """The actions a hook object declares (a ready policy's ``actions``), used when it is
    registered without ``actions=``: a rate limit then never counts a decline."""
    own = getattr(hook, "actions", None)
    return None if own is None else _actions(own)


def _qualified_name(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{name}" if module else name
