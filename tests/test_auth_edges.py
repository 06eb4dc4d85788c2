"""Authentication edge cases beyond the wire matrix, each a decision the README lists under
"Choices where Tencent's documentation is silent"."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from flask_friendcb import ConfigError, ErrorCode

from .conftest import NOW, SDKAPPID, TOKEN, Receiver, flask_app, middleware
from .test_wire import Case, assert_case, q, raw, sign, signed_with_time_text

GOOD = "SdkAppid={app}&RequestTime={now}&Sign={sign}"

CASES = [
    # Repeated parameters: any repetition reads as missing, even of the same good value.
    Case(
        "sdkappid-twice-both-ours",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid={app}&" + GOOD),
        info="repeated",
    ),
    Case(
        "sdkappid-twice-one-percent-encoded-name",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("Sdk%41ppid=1400000001&" + GOOD),
    ),
    Case(
        "time-twice-different-values",
        401,
        ErrorCode.REQUEST_TIME_MISSING,
        raw(GOOD + "&RequestTime=1"),
    ),
    Case(
        "sign-twice-bad-then-good",
        401,
        ErrorCode.SIGN_MISSING,
        raw("Sign=" + "0" * 64 + "&" + GOOD),
    ),
    Case(
        "time-percent-encoded-name-is-the-same-parameter",
        200,
        None,
        raw("SdkAppid={app}&Request%54ime={now}&Sign={sign}"),
    ),
    # Names are case-sensitive: a look-alike is just another, ignored, parameter.
    Case(
        "other-case-sdkappid-beside-ours-is-ignored",
        200,
        None,
        raw(GOOD + "&sdkappid=1400000001&SDKAPPID=1"),
    ),
    # Separators: only "&" splits; a value's %26 or ";" stays in the value.
    Case(
        "ampersand-smuggled-in-a-value",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid={app}%26SdkAppid%3D1400000001&RequestTime={now}&Sign={sign}"),
        info="is not this application's",
    ),
    Case(
        "semicolon-is-no-separator",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid=1400000001;SdkAppid={app}&RequestTime={now}&Sign={sign}"),
    ),
    # Decoding happens once, as UTF-8; what does not decode becomes U+FFFD and matches nothing.
    Case(
        "sdkappid-with-nul",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid={app}%00&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "sdkappid-overlong-utf8-digit",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid=140000000%C0%B0&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "sdkappid-invalid-escape",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid={app}%zz&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "sdkappid-double-encoded",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid=%2531400000000&RequestTime={now}&Sign={sign}"),
    ),
    # RequestTime: 1 to 12 ASCII digits, nothing else.
    Case(
        "time-raw-plus-is-a-space",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        raw("SdkAppid={app}&RequestTime=+{now}&Sign={sign}"),
    ),
    Case(
        "time-superscript-digits",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("\u00b9\u2077\u2070\u2070"),
    ),
    Case(
        "time-devanagari-digits",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("".join(chr(0x966 + int(d)) for d in str(NOW))),
    ),
    Case("time-tab", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f"{NOW}\t")),
    Case("time-newline", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f"{NOW}\n")),
    Case("time-nul", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f"{NOW}\x00")),
    Case("time-hex", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(hex(NOW))),
    Case("time-13-digits", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text("1" * 13)),
    Case(
        "time-12-digits-is-a-time-far-away",
        401,
        ErrorCode.REQUEST_TIME_STALE,
        signed_with_time_text("9" * 12),
        info="ahead of",
    ),
    # Sign: exactly the 64 lower-case hex digits of sha256(token + RequestTime as sent).
    Case("sign-63-digits", 401, ErrorCode.SIGN_MISMATCH, q(Sign=sign(TOKEN, NOW)[:63])),
    Case("sign-trailing-newline", 401, ErrorCode.SIGN_MISMATCH, raw(GOOD + "%0A")),
    Case("sign-trailing-nul", 401, ErrorCode.SIGN_MISMATCH, raw(GOOD + "%00")),
    Case(
        "sign-with-prefix",
        401,
        ErrorCode.SIGN_MISMATCH,
        raw("SdkAppid={app}&RequestTime={now}&Sign=sha256={sign}"),
    ),
    Case("sign-twice-as-long", 401, ErrorCode.SIGN_MISMATCH, raw(GOOD + "{sign}")),
    Case(
        "sign-of-the-token-alone",
        401,
        ErrorCode.SIGN_MISMATCH,
        q(Sign=hashlib.sha256(TOKEN.encode()).hexdigest()),
    ),
    Case(
        "sign-with-the-time-first",
        401,
        ErrorCode.SIGN_MISMATCH,
        q(Sign=hashlib.sha256(f"{NOW}{TOKEN}".encode()).hexdigest()),
    ),
    Case(
        "sign-as-hmac",
        401,
        ErrorCode.SIGN_MISMATCH,
        q(Sign=hmac.new(TOKEN.encode(), str(NOW).encode(), "sha256").hexdigest()),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_auth_edge(receiver: Receiver, case: Case) -> None:
    assert_case(receiver, case)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (" ", "empty"),
        ("\n", "empty"),
        (f"{TOKEN}\n", "whitespace"),
        (f" {TOKEN}", "whitespace"),
        ([TOKEN, f"{TOKEN} "], "whitespace"),
    ],
)
def test_blank_or_padded_tokens_fail_at_registration(token: Any, message: str) -> None:
    for build in (lambda: flask_app(FRIENDCB_TOKEN=token), lambda: middleware(token=token)):
        with pytest.raises(ConfigError, match=message) as raised:
            build()
        assert raised.value.key in ("FRIENDCB_TOKEN", "token")


def test_unsigned_mode_still_checks_sdkappid_and_ignores_sign(clock: Any) -> None:
    from .conftest import build_receiver

    receiver = build_receiver("middleware", clock, token=None, allow_unsigned=True)
    assert receiver.post(query=f"SdkAppid={SDKAPPID}&Sign=garbage&RequestTime=x").status == 200
    assert receiver.post(query="SdkAppid=1400000001").status == 403


def test_the_expected_signs_kept_per_second_are_few_and_change_nothing() -> None:
    from flask_friendcb.auth import Authenticator, sign
    from flask_friendcb.errors import CallbackRefused

    now = 1_700_000_000
    checker = Authenticator("1400000000", ("old-token", "new-token"), 60, lambda: float(now))
    for offset in range(30):  # thirty seconds of callbacks, each signed with either token
        request_time = str(now - offset)
        for token in ("old-token", "new-token"):
            checker.check("1400000000", sign(token, request_time), request_time)
            checker.check("1400000000", sign(token, request_time), request_time)  # kept
        with pytest.raises(CallbackRefused):
            checker.check("1400000000", sign("other", request_time), request_time)
        assert len(checker._expected) <= 8
    # A stale or malformed time is refused before any Sign is worked out, and never kept.
    with pytest.raises(CallbackRefused):
        checker.check("1400000000", sign("old-token", now - 3600), str(now - 3600))
    assert str(now - 3600) not in checker._expected
