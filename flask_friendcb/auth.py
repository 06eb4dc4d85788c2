"""Callback authentication: ``SdkAppid``, ``Sign`` and the ``RequestTime`` window.

Tencent signs the URL, not the body: ``Sign = sha256(token + RequestTime)`` as 64 lower-case
hex digits, with ``RequestTime`` in Unix seconds. A valid Sign proves knowledge of the token
at that second, so the window on ``RequestTime`` is what stops a captured URL from being
replayed forever.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from .errors import CallbackRefused
from .protocol import ErrorCode

# ASCII digits only: str.isdigit() and int() also accept "١٢٣" and other scripts' digits, and
# int() accepts signs, spaces and underscores; none of those are Unix seconds from Tencent.
# Twelve digits reach the year 33658, and keep int() away from huge inputs.
_REQUEST_TIME = re.compile(r"[0-9]{1,12}", re.ASCII)
# RequestTimes whose expected Signs an Authenticator keeps (they change every second).
_EXPECTED_KEPT = 8


def sign(token: str, request_time: int | str) -> str:
    """Tencent's ``Sign`` for ``token`` at ``request_time`` (Unix seconds).

    >>> sign("xxxxyyyy", 1669872112)
    '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061'
    """
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def describe(value: str, limit: int = 40) -> str:
    """A caller-supplied value made safe to put in a log line or an ``ErrorInfo``: quoted,
    control characters escaped, and cut to ``limit`` characters."""
    text = repr(value[:limit])
    return text if len(value) <= limit else f"{text}..."


class Authenticator:
    """Checks the query of one callback; built once per receiver from its settings."""

    def __init__(
        self,
        sdkappid: str,
        tokens: tuple[str, ...],
        max_skew: float,
        clock: Callable[[], float],
    ) -> None:
        self.sdkappid = sdkappid
        self.tokens = tokens
        self.max_skew = max_skew
        self.clock = clock
        # The expected Signs of the last few RequestTimes: every callback of the same second
        # is signed alike, so most requests find theirs here instead of hashing.
        self._expected: dict[str, tuple[bytes, ...]] = {}

    def check(self, sdkappid: str | None, sign_value: str | None, request_time: str | None) -> None:
        """Raise :class:`CallbackRefused` unless the values identify a genuine callback.

        ``None`` means the parameter is absent, or repeated (a repeated parameter is ambiguous,
        and ambiguity is where a forged parameter hides). The ``ErrorInfo`` says which check
        failed, and for a stale request by how many seconds, but never repeats the Sign.
        """
        if sdkappid != self.sdkappid:
            info = (
                "SdkAppid is missing or repeated"
                if sdkappid is None
                else f"SdkAppid {describe(sdkappid)} is not this application's"
            )
            raise CallbackRefused(403, ErrorCode.SDKAPPID_MISMATCH, info)
        if not self.tokens:
            return
        if sign_value is None:
            raise CallbackRefused(401, ErrorCode.SIGN_MISSING, "Sign is missing or repeated")
        if request_time is None:
            raise CallbackRefused(
                401, ErrorCode.REQUEST_TIME_MISSING, "RequestTime is missing or repeated"
            )
        if _REQUEST_TIME.fullmatch(request_time) is None:
            raise CallbackRefused(
                401,
                ErrorCode.REQUEST_TIME_INVALID,
                # Not echoed: a client that swapped its parameters would put its Sign here.
                "RequestTime is not Unix time in decimal seconds",
            )
        skew = self.clock() - int(request_time)
        if abs(skew) > self.max_skew:
            direction = "behind" if skew > 0 else "ahead of"
            raise CallbackRefused(
                401,
                ErrorCode.REQUEST_TIME_STALE,
                f"RequestTime is {abs(skew):.0f} s {direction} this server's clock "
                f"(at most {self.max_skew:g} s allowed)",
            )
        given = sign_value.encode("utf-8", "surrogatepass")
        expected = self._expected.get(request_time)
        if expected is None:
            expected = tuple(sign(token, request_time).encode() for token in self.tokens)
            if len(self._expected) >= _EXPECTED_KEPT:
                self._expected.clear()
            # Kept only once the time is within the skew: a forger cannot fill it.
            self._expected[request_time] = expected
        matched = False
        # Every token is compared, in constant time, so timing reveals neither the Sign's
        # prefix nor which token of a rotation matched.
        for each in expected:
            matched |= hmac.compare_digest(each, given)
        if not matched:
            raise CallbackRefused(
                401, ErrorCode.SIGN_MISMATCH, "Sign does not match the callback token"
            )
