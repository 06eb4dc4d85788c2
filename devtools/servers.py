"""Real servers for tests: gunicorn in a child process on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextlib.contextmanager
def gunicorn(
    app: str, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[str]:
    """Run ``gunicorn app`` on 127.0.0.1 and a free port; yields "127.0.0.1:port"."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        # Gunicorn's control socket has one default path per user: two servers at once (this
        # suite's, or another checkout's) would fight over it.
        "--no-control-socket",
        *args,
        app,
    ]
    # A file, not a pipe: a pipe nobody reads would block the server once it is full.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log
        )

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            try:
                wait_for_port(port, process)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"{error}; its output:\n{output()}") from None
            try:
                yield f"127.0.0.1:{port}"
            except BaseException:
                # The server's side of a failed test (a worker that failed to boot, say):
                # pytest shows a failing test's captured stderr.
                sys.stderr.write(f"gunicorn's output:\n{output()}")
                raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
