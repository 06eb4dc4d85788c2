"""An OpenAPI 3.1 description of the callback endpoint, generated from the wire schemas.

The body and answer schemas come from :mod:`flask_friendcb.schemas` through apispec's
marshmallow plugin, so the document cannot drift from what the handler parses and dumps; this
module adds what marshmallow does not know: prose, the query parameters, the security of
``Sign`` and ``RequestTime``, and which ``ErrorCode`` goes with which status. It needs apispec
(``pip install 'flask-friendcb[openapi]'``), imported only when a document is asked for.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields, validate

from ._version import __version__
from .protocol import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    CODE_MAX,
    CODE_MIN,
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_COMMANDS,
    FRIEND_DELETED_COMMAND,
    FRIEND_RESPONSE_COMMAND,
    QUERY_CLIENT_IP,
    QUERY_COMMAND,
    QUERY_CONTENT_TYPE,
    QUERY_OPT_PLATFORM,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    SAMPLE_FRIEND_ADD_REQUEST,
    SAMPLE_OBSERVED_REQUESTS,
    SAMPLE_REQUEST,
    TENCENT_TIMEOUT,
    ErrorCode,
)
from .schemas import (
    EnvelopeSchema,
    FriendAddBodySchema,
    FriendAddedBodySchema,
    FriendResponseAnswerSchema,
    FriendResponseBodySchema,
    RelationBodySchema,
)

OPENAPI_VERSION = "3.1.0"
_TITLE = "Tencent Cloud Chat friend callbacks"

#: The ``ErrorCode`` values each refusal status carries; the handler raises them in pairs.
STATUS_CODES: Mapping[int, tuple[ErrorCode, ...]] = {
    400: (
        ErrorCode.BODY_NOT_JSON,
        ErrorCode.BODY_NOT_OBJECT,
        ErrorCode.BODY_INVALID,
        ErrorCode.COMMAND_INVALID,
        ErrorCode.BODY_UNREADABLE,
        ErrorCode.QUERY_INVALID,
    ),
    401: (
        ErrorCode.SIGN_MISSING,
        ErrorCode.SIGN_MISMATCH,
        ErrorCode.REQUEST_TIME_MISSING,
        ErrorCode.REQUEST_TIME_INVALID,
        ErrorCode.REQUEST_TIME_STALE,
    ),
    403: (ErrorCode.SDKAPPID_MISMATCH,),
    405: (ErrorCode.METHOD_NOT_ALLOWED,),
    413: (ErrorCode.BODY_TOO_LARGE,),
    500: (ErrorCode.INTERNAL_ERROR,),
}

_STATUS_DESCRIPTIONS = {
    400: "The body is empty, not UTF-8, not JSON, not an object, or fails the schema "
    "(`ErrorInfo` names the field); or `CallbackCommand` is repeated, missing, or differs "
    "between query and body; or the query has far more parameters than Tencent sends.",
    401: "`Sign` is missing, repeated or wrong, or `RequestTime` is missing, repeated, not "
    "ASCII decimal seconds, or outside the allowed skew of the server's clock.",
    403: "`SdkAppid` is missing, repeated, or not this application's.",
    405: "Never the answer to a POST: any other method on this path gets it, with `Allow: POST`.",
    413: "The body is larger than the configured limit; it is refused without being read.",
    500: "Never expected: a bug in the library, logged with its traceback. Still the protocol's "
    "JSON, and Tencent goes ahead as if no callback were configured.",
}

_CALLBACK_DESCRIPTION = f"""\
Tencent Cloud Chat sends every friend callback of an application to this one endpoint, told \
apart by `CallbackCommand`, and waits at most {TENCENT_TIMEOUT:g} seconds for each answer.

