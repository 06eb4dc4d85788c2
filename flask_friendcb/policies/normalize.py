"""Reading text the way a spammer hopes it won't be read, with a map back to the original.

Each view is a string and, for each of its characters, the index of the original character it
came from, so that a match in a view is reported as the part of the original text it covers.

Every character is folded the same way, once (the result is cached per character):
traditional Chinese to simplified (OpenCC), NFKD compatibility forms (full-width, circled,
mathematical, superscript), diacritics dropped, case folded, invisible and bidirectional format
characters dropped, and the Unicode confusables (UTS #39, through ``confusable-homoglyphs``)
read as the ASCII letter they imitate (Cyrillic ``\u0430``, Greek ``\u03bf``).

- :func:`words_view` is what banned words are looked for in: separators inside a word go
  (``s-p-a-m``, ``s p a m``, ``赌 博``), repeated letters count once, and digits or ``@``/``$``
  inside a Latin word read as the letters they stand for (``sp4m``). Spaces between words of
  two letters or more stay, so ``this pam is mine`` holds no ``spam``.
- :func:`plain_view` is what links, e-mail addresses and contact numbers are looked for in:
  the folded characters, separators kept, and ideographic dots read as dots.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable

from .errors import missing_extra

try:
    import opencc
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]
except ImportError as error:
    raise missing_extra("policies", error) from error

#: A view of a text: the folded characters, and the original index of each.
View = tuple[str, list[int]]

# IDNA reads these as the dot between labels; NFKD leaves the ideographic full stop alone.
_DOTS = {"\u3002": ".", "\uff0e": ".", "\uff61": ".", "\u2024": "."}
# Digits, and the two symbols, that stand for letters inside a Latin word.
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)

_SURROGATES = re.compile("[\ud800-\udfff]")

#: Characters whose folded form is kept (the common ones are met first).
CACHE_LIMIT = 65_536
_fold_cache: dict[str, str] = {}
_converter_lock = threading.Lock()
_converter: opencc.OpenCC | None = None
_skeleton: dict[str, str] | None = None


def is_han(char: str) -> bool:
    """Whether ``char`` is a Chinese character (CJK Unified Ideographs and extensions)."""
    return (
        "\u3400" <= char <= "\u9fff"
        or "\uf900" <= char <= "\ufaff"
        or "\U00020000" <= char <= "\U0003134f"
    )


def to_simplified(text: str) -> str:
    """``text`` with traditional Chinese characters made simplified, character for character
    (so that indexes still match the original)."""
    if text.isascii():
        return text
    # JSON may carry lone surrogates, which no UTF-8 library takes: one replacement character
    # each keeps the indexes.
    text = _SURROGATES.sub("\ufffd", text)
    converted: str = _opencc().convert(text)
    if len(converted) == len(text):
        return converted
    # A phrase conversion changed the length: convert one character at a time instead.
    return "".join(_single(_opencc().convert(char), char) for char in text)


def _single(converted: str, char: str) -> str:
    return converted if len(converted) == 1 else char


def fold(char: str) -> str:
    """The folded form of one (already simplified) character: "" for a format character,
    several characters for a compatibility form such as ``⑴``."""
    folded = _fold_cache.get(char)
    if folded is None:
        folded = _fold(char)
        if len(_fold_cache) < CACHE_LIMIT:
            # Bounded: remarks cycling through every code point must not grow it for ever.
            _fold_cache[char] = folded
    return folded


def _fold(char: str) -> str:
    if unicodedata.category(char) == "Cf" or "\ufe00" <= char <= "\ufe0f":
        # Zero-width spaces and joiners, bidirectional controls, soft hyphens, variation
        # selectors: invisible, so they may sit inside a word.
        return ""
    if char in _DOTS:
        return "."
    decomposed = unicodedata.normalize("NFKD", char)
    lookalike = _skeleton_map().get(char)
    if lookalike is not None and not decomposed.isascii():
        # Before NFKD: the lunate sigma looks like c, but decomposes to a sigma (like o).
        # A compatibility form of an ASCII character (mathematical 1) is that character.
        return lookalike
    out = []
    for part in decomposed.casefold():
        if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me", "Cf"):
            continue  # a diacritic, or a format character NFKD let out
        out.append(_DOTS.get(part, part) if part.isascii() else _skeleton_map().get(part, part))
    return unicodedata.normalize("NFKC", "".join(out)) if out else ""


def _skeleton_map() -> dict[str, str]:
    """Non-ASCII letters and digits that Unicode's confusables data says look like an ASCII
    letter or digit, mapped to it (lower case)."""
    global _skeleton
    if _skeleton is None:
        data = confusables.confusables_data
        table: dict[str, str] = {}
        for char, homoglyphs in data.items():
            if len(char) != 1 or char.isascii() or is_han(char) or not char.isalnum():
                continue
            ascii_lookalike = _ascii_lookalike(data, [h["c"] for h in homoglyphs], depth=2)
            upper = char.upper()
            if not ascii_lookalike and len(upper) == 1 and upper != char:
                # Cyrillic small te is listed beside small-capital T only; its capital beside T.
                ascii_lookalike = _ascii_lookalike(
                    data, [h["c"] for h in data.get(upper, ())], depth=1
                )
            if ascii_lookalike:
                table[char] = ascii_lookalike
        _skeleton = table
    return _skeleton


def _ascii_lookalike(
    data: dict[str, list[dict[str, str]]], chars: Iterable[str], depth: int
) -> str:
    chars = list(chars)
    for candidate in chars:
        if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
            return candidate.lower()
    if depth > 1:
        # Cyrillic м is listed beside ʍ only, which is listed beside m.
        for candidate in chars:
            found = _ascii_lookalike(data, [h["c"] for h in data.get(candidate, ())], depth - 1)
            if found:
                return found
    return ""


def _opencc() -> opencc.OpenCC:
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                _converter = opencc.OpenCC("t2s")
    return _converter


def plain_view(text: str, *, simplified: str | None = None) -> View:
    """``text`` folded character by character, separators kept (``simplified``: ``text``
    through :func:`to_simplified` already)."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(to_simplified(text) if simplified is None else simplified):
        for part in fold(char):
            out.append(part)
            origin.append(index)
    return "".join(out), origin


