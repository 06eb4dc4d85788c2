"""Real Redis and PostgreSQL servers for the benchmarks and scripts (``make chaos``): Debian's
``redis-server`` and PostgreSQL 15, each in a temporary folder on a free loopback port, which a
run may stop and start (the same port and data) to play an outage. The suite's fixtures
(``tests/services.py``) start the same servers the same way.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
INSTALL_HINT = "run `make services` (apt-get install redis-server postgresql-15)"


def _wait(ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on 127.0.0.1 and a free port, without persistence."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server is not installed: {INSTALL_HINT}")
        self.binary = binary
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None:
            return
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
                "--protected-mode", "yes",
            ],
            stdout=log,
            stderr=log,
        )  # fmt: skip
        log.close()
        _wait(self._ping, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop at once (SIGKILL: an outage, not a shutdown)."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None

    def command(self, *args: str) -> str:
        """Run one command through ``redis-cli`` (no client library needed)."""
        cli = shutil.which("redis-cli") or "redis-cli"
        result = subprocess.run(
            [cli, "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout.strip()

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}")
        if not _accepts(self.port):
            return False
        try:
            return self.command("PING") == "PONG"
        except subprocess.CalledProcessError:
            return False


class PostgresServer:
    """A throwaway PostgreSQL 15 cluster (``initdb`` into a temporary folder), trust auth on
    127.0.0.1 only. fsync is off (no machine crash is played) but commits are
    synchronous, so an immediate stop (an outage) keeps every committed row."""

    _names = itertools.count(1)

    def __init__(self, folder: Path, port: int | None = None) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL 15 is not installed: {INSTALL_HINT}")
        self.folder = folder
        self.data = folder / "data"
        self.port = port or free_port()
        self.user = "postgres"
        # initdb and postgres refuse to run as root: as root, run them as Debian's `postgres`.
        self._as: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # the package creates this user
            os.chown(folder, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(PG_BIN / "initdb"),
            "-D", str(self.data),
            "-U", self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )  # fmt: skip
        self.running = False

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self.running:
            return
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D", str(self.data),
            "-l", str(self.folder / "postgres.log"),
            "-o", options,
            "-w",
            "start",
        )  # fmt: skip
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: an outage; ``fast``: a clean shutdown)."""
        if not self.running:
            return
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through ``psql`` (no client library needed); returns its output."""
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-U", self.user,
                "-d", database,
                "-v", "ON_ERROR_STOP=1",
                "-At",
                "-c", statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )  # fmt: skip
        return result.stdout.strip()

    def new_database(self) -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}"
            )
