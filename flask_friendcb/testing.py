"""Helpers to test hooks the way Tencent will call them: signed queries, bodies, a client.

::

    from flask_friendcb.testing import friend_response_body, response_item, signed_client

    def test_banned_requester_is_rejected(app):
        client = signed_client(app)
        response = client.callback(friend_response_body("bob", [response_item("spammer")]))
        assert response.json["ResultItem"][0]["ResultCode"] == 38001

Every friend callback has its builder: :func:`friend_response_body`,
:func:`friend_add_body` (with :func:`friend_add_item`), :func:`friend_added_body`,
:func:`friend_deleted_body`, :func:`blocklist_added_body` and :func:`blocklist_removed_body`;
``client.callback(body)`` sends any of them under its own ``CallbackCommand``.

The client signs with the app's own token and clock (``FRIENDCB_CLOCK``), so a test that
freezes the clock signs at the frozen time too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from .auth import sign
from .config import Settings
from .protocol import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_DELETED_COMMAND,
    FRIEND_RESPONSE_COMMAND,
    QUERY_CLIENT_IP,
    QUERY_COMMAND,
    QUERY_CONTENT_TYPE,
    QUERY_OPT_PLATFORM,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    SAMPLE_REQUEST,
    AddType,
    ResponseAction,
)
from .state import callback_paths, get_state

__all__ = [
    "SAMPLE_REQUEST",
    "FriendCallbackClient",
    "FrozenClock",
    "blocklist_added_body",
    "blocklist_removed_body",
    "callback_query",
    "friend_add_body",
    "friend_add_item",
    "friend_added_body",
    "friend_deleted_body",
    "friend_response_body",
    "relation_body",
    "response_item",
    "sign",
    "signed_client",
]


class FrozenClock:
    """A clock for ``FRIENDCB_CLOCK`` (or the middleware's ``clock=``) that stands still until
    moved, so tests can check the ``RequestTime`` window to the second::

        clock = FrozenClock()
        app.config["FRIENDCB_CLOCK"] = clock
        ...
        clock.advance(61)   # a callback signed before this is now stale
    """

    def __init__(self, now: float | None = None) -> None:
        #: The Unix time the clock shows: unless given, the real time when it was made, to the
        #: whole second, so that ``int(clock.now)`` is a ``RequestTime`` it accepts.
        self.now = float(int(time.time()) if now is None else now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock by ``seconds`` (negative moves it back)."""
        self.now += seconds


def callback_query(
    sdkappid: int | str,
    *,
    token: str | None = None,
    request_time: float | str | None = None,
    command: str = FRIEND_RESPONSE_COMMAND,
    client_ip: str = "127.0.0.1",
    opt_platform: str = "RESTAPI",
    **extra: str,
) -> str:
    """The query string Tencent would send, signed when ``token`` is given.

    ``request_time`` defaults to now; a number is sent in whole seconds, a str as it is.
    ``extra`` adds or replaces parameters, to build the odd requests a test needs
    (``Sign="0" * 64``).
    """
    params: dict[str, str] = {
        QUERY_SDKAPPID: str(sdkappid),
        QUERY_COMMAND: command,
        QUERY_CONTENT_TYPE: "json",
        QUERY_CLIENT_IP: client_ip,
        QUERY_OPT_PLATFORM: opt_platform,
    }
    if token is not None:
        if request_time is None or isinstance(request_time, float):
            # Whole seconds, as Tencent sends; a str is sent as it is, to test odd values.
            request_time = int(time.time() if request_time is None else request_time)
        seconds = str(request_time)
        params[QUERY_REQUEST_TIME] = seconds
        params[QUERY_SIGN] = sign(token, seconds)
    params.update(extra)
    return urlencode(params)


def response_item(
    to_account: str,
    action: ResponseAction | str = ResponseAction.AGREE_AND_ADD,
    *,
    remark: str = "",
    tag_name: str = "",
) -> dict[str, Any]:
    """One element of ``ResponseFriendItem``: ``to_account`` made a request, answered with
    ``action``."""
    return {
        "To_Account": to_account,
        "Remark": remark,
        "TagName": tag_name,
        "ResponseAction": ResponseAction(action).value,
    }


def friend_response_body(
    from_account: str = "responder",
    items: Iterable[Mapping[str, Any] | str] | None = None,
    *,
    requester_account: str | None = None,
    event_time_ms: int | None = None,
) -> dict[str, Any]:
    """A ``Sns.CallbackPrevFriendResponse`` body: ``from_account`` answers ``items``.

    An item may be a ``response_item(...)`` dict, or just the requester's account for an
    accepted request. ``requester_account`` defaults to ``from_account``, ``event_time_ms`` to
    now.
    """
    if items is None:
        items = ["requester"]
    return {
        "CallbackCommand": FRIEND_RESPONSE_COMMAND,
        "Requester_Account": from_account if requester_account is None else requester_account,
        "From_Account": from_account,
        "ResponseFriendItem": [
            response_item(item) if isinstance(item, str) else dict(item) for item in items
        ],
        "EventTime": int(time.time() * 1000) if event_time_ms is None else event_time_ms,
    }


def friend_add_item(
    to_account: str,
    *,
    wording: str = "",
    remark: str = "",
    group_name: str = "",
    add_source: str = "AddSource_Type_Android",
) -> dict[str, Any]:
    """One element of a request's ``FriendItem``: a friend request to ``to_account``, with
    ``wording`` as its ``AddWording``."""
    return {
        "To_Account": to_account,
        "Remark": remark,
        "GroupName": group_name,
        "AddSource": add_source,
        "AddWording": wording,
    }


def friend_add_body(
    from_account: str = "requester",
    items: Iterable[Mapping[str, Any] | str] | None = None,
    *,
    requester_account: str | None = None,
    add_type: AddType | str = AddType.BOTH,
    force_add_flags: int = 0,
    event_time_ms: int | None = None,
) -> dict[str, Any]:
    """A ``Sns.CallbackPrevFriendAdd`` body: ``from_account`` sends friend requests.

    An item may be a ``friend_add_item(...)`` dict, or just the account the request goes to.
    ``requester_account`` defaults to ``from_account``, ``event_time_ms`` to now.
    """
    if items is None:
        items = ["recipient"]
    return {
        "CallbackCommand": FRIEND_ADD_COMMAND,
        "Requester_Account": from_account if requester_account is None else requester_account,
        "From_Account": from_account,
        "FriendItem": [
            friend_add_item(item) if isinstance(item, str) else dict(item) for item in items
        ],
        "AddType": str(add_type),
        "ForceAddFlags": force_add_flags,
        "EventTime": int(time.time() * 1000) if event_time_ms is None else event_time_ms,
    }


Pair = tuple[str, str] | tuple[str, str, str] | Mapping[str, Any]


def relation_body(command: str, pairs: Iterable[Pair], **fields: Any) -> dict[str, Any]:
    """The body of an "after" command: ``pairs`` as its ``PairList``, each a
    ``(from_account, to_account)`` tuple (a third element is ``Initiator_Account``) or a dict
    sent as it is; ``fields`` are added as they are (``ClientCmd="friend_add"``)."""
    pair_list = []
    for pair in pairs:
        if isinstance(pair, Mapping):
            pair_list.append(dict(pair))
            continue
        wire = {"From_Account": pair[0], "To_Account": pair[1]}
        if len(pair) > 2:
            wire["Initiator_Account"] = pair[2]
        pair_list.append(wire)
    return {"CallbackCommand": command, "PairList": pair_list, **fields}


def friend_added_body(
    pairs: Iterable[Pair] = (("responder", "requester", "requester"),),
    *,
    client_cmd: str = "friend_response",
    admin_account: str = "",
    force_flag: int = 0,
) -> dict[str, Any]:
    """A ``Sns.CallbackFriendAdd`` body: the friendships of ``pairs`` were made."""
    return relation_body(
        FRIEND_ADDED_COMMAND,
        pairs,
        ClientCmd=client_cmd,
        Admin_Account=admin_account,
        ForceFlag=force_flag,
    )


def friend_deleted_body(pairs: Iterable[Pair] = (("responder", "requester"),)) -> dict[str, Any]:
    """A ``Sns.CallbackFriendDelete`` body: the friendships of ``pairs`` were removed."""
    return relation_body(FRIEND_DELETED_COMMAND, pairs)


def blocklist_added_body(pairs: Iterable[Pair] = (("victim", "spammer"),)) -> dict[str, Any]:
    """A ``Sns.CallbackBlackListAdd`` body: each pair's ``From_Account`` blocklisted its
    ``To_Account``."""
    return relation_body(BLOCKLIST_ADDED_COMMAND, pairs)


def blocklist_removed_body(pairs: Iterable[Pair] = (("victim", "spammer"),)) -> dict[str, Any]:
    """A ``Sns.CallbackBlackListDelete`` body: each pair's ``From_Account`` took its
    ``To_Account`` off their blocklist."""
    return relation_body(BLOCKLIST_REMOVED_COMMAND, pairs)


def _signed_request(
    settings: Settings,
    body: Mapping[str, Any] | bytes | str | None,
    command: str | None,
    token: str | None,
    request_time: float | str | None,
    signed: bool,
    query: Mapping[str, str],
) -> tuple[str, bytes | str]:
    """The query string and the body of a callback as Tencent would send it to a receiver with
    ``settings``: what the test clients post (see :meth:`FriendCallbackClient.callback`)."""
    if body is None:
        body = friend_response_body()
    if command is None:
        command = FRIEND_RESPONSE_COMMAND
        if isinstance(body, Mapping) and isinstance(body.get("CallbackCommand"), str):
            command = body["CallbackCommand"]
    if token is None and signed and settings.tokens:
        token = settings.tokens[0]
    if request_time is None:
        request_time = int(settings.clock())
    query_string = callback_query(
        settings.sdkappid,
        token=token if signed else None,
        request_time=request_time,
        command=command,
        **query,
    )
    return query_string, json.dumps(body) if isinstance(body, Mapping) else body


class FriendCallbackClient(FlaskClient):
    """A Flask test client that posts signed callbacks to the app's callback route."""

    def callback(
        self,
        body: Mapping[str, Any] | bytes | str | None = None,
        *,
        command: str | None = None,
        token: str | None = None,
        request_time: float | str | None = None,
        path: str | None = None,
        signed: bool = True,
        **query: str,
    ) -> TestResponse:
        """POST ``body`` (a dict is sent as JSON; bytes and str as they are; ``None`` sends
        :func:`friend_response_body`) as Tencent would.

        The query is signed with the app's first token at the app's clock unless ``token`` or
        ``request_time`` say otherwise, or ``signed`` is false. ``command`` defaults to the
        body's ``CallbackCommand``; ``query`` adds or replaces query parameters.
        """
        settings = get_state(self.application).settings
        query_string, data = _signed_request(
            settings, body, command, token, request_time, signed, query
        )
        return self.post(
            path or _default_path(self.application),
            query_string=query_string,
            data=data,
            content_type="application/json",
        )


def signed_client(app: Flask) -> FriendCallbackClient:
    """A :class:`FriendCallbackClient` for ``app``, which must have the blueprint registered."""
    get_state(app)
    return FriendCallbackClient(app, app.response_class)


def _default_path(app: Flask) -> str:
    paths = callback_paths(app)
    if not paths:
        raise RuntimeError("the app has no callback route")
    return paths[0]


class ASGICallbackClient:
    """Posts signed callbacks to an ASGI application in process, through httpx's ASGI
    transport: no server, no socket (``pip install httpx``). Made by :func:`asgi_client`; use
    it in a test that runs on an event loop::

        async with asgi_client(application) as client:
            response = await client.callback(friend_response_body("bob", ["spammer"]))
        assert response.json()["ResultItem"][0]["ResultCode"] == 38001

    The transport runs no ``lifespan``: start what the app's start-up would start yourself.
    """

    def __init__(self, app: Any, receiver: Any, base_url: str = "http://testserver") -> None:
        import httpx

        #: The receiver (a :class:`~flask_friendcb.asgi.FriendCallbackASGI`) whose path,
        #: token and clock the callbacks use.
        self.receiver = receiver
        #: The ``httpx.AsyncClient`` underneath, for any other request.
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    async def callback(
        self,
        body: Mapping[str, Any] | bytes | str | None = None,
        *,
        command: str | None = None,
        token: str | None = None,
        request_time: float | str | None = None,
        path: str | None = None,
        signed: bool = True,
        **query: str,
    ) -> Any:
        """POST ``body`` as Tencent would and return the ``httpx.Response``; the arguments are
        those of :meth:`FriendCallbackClient.callback`."""
        query_string, data = _signed_request(
            self.receiver.settings, body, command, token, request_time, signed, query
        )
        return await self.http.post(
            f"{path or self.receiver.path}?{query_string}",
            content=data.encode() if isinstance(data, str) else data,
            headers={"Content-Type": "application/json"},
        )

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient``."""
        await self.http.aclose()

    async def __aenter__(self) -> ASGICallbackClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def asgi_client(
    app: Any, receiver: Any = None, *, base_url: str = "http://testserver"
) -> ASGICallbackClient:
    """An :class:`ASGICallbackClient` for the ASGI application ``app``. ``receiver`` is the
    :class:`~flask_friendcb.asgi.FriendCallbackASGI` inside it; it may be left out when ``app``
    is the receiver itself, or holds it in a chain of ASGI middleware that keeps the next app
    as ``app`` or ``asgi_app``: Quart's ``app.asgi_app = FriendCallbackASGI(app.asgi_app, ...)``,
    Starlette's and FastAPI's ``Middleware(FriendCallbackASGI, ...)``."""
    from .asgi import FriendCallbackASGI

    found = receiver if receiver is not None else _find_receiver(app, FriendCallbackASGI)
    if not isinstance(found, FriendCallbackASGI):
        raise RuntimeError(
            "no FriendCallbackASGI found in the app; pass it: asgi_client(app, receiver)"
        )
    return ASGICallbackClient(app, found, base_url)


def _find_receiver(app: Any, kind: type) -> Any:
    # Down a chain of wrappers, a few levels deep: app.asgi_app (Quart), app.app (middleware),
    # app.middleware_stack (Starlette and FastAPI, built here as on their first request).
    for _ in range(16):
        if isinstance(app, kind):
            return app
        build = getattr(app, "build_middleware_stack", None)
        if callable(build) and getattr(app, "middleware_stack", False) is None:
            app.middleware_stack = build()
        app = (
            getattr(app, "asgi_app", None)
            or getattr(app, "middleware_stack", None)
            or getattr(app, "app", None)
        )
        if app is None:
            return None
    return None


__all__ += ["ASGICallbackClient", "asgi_client"]
