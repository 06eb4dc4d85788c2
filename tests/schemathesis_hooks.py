"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis_hooks): sign every generated
request as Tencent would, with the token in FRIENDCB_TEST_TOKEN at the time in
FRIENDCB_TEST_REQUEST_TIME (the server's frozen clock), or now."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import jsonschema
import schemathesis

from flask_friendcb.openapi import openapi_document
from flask_friendcb.protocol import (
    FRIEND_COMMANDS,
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
    """Keep the requests for the friend commands, which the document describes.

    Tencent sends every callback to one URL, so a request for another command is answered 200
    whatever its body: a "negative" CallbackCommand is accepted by design, not by mistake.
    """
    return isinstance(query, dict) and query.get(QUERY_COMMAND) in FRIEND_COMMANDS


@functools.cache
def _bodies() -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Each body schema of the document's anyOf, its references resolved, with the commands
    it serves (its CallbackCommand's enum)."""
    document = openapi_document()
    components = document["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(components[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    body = document["paths"]["/callback"]["post"]["requestBody"]["content"]["application/json"]
    variants = [resolve(each) for each in body["schema"]["anyOf"]]
    return [
        (variant, tuple(variant["properties"]["CallbackCommand"]["enum"])) for variant in variants
    ]


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """The query's CallbackCommand picks the body's schema (the document's anyOf cannot say
    so): a body that one variant accepts is sent under a command of that variant, as Tencent
    would send it. A body no variant accepts (a negative case) is sent as generated."""
    body, query = case.body, case.query
    if not isinstance(query, dict) or not isinstance(body, dict):
        return
    for schema, commands in _bodies():
        if jsonschema.Draft202012Validator(schema).is_valid(body):
            # The body's own command wins: the handler refuses a query that differs from it.
            for command in (body.get("CallbackCommand"), query.get(QUERY_COMMAND)):
                if command in commands:
                    break
            else:
                command = commands[0]
            case.query = {**query, QUERY_COMMAND: command}
            return
