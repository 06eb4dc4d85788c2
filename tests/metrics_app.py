"""The Flask app of the multiprocess metrics test, run by gunicorn with several workers.

Metrics on, a hook that takes a little time (so that concurrent callbacks spread over the
workers) and names its worker in the ResultInfo of the items it blocks, and a /metrics route
served the way docs/metrics.md shows, with the serving worker in a header.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response

from flask_friendcb import FriendCallbackBlueprint, Reject
from flask_friendcb.metrics import render_metrics
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

SDKAPPID = 1400000000
#: Seconds each hook call and each scrape take.
PAUSE = 0.03


def create_app() -> Flask:
    friendcb = FriendCallbackBlueprint()

    @friendcb.on_friend_response
    def refuse_spam(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        time.sleep(PAUSE)
        if item.to_account.startswith("spam"):
            return Reject(38001, f"spam (worker {os.getpid()})")
        return None

    app = Flask(__name__)
    app.config.update(
        FRIENDCB_SDKAPPID=SDKAPPID,
        FRIENDCB_TOKEN=os.environ["FRIENDCB_TEST_TOKEN"],
        FRIENDCB_METRICS=True,
    )
    app.register_blueprint(friendcb, url_prefix="/im")

    @app.get("/metrics")
    def metrics() -> Response:
        time.sleep(PAUSE)
        body, content_type = render_metrics()
        return Response(body, content_type=content_type, headers={"X-Worker": str(os.getpid())})

    return app
