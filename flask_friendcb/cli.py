"""``flask friendcb ...``: commands to check the setup and to play Tencent locally."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from .auth import sign
from .protocol import (
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_COMMANDS,
    FRIEND_RESPONSE_COMMAND,
    OBSERVED_COMMANDS,
    AddType,
    ResponseAction,
)
from .state import callback_paths, get_state
from .testing import (
    callback_query,
    friend_add_body,
    friend_add_item,
    friend_added_body,
    friend_response_body,
    relation_body,
    response_item,
    signed_client,
)

_ACTIONS = {
    "agree-and-add": ResponseAction.AGREE_AND_ADD,
    "agree": ResponseAction.AGREE,
    "reject": ResponseAction.REJECT,
}
_ADD_TYPES = {"both": AddType.BOTH, "single": AddType.SINGLE}
# The names of the console's checklist, for `check`.
_CONSOLE_NAMES = {
    FRIEND_RESPONSE_COMMAND: "Before a Friend Request Is Responded",
    FRIEND_ADD_COMMAND: "Before a Friend Is Added",
    FRIEND_ADDED_COMMAND: "After a Friend Is Added",
    "Sns.CallbackFriendDelete": "After a Friend Is Deleted",
    "Sns.CallbackBlackListAdd": "After a User Is Added to Blocklist",
    "Sns.CallbackBlackListDelete": "After a User Is Removed from Blocklist",
}


def add_commands(group: click.Group) -> None:
    """Attach the commands to a blueprint's CLI group (``flask friendcb``)."""
    group.help = "Tencent Cloud Chat friend callbacks."
    group.add_command(sign_command)
    group.add_command(send_command)
    group.add_command(check_command)
    group.add_command(openapi_command)
    group.add_command(words_group)


@click.command("sign")
@with_appcontext
@click.option("--token", help="The callback token (default: the app's first token).")
@click.option(
    "--time", "request_time", type=int, help="RequestTime in Unix seconds (default: now)."
)
def sign_command(token: str | None, request_time: int | None) -> None:
    """Print the Sign Tencent sends for TOKEN at TIME."""
    if token is None:
        tokens = get_state(current_app).settings.tokens
        if not tokens:
            raise click.UsageError("the app has no FRIENDCB_TOKEN; pass --token")
        token = tokens[0]
    click.echo(sign(token, int(time.time()) if request_time is None else request_time))


@click.command("send")
@with_appcontext
@click.option(
    "--command",
    type=click.Choice(FRIEND_COMMANDS),
    default=FRIEND_RESPONSE_COMMAND,
    show_default=True,
    help="The CallbackCommand to send.",
)
@click.option(
    "--from",
    "from_account",
    help="From_Account: who answers (a response), who asks (a request), or whose friend list "
    "or blocklist changed (an after command). Default: responder, requester, user.",
)
@click.option(
    "--to",
    "to_accounts",
    multiple=True,
    help="To_Account: one item (or pair) per --to; repeat for several.",
)
@click.option(
    "--action",
    type=click.Choice(sorted(_ACTIONS)),
    default="agree-and-add",
    show_default=True,
    help="The ResponseAction of every item (Sns.CallbackPrevFriendResponse).",
)
@click.option("--remark", default="", help="Remark of every item.")
@click.option("--tag", default="", help="TagName of every item (a response).")
@click.option("--wording", default="", help="AddWording of every item (a request).")
@click.option("--group", default="", help="GroupName of every item (a request).")
@click.option(
    "--source",
    default="AddSource_Type_Android",
    show_default=True,
    help="AddSource of every item (a request).",
)
@click.option(
    "--add-type",
    type=click.Choice(sorted(_ADD_TYPES)),
    default="both",
    show_default=True,
    help="AddType (a request).",
)
@click.option(
    "--client-cmd",
    default="friend_response",
    show_default=True,
    help="ClientCmd (Sns.CallbackFriendAdd).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many callbacks to send, one after the other.",
)
@click.option("--url", help="Post to this callback URL instead of to the app itself.")
@click.option("--client-ip", default="127.0.0.1", show_default=True, help="ClientIP.")
@click.option("--platform", default="RESTAPI", show_default=True, help="OptPlatform.")
def send_command(
    command: str,
    from_account: str | None,
    to_accounts: tuple[str, ...],
    action: str,
    remark: str,
    tag: str,
    wording: str,
    group: str,
    source: str,
    add_type: str,
    client_cmd: str,
    count: int,
    url: str | None,
    client_ip: str,
    platform: str,
) -> None:
    """Send a signed friend callback, as Tencent would, and print the answer.

    Without --url the callback goes to this app's own route, in process; with --url it is
    posted over HTTP, signed with this app's SdkAppid and token (FRIENDCB_SDKAPPID and
    FRIENDCB_TOKEN of this command's environment: the receiving server's, to be accepted). For
    example `send --command Sns.CallbackPrevFriendAdd --from farm01 --to alice --wording "..."`.
    Exits with status 1 when an answer is not 200 (a refused item is still a 200).
    """
    settings = get_state(current_app).settings
    if command == FRIEND_RESPONSE_COMMAND:
        items = [
            response_item(to, _ACTIONS[action], remark=remark, tag_name=tag)
            for to in (to_accounts or ("requester",))
        ]
    elif command == FRIEND_ADD_COMMAND:
        items = [
            friend_add_item(to, wording=wording, remark=remark, group_name=group, add_source=source)
            for to in (to_accounts or ("recipient",))
        ]
    refused = False
    for _ in range(count):
        if command == FRIEND_RESPONSE_COMMAND:
            body = friend_response_body(from_account or "responder", items)
        elif command == FRIEND_ADD_COMMAND:
            body = friend_add_body(
                from_account or "requester", items, add_type=_ADD_TYPES[add_type]
            )
        else:
            who = from_account or "user"
            pairs = [(who, to) for to in (to_accounts or ("other",))]
            if command == FRIEND_ADDED_COMMAND:
                body = friend_added_body([(*pair, who) for pair in pairs], client_cmd=client_cmd)
            else:
                body = relation_body(command, pairs)
        if url is None:
            response = signed_client(current_app).callback(
                body, ClientIP=client_ip, OptPlatform=platform
            )
            status, text = response.status_code, response.get_data(as_text=True)
        else:
            query = callback_query(
                settings.sdkappid,
                token=settings.tokens[0] if settings.tokens else None,
                request_time=int(settings.clock()),
                command=command,
                client_ip=client_ip,
                opt_platform=platform,
            )
            status, text = _post(f"{url}{'&' if '?' in url else '?'}{query}", body)
        click.echo(f"{status} {_pretty(text)}")
        refused = refused or status != 200
    if refused:
        raise SystemExit(1)


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Show the callback settings, and what to enter in Tencent's console."""
    app = current_app
    settings = get_state(app).settings
    paths = callback_paths(app)
    click.echo(f"SdkAppid:        {settings.sdkappid}")
    if settings.tokens:
        click.echo(f"Token:           {len(settings.tokens)} configured (signed callbacks only)")
    else:
        click.echo("Token:           none: unsigned callbacks accepted (FRIENDCB_ALLOW_UNSIGNED)")
    click.echo(f"Max skew:        {settings.max_skew:g} s")
    click.echo(f"Deadline:        {settings.deadline:g} s, then {settings.on_hook_error!r}")
    click.echo(f"Max body:        {settings.max_content_length} bytes")
    hooks = get_state(app).hooks
    watched = {
        FRIEND_RESPONSE_COMMAND: len(hooks),
        FRIEND_ADD_COMMAND: len(hooks.request_hooks),
        **{command: len(hooks.observers_for(command)) for command in OBSERVED_COMMANDS},
    }
    click.echo(
        f"Hooks:           {len(hooks)} on responses, {len(hooks.request_hooks)} on requests"
    )
    observers = sum(watched[command] for command in OBSERVED_COMMANDS)
    click.echo(f"Observers:       {observers} on after-callbacks")
    for path in paths:
        click.echo(f"Callback URL:    https://<your host>{path}")
    enable = [_CONSOLE_NAMES[command] for command, count in watched.items() if count]
    click.echo(
        "In Tencent's console (Callback Configuration): set the callback URL above, "
        + ("the same token, " if settings.tokens else "no token, ")
        + "and enable "
        + (
            ", ".join(f"'{name}'" for name in enable)
            or f"'{_CONSOLE_NAMES[FRIEND_RESPONSE_COMMAND]}'"
        )
        + "."
    )
    if not settings.tokens:
        click.secho("Warning: without a token anyone who knows the URL can call it.", fg="yellow")


