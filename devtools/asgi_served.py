"""The ASGI apps of :mod:`devtools.asgi_apps` as module attributes, for servers that take
``module:attribute`` (``uvicorn devtools.asgi_served:fastapi``, hypercorn alike)."""

from __future__ import annotations

from .asgi_apps import fastapi_app, litestar_app, quart_app, slow_app, starlette_app

fastapi = fastapi_app()
starlette = starlette_app()
quart = quart_app()
litestar = litestar_app()
slow = slow_app()
