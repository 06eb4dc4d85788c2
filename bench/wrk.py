"""wrk, the load generator of the end-to-end benchmark and of the soak: where it is, and one run
of it with a Lua script whose ``done()`` prints its figures as one JSON line (the scripts share
``wrk_report.lua`` for that).

wrk runs for its ``--duration``; a script that stops its threads after a number of requests
(``wrk.thread:stop()``) still leaves wrk's main thread asleep until then. Such a script prints
a line per thread that has finished, and :func:`run` interrupts wrk once every thread has, the
way Ctrl-C does: wrk then joins its threads and calls ``done()`` at once.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Seconds wrk gets past its ``--duration`` to join its threads and report.
_GRACE_SECONDS = 30
#: How often, and how many times, a finished wrk is interrupted until it exits: the signal may
#: reach a thread that is just ending instead of the main thread, asleep in ``sleep()``.
_INTERRUPT_EVERY = 0.2
_INTERRUPT_TRIES = 50


class WrkFailed(RuntimeError):
    """wrk exited without the JSON line of its script."""


def find_wrk() -> str:
    """The path of wrk (``make test``, ``make bench`` and ``make soak`` install Debian's
    package when it is missing)."""
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: run `make test`, or apt-get install wrk")
    return found


def version() -> str:
    """wrk's version, as ``wrk --version`` prints it ("debian/4.1.0-3+b2")."""
    # wrk prints its version, then its usage, and exits with 1.
    output = subprocess.run(
        [find_wrk(), "--version"], capture_output=True, text=True, check=False
    ).stdout
    words = output.split()
    return words[1] if len(words) > 1 and words[0] == "wrk" else "unknown"


def run(
    script: Path,
    address: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    timeout: str = "5s",
    script_args: Sequence[str] = (),
    finished_marker: str | None = None,
) -> dict[str, Any]:
    """Run wrk with ``script`` against ``http://address`` for at most ``seconds``; the JSON
    object of the last line it printed.

    With ``finished_marker``, wrk is interrupted as soon as ``threads`` lines starting with it
    have been printed (each must be flushed by the script).
    """
    argv = [
        find_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds:g}s",
        f"--timeout={timeout}",
        f"--script={script}",
        f"http://{address}",
        "--",
        *script_args,
    ]
    lines: list[str] = []
    # A file, not a pipe, for stderr: nobody reads it while wrk runs.
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True) as process,
    ):
        try:
            assert process.stdout is not None
            finished = 0
            # Bounded: wrk ends by itself after --duration.
            for line in process.stdout:
                lines.append(line)
                if finished_marker and line.startswith(finished_marker):
                    finished += 1
                    if finished == threads:
                        _interrupt_until_exit(process)
            process.wait(timeout=seconds + _GRACE_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    output = "".join(lines)
    reports = [line for line in lines if line.startswith("{")]
    if process.returncode != 0 or not reports:
        raise WrkFailed(f"wrk exited with {process.returncode}:\n{output}\n{stderr}")
    report: dict[str, Any] = json.loads(reports[-1])
    return report


def _interrupt_until_exit(process: subprocess.Popen[str]) -> None:
    def interrupt() -> None:
        for _ in range(_INTERRUPT_TRIES):
            if process.poll() is not None:
                return
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=_INTERRUPT_EVERY)
            except subprocess.TimeoutExpired:
                continue

    threading.Thread(target=interrupt, daemon=True).start()
