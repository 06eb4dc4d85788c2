"""Entry points that split the service in two, for a deployment where the operator page can
never take a connection the callback route needs: each half under its own gunicorn process
and port (``docs/scale-out.md``).

- ``example_app.wsgi:callback_app()``: the callback route only (``POST /im/callback``);
- ``example_app.wsgi:operator_app()``: the operator page, its API and its live streams only.

Both are the whole service (same settings, stores and audit log); each answers 404 to the
other half's paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask
from werkzeug.exceptions import NotFound

from flask_friendcb.blueprint import callback_paths

from . import create_app

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OnlyPaths:
    """``app`` for the paths ``wanted`` says yes to; 404 for the others."""

    def __init__(self, app: Flask, wanted: Callable[[str], bool]) -> None:
        self.app = app
        self.wanted = wanted

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.wanted(environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        response: WSGIApp = NotFound()
        return response(environ, start_response)


def callback_app(config: Mapping[str, Any] | None = None) -> OnlyPaths:
    """The service answering only Tencent's callback route."""
    app = create_app(config)
    paths = set(callback_paths(app))
    return OnlyPaths(app, lambda path: path in paths)


def operator_app(config: Mapping[str, Any] | None = None) -> OnlyPaths:
    """The service answering everything but the callback route: the operator page, its API
    and its live streams."""
    app = create_app(config)
    paths = set(callback_paths(app))
    return OnlyPaths(app, lambda path: path not in paths)
