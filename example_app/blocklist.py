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

from flask_friendcb.policies import BlocklistEntry, PolicyStorageError

from .accounts import account_problem
from .policies import get_policies, listed_entry

blocklist_cli = AppGroup("blocklist", help="List, add and remove blocked accounts.")


def _printable(text: str) -> str:
    """``text`` safe and unambiguous on a terminal: control and format characters, a
    backslash, and a space at either end shown escaped (``\\u200b``, ``\\\\``, ``\\x20``)."""
    shown = [char if char.isprintable() and char != "\\" else _escaped(char) for char in text]
    for index in (0, len(shown) - 1) if shown else ():
        if text[index] == " ":
            shown[index] = "\\x20"
    return "".join(shown)


def _escaped(char: str) -> str:
    return "\\\\" if char == "\\" else char.encode("unicode_escape").decode("ascii")


def _when(entry: BlocklistEntry) -> str:
    return entry.added_at.isoformat(timespec="seconds").replace("+00:00", "Z")


@blocklist_cli.command("add")
@click.argument("account")
@click.option("--reason", default="", help="Why it is blocked (shown on the operator page).")
@click.option(
    "--replace",
    is_flag=True,
    help="If ACCOUNT is already blocked, give it this reason (and the time of now).",
)
def add(account: str, reason: str, replace: bool) -> None:
    """Block ACCOUNT: it can neither be accepted nor accept anyone. ACCOUNT is taken as given,
    spaces included, and is at most 32 bytes of UTF-8 (Tencent's UserID)."""
    problem = account_problem(account)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="ACCOUNT")
    blocklist = get_policies(current_app).blocklist
    try:
        listed = listed_entry(blocklist, account)
        if listed is not None and not replace:
            why = f"reason: {_printable(listed.reason)}" if listed.reason else "no reason given"
            click.echo(
                f"{_printable(account)} is already blocked (since {_when(listed)}, {why}); "
                "unchanged (--replace gives it this reason)"
            )
            return
        entry = blocklist.add(account, reason=reason)
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be changed: {error}") from None
    click.echo(f"{'reason replaced for' if listed else 'blocked'} {_printable(entry.account)}")


@blocklist_cli.command("remove")
@click.argument("account")
def remove(account: str) -> None:
    """Unblock ACCOUNT."""
    try:
        removed = account_problem(account) is None and get_policies(current_app).blocklist.remove(
            account
        )
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be changed: {error}") from None
    if not removed:
        raise click.ClickException(
            f"{_printable(account)} is not on the blocklist{_escaped_form_hint(account)}"
        )
    click.echo(f"unblocked {_printable(account)}")


def _escaped_form_hint(account: str) -> str:
    """When ``account`` is how ``blocklist list`` shows a listed account (its invisible
    characters escaped), how to type that account itself."""
    try:
        entries = get_policies(current_app).blocklist.entries()
    except PolicyStorageError:
        return ""
    if any(_printable(e.account) == account != e.account for e in entries):
        return (
            "; `blocklist list` shows an account with invisible characters that way: give the "
            f"characters themselves, in bash: blocklist remove $'{account}'"
        )
    return ""


#: The first line of ``blocklist list``.
LIST_HEADER = "account\tadded (UTC)\treason"


@blocklist_cli.command("list")
def list_() -> None:
    """Every blocked account, oldest first: a header line, then account, when (UTC), reason;
    tab-separated. Invisible characters, backslashes and a space at either end are shown
    escaped."""
    try:
        entries = get_policies(current_app).blocklist.entries()
    except PolicyStorageError as error:
        raise click.ClickException(f"the blocklist could not be read: {error}") from None
    click.echo(LIST_HEADER)
    for entry in entries:
        click.echo(f"{_printable(entry.account)}\t{_when(entry)}\t{_printable(entry.reason)}")
