"""The framework-free pipeline: a request's method, query and body in, an HTTP answer out.

Checks run cheapest first: the method, then the query string (``SdkAppid``, ``Sign``,
``RequestTime``), and only then is the body read, up to the size limit
(:mod:`~flask_friendcb.jsonbody`). The command routes the body: a "before" command to its
decider, an "after" command to its observers (:mod:`~flask_friendcb.decisions`), any other to
its handler, if any. Every refusal is a JSON answer in the protocol's shape; nothing a caller
sends can raise out of :meth:`CallbackHandler.handle`.

An asynchronous adapter calls :meth:`CallbackHandler.handle_async`, the same steps with the
body and the app's code awaited. The steps are public for an adapter of another kind:
:meth:`CallbackHandler.authenticate`, :meth:`CallbackHandler.route`, then the :class:`Route`'s
parts, and :meth:`CallbackHandler.refused` / :meth:`CallbackHandler.failed` /
:meth:`CallbackHandler.count` around them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, describe
from .config import ON_HOOK_ERROR_ALLOW, Settings
from .decisions import (
    MAX_INFO,
    AnswerObserver,
    ChangeObserver,
    EventObserver,
    ItemDecider,
    RelationNotifier,
)
from .errors import CallbackRefused
from .hooks import CommandHandler, HookPolicy, HookRegistry, decide_async, notify_async
from .jsonbody import (
    AsyncBodyReader,
    BodyReader,
    encode,
    read_json_object,
    read_json_object_async,
)
from .models import CallbackContext, DecidedEvent, RelationEvent
from .protocol import (
    DECIDED_COMMANDS,
    FRIEND_COMMANDS,
    OBSERVED_COMMANDS,
    QUERY_COMMAND,
    QUERY_REQUEST_TIME,
    QUERY_SDKAPPID,
    QUERY_SIGN,
    ErrorCode,
)
from .schemas import CallbackQuery, EnvelopeSchema, parse_query
from .signals import SignalSender

if TYPE_CHECKING:
    from .metrics import Metrics

logger = logging.getLogger("flask_friendcb")

#: The headers of every answer but a 405's: only its content type.
JSON_HEADERS = (("Content-Type", "application/json"),)
_ALLOW_HEADERS = (*JSON_HEADERS, ("Allow", "POST"))
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """An HTTP answer for an adapter to send."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS

    @property
    def status_line(self) -> str:
        """``"200 OK"``, as WSGI's ``start_response`` wants it."""
        return _STATUS_LINES[self.status]


