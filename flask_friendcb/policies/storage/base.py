"""The interface of a blocklist storage, and what every file storage needs to know."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

#: Forks of this process so far: a forked worker must not use its parent's connections (nor an
#: LMDB environment), and a pid read (os.getpid) would be a system call on every statement.
FORKS = [0]
os.register_at_fork(after_in_child=lambda: FORKS.__setitem__(0, FORKS[0] + 1))


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """An account on a blocklist."""

    account: str
    #: Why it was listed (free text from the operator); "" when none was given.
    reason: str
    #: When it was listed (aware, UTC).
    added_at: datetime

    @staticmethod
    def at(account: str, reason: str, timestamp: float) -> BlocklistEntry:
        """An entry listed at ``timestamp`` (seconds since the epoch)."""
        return BlocklistEntry(account, reason, datetime.fromtimestamp(timestamp, timezone.utc))


class BlocklistStorage(Protocol):
    """Listed accounts, shared by every process that opens the same URI."""

    def add(self, account: str, reason: str, timestamp: float) -> BlocklistEntry:
        """List ``account`` (or replace its reason and time); returns the entry."""
        ...

    def remove(self, account: str) -> bool:
        """Take ``account`` off the list; whether it was on it."""
        ...

    def first_listed(self, accounts: Sequence[str]) -> str | None:
        """The first of ``accounts`` that is listed, or ``None``: one round trip."""
        ...

    def entries(self) -> list[BlocklistEntry]:
        """Every entry, oldest first."""
        ...

    def close(self) -> None:
        """Let go of connections."""
        ...
