"""``BlocklistPolicy``: refuses an item whose requester or responder is listed, and a friend
request whose sender is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from ..models import FriendAddEvent, Reject
from .base import OnError, PolicyEvent, PolicyItem, StoragePolicy
from .errors import PolicyStorageError
from .faults import FAILED
from .storage import BlocklistEntry, open_blocklist

__all__ = ["BlocklistEntry", "BlocklistPolicy"]

T = TypeVar("T")


class BlocklistPolicy(StoragePolicy):
    """Refuses an item when its requester (``To_Account``) or its responder
    (``From_Account``) is on the list, whatever the action; at the request step
    (``on_friend_add``), a request whose requester (``From_Account``) is on the list, so that it
    never reaches the other user. One storage round trip per item.

    ``add``, ``remove``, ``in`` and ``entries()`` are for the operator: they raise
    :class:`~flask_friendcb.policies.PolicyStorageError` when the storage fails, where the
    check of an item is decided by ``on_error`` instead.
    """

    def __init__(
        self,
        *,
        storage_uri: str = "memory://",
        code: int = 38001,
        timeout: float = 0.25,
        on_error: OnError = "allow",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(code, timeout=timeout, on_error=on_error, storage_uri=storage_uri)
        self.storage_uri = storage_uri
        #: Unix seconds for ``added_at`` (an app's frozen test clock, say).
        self.clock = clock
        self.storage = open_blocklist(storage_uri, timeout=self.timeout)

    def __call__(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        accounts = _accounts(item, event)
        return self._decision(
            accounts, self.guard.call(lambda: self.storage.first_listed(accounts))
        )

    async def check_async(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        accounts = _accounts(item, event)
        first_listed_async = getattr(self.storage, "first_listed_async", None)
        if first_listed_async is not None:
            listed = await self.guard.call_async(lambda: first_listed_async(accounts))
        else:
            listed = await asyncio.to_thread(
                self.guard.call, lambda: self.storage.first_listed(accounts)
            )
        return self._decision(accounts, listed)

    def _decision(self, accounts: tuple[str, ...], listed: object) -> Reject | None:
        if listed is FAILED:
            return self.unchecked()
        if listed is None:
            return None
        role = "requester" if listed == accounts[0] else "responder"
        return Reject(self.code, f"the {role} is blocked")

    def add(self, account: str, reason: str = "") -> BlocklistEntry:
        """List ``account`` (again: its reason and time are replaced); returns the entry."""
        _check_account(account)
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, got {type(reason).__name__}")
        return _operator(lambda: self.storage.add(account, reason, self.clock()))

    def remove(self, account: str) -> bool:
        """Take ``account`` off the list; whether it was on it."""
        _check_account(account)
        return _operator(lambda: self.storage.remove(account))

    def __contains__(self, account: object) -> bool:
        if not isinstance(account, str):
            return False
        return _operator(lambda: self.storage.first_listed((account,))) is not None

    def entries(self) -> list[BlocklistEntry]:
        """Every listed account, oldest first."""
        return _operator(self.storage.entries)

    def close(self) -> None:
        """Let go of the storage's connections."""
        self.storage.close()

    async def aclose(self) -> None:
        """Let go of the connections :meth:`check_async` opened on the running event loop (at
        an ASGI app's shutdown, say)."""
        aclose = getattr(self.storage, "aclose", None)
        if aclose is not None:
            await aclose()

    def __repr__(self) -> str:
        return "BlocklistPolicy"


def _check_account(account: object) -> None:
    if not isinstance(account, str) or not account:
        raise ValueError(f"an account is a non-empty str, got {account!r}")


def _operator(call: Callable[[], T]) -> T:
    try:
        return call()
    except PolicyStorageError:
        raise
    except Exception as error:
        raise PolicyStorageError(f"{type(error).__name__}: {error}") from error


def _accounts(item: PolicyItem, event: PolicyEvent) -> tuple[str, ...]:
    """The accounts to look up, the requester first: To_Account of a response (with its
    responder), From_Account of a request."""
    if type(event) is FriendAddEvent:
        return (event.from_account,)
    return (item.to_account, event.from_account)
