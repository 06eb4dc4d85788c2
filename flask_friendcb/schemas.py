"""The wire formats: the query string, the request body into models, answers out of models.

Bodies are loaded with marshmallow schemas, strictly: ``EventTime`` must be a JSON integer (not
a float, a bool or a string), accounts must be strings. Unknown fields are ignored, because
Tencent adds fields over time. Answers are dumped with schemas too, so the wire names live in
this module only.

The request path runs these schemas on every callback, so well-formed input takes fast paths
(see ``_DirectSchema`` and the fields below) that give exactly what marshmallow's own paths
give; anything else goes through marshmallow's own paths, with their checks and messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any
from urllib.parse import parse_qsl

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, post_load, validate
from marshmallow.decorators import (
    POST_DUMP,
    POST_LOAD,
    PRE_DUMP,
    PRE_LOAD,
    VALIDATES,
    VALIDATES_SCHEMA,
)
from marshmallow.types import UnknownOption

from .jsonbody import encode
from .models import (
    FriendAddItem,
    FriendPair,
    FriendResponseItem,
    InvalidItem,
    ItemResult,
    build_response_item,
)
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
    if "%" in query_string or "+" in query_string:
        pairs = parse_qsl(query_string, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
        values = dict(pairs)
    else:
        # Tencent's query has nothing to unquote (no "%", no "+"): then splitting is all that
        # parse_qsl would do, at a fraction of its cost, with the same result and the same
        # limit.
        if query_string.count("&") >= _MAX_QUERY_FIELDS:
            raise ValueError("Max number of fields exceeded")
        parts = [field.partition("=") for field in query_string.split("&") if field]
        values = {part[0]: part[2] for part in parts}
        pairs = [(part[0], part[2]) for part in parts] if len(values) < len(parts) else []
    repeated: frozenset[str] = frozenset()
    if len(values) < len(pairs):
        # A name given more than once keeps its first value; the ambiguous ones read as absent.
        values = {}
        for name, value in pairs:
            values.setdefault(name, value)
        repeated = frozenset(
            name for name, count in Counter(name for name, _ in pairs).items() if count > 1
        )
        for name in repeated.intersection(_SINGLE_KEYS):
            del values[name]
    get = values.get
    return CallbackQuery(
        get(QUERY_SDKAPPID),
        get(QUERY_COMMAND),
        get(QUERY_SIGN),
        get(QUERY_REQUEST_TIME),
        get(QUERY_CLIENT_IP, ""),
        get(QUERY_OPT_PLATFORM, ""),
        repeated,
    )


_ACCOUNT = validate.Length(min=1, error="Must not be empty.")

# The fields below each have a fast path for the value a well-formed callback carries, which
# returns exactly what marshmallow's own path returns for it; any other value takes
# marshmallow's own path, with its checks and its messages. `type(value) is str` and not
# isinstance: a str subclass is no JSON value, and is left to marshmallow.


class _Account(fields.String):
    """A required, non-empty string (a UserID)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=True, validate=_ACCOUNT, **kwargs)

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> str:
        if type(value) is str and value:
            return value
        result: str = super().deserialize(value, attr, data, **kw)
        return result


class _OptionalText(fields.String):
    """A string that may be absent or null; both read as ""."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(load_default="", allow_none=True, **kwargs)

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> str:
        if type(value) is str:
            return value
        result = super().deserialize(value, attr, data, **kw)
        return "" if result is None else result


class _Action(fields.Enum[ResponseAction]):
    """``ResponseAction``, by its wire value."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ResponseAction, by_value=True, required=True, **kwargs)
        self._members = {member.value: member for member in ResponseAction}

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> ResponseAction:
        if type(value) is str:
            member = self._members.get(value)
            if member is not None:
                return member
        result: ResponseAction = super().deserialize(value, attr, data, **kw)
        return result


class _EventTime(fields.Integer):
    """``EventTime``: a JSON integer of milliseconds that a datetime can hold."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            required=True,
            validate=validate.Range(min=0, max=MAX_EVENT_TIME_MS),
            **kwargs,
        )

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> int:
        if type(value) is int and 0 <= value <= MAX_EVENT_TIME_MS:
            return value
        result: int = super().deserialize(value, attr, data, **kw)
        return result


class _Flag(fields.Integer):
    """An integer flag (``ForceAddFlags``, ``ForceFlag``) that may be absent or null: both read
    as 0."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, load_default=0, allow_none=True, **kwargs)

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> int:
        if type(value) is int:
            return value
        result = super().deserialize(value, attr, data, **kw)
        return 0 if result is None else int(result)


