"""The interface of a blocklist storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol


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
