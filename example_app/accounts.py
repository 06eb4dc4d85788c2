"""What the service accepts as an account to block: one rule for the CLI, the API and the page
(which is given :data:`ACCOUNT_MAX_BYTES` to check as the operator types)."""

from __future__ import annotations

#: Longest account Tencent allows (UserID), in bytes of UTF-8.
ACCOUNT_MAX_BYTES = 32


def account_problem(account: str) -> str | None:
    """Why ``account`` cannot be blocked, or ``None`` when it can.

    Any characters at all: the operator must be able to block whatever arrived on the wire,
    spaces and invisible characters included. But Tencent's UserIDs are at most 32 bytes, and
    a longer one is refused, never cut to fit.
    """
    if not account:
        return "an account cannot be empty"
    try:
        length = len(account.encode("utf-8"))
    except UnicodeEncodeError:
        return "an account cannot hold unpaired surrogates"
    if length > ACCOUNT_MAX_BYTES:
        return f"an account is at most {ACCOUNT_MAX_BYTES} bytes of UTF-8; this one is {length}"
    return None
