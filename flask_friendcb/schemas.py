"""The wire formats: the query string, the request body into models, answers out of models.

Bodies are loaded with marshmallow schemas, strictly: ``EventTime`` must be a JSON integer (not
a float, a bool or a string), accounts must be strings. Unknown fields are ignored, because
Tencent adds fields over time. Answers are dumped with schemas too, so the wire names live in
this module only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from .models import FriendResponseItem
from .protocol import (
    QUERY_CLIENT_IP,
    QUERY_COMMAND,
    QUERY_OPT_PLATFORM,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    ResponseAction,
)

#: The last millisecond of the year 9999, the largest ``EventTime`` a datetime can hold.
MAX_EVENT_TIME_MS = 253_402_300_799_999

# Tencent's query has seven fields; anything far beyond that is not a Tencent callback.
_MAX_QUERY_FIELDS = 64
# The parameters whose repetition makes a request ambiguous.
_SINGLE_KEYS = (QUERY_SDKAPPID, QUERY_SIGN, QUERY_REQUEST_TIME, QUERY_COMMAND)


@dataclass(frozen=True, slots=True)
class CallbackQuery:
    """The query string of a callback. A parameter given more than once reads as absent and
    is listed in ``repeated``."""

    sdkappid: str | None
    command: str | None
    sign: str | None
    request_time: str | None
    client_ip: str
    opt_platform: str
    repeated: frozenset[str]


def parse_query(query_string: str) -> CallbackQuery:
    """Parse a decoded query string. Raises ``ValueError`` when it has too many fields."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in parse_qsl(
        query_string, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS
    ):
        if name in values:
            repeated.add(name)
        else:
            values[name] = value
    for name in repeated.intersection(_SINGLE_KEYS):
        del values[name]
    return CallbackQuery(
        sdkappid=values.get(QUERY_SDKAPPID),
        command=values.get(QUERY_COMMAND),
        sign=values.get(QUERY_SIGN),
        request_time=values.get(QUERY_REQUEST_TIME),
        client_ip=values.get(QUERY_CLIENT_IP, ""),
        opt_platform=values.get(QUERY_OPT_PLATFORM, ""),
        repeated=frozenset(repeated),
    )


_ACCOUNT = validate.Length(min=1, error="Must not be empty.")


class _OptionalText(fields.String):
    """A string that may be absent or null; both read as ""."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(load_default="", allow_none=True, **kwargs)

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> str:
        result = super().deserialize(value, attr, data, **kw)
        return "" if result is None else result


class FriendResponseItemSchema(Schema):
    """One element of ``ResponseFriendItem``."""

    class Meta:
        unknown = EXCLUDE

    to_account = fields.String(data_key="To_Account", required=True, validate=_ACCOUNT)
    remark = _OptionalText(data_key="Remark")
    tag_name = _OptionalText(data_key="TagName")
    response_action = fields.Enum(
        ResponseAction, by_value=True, data_key="ResponseAction", required=True
    )

    @post_load
    def _make_item(self, data: dict[str, Any], **kwargs: Any) -> FriendResponseItem:
        return FriendResponseItem(**data)


class FriendResponseBodySchema(Schema):
    """The body of ``Sns.CallbackPrevFriendResponse``. ``CallbackCommand`` is routed on before
    this schema runs, so it is not part of it."""

    class Meta:
        unknown = EXCLUDE

    requester_account = _OptionalText(data_key="Requester_Account")
    from_account = fields.String(data_key="From_Account", required=True, validate=_ACCOUNT)
    items = fields.List(
        fields.Nested(FriendResponseItemSchema), data_key="ResponseFriendItem", required=True
    )
    event_time_ms = fields.Integer(
        data_key="EventTime",
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_EVENT_TIME_MS),
    )


class ResultItemSchema(Schema):
    """One element of ``ResultItem`` in the answer."""

    to_account = fields.String(data_key="To_Account")
    result_code = fields.Integer(data_key="ResultCode")
    result_info = fields.String(data_key="ResultInfo")


class EnvelopeSchema(Schema):
    """The fields every answer has."""

    action_status = fields.String(data_key="ActionStatus")
    error_code = fields.Integer(data_key="ErrorCode")
    error_info = fields.String(data_key="ErrorInfo")


class FriendResponseAnswerSchema(EnvelopeSchema):
    """The answer to ``Sns.CallbackPrevFriendResponse``."""

    results = fields.List(fields.Nested(ResultItemSchema), data_key="ResultItem")


def describe_errors(messages: Any) -> str:
    """marshmallow's nested error messages as one line naming each field by its wire path,
    such as ``ResponseFriendItem[0].To_Account: Missing data for required field.``"""
    return "; ".join(f"{path}: {message}" for path, message in _flatten(messages, ""))


def _flatten(messages: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                child = f"{path}[{key}]"
            elif key == "_schema":
                child = path or "body"
            else:
                child = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, child)
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path or "body", str(messages)


__all__ = [
    "CallbackQuery",
    "EnvelopeSchema",
    "FriendResponseAnswerSchema",
    "FriendResponseBodySchema",
    "FriendResponseItemSchema",
    "ResultItemSchema",
    "ValidationError",
    "describe_errors",
    "parse_query",
]
