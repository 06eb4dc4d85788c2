"""``python -m example_app``: serve the service on EXAMPLE_HOST:EXAMPLE_PORT (127.0.0.1:5000)
with Werkzeug's development server, and show how to call it. Deploy with gunicorn (README)."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time

from flask_friendcb import ConfigError
from flask_friendcb.blueprint import callback_paths, get_state
from flask_friendcb.logging import mask_sign_in_logs
from flask_friendcb.testing import callback_query, friend_response_body, response_item

from . import create_app, get_service


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    mask_sign_in_logs()  # the development server logs each request line, Sign included
    try:
        app = create_app()
    except ConfigError as error:
        # A setting at fault is one line naming it, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    settings = get_state(app).settings
    example = get_service(app).settings
    base = f"http://{example.host}:{example.port}"
    url = f"{base}{callback_paths(app)[0]}"
    query = callback_query(
        settings.sdkappid,
        token=settings.tokens[0] if settings.tokens else None,
        request_time=int(time.time()),
    )
    body = friend_response_body(
        "mallory",
        [
            response_item("spammer1", remark="cheap followers at www.example.com"),
            response_item("alice", "Response_Action_Agree"),
        ],
    )
    print(f"Operator page: {base}/")
    print(f"Callback URL: {url}")
    print("Send a callback as Tencent would (from another terminal):")
    print(
        f"  .venv/bin/flask --app example_app friendcb send --url {url} "
        "--from mallory --to spammer1 --remark 'visit www.example.com'"
    )
    print("Or with curl (the Sign is valid for the next minute):")
    print(
        "curl -s -X POST -H 'Content-Type: application/json' "
        f"{shlex.quote(url + '?' + query)} -d {shlex.quote(json.dumps(body))}",
        flush=True,
    )
    app.run(host=example.host, port=example.port, threaded=True)


if __name__ == "__main__":
    main()
