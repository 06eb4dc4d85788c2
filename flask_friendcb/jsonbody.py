"""The JSON of a callback: the request body read within the size limit and decoded as one JSON
object, and answers encoded.

Every way a body can be unusable (too large, unreadable, empty, not UTF-8, not JSON, nested too
deeply, a number too long, ``NaN``, not an object) is a :class:`CallbackRefused` with its own
``ErrorCode``; nothing here raises anything else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import BodyReadError, CallbackRefused
from .protocol import ErrorCode

logger = logging.getLogger("flask_friendcb")

#: Reads at most ``limit`` bytes of the request body; may raise :class:`BodyReadError`.
BodyReader = Callable[[int], bytes]
#: :data:`BodyReader` for an asynchronous adapter: awaited.
AsyncBodyReader = Callable[[int], Awaitable[bytes]]


def read_json_object(
    content_length: int | None, read_body: BodyReader, limit: int
) -> dict[str, Any]:
    """The body as a JSON object. A declared ``content_length`` over ``limit`` is refused
    (413) before anything is read; ``None`` (chunked transfer) reads one byte past the limit, to
    tell a body that is too long from one that fits."""
    size = _size_to_read(content_length, limit)
    try:
        raw = read_body(size)
    except Exception as error:
        raise _unreadable(error) from None
    return parse_json_object(raw, limit)


async def read_json_object_async(
    content_length: int | None, read_body: AsyncBodyReader, limit: int
) -> dict[str, Any]:
    """:func:`read_json_object` with a reader that is awaited, for an asynchronous adapter."""
    size = _size_to_read(content_length, limit)
    try:
        raw = await read_body(size)
    except Exception as error:
        raise _unreadable(error) from None
    return parse_json_object(raw, limit)


def _size_to_read(content_length: int | None, limit: int) -> int:
    if content_length is not None and content_length > limit:
        raise _too_large(limit)
    return limit + 1 if content_length is None else content_length


def _unreadable(error: Exception) -> CallbackRefused:
    if isinstance(error, BodyReadError):
        return CallbackRefused(400, ErrorCode.BODY_UNREADABLE, str(error))
    logger.warning("could not read a callback body", exc_info=error)
    return CallbackRefused(400, ErrorCode.BODY_UNREADABLE, "the body could not be read")


def parse_json_object(raw: bytes, limit: int) -> dict[str, Any]:
    """``raw``, a body read within ``limit`` (and at most one byte past it), as a JSON object;
    raises :class:`CallbackRefused` when it is too large or not a JSON object."""
    if len(raw) > limit:
        raise _too_large(limit)
    if not raw:
        raise CallbackRefused(400, ErrorCode.BODY_NOT_JSON, "the body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CallbackRefused(
            400, ErrorCode.BODY_NOT_JSON, f"the body is not UTF-8 (byte {error.start})"
        ) from None
    try:
        body = _decode(text)
    except RecursionError:
        raise CallbackRefused(
            400, ErrorCode.BODY_NOT_JSON, "the body is nested too deeply"
        ) from None
    except (json.JSONDecodeError, _ConstantError) as error:
        raise CallbackRefused(
            400, ErrorCode.BODY_NOT_JSON, f"the body is not valid JSON: {error}"
        ) from None
    except ValueError:
        # int() refuses integers of more than 4300 digits (sys.get_int_max_str_digits).
        raise CallbackRefused(
            400, ErrorCode.BODY_NOT_JSON, "the body holds a number with too many digits"
        ) from None
    if not isinstance(body, dict):
        raise CallbackRefused(
            400,
            ErrorCode.BODY_NOT_OBJECT,
            f"the body must be a JSON object, not {_json_type(body)}",
        )
    return body


def encode(payload: Mapping[str, Any]) -> bytes:
    """An answer as compact ASCII JSON."""
    return _ENCODER.encode(payload).encode("ascii")


def _decode(text: str) -> Any:
    # What json.loads(text, parse_constant=...) does, without building a decoder per call.
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


class _ConstantError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON and break json.dumps later.
    raise _ConstantError(f"{name} is not a JSON number")


# Built once: json.loads and json.dumps build a new decoder or encoder on every call that
# passes options. ASCII output: lone surrogates from \ud800-style escapes in the request stay
# encodable.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _too_large(limit: int) -> CallbackRefused:
    return CallbackRefused(413, ErrorCode.BODY_TOO_LARGE, f"the body is larger than {limit} bytes")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


__all__ = [
    "AsyncBodyReader",
    "BodyReader",
    "encode",
    "parse_json_object",
    "read_json_object",
    "read_json_object_async",
]