class Route:
    """An authenticated callback, loaded, with the app's code still to run: exactly one of
    ``decider`` (with ``event``: run its hooks), ``notifier`` (with ``relation``: run its
    observers) or ``command_handler`` is set, or none, for a command nobody handles.

    A plain class, made once per request: a frozen dataclass would cost several microseconds
    of ``object.__setattr__`` on every callback, and so would a context nobody reads.
    """

    __slots__ = (
        "_context",
        "body",
        "command",
        "command_handler",
        "decider",
        "event",
        "from_account",
        "notifier",
        "query",
        "relation",
        "sdkappid",
    )

    def __init__(
        self,
        sdkappid: str,
        command: str,
        query: CallbackQuery,
        body: dict[str, Any],
        *,
        decider: ItemDecider | None = None,
        event: DecidedEvent | None = None,
        notifier: RelationNotifier | None = None,
        relation: RelationEvent | None = None,
        command_handler: CommandHandler | None = None,
    ) -> None:
        self.sdkappid, self.command, self.query, self.body = sdkappid, command, query, body
        self.decider, self.event = decider, event
        #: The event's ``From_Account`` as loaded, before any hook ran (for the log).
        self.from_account = "" if event is None else event.from_account
        self.notifier, self.relation = notifier, relation
        self.command_handler = command_handler
        self._context: CallbackContext | None = None

    @property
    def context(self) -> CallbackContext:
        """Where the callback came from."""
        if self._context is None:
            query = self.query
            self._context = CallbackContext(
                self.sdkappid, self.command, query.client_ip, query.opt_platform
            )
        return self._context


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
        on_relation: ChangeObserver | None = None,
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
        policy = HookPolicy(
            result_code=0
            if settings.on_hook_error == ON_HOOK_ERROR_ALLOW
            else settings.hook_error_code,
            deadline=settings.deadline,
        )
        self._deciders = {
            command: ItemDecider(
                command,
                settings.sdkappid,
                hooks,
                policy,
                on_event=on_event,
                on_answer=on_answer,
                metrics=self._metrics,
            )
            for command in DECIDED_COMMANDS
        }
        self._notifier = RelationNotifier(hooks, on_relation=on_relation)
        # The plain OK answer is the same every time: dumped once, not per request.
        self._plain_ok = self._envelope_schema.dump(
            {"action_status": "OK", "error_code": 0, "error_info": ""}
        )
        #: The plain OK answer, for an "after" command or one nobody handles.
        self.plain_ok = CallbackResponse(200, encode(self._plain_ok))

    @classmethod
    def signalled(cls, settings: Settings, hooks: HookRegistry, sender: Any) -> CallbackHandler:
        """A handler whose observers send the signals of :mod:`~flask_friendcb.signals` with
        ``sender`` (a Flask app, a middleware): what every adapter builds."""
        signals = SignalSender(sender)
        return cls(
            settings,
            hooks,
            on_event=signals.event_received,
            on_answer=signals.answer_decided,
            on_relation=signals.relation_changed,
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
        command = ""
        try:
            query = self.authenticate(method, query_string)
            body = read_json_object(content_length, read_body, self.settings.max_content_length)
            command = self.command_of(query, body)
            response = self._run(self.route(query, body, command))
            code = 0
        except CallbackRefused as refusal:
            response, code = self.refused(refusal), int(refusal.code)
        except Exception:
            response, code = self.failed(), int(ErrorCode.INTERNAL_ERROR)
        self.count(response, code, command)
        return response

    async def handle_async(
        self,
        method: str,
        query_string: str,
        content_length: int | None,
        read_body: AsyncBodyReader,
    ) -> CallbackResponse:
        """:meth:`handle` on the running event loop, for an asynchronous adapter: the body is
        awaited, ``async def`` hooks and observers are awaited, plain ones and command handlers
        run in a worker thread (:func:`~flask_friendcb.hooks.decide_async`)."""
        command = ""
        try:
            query = self.authenticate(method, query_string)
            body = await read_json_object_async(
                content_length, read_body, self.settings.max_content_length
            )
            command = self.command_of(query, body)
            response = await self._run_async(self.route(query, body, command))
            code = 0
        except CallbackRefused as refusal:
            response, code = self.refused(refusal), int(refusal.code)
        except Exception:
            response, code = self.failed(), int(ErrorCode.INTERNAL_ERROR)
        self.count(response, code, command)
        return response

    def authenticate(self, method: str, query_string: str) -> CallbackQuery:
        """The query of an authenticated request; raises :class:`CallbackRefused` for a wrong
        method, an unparseable query or a failed check. Reads no body."""
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
        return query

    def command_of(self, query: CallbackQuery, body: dict[str, Any]) -> str:
        """The ``CallbackCommand`` of an authenticated request; raises :class:`CallbackRefused`
        when it is missing, repeated, or differs between the query and the body."""
        return self._command(query.command, QUERY_COMMAND in query.repeated, body)

    def route(self, query: CallbackQuery, body: dict[str, Any], command: str) -> Route:
        """The authenticated ``body`` loaded for ``command`` (:meth:`command_of`); raises
        :class:`CallbackRefused` when the body is unusable. Runs no hook yet (a "before"
        command's event observer excepted)."""
        sdkappid = self.settings.sdkappid
        decider = self._deciders.get(command)
        if decider is not None:
            event = decider.begin(body, query)
            return Route(sdkappid, command, query, body, decider=decider, event=event)
        route = Route(sdkappid, command, query, body)
        if command in OBSERVED_COMMANDS:
            route.notifier = self._notifier
            route.relation = self._notifier.event(body, route.context)
        else:
            route.command_handler = self.hooks.command_handler(command)
        return route

    def _run(self, route: Route) -> CallbackResponse:
        if route.decider is not None and route.event is not None:
            decider, event = route.decider, route.event
            answer = decider.decide(event)
            return CallbackResponse(200, decider.finish(event, answer, route.from_account))
        if route.notifier is not None and route.relation is not None:
            route.notifier.notify(route.relation)
            return self.plain_ok
        if route.command_handler is None:
            return self.unhandled(route.context)
        try:
            return self.handled(route.context, route.command_handler(route.body, route.context))
        except Exception:
            return self.handler_failed(route.context)

    async def _run_async(self, route: Route) -> CallbackResponse:
        # _run, step for step, with the app's code awaited.
        if route.decider is not None and route.event is not None:
            decider, event = route.decider, route.event
            answer = await decide_async(decider.steps(event), event)
            return CallbackResponse(200, decider.finish(event, answer, route.from_account))
        if route.notifier is not None and route.relation is not None:
            await notify_async(self.hooks, route.relation)
            route.notifier.observed(route.relation)
            return self.plain_ok
        if route.command_handler is None:
            return self.unhandled(route.context)
        try:
            extra = await asyncio.to_thread(route.command_handler, route.body, route.context)
            return self.handled(route.context, extra)
        except Exception:
            return self.handler_failed(route.context)

    def refused(self, refusal: CallbackRefused) -> CallbackResponse:
        """The answer to a refused request, logged."""
        logger.warning(
            "refused callback (%d): %s",
            refusal.status,
            refusal.info,
            extra={
                "friendcb_status": refusal.status,
                "friendcb_error_code": int(refusal.code),
            },
        )
        headers = _ALLOW_HEADERS if refusal.status == 405 else JSON_HEADERS
        return CallbackResponse(
            refusal.status, self._envelope(refusal.code, refusal.info[:MAX_INFO]), headers
        )

    def failed(self) -> CallbackResponse:
        """The answer when the library itself failed; call it while handling the exception."""
        # Never expected: every input has its answer above. Should a bug slip through, the
        # caller still gets the protocol's JSON, not a server's HTML page, and Tencent goes
        # ahead as if no callback were configured.
        logger.exception("callback could not be answered")
        return CallbackResponse(
            500, self._envelope(ErrorCode.INTERNAL_ERROR, "the callback could not be answered")
        )

    def count(self, response: CallbackResponse, code: int, command: str) -> None:
        """Count one answered request in the metrics, when they are on. ``command`` labels it
        only when it is a friend command: the label's values stay few whatever is sent."""
        if self._metrics is not None:
            label = command if command in FRIEND_COMMANDS else ("other" if command else "")
            self._metrics.callback(response.status, code, label)

    def unhandled(self, context: CallbackContext) -> CallbackResponse:
        """The plain OK to a command that has no handler, logged."""
        logger.info(
            "answered OK to %s, which has no handler",
            describe(context.callback_command),
            extra={"friendcb_command": context.callback_command},
        )
        return self.plain_ok

    def handled(
        self, context: CallbackContext, extra: Mapping[str, Any] | None
    ) -> CallbackResponse:
        """The OK answer with what a command handler returned merged in."""
        if extra is None:
            return self.plain_ok
        try:
            return CallbackResponse(200, encode({**self._plain_ok, **extra}))
        except Exception:
            return self.handler_failed(context)

    def handler_failed(self, context: CallbackContext) -> CallbackResponse:
        """The plain OK when a command handler failed; call it while handling the exception."""
        # Tencent itself fails open when a callback goes wrong; so do we.
        logger.exception(
            "handler of %s failed; answered the plain OK",
            context.callback_command,
            extra={"friendcb_command": context.callback_command},
        )
        return self.plain_ok

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

    def _envelope(self, code: int, info: str) -> bytes:
        return encode(
            self._envelope_schema.dump(
                {"action_status": "FAIL", "error_code": int(code), "error_info": info}
            )
        )


__all__ = [
    "JSON_HEADERS",
    "AnswerObserver",
    "AsyncBodyReader",
    "BodyReader",
    "CallbackHandler",
    "CallbackResponse",
    "ChangeObserver",
    "EventObserver",
    "Route",
]