The "before" callbacks are decided item by item: `{FRIEND_RESPONSE_COMMAND}` (a user answers \
friend requests through the client SDK; one `ResultItem` per `ResponseFriendItem`) and \
`{FRIEND_ADD_COMMAND}` (a user sends friend requests; one `ResultItem` per `FriendItem`), in \
the same order: `ResultCode` 0 lets that friend operation go ahead, a code in \
[{CODE_MIN}, {CODE_MAX}] blocks it. Tencent ignores a non-zero `ErrorCode` by default, so \
refusals of the whole request never block anything.

The "after" callbacks (`{FRIEND_ADDED_COMMAND}`, `{FRIEND_DELETED_COMMAND}`, \
`{BLOCKLIST_ADDED_COMMAND}`, `{BLOCKLIST_REMOVED_COMMAND}`) are observed and answered `200` \
with `ActionStatus` OK once authenticated; a `PairList` that fails its schema is refused (400).

Checks run cheapest first: the method, the query (`SdkAppid`, `Sign`, `RequestTime`), and only \
then the body, read by the schema of its command. A request for any other command is \
authenticated the same way and answered `200` with `ActionStatus` OK, plus whatever the \
application's handler for that command adds."""

# Prose for the generated schemas, by component and wire name.
_PROPERTY_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "FriendResponseCallback": {
        "CallbackCommand": f"Always `{FRIEND_RESPONSE_COMMAND}` for this callback; when the "
        "query has one too, they must be equal. Absent or null, the query's counts.",
        "Requester_Account": "Who initiated the operation; absent or null reads as empty.",
        "From_Account": "The user who answers the friend requests.",
        "ResponseFriendItem": "The answered friend requests, decided one by one; null reads "
        "as empty. An element that is not an object, or has no non-empty string `To_Account`, "
        "refuses the whole callback (400).",
        "EventTime": "When Tencent saw the answer, in milliseconds since the Unix epoch: a JSON "
        "integer, written without a fraction or exponent (`1.0` is refused).",
    },
    "FriendResponseItem": {
        "To_Account": "The user who sent the friend request.",
        "Remark": "The remark the responder gives the requester; absent or null reads as empty. "
        "Any other value than a string makes the item invalid (see ResponseAction).",
        "TagName": "The friend group the responder puts the requester in; absent or null "
        "reads as empty. Any other value than a string makes the item invalid.",
        "ResponseAction": "`Response_Action_AgreeAndAdd` accepts and adds back (two-way), "
        "`Response_Action_Agree` lets the requester add the responder (one-way), "
        "`Response_Action_Reject` declines. Any other value, or none, makes the item invalid: "
        "no hook sees it, the error policy decides it, and the other items are decided as usual.",
    },
    "FriendAddCallback": {
        "CallbackCommand": f"Always `{FRIEND_ADD_COMMAND}` for this callback; when the query "
        "has one too, they must be equal. Absent or null, the query's counts.",
        "Requester_Account": "Who initiated the operation; absent or null reads as empty.",
        "From_Account": "The user who sends the friend requests.",
        "FriendItem": "The friend requests, decided one by one; null reads as empty. An "
        "element that is not an object, or has no non-empty string `To_Account`, refuses the "
        "whole callback (400).",
        "AddType": "`Add_Type_Both` (two-way) or `Add_Type_Single` (one-way); free text, "
        "absent or null reads as empty.",
        "ForceAddFlags": "1 when the friendship is forced; absent or null reads as 0.",
        "EventTime": "When Tencent saw the request, in milliseconds since the Unix epoch: a "
        "JSON integer.",
    },
    "FriendAddItem": {
        "To_Account": "The user the request goes to.",
        "Remark": "The remark the requester gives that user (at most 96 bytes by Tencent's "
        "rules); absent or null reads as empty. Any other value than a string makes the item "
        "invalid: no hook sees it, the error policy decides it.",
        "GroupName": "The friend group the requester puts that user in; as `Remark`.",
        "AddSource": "`AddSource_Type_` and a keyword of at most 8 letters; as `Remark`.",
        "AddWording": "The requester's message (at most 256 bytes by Tencent's rules); as "
        "`Remark`.",
    },
    "FriendAddedCallback": {
        "CallbackCommand": f"Always `{FRIEND_ADDED_COMMAND}`; as for the other commands.",
        "PairList": "The friendships made; null reads as empty. A pair that fails its schema "
        "refuses the callback (400).",
        "ClientCmd": "`friend_add`/`FriendAdd` for a request, `friend_response`/"
        "`FriendResponse` for a response; absent or null reads as empty.",
        "Admin_Account": "The admin account when the backend added the friends; else empty.",
        "ForceFlag": "1 when an admin forced the friendship; absent or null reads as 0.",
        "EventTime": "Milliseconds since the Unix epoch, when sent; absent or null otherwise.",
    },
    "RelationCallback": {
        "CallbackCommand": f"`{FRIEND_DELETED_COMMAND}`, `{BLOCKLIST_ADDED_COMMAND}` or "
        f"`{BLOCKLIST_REMOVED_COMMAND}`; as for the other commands.",
        "PairList": "The relationships that changed; null reads as empty. A pair that fails "
        "its schema refuses the callback (400).",
        "EventTime": "Milliseconds since the Unix epoch, when sent; absent or null otherwise.",
    },
    "FriendPair": {
        "From_Account": "The user whose friend list or blocklist changed.",
        "To_Account": "The user added to it or removed from it.",
        "Initiator_Account": "Who sent the request that made the friendship "
        f"(`{FRIEND_ADDED_COMMAND}`); absent or null reads as empty.",
    },
    "FriendResponseAnswer": {
        "ActionStatus": "`OK`: the callback was processed.",
        "ErrorCode": "0, unless the application's handler for another command says otherwise.",
        "ErrorInfo": "Empty when processed.",
        "ResultItem": f"Only for `{FRIEND_RESPONSE_COMMAND}` and `{FRIEND_ADD_COMMAND}`: one "
        "verdict per item, in the same order.",
    },
    "ResultItem": {
        "To_Account": "Echoes the item's `To_Account`.",
        "ResultCode": f"0 allows the item; a code in [{CODE_MIN}, {CODE_MAX}] blocks it.",
        "ResultInfo": "Passed on by Tencent with a blocking `ResultCode`.",
    },
    "CallbackError": {
        "ActionStatus": "`FAIL`: the request was refused.",
        "ErrorCode": f"One of the library's codes, in [{CODE_MIN}, {CODE_MAX}].",
        "ErrorInfo": "Which check failed, in words; never the token or the `Sign`.",
    },
}


