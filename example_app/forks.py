"""How many times this process was forked into being: what the request path compares to tell
a forked worker from the process that made its objects, without ``os.getpid`` (a system call
on every call since glibc 2.25)."""

from __future__ import annotations

import os

_count = [0]
os.register_at_fork(after_in_child=lambda: _count.__setitem__(0, _count[0] + 1))


def generation() -> int:
    """This process's fork generation: 0 in the process that imported this module, one more
    in each child a fork makes (and in its children again)."""
    return _count[0]
