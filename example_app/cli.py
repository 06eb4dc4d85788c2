"""The operator's commands: ``flask --app example_app audit export``."""

from __future__ import annotations

import csv
import datetime
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from .audit_log import EXPORT_FIELDS
from .service import get_service

audit_cli = AppGroup("audit", help="The audit log.")


class _Instant(click.ParamType[int]):
    """An ISO-8601 date or time; without a zone, UTC. Converted to Unix milliseconds."""

    name = "ISO-8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        # Python 3.10's fromisoformat does not read a trailing Z.
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO-8601 date or time (2026-12-01, 2026-12-01T08:00:00Z)",
                param,
                ctx,
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return int(moment.timestamp() * 1000)


@audit_cli.command("export")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="One JSON object per line, or CSV with a header line.",
)
@click.option(
    "--since",
    type=_Instant(),
    default=None,
    help="Only decisions received at or after this ISO-8601 time (UTC unless it says).",
)
def export(format_: str, since: int | None) -> None:
    """Write every item decision of the audit log to standard output, oldest first, with the
    callback's fields. Streamed: memory stays flat however long the log."""
    service = get_service(current_app)
    # What this process's start-up found in the spool is not waited for: export what the
    # database holds.
    rows = service.store.audit.export(since)
    out = sys.stdout
    if format_ == "csv":
        _write_csv(rows, out)
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
    out.flush()


#: What a spreadsheet reads as the start of a formula (OWASP's list for CSV injection), and
#: the guard's own quote, so that a guarded cell and a value that began with a quote differ.
_GUARDED = ("=", "+", "-", "@", "\t", "\r", "'")
#: The export's integer fields (CSV carries them as text).
_INTEGERS = ("result_code", "event_time_ms", "received_at_ms")


def guard_cell(value: Any) -> Any:
    """A CSV cell for ``value``: a text that a spreadsheet would run as a formula gets a
    leading quote; any other value (an empty text included) is written as it is."""
    if isinstance(value, str) and value[:1] and value[0] in _GUARDED:
        return "'" + value
    return value


def read_csv_export(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The rows of ``audit export --format csv`` as ``--format jsonl`` gives them: the guard's
    quote taken off, the integer fields as integers."""
    for row in csv.DictReader(lines):
        yield {
            key: int(value)
            if key in _INTEGERS
            else value[1:]
            if value[:1] == "'" and value[1:2] in _GUARDED
            else value
            for key, value in row.items()
        }


def _write_csv(rows: Iterable[dict[str, Any]], out: Any) -> None:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: guard_cell(value) for key, value in row.items()})
