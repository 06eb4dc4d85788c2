"""ASGI apps with the callback in front, one per framework, for the tests that serve them with
uvicorn and hypercorn (``devtools.asgi_apps:fastapi_app()``) and for the benchmarks; and a
Flask app over the same hooks module (:mod:`devtools.shared_hooks`).

Each has its own route ``/hello`` answering ``{"app": "<framework>"}``, and the callback at
``/im/callback``, signed with FRIENDCB_TEST_TOKEN (or :mod:`devtools.signing`'s token).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from flask_friendcb.asgi import FriendCallbackASGI

from .shared_hooks import friendcb
from .signing import PATH, SDKAPPID, TOKEN


def _receiver(app: Any, **settings: Any) -> FriendCallbackASGI:
    return FriendCallbackASGI(
        app,
        path=PATH,
        sdkappid=SDKAPPID,
        token=os.environ.get("FRIENDCB_TEST_TOKEN", TOKEN),
        hooks=friendcb.hooks,
        **settings,
    )


def fastapi_app() -> Any:
    """FastAPI, wrapped: ``FriendCallbackASGI(app, ...)`` is what the server runs."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"app": "fastapi"}

    return _receiver(app)


def starlette_app() -> Any:
    """Starlette, with the receiver as the app's own middleware (``Middleware(...)``)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"app": "starlette"})

    return Starlette(
        routes=[Route("/hello", hello)],
        middleware=[
            Middleware(
                FriendCallbackASGI,
                path=PATH,
                sdkappid=SDKAPPID,
                token=os.environ.get("FRIENDCB_TEST_TOKEN", TOKEN),
                hooks=friendcb.hooks,
            )
        ],
    )


def quart_app() -> Any:
    """Quart, the Flask way of wrapping: ``app.asgi_app = FriendCallbackASGI(app.asgi_app)``;
    the same hooks module as :func:`flask_app`."""
    from quart import Quart

    app = Quart(__name__)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"app": "quart"}

    app.asgi_app = _receiver(app.asgi_app)  # type: ignore[method-assign, assignment]
    return app


def litestar_app() -> Any:
    """Litestar, wrapped."""
    from litestar import Litestar, get

    @get("/hello")
    async def hello() -> dict[str, str]:
        return {"app": "litestar"}

    return _receiver(Litestar(route_handlers=[hello]))


def flask_app() -> Flask:
    """Flask with the blueprint of the same hooks module the ASGI apps use."""
    app = Flask(__name__)
    app.config.update(
        FRIENDCB_SDKAPPID=int(SDKAPPID),
        FRIENDCB_TOKEN=os.environ.get("FRIENDCB_TEST_TOKEN", TOKEN),
    )

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"app": "flask"}

    app.register_blueprint(friendcb, url_prefix="/im")
    return app


def slow_app() -> Any:
    """FastAPI behind a receiver whose hooks sleep ten seconds for ``slow-async`` (an
    ``async def`` hook, which also refuses ``spam...``) and ``slow-plain`` (a plain one), past
    its 0.5 s deadline; ``/hello`` is FastAPI's."""
    import asyncio
    import time

    from fastapi import FastAPI

    from flask_friendcb import Reject
    from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"app": "fastapi"}

    receiver = FriendCallbackASGI(  # hooks of its own, not the shared module's
        app,
        path=PATH,
        sdkappid=SDKAPPID,
        token=os.environ.get("FRIENDCB_TEST_TOKEN", TOKEN),
        deadline=0.5,
    )

    @receiver.on_friend_response
    async def slow_async(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        if item.to_account == "slow-async":
            await asyncio.sleep(10)
        return Reject(38001, "spam") if item.to_account.startswith("spam") else None

    @receiver.on_friend_response
    def slow_plain(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        if item.to_account == "slow-plain":
            time.sleep(10)

    return receiver


#: The ASGI apps by framework.
FRAMEWORKS = {
    "fastapi": fastapi_app,
    "starlette": starlette_app,
    "quart": quart_app,
    "litestar": litestar_app,
}
