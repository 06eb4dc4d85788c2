"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis_hooks): sign every generated
request as Tencent would, with the token in FRIENDCB_TEST_TOKEN at the time in
FRIENDCB_TEST_REQUEST_TIME (the server's frozen clock), or now."""

from __future__ import annotations

import os
import time
from typing import Any

import schemathesis

from flask_friendcb.protocol import (
    FRIEND_RESPONSE_COMMAND,
    QUERY_COMMAND,
    QUERY_REQUEST_TIME,
    QUERY_SIGN,
)
from flask_friendcb.testing import sign


@schemathesis.auth(refresh_interval=None)
class TencentSign:
    """Adds RequestTime and its Sign to the query, replacing whatever was generated there."""

    def get(self, case: Any, context: Any) -> str:
        return os.environ.get("FRIENDCB_TEST_REQUEST_TIME") or str(int(time.time()))

    def set(self, case: Any, data: str, context: Any) -> None:
        signed = {
            QUERY_REQUEST_TIME: data,
            QUERY_SIGN: sign(os.environ["FRIENDCB_TEST_TOKEN"], data),
        }
        case.query = {**(case.query or {}), **signed}


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """JSON Schema counts 1.0 as an integer; the library, strict about EventTime, does not.
    Such floats are written as the integers Tencent sends."""
    if isinstance(body, dict):
        value = body.get("EventTime")
        if isinstance(value, float) and value.is_integer():
            return {**body, "EventTime": int(value)}
    return body


@schemathesis.hook
def filter_query(context: Any, query: Any) -> bool:
    """Keep the requests for the friend-response command, which the document describes.

    Tencent sends every callback to one URL, so a request for another command is answered 200
    whatever its body: a "negative" CallbackCommand is accepted by design, not by mistake.
    """
    return isinstance(query, dict) and query.get(QUERY_COMMAND) == FRIEND_RESPONSE_COMMAND
