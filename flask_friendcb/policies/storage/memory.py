"""Storages in this process's memory (``memory://``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .base import BlocklistEntry


class MemoryBlocklist:
    """A blocklist in a dict: one process, gone with it."""

    def __init__(self) -> None:
        self._entries: dict[str, BlocklistEntry] = {}
        self._lock = threading.Lock()

    def add(self, account: str, reason: str, timestamp: float) -> BlocklistEntry:
        entry = BlocklistEntry.at(account, reason, timestamp)
        with self._lock:
            # Re-listing moves the entry to the end: entries() is oldest first.
            self._entries.pop(account, None)
            self._entries[account] = entry
        return entry

    def remove(self, account: str) -> bool:
        with self._lock:
            return self._entries.pop(account, None) is not None

    def first_listed(self, accounts: Sequence[str]) -> str | None:
        entries = self._entries  # dict reads are atomic under the GIL
        return next((account for account in accounts if account in entries), None)

    def entries(self) -> list[BlocklistEntry]:
        with self._lock:
            return list(self._entries.values())

    def close(self) -> None:
        return None