@click.command("openapi")
@with_appcontext
@click.option("--path", help="The callback path to describe (default: the app's own).")
@click.option("--indent", type=click.IntRange(min=0), default=2, show_default=True)
def openapi_command(path: str | None, indent: int) -> None:
    """Print the OpenAPI 3.1 document of the callback route, as JSON."""
    try:
        from .openapi import openapi_document
    except ImportError as error:
        message = f"this command needs apispec: pip install 'flask-friendcb[openapi]' ({error})"
        raise click.ClickException(message) from None
    settings = get_state(current_app).settings
    if path is None:
        paths = callback_paths(current_app)
        if not paths:
            raise click.UsageError("the app has no callback route; pass --path")
        path = paths[0]
    document = openapi_document(path, sdkappid=settings.sdkappid, signed=bool(settings.tokens))
    click.echo(json.dumps(document, indent=indent or None, ensure_ascii=False))


def _post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--url")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except urllib.error.URLError as error:
        raise click.ClickException(f"could not reach {url.split('?')[0]}: {error.reason}") from None
    except (http.client.HTTPException, OSError) as error:
        # The connection dropped (RemoteDisconnected), timed out, or the answer was not HTTP.
        raise click.ClickException(
            f"no answer from {url.split('?')[0]}: {type(error).__name__}: {error}"
        ) from None


#: The most of an answer that is not JSON printed (an HTML error page, say).
_TEXT_SHOWN = 300


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        flat = " ".join(text.split())
        return flat if len(flat) <= _TEXT_SHOWN else flat[:_TEXT_SHOWN] + "..."


@click.group("words")
def words_group() -> None:
    """Banned-word lists for ContentPolicy."""


@words_group.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def words_check_command(path: str) -> None:
    """Print what ContentPolicy would drop from the word list in PATH (one word a line,
    UTF-8), and why."""
    from .policies.wordlists import check_words

    with open(path, encoding="utf-8") as file:
        words = file.read().splitlines()
    check = check_words(words)
    for dropped in check.dropped:
        click.echo(f"{dropped.word}\t{dropped.reason}\t{dropped.detail}")
    counts = check.counts()
    click.echo(
        f"{len(check.kept) + len(check.dropped)} entries: {len(check.kept)} kept, "
        f"{len(check.dropped)} dropped ({counts['one_character']} of one character, "
        f"{counts['short_number']} short numbers, {counts['common_word']} everyday words)",
        err=True,
    )
