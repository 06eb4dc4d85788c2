"""One module of hooks for a Flask and an ASGI deployment alike: the blueprint's hooks, which
an ASGI host takes as ``FriendCallbackASGI(..., hooks=friendcb.hooks)``. One is plain, one is
``async def``: both run under either adapter.
"""

from __future__ import annotations

import asyncio

from flask_friendcb import FriendCallbackBlueprint, Reject
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

friendcb = FriendCallbackBlueprint()


@friendcb.on_friend_response
def refuse_spam(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """A plain hook: a worker thread runs it under ASGI, the request's thread under WSGI."""
    return Reject(38001, "spam") if item.to_account.startswith("spam") else None


@friendcb.on_friend_response
async def refuse_bots(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """An ``async def`` hook: awaited on the loop under ASGI, run to its end under WSGI."""
    await asyncio.sleep(0)
    return Reject(38002, "bot") if item.to_account.startswith("bot") else None
