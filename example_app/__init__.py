"""A small service built on flask-friendcb: it refuses friend requests from spam accounts.

Configuration comes from the environment (``FRIENDCB_SDKAPPID``, ``FRIENDCB_TOKEN``, and any
other ``FRIENDCB_*`` key); unset keys get development defaults, announced with a warning.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from flask_friendcb import FriendCallbackBlueprint, Reject
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

logger = logging.getLogger("example_app")

#: Development defaults, used only when the environment does not set the key.
DEV_CONFIG: dict[str, Any] = {
    "FRIENDCB_SDKAPPID": 1400000000,
    "FRIENDCB_TOKEN": "dev-token-change-me",
}

#: ResultCode of a request refused because its sender looks like a spam account.
SPAM_REQUESTER_CODE = 38001

friendcb = FriendCallbackBlueprint()


@friendcb.on_friend_response
def refuse_spam_requesters(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    """Accounts named ``spam...`` may not become anyone's friend."""
    if item.to_account.lower().startswith("spam"):
        return Reject(SPAM_REQUESTER_CODE, "the requester looks like a spam account")
    return None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from ``config``, else from the environment, else development defaults."""
    app = Flask(__name__)
    app.config.update(config if config is not None else config_from_env(os.environ))
    app.register_blueprint(friendcb, url_prefix="/im")
    return app


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``FRIENDCB_*`` variables, JSON-decoded when they are JSON (as ``flask`` does), with
    development defaults for the unset required ones."""
    config: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith("FRIENDCB_"):
            try:
                config[key] = json.loads(value)
            except ValueError:
                config[key] = value
    for key, value in DEV_CONFIG.items():
        if key not in config:
            logger.warning("%s is not set; using the development default", key)
            config[key] = value
    return config
