"""The operator's commands: ``flask --app example_app audit export``."""

from __future__ import annotations

import csv
import datetime
import json
import sys
from collections.abc import Iterable
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


def _write_csv(rows: Iterable[dict[str, Any]], out: Any) -> None:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # A spreadsheet runs a cell that starts with = + - @ as a formula: such a value
        # from the network gets a leading quote (OWASP's advice for CSV injection).
        writer.writerow(
            {
                key: "'" + value if isinstance(value, str) and value[:1] in "=+-@\t\r" else value
                for key, value in row.items()
            }
        )
