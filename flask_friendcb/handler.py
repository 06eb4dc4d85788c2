"""The framework-free pipeline: a request's method, query and body in, an HTTP answer out.

Checks run cheapest first: the method, then the query string (``SdkAppid``, ``Sign``,
``RequestTime``), and only then is the body read, up to the size limit
(:mod:`~flask_friendcb.jsonbody`). The command routes the body: the friend-response callback to
its decider (:mod:`~flask_friendcb.friend_response`), any other to its handler, if any. Every
refusal is a JSON answer in the protocol's shape; nothing a caller sends can raise out of
:meth:`CallbackHandler.handle`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, describe
from .config import ON_HOOK_ERROR_ALLOW, Settings
from .errors import CallbackRefused
from .friend_response import MAX_INFO, AnswerObserver, EventObserver, FriendResponseDecider
from .hooks import HookPolicy, HookRegistry
from .jsonbody import BodyReader, encode, read_json_object
from .models import CallbackContext
from .protocol import (
    FRIEND_RESPONSE_COMMAND,
    QUERY_COMMAND,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    ErrorCode,
)
from .schemas import EnvelopeSchema, parse_query

if TYPE_CHECKING:
    from .metrics import Metrics

logger = logging.getLogger("flask_friendcb")

_JSON_HEADERS = (("Content-Type", "application/json"),)
_ALLOW_HEADERS = (*_JSON_HEADERS, ("Allow", "POST"))
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


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
        self._envelope_schema = EnvelopeSchema()
        # Off, the metrics module is not even imported: the request path checks one attribute.
        self._metrics: Metrics | None = None
        if settings.metrics:
            from .metrics import enable

            self._metrics = enable()
        self._friend_responses = FriendResponseDecider(
            settings.sdkappid,
            hooks,
            HookPolicy(
                result_code=0
                if settings.on_hook_error == ON_HOOK_ERROR_ALLOW
                else settings.hook_error_code,
                deadline=settings.deadline,
            ),
            on_event=on_event,
            on_answer=on_answer,
            metrics=self._metrics,
        )
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
                refusal.status, self._envelope(refusal.code, refusal.info[:MAX_INFO]), headers
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
        body = read_json_object(content_length, read_body, self.settings.max_content_length)
        command = self._command(query.command, QUERY_COMMAND in query.repeated, body)
        if command == FRIEND_RESPONSE_COMMAND:
            return CallbackResponse(200, self._friend_responses.answer(body, query))
        context = CallbackContext(
            sdkappid=self.settings.sdkappid,
            callback_command=command,
            client_ip=query.client_ip,
            opt_platform=query.opt_platform,
        )
        return self._other_command(body, context)

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

    def _other_command(self, body: dict[str, Any], context: CallbackContext) -> CallbackResponse:
        plain = self._plain_ok
        handler = self.hooks.command_handler(context.callback_command)
        if handler is None:
            logger.info(
                "answered OK to %s, which has no handler",
                describe(context.callback_command),
                extra={"friendcb_command": context.callback_command},
            )
            return CallbackResponse(200, encode(plain))
        try:
            extra = handler(body, context)
            return CallbackResponse(200, encode(plain if extra is None else {**plain, **extra}))
        except Exception:
            # Tencent itself fails open when a callback goes wrong; so do we.
            logger.exception(
                "handler of %s failed; answered the plain OK",
                context.callback_command,
                extra={"friendcb_command": context.callback_command},
            )
            return CallbackResponse(200, encode(plain))

    def _envelope(self, code: int, info: str) -> bytes:
        return encode(
            self._envelope_schema.dump(
                {"action_status": "FAIL", "error_code": int(code), "error_info": info}
            )
        )


__all__ = [
    "AnswerObserver",
    "BodyReader",
    "CallbackHandler",
    "CallbackResponse",
    "EventObserver",
]
