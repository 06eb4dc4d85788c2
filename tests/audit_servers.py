"""example_app under gunicorn (the README's command) with its process ids at hand, for the audit
fault tests: a worker or the whole server killed with SIGKILL, a graceful SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from example_app.spool import waiting

from .conftest import SDKAPPID, TOKEN
from .example_support import access_log_args, documented_gunicorn_command, wait_for_workers
from .servers import ROOT, free_port, wait_for_port


@dataclass
class Gunicorn:
    """A running gunicorn: its address, its master process and its output."""

    address: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    access_log: Path

    def workers(self) -> list[int]:
        """The pids of the live workers."""
        return [
            child.pid
            for child in psutil.Process(self.process.pid).children()
            if child.status() != psutil.STATUS_ZOMBIE
        ]

    def wait_for_workers(self, count: int, within: float = 60) -> None:
        """Until ``count`` workers have answered a request: gunicorn listens before its
        workers have loaded the app, and a first request would wait for that."""
        wait_for_workers(self.address, self.access_log, count, within=within)

    def kill_everything(self) -> None:
        """SIGKILL the master and every worker at once: a machine's service dying."""
        pids = [self.process.pid, *self.workers()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        for pid in pids[1:]:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).wait(timeout=30)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextlib.contextmanager
def run_gunicorn(env: dict[str, str], *, graceful_timeout: float = 20) -> Iterator[Gunicorn]:
    """example_app with the documented gunicorn command, on a free loopback port; SIGTERM on
    the way out (unless the test killed it)."""
    command = documented_gunicorn_command()
    app = command.pop()
    bind = command.index("--bind")
    del command[bind : bind + 2]
    port = free_port()
    environment = {
        **os.environ,
        "FRIENDCB_SDKAPPID": SDKAPPID,
        "FRIENDCB_TOKEN": TOKEN,
        **env,
    }
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as folder:
        access_log = Path(folder) / "access.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *command,
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--graceful-timeout",
                str(graceful_timeout),
                *access_log_args(access_log),
                app,
            ],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=log,
        )
        server = Gunicorn(f"127.0.0.1:{port}", process, log, access_log)
        try:
            wait_for_port(port, process)
            yield server
        except BaseException:
            sys.stderr.write(f"gunicorn's output:\n{server.output()}")
            raise
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=graceful_timeout + 30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def spooled(path: Path) -> int:
    """How many records wait in the spool file at ``path`` (its table and its journal)."""
    return waiting(str(path))
