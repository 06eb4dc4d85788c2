"""``flask --app example_app blocklist``: the operator's blocklist from a terminal.

    flask --app example_app blocklist add ACCOUNT [--reason R]
    flask --app example_app blocklist remove ACCOUNT
    flask --app example_app blocklist list

They act on the same storage as the running service (the SQLite file beside its database, or
``EXAMPLE_REDIS_URL``), so a change applies to the next callback of every worker.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from flask_friendcb.policies import PolicyStorageError

from .policies import get_policies

blocklist_cli = AppGroup("blocklist", help="List, add and remove blocked accounts.")


def _printable(text: str) -> str:
    """``text`` safe for a terminal: control and format characters shown escaped."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


@blocklist_cli.command("add")
@click.argument("account")
@click.option("--reason", default="", help="Why it is blocked (shown on the operator page).")
def add(account: str, reason: str) -> None:
    """Block ACCOUNT: it can neither be accepted nor accept anyone."""
    if not account.strip():
        raise click.BadParameter("must not be empty", param_hint="ACCOUNT")
    try:
        entry = get_policies(current_app).blocklist.add(account, reason=reason)
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be changed: {error}") from None
    click.echo(f"blocked {_printable(entry.account)}")


@blocklist_cli.command("remove")
@click.argument("account")
def remove(account: str) -> None:
    """Unblock ACCOUNT."""
    try:
        removed = bool(account) and get_policies(current_app).blocklist.remove(account)
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be changed: {error}") from None
    if not removed:
        raise click.ClickException(f"{_printable(account)} is not on the blocklist")
    click.echo(f"unblocked {_printable(account)}")


@blocklist_cli.command("list")
def list_() -> None:
    """Every blocked account, oldest first: account, when (UTC), reason; tab-separated."""
    try:
        entries = get_policies(current_app).blocklist.entries()
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be read: {error}") from None
    for entry in entries:
        added = entry.added_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        click.echo(f"{_printable(entry.account)}\t{added}\t{_printable(entry.reason)}")
