"""Reading user text the way a spammer hopes we won't: normalised before it is searched.

A remark written in full-width letters, in mathematical bold, in circled letters, or with a
zero-width space inside a word must read as the plain ASCII it imitates.
"""

from __future__ import annotations

import re
import unicodedata

#: Tencent's limit on a friend remark (``Tag_SNS_IM_Remark``), in bytes of UTF-8.
REMARK_MAX_BYTES = 96
#: Tencent's limit on a friend group name, in bytes of UTF-8.
TAG_MAX_BYTES = 30

# IDNA reads these as the dot between labels; NFKC leaves the ideographic full stop alone.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# Top-level domains common in spam. A longer list (every gTLD) would refuse everyday remarks
# such as "hello.world" (.world is a TLD); a scheme or "www." is caught whatever the TLD.
_TLDS = (
    "com|net|org|info|biz|xyz|top|site|online|shop|store|club|vip|live|link|click|app|"
    "io|co|me|cc|tv|ly|gl|to|tk|ml|ga|cf|gq|cn|hk|tw|ru|uk|de|jp|kr|in|us"
)
_URL = re.compile(
    r"[a-z][a-z0-9+.-]*://"  # any scheme: http://, https://, ftp://, weixin://
    r"|\bwww\."
    rf"|\b(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:{_TLDS})\b"  # example.com, 例子.cn, bit.ly
)


def normalise(text: str) -> str:
    """``text`` as NFKC, case-folded, without invisible format characters, with IDNA's dots.

    Case folding is done between two NFKC passes, as Unicode's NFKC_Casefold does, since
    folding can produce text that is no longer normalised.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    # Zero-width spaces, joiners and soft hyphens (category Cf) hide words from a search; they
    # go before the last pass, so that the letters they kept apart compose again.
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFKC", text.translate(_DOTS))


def find_url(text: str) -> str | None:
    """The first URL-like part of normalised ``text``, or ``None``."""
    match = _URL.search(text)
    return match.group(0) if match else None


def find_banned_word(text: str, words: tuple[str, ...]) -> str | None:
    """The first of ``words`` (normalised) that normalised ``text`` contains, or ``None``.

    A substring match: Chinese and Japanese text has no spaces between words.
    """
    return next((word for word in words if word in text), None)


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8, the unit of Tencent's limits."""
    return len(text.encode("utf-8", "surrogatepass"))
