"""Real servers for tests; they live in :mod:`devtools.servers`, shared with the benchmarks."""

from devtools.servers import ROOT, free_port, gunicorn, wait_for_port

__all__ = ["ROOT", "free_port", "gunicorn", "wait_for_port"]
