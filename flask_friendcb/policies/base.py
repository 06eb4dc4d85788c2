"""What the ready policies share: their code, their actions, and what a storage fault means."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ..models import FriendAddEvent, FriendAddItem, FriendResponseEvent, FriendResponseItem, Reject
from ..protocol import CODE_MAX, CODE_MIN, ResponseAction, is_code_in_range
from .faults import StorageGuard

#: ``ResultInfo`` of an item whose check the storage could not answer, under ``on_error="reject"``.
UNCHECKED_INFO = "the friend response could not be checked"

OnError = Literal["allow", "reject"]


#: What a policy checks: an answered request's item, or a request's being sent.
PolicyItem = FriendResponseItem | FriendAddItem
#: The event of the item a policy checks.
PolicyEvent = FriendResponseEvent | FriendAddEvent


class Policy:
    """A hook object: ``policy(item, event)`` returns a :class:`~flask_friendcb.Reject` or
    ``None``. Registered with ``on_friend_response(policy)``, it watches its own ``actions``;
    registered with ``on_friend_add(policy)``, it checks every friend request being sent (a
    request has no action)."""

    #: The actions the policy watches when registered without ``actions=``; ``None``: all.
    actions: ClassVar[frozenset[ResponseAction] | None] = None
    #: The ``ResultCode`` of a refused item.
    code: int

    def __init__(self, code: int) -> None:
        if isinstance(code, bool) or not isinstance(code, int) or not is_code_in_range(code):
            raise ValueError(f"code must be an int in [{CODE_MIN}, {CODE_MAX}], got {code!r}")
        self.code = int(code)

    def __call__(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        # The registry names a hook object by its repr: the log and the audit read the class.
        return type(self).__name__


class StoragePolicy(Policy):
    """A policy that asks a storage, bounded by ``timeout``, with ``on_error`` for its faults."""

    def __init__(self, code: int, *, timeout: float, on_error: OnError, storage_uri: str) -> None:
        super().__init__(code)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if timeout > 1.5:
            # Tencent waits 2 s for the whole answer.
            raise ValueError(
                f"timeout must leave the answer time to reach Tencent: {timeout} > 1.5"
            )
        if on_error not in ("allow", "reject"):
            raise ValueError(f'on_error must be "allow" or "reject", got {on_error!r}')
        self.timeout = float(timeout)
        self.on_error: OnError = on_error
        self.guard = StorageGuard(type(self).__name__, redact(storage_uri))

    def unchecked(self) -> Reject | None:
        """The decision for an item the storage could not answer for."""
        return Reject(self.code, UNCHECKED_INFO) if self.on_error == "reject" else None

    async def check_async(
        self, item: FriendResponseItem, event: FriendResponseEvent
    ) -> Reject | None:
        """The policy's decision, awaited: on a storage with an asynchronous client (Redis,
        through ``redis.asyncio``) the loop waits on the storage without a thread; on the
        others the check runs in a worker thread. ``timeout`` and ``on_error`` hold alike."""
        raise NotImplementedError

    @property
    def aio(self) -> AsyncPolicy:
        """The policy as an ``async def`` hook, for an ASGI receiver:
        ``receiver.on_friend_response(policy.aio)``. It watches the policy's ``actions``."""
        return AsyncPolicy(self)


class AsyncPolicy:
    """A :class:`StoragePolicy` as an ``async def`` hook (:attr:`StoragePolicy.aio`)."""

    def __init__(self, policy: StoragePolicy) -> None:
        self.policy = policy
        self.actions: Any = policy.actions

    async def __call__(self, item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        return await self.policy.check_async(item, event)

    def __repr__(self) -> str:
        return repr(self.policy)


def redact(uri: str) -> str:
    """``uri`` without a password, fit for a log line."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    authority, slash, path = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if not at:
        return uri
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***@' if user else '***@'}{host}{slash}{path}"
