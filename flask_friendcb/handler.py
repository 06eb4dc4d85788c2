"""The framework-free pipeline: a request's method, query and body in, an HTTP answer out.

Checks run cheapest first: the method, then the query string (``SdkAppid``, ``Sign``,
``RequestTime``), and only then is the body read, up to the size limit. Every refusal is a JSON
answer in the protocol's shape; nothing a caller sends can raise out of :meth:`handle`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, describe
from .config import ON_HOOK_ERROR_ALLOW, Settings
from .errors import BodyReadError, CallbackRefused
from .hooks import HookPolicy, HookRegistry, decide
from .models import (
    CallbackContext,
    FriendResponseAnswer,
    FriendResponseEvent,
    FriendResponseItem,
    InvalidItem,
    ItemResult,
    Outcome,
)
from .protocol import (
    FRIEND_RESPONSE_COMMAND,
    QUERY_COMMAND,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    ErrorCode,
    ResponseAction,
)
from .schemas import (
    CallbackQuery,
    EnvelopeSchema,
    FriendResponseAnswerSchema,
    FriendResponseBodySchema,
    ValidationError,
    describe_errors,
    parse_query,
)

if TYPE_CHECKING:
    from .metrics import Metrics

logger = logging.getLogger("flask_friendcb")

#: Reads at most ``limit`` bytes of the request body; may raise :class:`BodyReadError`.
BodyReader = Callable[[int], bytes]
#: Called with each authenticated friend-response event, before the hooks run.
EventObserver = Callable[[FriendResponseEvent], None]
#: Called with each event and the answer the hooks decided, before it is sent.
AnswerObserver = Callable[[FriendResponseEvent, FriendResponseAnswer], None]

_JSON_HEADERS = (("Content-Type", "application/json"),)
_ALLOW_HEADERS = (*_JSON_HEADERS, ("Allow", "POST"))
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
# ErrorInfo is free text for people; a long schema report is cut rather than echoed whole.
_MAX_INFO = 1000


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """An HTTP answer for an adapter to send."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON_HEADERS

    @property
    def status_line(self) -> str:
        """``"200 OK"``, as WSGI's ``start_response`` wants it."""
        return _STATUS_LINES[self.status]


