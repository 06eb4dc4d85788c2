"""The spool's journal: one write per callback on the request path, moved to the spool's table
in one transaction per batch, and nothing lost when the writing process is killed."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

from example_app.spool import Spool, journal_folder, waiting


def record(n: int) -> dict[str, Any]:
    return {
        "record_id": f"r{n:04d}",
        "received_at_ms": n,
        "event_time_ms": n,
        "sdkappid": "1400000001",
        "from_account": "bob\n\u2028",  # newlines in values stay inside one line
        "requester_account": "bob",
        "client_ip": "127.0.0.1",
        "platform": "RESTAPI",
        "items": [],
    }


def table(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT record FROM spool ORDER BY seq").fetchall()
    finally:
        db.close()
    return [row[0] for row in rows]


def test_records_move_to_the_table_in_one_batch_and_the_journal_empties(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(str(path))
    for n in range(50):
        spool.record(record(n))
    assert waiting(str(path)) == 50
    assert table(path) == []
    newest = spool.absorb()
    rows = table(path)
    assert len(rows) == 50
    assert newest == 50
    assert '"record_id":"r0000"' in rows[0]
    assert '"record_id":"r0049"' in rows[-1]
    assert spool.pending() == 50
    # The imported segment is gone; only the new, empty one is left.
    segments = list(journal_folder(str(path)).glob("*.jsonl"))
    assert len(segments) == 1
    assert segments[0].read_bytes() == b""
    # Nothing written since: nothing to import, and a later record goes to a new segment.
    assert spool.absorb() == 0
    spool.record(record(50))
    assert spool.absorb() == 51
    assert waiting(str(path)) == 51
    spool.close()


def test_a_killed_writers_records_are_adopted_and_a_cut_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(str(path))
    child = os.fork()
    if child == 0:  # the writer: ten records, half of an eleventh, then killed
        mine = Spool(str(path))
        for n in range(10):
            mine.record(record(n))
        mine.journal.write(b'{"record_id":"cut-')
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status)
    assert waiting(str(path)) == 10
    # Its own absorb does not take another process's segment; adoption does.
    assert spool.absorb() == 0
    assert table(path) == []
    spool.absorb(adopt=True)
    rows = table(path)
    assert len(rows) == 10
    assert not [row for row in rows if "cut-" in row]
    assert list(journal_folder(str(path)).glob("*.jsonl")) == []
    spool.close()


def test_a_living_writers_segment_is_not_adopted(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer, other = Spool(str(path)), Spool(str(path))
    writer.record(record(1))
    other.absorb(adopt=True)
    assert table(path) == []
    assert waiting(str(path)) == 1
    writer.absorb()
    assert len(table(path)) == 1
    assert waiting(str(path)) == 1
    writer.close()
    other.close()


def test_a_segment_just_created_is_never_adopted_before_its_writer_locks_it(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # Another worker's drainer adopts the folder's segments in the moment between a writer's
    # creating its next segment and locking it: on a busy machine a process may be paused
    # just there.
    import fcntl

    path = tmp_path / "spool.sqlite3"
    writer, other = Spool(str(path)), Spool(str(path))
    real_flock = fcntl.flock
    adopted: list[int] = []

    def flock(fd: int, operation: int) -> None:
        if not adopted and operation == fcntl.LOCK_EX | fcntl.LOCK_NB:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if writer.journal.folder.name in target and writer.journal._fd < 0:
                adopted.append(1)
                other.absorb(adopt=True)  # the other drainer, right then
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    writer.record(record(1))  # the first write: the writer's first segment
    assert adopted == [1]
    monkeypatch.setattr(fcntl, "flock", real_flock)
    writer.absorb()
    assert len(table(path)) == 1
    writer.record(record(2))
    writer.absorb()
    assert len(table(path)) == 2
    writer.close()
    other.close()
