"""``python -m example_app``: serve the example on 127.0.0.1 and show how to call it."""

from __future__ import annotations

import json
import logging
import os
import shlex
import time

from flask_friendcb.blueprint import callback_paths, get_state
from flask_friendcb.logging import mask_sign_in_logs
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query

from . import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    mask_sign_in_logs()  # the development server logs each request line, Sign included
    host = os.environ.get("EXAMPLE_HOST", "127.0.0.1")
    port = int(os.environ.get("EXAMPLE_PORT", "5000"))
    app = create_app()
    settings = get_state(app).settings
    url = f"http://{host}:{port}{callback_paths(app)[0]}"
    query = callback_query(
        settings.sdkappid,
        token=settings.tokens[0] if settings.tokens else None,
        request_time=int(time.time()),
    )
    body = dict(
        SAMPLE_REQUEST,
        ResponseFriendItem=[
            {"To_Account": "spammer1", "ResponseAction": "Response_Action_AgreeAndAdd"},
            {"To_Account": "alice", "ResponseAction": "Response_Action_Agree"},
        ],
    )
    print(f"Callback URL: {url}")
    print("Try it (the Sign is valid for the next minute):")
    print(
        "curl -s -X POST -H 'Content-Type: application/json' "
        f"{shlex.quote(url + '?' + query)} -d {shlex.quote(json.dumps(body))}"
    )
    app.run(host=host, port=port)


if __name__ == "__main__":
    main()
