"""The audit log at scale: the operator page's reads on a log of millions of rows, on SQLite
and on PostgreSQL, and the memory of ``flask --app example_app audit export`` over a long log.

``python -m bench.audit_scale reads --rows 10000000 [--url URL]``: fills an empty database
(migrated to head; default a new SQLite file) with ROWS callbacks of one item each, spread
over the retention (90 days), then times each read the page makes, best of five, and one
retention batch. Prints one JSON object.

``python -m bench.audit_scale export --rows 1000000``: fills a SQLite file, then runs the
export command (JSON lines to /dev/null) in a child process and reports its peak RSS (and the
same for ROWS / 10, to show that the peak does not follow the log's length).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from example_app.audit_log import SEARCH_SLICE_IDS, AuditLog
from example_app.audit_schema import metadata

ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000
END_MS = 1_800_000_000_000
SPAN_MS = 90 * DAY_MS

# One callback and one decision per row number i; one in ten blocked, one in three declined.
_CALLBACKS = """
INSERT INTO callbacks (id, received_at_ms, event_time_ms, sdkappid, from_account,
    requester_account, client_ip, platform, record_id)
SELECT i, {at}, {at} - 5, '1400000000', 'user' || (i % 50000), 'user' || (i % 50000),
    '10.0.' || (i % 250) || '.1', 'iOS', 'bench-' || i
FROM {rows}
"""
_DECISIONS = """
INSERT INTO decisions (id, callback_id, position, received_at_ms, from_account, to_account,
    action, remark, tag_name, result_code, result_info, outcome, hook, record_id)
SELECT i, i, 0, {at}, 'user' || (i % 50000), 'peer' || (i % 70000),
    CASE WHEN i % 3 = 0 THEN 'Response_Action_Reject' ELSE 'Response_Action_Agree' END,
    '', '', CASE WHEN i % 10 = 0 THEN 38001 ELSE 0 END,
    CASE WHEN i % 10 = 0 THEN 'the requester is blocked' ELSE '' END,
    CASE WHEN i % 10 = 0 THEN 'rejected' ELSE 'no_decision' END,
    CASE WHEN i % 10 = 0 THEN 'example_app.policies.blocklist' END, 'bench-' || i
FROM {rows}
"""


def fill(log: AuditLog, rows: int) -> float:
    """Insert ``rows`` callbacks and decisions in SQL (no Python loop); seconds taken."""
    step = SPAN_MS // rows
    at = f"({END_MS - SPAN_MS} + i * {step})"
    if log.dialect == "postgresql":
        source = f"generate_series(1::bigint, {int(rows)}) AS s(i)"
    else:
        # Only integers are put into the SQL of this script.
        limit = int(rows)
        source = f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {limit}) SELECT i FROM n)"  # noqa: E501, S608
    indexes = [index for table in metadata.tables.values() for index in table.indexes]
    started = time.perf_counter()
    with log.engine.begin() as db:
        if log.dialect == "postgresql":
            # The service's 30 s statement timeout is for its small batches, not this fill.
            db.execute(sa.text("SET LOCAL statement_timeout = 0"))
        # Rows first, then the indexes (the migration's, by name): a bulk load is faster so.
        for index in indexes:
            index.drop(db)
        db.execute(sa.text(_CALLBACKS.format(at=at, rows=source)))
        db.execute(sa.text(_DECISIONS.format(at=at, rows=source)))
        for index in indexes:
            index.create(db)
    with log.engine.connect() as db:
        if log.dialect == "postgresql":
            db.execute(sa.text("SET statement_timeout = 0"))
            db.commit()
            db.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
            db.execute(
                sa.text("SELECT setval('callbacks_id_seq', :n), setval('decisions_id_seq', :n)"),
                {"n": rows},
            )
            db.commit()
        else:
            db.execute(sa.text("ANALYZE"))
            db.commit()
    return time.perf_counter() - started


def best_ms(run: Callable[[], Any], times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def reads(url: str | None, rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        log = AuditLog(url or f"sqlite:///{folder}/audit.sqlite3")
        log.upgrade()
        seconds = fill(log, rows)
        hour = END_MS - 3_600_000
        result: dict[str, Any] = {"engine": log.dialect, "rows": rows, "fill_s": round(seconds, 1)}
        reads: dict[str, Callable[[], Any]] = {
            "stats_last_hour_ms": lambda: log.stats(hour),
            "per_minute_last_hour_ms": lambda: log.per_minute(hour, END_MS),
            "last_decision_id_ms": log.last_decision_id,
            "latest_page_ms": lambda: log.latest(limit=200),
            "since_ms": lambda: log.since(rows - 100),
            "search_newest_page_ms": lambda: log.search(blocked=True, limit=200),
            "search_account_ms": lambda: log.search(contains="peer123", limit=200),
            # No row matches: without an index the search reads the whole log in one query...
            "search_no_match_ms": lambda: log.search(contains="nobody-at-all", limit=200),
            # ...which the page never runs: it reads slices, each a short query, and answers
            # a partial page once its budget is spent (on PostgreSQL, the trigram indexes).
            "search_slice_ms": lambda: log.search(
                contains="nobody-at-all",
                before_id=rows + 1,
                after_id=rows - SEARCH_SLICE_IDS,
                limit=200,
            ),
            "search_page_no_match_ms": lambda: log.search_page(
                contains="nobody-at-all", before_id=rows + 1
            ),
        }
        for name, read in reads.items():
            result[name] = best_ms(read)
            # Each figure as soon as it is measured, on stderr: a long run shows its progress.
            print(name, result[name], file=sys.stderr, flush=True)
        # One retention batch (500 callbacks and their decisions), as the drainer runs it.
        result["prune_batch_ms"] = best_ms(lambda: log.prune(END_MS - SPAN_MS + DAY_MS, 500), 3)
        log.close()
        return result


def _peak_rss_kib(command: list[str], env: dict[str, str]) -> int:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.devnull, "wb") as sink:
        subprocess.run(command, cwd=ROOT, env=env, stdout=sink, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: run the bigger one last.
    return max(before, after)


def export(rows: int) -> dict[str, Any]:
    result: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="audit-export-") as folder:
        for count in (rows // 10, rows):
            database = Path(folder) / f"db{count}.sqlite3"
            log = AuditLog(f"sqlite:///{database}")
            log.upgrade()
            fill(log, count)
            log.close()
            env = {**os.environ, "EXAMPLE_DATABASE": str(database)}
            command = [sys.executable, "-m", "flask", "--app", "example_app", "audit", "export"]
            started = time.perf_counter()
            result[f"peak_rss_kib_{count}"] = _peak_rss_kib(command, env)
            result[f"seconds_{count}"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["reads", "export"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="an empty database (default: SQLite)")
    args = parser.parse_args()
    out = reads(args.url, args.rows) if args.what == "reads" else export(args.rows)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
