"""The small chaos run (``make chaos`` at a few seconds a phase): two instances on a real
PostgreSQL and Redis under signed load, each fault in turn; nothing answered is missing from
the audit log, nothing is in it twice, no answer took longer than Tencent's 2 s, and no answer
was a 5xx."""

from __future__ import annotations

from bench.chaos import HEADERS, SMALL, Row, faults, run, table


def test_the_table_has_a_row_per_fault_and_the_issues_columns() -> None:
    rows = [Row(name) for name, _ in faults(SMALL)]
    text = table(rows)
    assert text.splitlines()[0] == "| " + " | ".join(HEADERS) + " |"
    assert len(text.splitlines()) == 2 + len(rows)
    names = [name for name, _ in faults(SMALL)]
    assert [name.split()[0] for name in names] == [
        "none",
        "database",
        "database",
        "Redis",
        "a",
        "an",
    ]


def test_every_fault_loses_nothing_answered_and_writes_nothing_twice() -> None:
    rows = run(SMALL)
    print(table(rows))  # shown when the test fails
    for row in rows:
        assert row.answered > 0, row.fault
        assert row.lost == 0, row.fault
        assert row.duplicated == 0, row.fault
        assert row.server_errors == 0, row.fault
        assert row.over_2s == 0, row.fault
        # Every answered callback was spooled before its answer left, and shipped since.
        assert row.shipped >= row.answered, row.fault
        assert row.spooled >= row.answered, row.fault