def _with_command(schema: type[Any], name: str, commands: tuple[str, ...]) -> type[Any]:
    # The handler routes on CallbackCommand before the body schema runs, so the schemas of
    # schemas.py leave it out; the document shows each body as Tencent sends it.
    command = fields.String(
        data_key="CallbackCommand", allow_none=True, validate=validate.OneOf(commands)
    )
    return type(name, (schema,), {"callback_command": command})


_FriendResponseCallbackSchema = _with_command(
    FriendResponseBodySchema, "FriendResponseCallbackSchema", (FRIEND_RESPONSE_COMMAND,)
)
_FriendAddCallbackSchema = _with_command(
    FriendAddBodySchema, "FriendAddCallbackSchema", (FRIEND_ADD_COMMAND,)
)
_FriendAddedCallbackSchema = _with_command(
    FriendAddedBodySchema, "FriendAddedCallbackSchema", (FRIEND_ADDED_COMMAND,)
)
_RelationCallbackSchema = _with_command(
    RelationBodySchema,
    "RelationCallbackSchema",
    (FRIEND_DELETED_COMMAND, BLOCKLIST_ADDED_COMMAND, BLOCKLIST_REMOVED_COMMAND),
)
# Component names, in the order of the body's anyOf.
_BODIES = (
    ("FriendResponseCallback", _FriendResponseCallbackSchema),
    ("FriendAddCallback", _FriendAddCallbackSchema),
    ("FriendAddedCallback", _FriendAddedCallbackSchema),
    ("RelationCallback", _RelationCallbackSchema),
)
_EXAMPLES = {
    FRIEND_RESPONSE_COMMAND: SAMPLE_REQUEST,
    FRIEND_ADD_COMMAND: SAMPLE_FRIEND_ADD_REQUEST,
    **SAMPLE_OBSERVED_REQUESTS,
}