class _OptionalEventTime(fields.Integer):
    """``EventTime`` where the body may leave it out (the "after" commands): ``None`` then."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            load_default=None,
            allow_none=True,
            validate=validate.Range(min=0, max=MAX_EVENT_TIME_MS),
            **kwargs,
        )


class _DirectSchema(Schema):
    """A schema whose plain ``load`` and ``dump`` call its fields directly.

    Most of the time of marshmallow's ``Schema.load`` and ``Schema.dump`` goes to machinery
    these schemas do not use: partial loading, hooks, an error store, a closure and an
    attribute lookup chain per field. A plain ``load(a_dict)`` here calls each load field's own
    ``deserialize`` in order, then the ``post_load`` processors, as ``Schema.load`` does; the
    first ``ValidationError`` hands the data to ``Schema.load`` itself, so invalid input gets
    marshmallow's full report (every field at fault), as before. A plain ``dump`` reads each
    attribute (or key, for a dict) and formats it with the field's own ``_serialize``; an
    absent one hands the object to ``Schema.dump``, for its defaults.
    """

    class Meta:
        unknown = EXCLUDE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            hooks = self._hooks
            unsupported = (
                hooks[PRE_LOAD]
                or hooks[VALIDATES]
                or hooks[VALIDATES_SCHEMA]
                or hooks[PRE_DUMP]
                or hooks[POST_DUMP]
                or any(
                    many or options.get("pass_original") for _, many, options in hooks[POST_LOAD]
                )
                or self.unknown != EXCLUDE
                or self.partial
                or type(self).get_attribute is not Schema.get_attribute
                or any(field.attribute for field in self.fields.values())
                or any(
                    not field._CHECK_ATTRIBUTE
                    or type(field).serialize is not fields.Field.serialize
                    or type(field).get_value is not fields.Field.get_value
                    for field in self.dump_fields.values()
                )
            )
        except (AttributeError, KeyError):
            # A marshmallow release whose internals differ from 4.4's: its own paths serve.
            self._direct = False
            return
        if unsupported:
            # What the direct paths do not do must not be asked of them: this guards the
            # module's own schemas against a later edit, once, when the handler builds them.
            raise TypeError(f"{type(self).__name__} uses a feature the direct paths lack")
        self._direct = True
        self._load_plan = tuple(
            (name, field.data_key or name, field) for name, field in self.load_fields.items()
        )
        self._post_load = tuple(getattr(self, name) for name, _, _ in hooks[POST_LOAD])
        self._dump_plan = tuple(
            (field.data_key or name, name, field) for name, field in self.dump_fields.items()
        )

    def load(
        self,
        data: Any,
        *,
        many: bool | None = None,
        partial: Any = None,
        unknown: UnknownOption | None = None,
    ) -> Any:
        if (
            self._direct
            and type(data) is dict
            and not (self.many if many is None else many)
            and partial is None
            and unknown is None
        ):
            loaded: Any = {}
            try:
                for name, key, field in self._load_plan:
                    value = field.deserialize(data.get(key, missing), key, data)
                    if value is not missing:
                        loaded[name] = value
            except ValidationError:
                pass
            else:
                for processor in self._post_load:
                    loaded = processor(
                        loaded, many=False, partial=self.partial, unknown=self.unknown
                    )
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if not self._direct:
            return super().dump(obj, many=many)
        if not (self.many if many is None else many):
            return self._dump_one(obj)
        if obj is None:
            return super().dump(obj, many=many)
        return [self._dump_one(each) for each in obj]

    def _dump_one(self, obj: Any) -> Any:
        # marshmallow reads obj[key] from anything with __getitem__, attributes otherwise.
        is_dict = type(obj) is dict
        if not is_dict and hasattr(obj, "__getitem__"):
            return super().dump(obj, many=False)
        dumped = {}
        for key, name, field in self._dump_plan:
            value = obj.get(name, missing) if is_dict else getattr(obj, name, missing)
            if value is missing:
                return super().dump(obj, many=False)
            dumped[key] = field._serialize(value, name, obj)
        return dumped


class _ItemSchema(_DirectSchema):
    """The schema of one element of an item list, with a fast path for well-formed ones."""

    def fast_load(self, data: dict[str, Any]) -> Any:
        """The item :meth:`load` makes of ``data`` when it is well-formed, else ``None``."""
        return None


class FriendResponseItemSchema(_ItemSchema):
    """One element of ``ResponseFriendItem``."""

    to_account = _Account(data_key="To_Account")
    remark = _OptionalText(data_key="Remark")
    tag_name = _OptionalText(data_key="TagName")
    response_action = _Action(data_key="ResponseAction")

    @post_load
    def _make_item(self, data: dict[str, Any], **kwargs: Any) -> FriendResponseItem:
        return FriendResponseItem(**data)

    def fast_load(self, data: dict[str, Any]) -> FriendResponseItem | None:
        """The item :meth:`load` makes of a well-formed element (every field present or absent
        as Tencent sends them, of its exact type), in a fraction of the time; ``None`` for any
        other element, which :meth:`load` then reads or reports."""
        to_account, action = data.get("To_Account"), data.get("ResponseAction")
        remark, tag_name = data.get("Remark", ""), data.get("TagName", "")
        if (
            type(to_account) is str
            and to_account
            and type(action) is str
            and action in _ACTIONS
            and type(remark) is str
            and type(tag_name) is str
        ):
            return build_response_item(to_account, _ACTIONS[action], remark, tag_name)
        return None


_ACTIONS = {member.value: member for member in ResponseAction}


#: The most items a callback may carry. Tencent's client SDK answers one request at a time;
#: the limit bounds the work a single (signed) body can ask for.
MAX_ITEMS = 1000
_MAX_ITEMS_CHECK = validate.Length(max=MAX_ITEMS, error="More than {max} items.")


class PartlyInvalidItems(list[Any]):
    """What an item list (``ResponseFriendItem``, ``FriendItem``) loads as when some items fail
    the item schema: every item in wire order, each an item or an :class:`InvalidItem`. When
    every item loads, it is a plain list of items (the common case, which costs nothing
    more)."""


class _ItemList(fields.List[Any]):
    """A list of items (``ResponseFriendItem``, ``FriendItem``) loaded by ``item_schema``;
    null reads as [].

    A list of objects goes straight to the item schema's ``load``. One bad item costs one item:
    an object whose ``To_Account`` is a non-empty string but that fails the item schema loads
    as an :class:`InvalidItem`, for the error policy to decide. Only an element that is not an
    object or has no usable ``To_Account`` (its ``ResultItem`` could not name it) fails the
    whole list, through ``List(Nested)``'s own path, which reports every element at fault by
    its index.
    """

    def __init__(self, item_schema: type[_ItemSchema], **kwargs: Any) -> None:
        super().__init__(
            fields.Nested(item_schema),
            required=True,
            validate=_MAX_ITEMS_CHECK,
            **kwargs,
        )

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[Any]:
        if value is None:
            # Tencent's peers (Go, Java) read a null list as empty; so does this library.
            return []
        if isinstance(value, list):
            # Before any item is read: marshmallow validates a list only after reading all of
            # it, and a megabyte of bad items costs seconds to report.
            _MAX_ITEMS_CHECK(value)
        # The length was the list's only validator: for a list, Field.deserialize would now
        # only call _deserialize.
        if type(value) is list and not kw:
            schema = self.inner.schema  # type: ignore[attr-defined]
            load, fast_load = schema.load, schema.fast_load
            items: list[Any] = []
            try:
                for each in value:
                    if type(each) is not dict:
                        break
                    item = fast_load(each)
                    items.append(load(each) if item is None else item)
                else:
                    return items
            except ValidationError:
                tolerated = _load_tolerantly(value, load, self.data_key or "items")
                if tolerated is not None:
                    return tolerated
        result: list[Any] = super().deserialize(value, attr, data, **kw)
        return result


_TO_ACCOUNT = _Account(data_key="To_Account")
# The text fields an invalid item keeps, as they came, when they are strings: each command's.
_INVALID_TEXT = (
    ("response_action", "ResponseAction"),
    ("remark", "Remark"),
    ("tag_name", "TagName"),
    ("group_name", "GroupName"),
    ("add_source", "AddSource"),
    ("add_wording", "AddWording"),
)


def _load_tolerantly(
    value: list[Any], load: Callable[[dict[str, Any]], Any], list_key: str
) -> PartlyInvalidItems | None:
    """Each element loaded, or an :class:`InvalidItem` when it fails the item schema; ``None``
    when an element is not an object or has no usable ``To_Account``, which refuses the whole
    callback."""
    items = PartlyInvalidItems()
    for position, each in enumerate(value):
        if type(each) is not dict:
            return None
        try:
            items.append(load(each))
            continue
        except ValidationError as error:
            messages = error.messages
        try:
            to_account = _TO_ACCOUNT.deserialize(each.get("To_Account", missing))
        except ValidationError:
            return None
        items.append(
            InvalidItem(
                position=position,
                to_account=to_account,
                reason=describe_errors({list_key: {position: messages}}),
                **{name: _text(each.get(key)) for name, key in _INVALID_TEXT},
            )
        )
    return items


def _text(value: Any) -> str:
    return value if type(value) is str else ""


class FriendResponseBodySchema(_DirectSchema):
    """The body of ``Sns.CallbackPrevFriendResponse``. ``CallbackCommand`` is routed on before
    this schema runs, so it is not part of it."""

    requester_account = _OptionalText(data_key="Requester_Account")
    from_account = _Account(data_key="From_Account")
    items = _ItemList(FriendResponseItemSchema, data_key="ResponseFriendItem")
    event_time_ms = _EventTime(data_key="EventTime")

    _ITEMS_KEY = "ResponseFriendItem"

    def fast_load(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """What :meth:`load` gives for a well-formed body, in a fraction of the time; ``None``
        for any other, which :meth:`load` then reads or reports."""
        return _fast_envelope(self, data)


def _fast_envelope(schema: _DirectSchema, data: dict[str, Any]) -> dict[str, Any] | None:
    """The fields every "before" body has (its sender, its time, its items, read by the
    schema's ``items`` field), as ``schema.load`` gives them for a well-formed body; ``None``
    for any other."""
    requester, sender = data.get("Requester_Account", ""), data.get("From_Account")
    event_time, items = data.get("EventTime"), data.get(schema._ITEMS_KEY)  # type: ignore[attr-defined]
    if not (
        type(sender) is str
        and sender
        and type(requester) is str
        and type(event_time) is int
        and 0 <= event_time <= MAX_EVENT_TIME_MS
        and type(items) is list
    ):
        return None
    try:
        loaded = schema.fields["items"].deserialize(items)
    except ValidationError:
        return None
    return {
        "requester_account": requester,
        "from_account": sender,
        "items": loaded,
        "event_time_ms": event_time,
    }


class FriendAddItemSchema(_ItemSchema):
    """One element of a request's ``FriendItem``."""

    to_account = _Account(data_key="To_Account")
    remark = _OptionalText(data_key="Remark")
    group_name = _OptionalText(data_key="GroupName")
    add_source = _OptionalText(data_key="AddSource")
    add_wording = _OptionalText(data_key="AddWording")

    @post_load
    def _make_item(self, data: dict[str, Any], **kwargs: Any) -> FriendAddItem:
        return FriendAddItem(**data)

    def fast_load(self, data: dict[str, Any]) -> FriendAddItem | None:
        """The item :meth:`load` makes of a well-formed element, in a fraction of the time;
        ``None`` for any other element, which :meth:`load` then reads or reports."""
        to_account, remark = data.get("To_Account"), data.get("Remark", "")
        group_name, add_source = data.get("GroupName", ""), data.get("AddSource", "")
        add_wording = data.get("AddWording", "")
        if (
            type(to_account) is str
            and to_account
            and type(remark) is str
            and type(group_name) is str
            and type(add_source) is str
            and type(add_wording) is str
        ):
            return FriendAddItem(to_account, remark, group_name, add_source, add_wording)
        return None


class FriendAddBodySchema(_DirectSchema):
    """The body of ``Sns.CallbackPrevFriendAdd``."""

    requester_account = _OptionalText(data_key="Requester_Account")
    from_account = _Account(data_key="From_Account")
    items = _ItemList(FriendAddItemSchema, data_key="FriendItem")
    add_type = _OptionalText(data_key="AddType")
    force_add_flags = _Flag(data_key="ForceAddFlags")
    event_time_ms = _EventTime(data_key="EventTime")

    _ITEMS_KEY = "FriendItem"

    def fast_load(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """What :meth:`load` gives for a well-formed body, in a fraction of the time; ``None``
        for any other, which :meth:`load` then reads or reports."""
        add_type, flags = data.get("AddType", ""), data.get("ForceAddFlags", 0)
        if type(add_type) is not str or type(flags) is not int:
            return None
        loaded = _fast_envelope(self, data)
        if loaded is not None:
            loaded["add_type"], loaded["force_add_flags"] = add_type, flags
        return loaded


class FriendPairSchema(_DirectSchema):
    """One element of an "after" callback's ``PairList``."""

    from_account = _Account(data_key="From_Account")
    to_account = _Account(data_key="To_Account")
    initiator_account = _OptionalText(data_key="Initiator_Account")

    @post_load
    def _make_pair(self, data: dict[str, Any], **kwargs: Any) -> FriendPair:
        return FriendPair(**data)


class _PairList(fields.List[FriendPair]):
    """``PairList``: a list of :class:`FriendPairSchema`; null reads as []. A pair that fails
    its schema fails the body (observers only watch: nothing is decided per pair)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields.Nested(FriendPairSchema), required=True, validate=_MAX_ITEMS_CHECK, **kwargs
        )

    def deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[FriendPair]:
        if value is None:
            return []
        if isinstance(value, list):
            _MAX_ITEMS_CHECK(value)
            if not kw and all(type(each) is dict for each in value):
                load = self.inner.schema.load  # type: ignore[attr-defined]
                try:
                    return [load(each) for each in value]
                except ValidationError:
                    pass  # marshmallow's own path reports every pair at fault
        result: list[FriendPair] = super().deserialize(value, attr, data, **kw)
        return result


class RelationBodySchema(_DirectSchema):
    """The body of ``Sns.CallbackFriendDelete``, ``Sns.CallbackBlackListAdd`` and
    ``Sns.CallbackBlackListDelete``."""

    pairs = _PairList(data_key="PairList")
    event_time_ms = _OptionalEventTime(data_key="EventTime")


class FriendAddedBodySchema(RelationBodySchema):
    """The body of ``Sns.CallbackFriendAdd``."""

    client_cmd = _OptionalText(data_key="ClientCmd")
    admin_account = _OptionalText(data_key="Admin_Account")
    force_flag = _Flag(data_key="ForceFlag")


class ResultItemSchema(_DirectSchema):
    """One element of ``ResultItem`` in the answer, dumped from an
    :class:`~flask_friendcb.models.ItemResult`."""

    to_account = fields.String(data_key="To_Account")
    result_code = fields.Integer(data_key="ResultCode")
    result_info = fields.String(data_key="ResultInfo")


class EnvelopeSchema(_DirectSchema):
    """The fields every answer has."""

    action_status = fields.String(data_key="ActionStatus")
    error_code = fields.Integer(data_key="ErrorCode")
    error_info = fields.String(data_key="ErrorInfo")


class FriendResponseAnswerSchema(EnvelopeSchema):
    """The answer to a "before" command (``Sns.CallbackPrevFriendResponse``,
    ``Sns.CallbackPrevFriendAdd``)."""

    # Nested(many=True): one dump of the whole list, not one per result.
    results = fields.Nested(ResultItemSchema, many=True, data_key="ResultItem")

    def ok_json(self, results: Sequence[ItemResult]) -> bytes:
        """The OK answer with ``results`` as compact ASCII JSON: the bytes that
        ``jsonbody.encode`` gives for this schema's dump, written directly.

        Every answer of a "before" command is written here, so it costs a string format per
        result rather than a schema dump and an encoder run per answer. A result whose fields
        are not exactly ``str``, ``int``, ``str`` takes the schema's own path.
        """
        parts = []
        for result in results:
            account, code, info = result.to_account, result.result_code, result.result_info
            if type(account) is not str or type(code) is not int or type(info) is not str:
                return encode(self.dump({**_OK_ENVELOPE, "results": results}))
            parts.append(
                _RESULT_JSON % (_json_string(account), code, _json_string(info) if info else '""')
            )
        return f"{_OK_ANSWER_JSON}{','.join(parts)}]}}".encode("ascii")


_OK_ENVELOPE = {"action_status": "OK", "error_code": 0, "error_info": ""}
# The OK answer up to its results, and one result, in the order the schemas dump them.
_OK_ANSWER_JSON = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":['
_RESULT_JSON = '{"To_Account":%s,"ResultCode":%d,"ResultInfo":%s}'


def describe_errors(messages: Any, limit: int = 1000) -> str:
    """marshmallow's nested error messages as one line naming each field by its wire path,
    such as ``ResponseFriendItem[0].To_Account: Missing data for required field.``, cut to
    ``limit`` characters (a body of many bad items has many messages)."""
    parts: list[str] = []
    length = 0
    for path, message in _flatten(messages, ""):
        parts.append(f"{path}: {message}")
        length += len(parts[-1]) + 2
        if length >= limit:
            break
    return "; ".join(parts)[:limit]


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
    "FriendAddBodySchema",
    "FriendAddItemSchema",
    "FriendAddedBodySchema",
    "FriendPairSchema",
    "FriendResponseAnswerSchema",
    "FriendResponseBodySchema",
    "FriendResponseItemSchema",
    "PartlyInvalidItems",
    "RelationBodySchema",
    "ResultItemSchema",
    "ValidationError",
    "describe_errors",
    "parse_query",
]