def words_view(text: str, *, simplified: str | None = None) -> View:
    """``text`` as banned words are looked for in it (see the module's description)."""
    source = to_simplified(text) if simplified is None else simplified
    # Tokens: runs of letters and digits (with @ and $), each a list of (char, origin); between
    # two tokens, a gap: whether it holds a space, and where it starts.
    tokens: list[list[tuple[str, int]]] = []
    gaps: list[tuple[bool, int]] = []
    current: list[tuple[str, int]] = []
    gap_space, gap_start = False, -1
    for index, char in enumerate(source):
        for part in fold(char):
            if part.isalnum() or part in "@$":
                if not current and tokens:
                    gaps.append((gap_space, gap_start))
                current.append((part, index))
                continue
            if current:
                tokens.append(current)
                current = []
                gap_space, gap_start = False, index
            gap_space = gap_space or part.isspace()
    if current:
        tokens.append(current)

    out: list[str] = []
    origin: list[int] = []
    previous: list[tuple[str, int]] = []
    for position, token in enumerate(tokens):
        if any("a" <= char <= "z" for char, _ in token):
            token = [(char.translate(_LEET), index) for char, index in token]
        if position:
            has_space, start = gaps[position - 1]
            joined = (
                not has_space  # s-p-a-m, s.p.a.m, s_p_a_m
                or (len(previous) == 1 and len(token) == 1)  # s p a m
                or (is_han(previous[-1][0]) and is_han(token[0][0]))  # 赌 博
            )
            if not joined:
                out.append(" ")
                origin.append(start)
        for char, index in token:
            if out and char == out[-1] and "a" <= char <= "z":
                continue  # spaaam: repeated letters count once
            out.append(char)
            origin.append(index)
        previous = token
    return "".join(out), origin


def words_of(texts: Iterable[str]) -> list[str]:
    """Each of ``texts`` (a word list) in its words view; one OpenCC call for the whole list."""
    texts = [text for text in texts if text and not text.isspace()]
    joined = "\n".join(texts)
    simplified = to_simplified(joined).split("\n")
    if len(simplified) != len(texts):  # pragma: no cover - a conversion that ate a newline
        simplified = [to_simplified(text) for text in texts]
    return [_word(text, plain) for text, plain in zip(texts, simplified, strict=True)]


# Words that need no folding, read without the per-character loop (a 100,000-word list is
# mostly such words): plain ASCII letters, and Chinese characters alone.
_ASCII_REPEATS = re.compile(r"([a-z])\1+")
_HAN_ONLY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def _word(text: str, simplified: str) -> str:
    if simplified.isascii() and simplified.isalpha():
        return _ASCII_REPEATS.sub(r"\1", simplified.lower())
    if _HAN_ONLY.fullmatch(simplified):
        return simplified
    return words_view(text, simplified=simplified)[0]