def openapi_document(
    path: str = "/callback",
    *,
    sdkappid: str | None = None,
    signed: bool = True,
    title: str = _TITLE,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a callback served at ``path``, as a new dict.

    ``sdkappid`` restricts the ``SdkAppid`` parameter to that one value (an identifier, not a
    secret); ``signed`` false leaves out the ``Sign``/``RequestTime`` security, for a receiver
    that accepts unsigned callbacks.
    """
    return copy.deepcopy(_document(path, sdkappid, signed, title))


@functools.lru_cache(maxsize=32)
def openapi_json(
    path: str = "/callback", *, sdkappid: str | None = None, signed: bool = True
) -> bytes:
    """:func:`openapi_document` as compact UTF-8 JSON, built once per set of arguments (the
    routes serve it)."""
    document = _document(path, sdkappid, signed, _TITLE)
    return json.dumps(document, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=32)
def _document(path: str, sdkappid: str | None, signed: bool, title: str) -> dict[str, Any]:
    spec = APISpec(
        title=title,
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": "Generated by flask-friendcb from its wire schemas."},
    )
    for name, schema in _BODIES:
        spec.components.schema(name, schema=schema)
    spec.components.schema("FriendResponseAnswer", schema=FriendResponseAnswerSchema)
    spec.components.schema("CallbackError", schema=EnvelopeSchema)
    if signed:
        spec.components.security_scheme(
            QUERY_SIGN,
            {
                "type": "apiKey",
                "in": "query",
                "name": QUERY_SIGN,
                "description": "sha256(token + RequestTime) as 64 lower-case hex digits: "
                "plain SHA-256 of the console's callback token followed by the decimal "
                "RequestTime, compared in constant time against every configured token.",
            },
        )
        spec.components.security_scheme(
            QUERY_REQUEST_TIME,
            {
                "type": "apiKey",
                "in": "query",
                "name": QUERY_REQUEST_TIME,
                "description": "Unix time in seconds, 1 to 12 ASCII digits, within the allowed "
                "skew (60 s by default) of the server's clock, either way.",
            },
        )
    operation: dict[str, Any] = {
        "operationId": "friendCallback",
        "summary": "Every friend callback: " + ", ".join(FRIEND_COMMANDS),
        "description": _CALLBACK_DESCRIPTION,
        "parameters": _parameters(sdkappid),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    # anyOf: a body may be left without CallbackCommand, and the query's
                    # decides which of these it must be.
                    "schema": {
                        "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name, _ in _BODIES]
                    },
                    "example": copy.deepcopy(SAMPLE_REQUEST),
                    "examples": {
                        command.split(".")[-1]: {
                            "summary": f"Tencent's sample of {command}",
                            "value": copy.deepcopy(sample),
                        }
                        for command, sample in _EXAMPLES.items()
                    },
                }
            },
        },
        "responses": {
            "200": {
                "description": 'Processed: for a "before" command, one verdict per item, in '
                "order; for any other, the plain OK.",
                "content": {"application/json": {"schema": FriendResponseAnswerSchema}},
            },
            **{str(status): _refusal(status) for status in sorted(STATUS_CODES)},
        },
    }
    if signed:
        # Both at once: a Sign proves the token only together with its RequestTime.
        operation["security"] = [{QUERY_SIGN: [], QUERY_REQUEST_TIME: []}]
    spec.path(path=path, operations={"post": operation})
    document = spec.to_dict()
    _annotate(document["components"]["schemas"])
    return document


def _parameters(sdkappid: str | None) -> list[dict[str, Any]]:
    def query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "description": description, "schema": schema, **extra}

    return [
        query(
            QUERY_SDKAPPID,
            "The application's SDKAppID; a request for another is refused (403). Names are "
            "case-sensitive, and a parameter given twice counts as missing.",
            {"type": "string", "enum": [sdkappid]}
            if sdkappid is not None
            else {"type": "string", "pattern": "^[0-9]+$"},
            required=True,
        ),
        query(
            QUERY_COMMAND,
            "One of the friend commands; it picks the body's schema, and must equal the body's "
            "`CallbackCommand` when both are present. Other commands sent to the same URL get "
            "the plain OK answer.",
            {"type": "string", "enum": list(FRIEND_COMMANDS)},
            required=True,
        ),
        query(QUERY_CONTENT_TYPE, "`json`; not checked.", {"type": "string"}),
        query(QUERY_CLIENT_IP, "The chat client's IP address; free text.", {"type": "string"}),
        query(
            QUERY_OPT_PLATFORM,
            "The chat client's platform (`iOS`, `Android`, `Web`, `RESTAPI`, ...); free text, "
            "never a reason to refuse.",
            {"type": "string"},
        ),
    ]


def _refusal(status: int) -> dict[str, Any]:
    codes = STATUS_CODES[status]
    listing = ", ".join(f"{int(code)} `{code.name}`" for code in codes)
    response: dict[str, Any] = {
        "description": f"{_STATUS_DESCRIPTIONS[status]} `ErrorCode`: {listing}.",
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/CallbackError"},
                        {
                            "type": "object",
                            "properties": {"ErrorCode": {"enum": [int(c) for c in codes]}},
                        },
                    ]
                }
            }
        },
    }
    if status == 405:
        allow = {"type": "string", "enum": ["POST"]}
        response["headers"] = {"Allow": {"description": "Always `POST`.", "schema": allow}}
    return response


def _annotate(schemas: dict[str, Any]) -> None:
    for name, descriptions in _PROPERTY_DESCRIPTIONS.items():
        for key, text in descriptions.items():
            schemas[name]["properties"][key]["description"] = text
    # What marshmallow's dump-only fields cannot say: which values the answers hold.
    answer = schemas["FriendResponseAnswer"]
    answer["required"] = ["ActionStatus", "ErrorCode", "ErrorInfo"]
    answer["properties"]["ActionStatus"]["enum"] = ["OK"]
    # A handler of another command may add fields to its OK answer.
    answer.pop("additionalProperties", None)
    result = schemas["ResultItem"]
    result["required"] = ["To_Account", "ResultCode", "ResultInfo"]
    result["properties"]["ResultCode"]["anyOf"] = [
        {"const": 0},
        {"minimum": CODE_MIN, "maximum": CODE_MAX},
    ]
    error = schemas["CallbackError"]
    error["required"] = ["ActionStatus", "ErrorCode", "ErrorInfo"]
    error["properties"]["ActionStatus"]["enum"] = ["FAIL"]
    error["properties"]["ErrorCode"].update(minimum=CODE_MIN, maximum=CODE_MAX)
    # One bad item costs one item: an item that names its user but fails the item schema is
    # answered (the error policy decides it), so only To_Account is required of an item and
    # the other fields take any value; the known actions stay as examples. Null reads as [].
    for item_name, names in (
        ("FriendResponseItem", ("Remark", "TagName", "ResponseAction")),
        ("FriendAddItem", ("Remark", "GroupName", "AddSource", "AddWording")),
    ):
        item = schemas[item_name]
        item["required"] = ["To_Account"]
        for name in names:
            prop = item["properties"][name]
            prop.pop("type", None)
            known = prop.pop("enum", None)
            if known:
                prop["examples"] = known
    for body, key in (
        ("FriendResponseCallback", "ResponseFriendItem"),
        ("FriendAddCallback", "FriendItem"),
        ("FriendAddedCallback", "PairList"),
        ("RelationCallback", "PairList"),
    ):
        schemas[body]["properties"][key]["type"] = ["array", "null"]


__all__ = ["OPENAPI_VERSION", "STATUS_CODES", "openapi_document", "openapi_json"]
