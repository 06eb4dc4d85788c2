"""Contact numbers (phone, QQ, WeChat) in a folded text, whatever digits they are written in.

Folding has already made full-width, circled, mathematical and superscript digits ASCII; here
Chinese numerals (``一三八``, ``壹叁捌``) count as digits too. A run of digits with at most two
separators between each (spaces, dashes, dots, brackets) is a contact when it holds seven
digits or more and is not a date (``1999-12-31``, ``19991231``), or five or more right after a
contact word (``QQ``, ``微信``, ``tel``). ``房间302`` and ``生日 1999-12-31`` are not contacts.
"""

from __future__ import annotations

import re

_NUMERALS = str.maketrans(
    {
        **dict(zip("〇零一二三四五六七八九", "00123456789", strict=True)),
        **dict(zip("壹贰叁肆伍陆柒捌玖", "123456789", strict=True)),
        "幺": "1",  # "one" as read out in a phone number
        "两": "2",
    }
)
_DIGIT = r"[0-9]"
_SEP = r"[\s\-.\u00b7_/()+~\u2013\u2014]{0,2}"
_RUN = re.compile(rf"(?:\+{_DIGIT}|{_DIGIT})(?:{_SEP}{_DIGIT})*")  # "+" or a digit first
_NON_DIGIT = re.compile(r"\D")
_DATE = re.compile(r"(?:19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
_CONTACT_WORD = re.compile(
    r"(?:qq|vx|wx|v信|微信|威信|薇信|扣扣|电话|手机|tel|phone|whatsapp|telegram|line|加我)"
    r"[^0-9]{0,6}$"
)
MIN_DIGITS = 7
MIN_DIGITS_AFTER_WORD = 5


def find_contact(text: str) -> tuple[int, int] | None:
    """The span of the first contact number in folded ``text``, or ``None``."""
    # One character for one: spans still hold. Chinese numerals are past ASCII.
    digits_text = text if text.isascii() else text.translate(_NUMERALS)
    for match in _RUN.finditer(digits_text):
        digits = _NON_DIGIT.sub("", match.group())
        if len(digits) >= MIN_DIGITS:
            if len(digits) == 8 and _DATE.fullmatch(digits):
                continue
            return match.span()
        if len(digits) >= MIN_DIGITS_AFTER_WORD and _CONTACT_WORD.search(
            digits_text[max(0, match.start() - 16) : match.start()]
        ):
            return match.span()
    return None