class CallbackHandler:
    """Answers callbacks for one receiver: its settings, its hooks, its observers.

    Built once per Flask app or middleware; :meth:`handle` is then called per request and
    shares nothing mutable between requests, so it is safe under threads.
    """

    def __init__(
        self,
        settings: Settings,
        hooks: HookRegistry,
        *,
        on_event: EventObserver | None = None,
        on_answer: AnswerObserver | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self.on_event = on_event
        self.on_answer = on_answer
        self._authenticator = Authenticator(
            settings.sdkappid, settings.tokens, settings.max_skew, settings.clock
        )
        self._policy = HookPolicy(
            result_code=0
            if settings.on_hook_error == ON_HOOK_ERROR_ALLOW
            else settings.hook_error_code,
            deadline=settings.deadline,
        )
        self._body_schema = FriendResponseBodySchema()
        self._answer_schema = FriendResponseAnswerSchema()
        self._envelope_schema = EnvelopeSchema()
        # Off, the metrics module is not even imported: the request path checks one attribute.
        self._metrics: Metrics | None = None
        if settings.metrics:
            from .metrics import enable

            self._metrics = enable()
        # The plain OK answer is the same every time: dumped once, not per request.
        self._plain_ok = self._envelope_schema.dump(
            {"action_status": "OK", "error_code": 0, "error_info": ""}
        )

    def handle(
        self,
        method: str,
        query_string: str,
        content_length: int | None,
        read_body: BodyReader,
    ) -> CallbackResponse:
        """Answer one request. ``query_string`` is decoded text; ``content_length`` is
        ``None`` when the request did not declare one (chunked transfer)."""
        try:
            response = self._handle(method, query_string, content_length, read_body)
            code = 0
        except CallbackRefused as refusal:
            logger.warning(
                "refused callback (%d): %s",
                refusal.status,
                refusal.info,
                extra={
                    "friendcb_status": refusal.status,
                    "friendcb_error_code": int(refusal.code),
                },
            )
            headers = _ALLOW_HEADERS if refusal.status == 405 else _JSON_HEADERS
            code = int(refusal.code)
            response = CallbackResponse(
                refusal.status, self._envelope(refusal.code, refusal.info[:_MAX_INFO]), headers
            )
        except Exception:
            # Never expected: every input has its answer above. Should a bug slip through, the
            # caller still gets the protocol's JSON, not a server's HTML page, and Tencent goes
            # ahead as if no callback were configured.
            logger.exception("callback could not be answered")
            code = int(ErrorCode.INTERNAL_ERROR)
            response = CallbackResponse(
                500, self._envelope(ErrorCode.INTERNAL_ERROR, "the callback could not be answered")
            )
        if self._metrics is not None:
            self._metrics.callback(response.status, code)
        return response

    def _handle(
        self,
        method: str,
        query_string: str,
        content_length: int | None,
        read_body: BodyReader,
    ) -> CallbackResponse:
        if method != "POST":
            raise CallbackRefused(
                405,
                ErrorCode.METHOD_NOT_ALLOWED,
                f"method {describe(method)} is not allowed; use POST",
            )
        try:
            query = parse_query(query_string)
        except ValueError:
            raise CallbackRefused(
                400, ErrorCode.QUERY_INVALID, "the query string has too many parameters"
            ) from None
        self._authenticator.check(
            None if QUERY_SDKAPPID in query.repeated else query.sdkappid,
            None if QUERY_SIGN in query.repeated else query.sign,
            None if QUERY_REQUEST_TIME in query.repeated else query.request_time,
        )
        body = self._read_json_object(content_length, read_body)
        command = self._command(query.command, QUERY_COMMAND in query.repeated, body)
        if command == FRIEND_RESPONSE_COMMAND:
            return self._friend_response(body, query)
        context = CallbackContext(
            sdkappid=self.settings.sdkappid,
            callback_command=command,
            client_ip=query.client_ip,
            opt_platform=query.opt_platform,
        )
        return self._other_command(body, context)

    def _read_json_object(
        self, content_length: int | None, read_body: BodyReader
    ) -> dict[str, Any]:
        limit = self.settings.max_content_length
        if content_length is not None and content_length > limit:
            raise _too_large(limit)
        try:
            # One byte past the limit tells a body that is too long from one that fits.
            raw = read_body(limit + 1 if content_length is None else content_length)
        except BodyReadError as error:
            raise CallbackRefused(400, ErrorCode.BODY_UNREADABLE, str(error)) from None
        except Exception:
            logger.warning("could not read a callback body", exc_info=True)
            raise CallbackRefused(
                400, ErrorCode.BODY_UNREADABLE, "the body could not be read"
            ) from None
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

    @staticmethod
    def _command(query_command: str | None, repeated: bool, body: Mapping[str, Any]) -> str:
        if repeated:
            raise CallbackRefused(400, ErrorCode.COMMAND_INVALID, "CallbackCommand is repeated")
        body_command = body.get("CallbackCommand")
        if query_command is not None and body_command is not None:
            if body_command != query_command:
                raise CallbackRefused(
                    400,
                    ErrorCode.COMMAND_INVALID,
                    f"CallbackCommand differs: {describe(query_command)} in the query, "
                    f"{describe(str(body_command))} in the body",
                )
            return query_command
        command = query_command if query_command is not None else body_command
        if command is None:
            raise CallbackRefused(
                400, ErrorCode.COMMAND_INVALID, "CallbackCommand is missing from query and body"
            )
        if not isinstance(command, str) or not command:
            raise CallbackRefused(
                400, ErrorCode.COMMAND_INVALID, "CallbackCommand must be a non-empty string"
            )
        return command

    def _friend_response(self, body: dict[str, Any], query: CallbackQuery) -> CallbackResponse:
        try:
            data = self._body_schema.load(body)
        except ValidationError as error:
            raise CallbackRefused(
                400, ErrorCode.BODY_INVALID, describe_errors(error.messages, _MAX_INFO)
            ) from None
        loaded = data["items"]
        items: tuple[FriendResponseItem, ...]
        invalid: tuple[InvalidItem, ...] = ()
        if type(loaded) is list:  # every item loaded: the common case
            items = tuple(loaded)
        else:
            items, invalid = _split(loaded)
        event = FriendResponseEvent(
            sdkappid=self.settings.sdkappid,
            callback_command=FRIEND_RESPONSE_COMMAND,
            requester_account=data["requester_account"],
            from_account=data["from_account"],
            event_time_ms=data["event_time_ms"],
            items=items,
            client_ip=query.client_ip,
            opt_platform=query.opt_platform,
            invalid_items=invalid,
        )
        if self.on_event is not None:
            _observe(self.on_event, event)
        metrics = self._metrics
        if metrics is None:
            answer = decide(self.hooks, event, self._policy)
        else:
            answer = decide(self.hooks, event, self._policy, on_hook_time=metrics.hook_time)
        if invalid:
            answer = _with_invalid(answer, invalid, self._policy)
        if metrics is not None:
            metrics.answer(answer)
        if logger.isEnabledFor(logging.INFO):
            _log_decisions(data["from_account"], answer)
        if self.on_answer is not None:
            _observe(self.on_answer, event, answer)
        payload = self._answer_schema.dump(
            {"action_status": "OK", "error_code": 0, "error_info": "", "results": answer.results}
        )
        return CallbackResponse(200, _encode(payload))

    def _other_command(self, body: dict[str, Any], context: CallbackContext) -> CallbackResponse:
        plain = self._plain_ok
        handler = self.hooks.command_handler(context.callback_command)
        if handler is None:
            logger.info(
                "answered OK to %s, which has no handler",
                describe(context.callback_command),
                extra={"friendcb_command": context.callback_command},
            )
            return CallbackResponse(200, _encode(plain))
        try:
            extra = handler(body, context)
            return CallbackResponse(200, _encode(plain if extra is None else {**plain, **extra}))
        except Exception:
            # Tencent itself fails open when a callback goes wrong; so do we.
            logger.exception(
                "handler of %s failed; answered the plain OK",
                context.callback_command,
                extra={"friendcb_command": context.callback_command},
            )
            return CallbackResponse(200, _encode(plain))

    def _envelope(self, code: int, info: str) -> bytes:
        return _encode(
            self._envelope_schema.dump(
                {"action_status": "FAIL", "error_code": int(code), "error_info": info}
            )
        )


def _split(
    loaded: list[FriendResponseItem | InvalidItem | None],
) -> tuple[tuple[FriendResponseItem, ...], tuple[InvalidItem, ...]]:
    items = tuple(each for each in loaded if isinstance(each, FriendResponseItem))
    invalid = tuple(each for each in loaded if isinstance(each, InvalidItem))
    return items, invalid


def _with_invalid(
    answer: FriendResponseAnswer, invalid: tuple[InvalidItem, ...], policy: HookPolicy
) -> FriendResponseAnswer:
    """``answer`` (the hooks' results) with the error policy's result for each invalid item
    put back at its wire position."""
    results = list(answer.results)
    for each in invalid:  # in wire order, so each lands at its position
        logger.warning(
            "item %d (To_Account %s) fails the schema and is %s by the error policy: %s",
            each.position,
            describe(each.to_account),
            "allowed" if policy.result_code == 0 else "blocked",
            each.reason,
            extra={
                "friendcb_item": each.position,
                "friendcb_to_account": each.to_account,
                "friendcb_result_code": policy.result_code,
                "friendcb_outcome": Outcome.INVALID_ITEM.value,
                "friendcb_reason": each.reason,
            },
        )
        results.insert(
            each.position,
            ItemResult(
                each.to_account,
                policy.result_code,
                policy.result_info,
                Outcome.INVALID_ITEM,
                None,
                _known_action(each.response_action),
            ),
        )
    return FriendResponseAnswer(tuple(results))


def _known_action(value: str) -> ResponseAction | None:
    try:
        return ResponseAction(value)
    except ValueError:
        return None


def _log_decisions(from_account: str, answer: FriendResponseAnswer) -> None:
    # Blocked items at INFO, allowed ones at DEBUG; the extra= fields are for log pipelines
    # that index records, the message for people. Only the results are read: they hold what
    # came on the wire, whatever a hook did to the event.
    for result in answer.results:
        level = logging.DEBUG if result.allowed else logging.INFO
        if not logger.isEnabledFor(level):
            continue
        action = result.response_action.value if result.response_action else ""
        logger.log(
            level,
            "%s %s: From_Account %s, To_Account %s, ResultCode %d (%s)",
            "allowed" if result.allowed else "blocked",
            action,
            describe(from_account),
            describe(result.to_account),
            result.result_code,
            result.hook or "no hook decided",
            extra={
                "friendcb_from_account": from_account,
                "friendcb_to_account": result.to_account,
                "friendcb_action": action,
                "friendcb_result_code": result.result_code,
                "friendcb_outcome": result.outcome.value,
                "friendcb_hook": result.hook,
            },
        )


def _observe(observer: Callable[..., None], *args: Any) -> None:
    # An observer is the app's code, like a hook: its failure must not cost Tencent an answer.
    try:
        observer(*args)
    except Exception:
        logger.exception("callback observer %r failed", observer)


def _decode(text: str) -> Any:
    # What json.loads(text, parse_constant=...) does, without building a decoder per call.
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _encode(payload: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(payload).encode("ascii")


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


__all__ = ["BodyReader", "CallbackHandler", "CallbackResponse"]
