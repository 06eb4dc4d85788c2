"""`pip install .` in a clean virtual environment gives a working, typed package."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from .servers import ROOT

CHECK = """
import importlib.resources, json
import flask_friendcb
from flask_friendcb import FriendCallbackBlueprint, FriendCallbackMiddleware, sign
from flask_friendcb.testing import signed_client
assert importlib.resources.files("flask_friendcb").joinpath("py.typed").is_file()
assert sign("xxxxyyyy", 1669872112).startswith("17773bc3")

# The ASGI receiver with nothing but the package's own requirements: no framework, no server.
import asyncio
from flask_friendcb.asgi import FriendCallbackASGI
from flask_friendcb.testing import callback_query, friend_response_body

async def inner(scope, receive, send):
    raise AssertionError("not reached")

async def answer():
    sent = []
    body = json.dumps(friend_response_body("bob", ["alice"])).encode()
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    async def send(message):
        sent.append(message)
    app = FriendCallbackASGI(inner, path="/cb", sdkappid=1400000000, token="t")
    query = callback_query(1400000000, token="t").encode()
    scope = {"type": "http", "method": "POST", "path": "/cb", "query_string": query, "headers": []}
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])["ResultItem"][0]["ResultCode"]

assert asyncio.run(answer()) == (200, 0)
for framework in ("starlette", "fastapi", "quart", "litestar", "httpx", "anyio", "uvicorn"):
    assert framework not in __import__("sys").modules, framework
print(json.dumps({"version": flask_friendcb.__version__, "file": flask_friendcb.__file__}))
"""


def test_pip_install_in_a_clean_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        cwd=tmp_path,
        timeout=600,
    )
    result = subprocess.run(
        [python, "-c", CHECK], check=True, cwd=tmp_path, capture_output=True, text=True
    )
    assert str(env_dir) in result.stdout  # imported from the venv, not from the checkout
    metadata = subprocess.run(
        [python, "-m", "pip", "show", "flask-friendcb"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Requires: blinker, click, Flask, marshmallow, Werkzeug" in metadata
    assert sys.version_info >= (3, 10)
