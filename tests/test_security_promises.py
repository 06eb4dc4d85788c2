"""Two promises of SECURITY.md, held by tests that fail when the code stops keeping them.

1. The ``Sign`` is compared in constant time against every configured token: one
   ``hmac.compare_digest`` per token, whichever token signed the request, or none did. A
   comparison with ``==``, or a loop that stops at the first match, calls it fewer times.
2. Nothing of the body is read before the query is authenticated, nor when the declared length
   is over the limit: a ``wsgi.input`` that fails the test when read is sent with forged, stale,
   other-app and unsigned queries, and with an oversized Content-Length, through both adapters.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from flask_friendcb import ErrorCode
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query, sign

from .conftest import NOW, OLD_TOKEN, PATH, SDKAPPID, TOKEN, Answer, FrozenClock, build_receiver

KINDS = ["blueprint", "middleware"]
THIRD_TOKEN = "third-token-5555555555"
TOKENS = [OLD_TOKEN, TOKEN, THIRD_TOKEN]


class UnreadableInput:
    """A ``wsgi.input`` that counts every attempt to read it and refuses it."""

    def __init__(self) -> None:
        self.reads = 0

    def _refuse(self, *args: Any, **kwargs: Any) -> bytes:
        self.reads += 1
        raise AssertionError("the body was read")

    read = readline = readlines = read1 = readinto = _refuse

    def __iter__(self) -> Any:
        self._refuse()


def call(
    wsgi: Any, query: str, body: bytes, stream: Any = None, content_length: int | None = None
) -> Answer:
    environ = EnvironBuilder(path=PATH, method="POST", data=body).get_environ()
    environ["QUERY_STRING"] = query
    environ["CONTENT_TYPE"] = "application/json"
    if stream is not None:
        environ["wsgi.input"] = stream
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    app_iter, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
    return Answer(int(status.split()[0]), dict(headers), b"".join(app_iter))


# --- 1. one constant-time comparison per configured token ------------------------------------


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every call of hmac.compare_digest, with its arguments, while the test runs."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    return calls


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signed_with", [*TOKENS, "forged-token"])
def test_every_token_is_compared_in_constant_time(
    kind: str, signed_with: str, comparisons: list[tuple[bytes, bytes]]
) -> None:
    receiver = build_receiver(kind, FrozenClock(), token=TOKENS)
    query = callback_query(SDKAPPID, token=signed_with, request_time=NOW)
    answer = call(receiver.wsgi, query, json.dumps(SAMPLE_REQUEST).encode())
    assert answer.status == (200 if signed_with in TOKENS else 401)
    # One comparison per configured token, each of that token's Sign against the one sent,
    # whether the first token matched, the last, or none.
    given = sign(signed_with, NOW).encode()
    assert comparisons == [(sign(token, NOW).encode(), given) for token in TOKENS]


@pytest.mark.parametrize("kind", KINDS)
def test_a_single_token_is_compared_in_constant_time_too(
    kind: str, comparisons: list[tuple[bytes, bytes]]
) -> None:
    receiver = build_receiver(kind, FrozenClock())
    for token in (TOKEN, "forged-token"):
        query = callback_query(SDKAPPID, token=token, request_time=NOW)
        call(receiver.wsgi, query, json.dumps(SAMPLE_REQUEST).encode())
    assert [pair[1] for pair in comparisons] == [
        sign(TOKEN, NOW).encode(),
        sign("forged-token", NOW).encode(),
    ]


# --- 2. the body is not read before the query is authenticated --------------------------------


def q(**params: Any) -> Callable[[], str]:
    return lambda: callback_query(SDKAPPID, token=TOKEN, request_time=NOW, **params)


REFUSED_QUERIES: dict[str, tuple[Callable[[], str], int, ErrorCode]] = {
    "forged-sign": (
        lambda: callback_query(SDKAPPID, token="forged-token", request_time=NOW),
        401,
        ErrorCode.SIGN_MISMATCH,
    ),
    "stale": (
        lambda: callback_query(SDKAPPID, token=TOKEN, request_time=NOW - 61),
        401,
        ErrorCode.REQUEST_TIME_STALE,
    ),
    "from-the-future": (
        lambda: callback_query(SDKAPPID, token=TOKEN, request_time=NOW + 61),
        401,
        ErrorCode.REQUEST_TIME_STALE,
    ),
    "other-app": (
        lambda: callback_query("1400000001", token=TOKEN, request_time=NOW),
        403,
        ErrorCode.SDKAPPID_MISMATCH,
    ),
    "no-sdkappid": (
        lambda: f"RequestTime={NOW}&Sign={sign(TOKEN, NOW)}",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
    ),
    "unsigned": (
        lambda: f"SdkAppid={SDKAPPID}&CallbackCommand=Sns.CallbackPrevFriendResponse",
        401,
        ErrorCode.SIGN_MISSING,
    ),
    "no-request-time": (
        lambda: f"SdkAppid={SDKAPPID}&Sign={sign(TOKEN, NOW)}",
        401,
        ErrorCode.REQUEST_TIME_MISSING,
    ),
    "repeated-sign": (
        lambda: callback_query(SDKAPPID, token=TOKEN, request_time=NOW) + "&Sign=" + "0" * 64,
        401,
        ErrorCode.SIGN_MISSING,
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", REFUSED_QUERIES.values(), ids=list(REFUSED_QUERIES))
def test_an_unauthenticated_callback_is_refused_without_reading_the_body(
    kind: str, case: tuple[Callable[[], str], int, ErrorCode]
) -> None:
    query, status, code = case
    receiver = build_receiver(kind, FrozenClock())
    stream = UnreadableInput()
    body = json.dumps(SAMPLE_REQUEST).encode()
    answer = call(receiver.wsgi, query(), body, stream, content_length=len(body))
    assert (answer.status, answer.json["ErrorCode"]) == (status, code)
    assert stream.reads == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_over_the_limit_is_refused_without_being_read(kind: str) -> None:
    receiver = build_receiver(kind, FrozenClock(), max_content_length=1024)
    stream = UnreadableInput()
    answer = call(receiver.wsgi, q()(), b"", stream, content_length=1025)
    assert (answer.status, answer.json["ErrorCode"]) == (413, ErrorCode.BODY_TOO_LARGE)
    assert stream.reads == 0


@pytest.mark.parametrize("kind", KINDS)
def test_the_unreadable_input_does_fail_a_callback_that_reads_it(kind: str) -> None:
    # The probe itself: an authenticated callback of a fitting size is read, and the read
    # counted (the handler answers the refused read with its own 400).
    receiver = build_receiver(kind, FrozenClock())
    stream = UnreadableInput()
    answer = call(receiver.wsgi, q()(), b"", stream, content_length=100)
    assert (answer.status, answer.json["ErrorCode"]) == (400, ErrorCode.BODY_UNREADABLE)
    assert stream.reads == 1
