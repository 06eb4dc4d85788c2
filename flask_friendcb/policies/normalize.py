"""Reading text the way a spammer hopes it won't be read, with a map back to the original.

Each view is a string and, for each of its characters, the index of the original character it
came from, so that a match in a view is reported as the part of the original text it covers.

Every character is folded the same way, once (the result is cached per character):
traditional Chinese to simplified (OpenCC), NFKD compatibility forms (full-width, circled,
parenthesized, squared, mathematical, superscript), the Latin letter styles that have no
decomposition read from their Unicode names (small capitals ``ᴀ``, negative circled ``🅐`` and
negative squared ``🅰`` letters, regional indicators ``🇦``), diacritics dropped, case folded,
invisible and bidirectional format characters dropped, and the Unicode confusables (UTS #39,
through ``confusable-homoglyphs``) read as the ASCII letter they imitate (Cyrillic ``\u0430``,
Greek ``\u03bf``).

- :func:`words_view` is what banned words are looked for in: separators inside a word go
  (``s-p-a-m``, ``s p a m``, ``赌 博``), repeated letters count once. Spaces between words of
  two letters or more stay, so ``this pam is mine`` holds no ``spam``. With ``leet=1`` (or
  ``2``), digits and symbols inside a Latin word read as the letters they stand for (``sp4m``,
  ``sh!t``, ``5p@m``); the policy reads that view only when the plain one matched nothing, so
  a version number stays a version.
- :func:`plain_view` is what links, e-mail addresses and contact numbers are looked for in:
  the folded characters, separators kept, and ideographic dots read as dots;
  :func:`spelled_out` reads the addresses written out in it (``shop dot net``,
  ``me(at)mail(dot)net``, ``w w w . s h o p . n e t``).
- :func:`display_order` is the order a renderer shows the characters in when the text holds
  bidirectional overrides or embeddings, so that a word stored backwards behind a
  right-to-left override is read as the reader sees it.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator

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
# Digits and symbols that stand for letters inside a Latin word; the second reading is tried
# for the ones that stand for two letters (1 and | for i or l).
_LEET = (
    str.maketrans(
        {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
        | {"!": "i", "|": "l"}
    ),
    str.maketrans(
        {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
        | {"!": "i", "|": "i"}
    ),
)
_TWO_READINGS = re.compile(r"[a-z][1|]|[1|][a-z]")

_SURROGATES = re.compile("[\ud800-\udfff]")

#: Characters whose folded form is kept (the common ones are met first).
CACHE_LIMIT = 65_536
_converter_lock = threading.Lock()
_converter: opencc.OpenCC | None = None
_skeleton: dict[str, str] | None = None
_styles: dict[str, str] | None = None
_tables_lock = threading.Lock()


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


class _FoldTable(dict[int, str]):
    """``str.translate`` table: each code point's folded form, computed when first met."""

    def __missing__(self, code: int) -> str:
        folded = _fold(chr(code))
        if len(self) < CACHE_LIMIT:
            # Bounded: remarks cycling through every code point must not grow it for ever.
            self[code] = folded
        return folded


class _OneTable(dict[int, str]):
    """``str.translate`` table: a code point's folded form when it is one character, else
    ``"\\x00"`` (the text then takes the slow path, which keeps the map to the original)."""

    def __missing__(self, code: int) -> str:
        folded = _fold_cache[code]
        one = folded if len(folded) == 1 else "\x00"
        if len(self) < CACHE_LIMIT:
            self[code] = one
        return one


_fold_cache = _FoldTable()
_one_cache = _OneTable()


def fold(char: str) -> str:
    """The folded form of one (already simplified) character: "" for a format character,
    several characters for a compatibility form such as ``⑴``."""
    return _fold_cache[ord(char)]


def _fold(char: str) -> str:
    if unicodedata.category(char) == "Cf" or "\ufe00" <= char <= "\ufe0f":
        # Zero-width spaces and joiners, bidirectional controls, soft hyphens, variation
        # selectors: invisible, so they may sit inside a word.
        return ""
    if char in _DOTS:
        return "."
    styled = _style_map().get(char)
    if styled is not None:
        return styled
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
        if part.isascii():
            out.append(_DOTS.get(part, part))
        else:
            out.append(_style_map().get(part) or _skeleton_map().get(part, part))
    return unicodedata.normalize("NFKC", "".join(out)) if out else ""


# A Latin letter in any style, by its Unicode name: "LATIN LETTER SMALL CAPITAL A",
# "NEGATIVE CIRCLED LATIN CAPITAL LETTER A", "MODIFIER LETTER SMALL A",
# "REGIONAL INDICATOR SYMBOL LETTER A", "MATHEMATICAL BOLD SMALL A" (and no "TURNED A").
_STYLED_NAME = re.compile(
    r"^(?!COMBINING )(?:[A-Z -]* )?(?:LATIN (?:CAPITAL |SMALL )?LETTER (?:SMALL CAPITAL )?"
    r"|MODIFIER LETTER (?:CAPITAL |SMALL )?(?:SMALL CAPITAL )?|REGIONAL INDICATOR SYMBOL LETTER "
    r"|MATHEMATICAL [A-Z -]*(?:CAPITAL|SMALL) )([A-Z])$"
)
# Where Unicode keeps them: Latin Extended, IPA and phonetic extensions, modifier letters,
# Latin Extended-D and -E, enclosed alphanumerics and their supplement, mathematical letters.
_STYLED_RANGES = (
    (0x0180, 0x02FF),
    (0x1D00, 0x1DBF),
    (0x1E00, 0x1EFF),
    (0x2070, 0x209F),
    (0x2460, 0x24FF),
    (0x2C60, 0x2C7F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
    (0x10780, 0x107BF),
    (0x1D400, 0x1D7FF),
    (0x1DF00, 0x1DFFF),
    (0x1F100, 0x1F1FF),
)


def _style_map() -> dict[str, str]:
    """Letters whose Unicode name says they are a Latin letter in a style (small capital,
    negative circled or squared, modifier, regional indicator, mathematical), mapped to it."""
    global _styles
    if _styles is None:
        with _tables_lock:
            if _styles is None:
                table: dict[str, str] = {}
                for first, last in _STYLED_RANGES:
                    for code in range(first, last + 1):
                        char = chr(code)
                        match = _STYLED_NAME.match(unicodedata.name(char, ""))
                        if match is not None:
                            table[char] = match.group(1).lower()
                _styles = table
    return _styles


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
    source = to_simplified(text) if simplified is None else simplified
    folded = source.translate(_one_cache)
    if "\x00" not in folded:  # each character one character: the map is the identity
        return folded, list(range(len(source)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(source):
        for part in fold(char):
            out.append(part)
            origin.append(index)
    return "".join(out), origin


_LATIN = re.compile("[a-z]")


def words_view(text: str, *, simplified: str | None = None, leet: int = 0) -> View:
    """``text`` as banned words are looked for in it (see the module's description);
    ``leet``: 0 for no symbol-for-letter reading, 1 or 2 for the two readings."""
    return words_of_plain(plain_view(text, simplified=simplified), leet=leet)


_LEET_CHAR = re.compile(r"[0134579@$!|]")


def _leet_hints(plain: str) -> Iterator[tuple[int, int]]:
    """The spans of ``plain`` where a digit or symbol touches a Latin letter (``q3``,
    ``5p``), or ``!`` and ``|`` sit between two (``sh!t``): one search for the symbols, which
    are rarer than letters, then a look at their neighbours."""
    end = len(plain)
    for match in _LEET_CHAR.finditer(plain):
        index = match.start()
        before = plain[index - 1] if index else ""
        if plain[index] in "!|":
            stop = index + 1
            while stop < end and plain[stop] in "!|":
                stop += 1
            if "a" <= before <= "z" and stop < end and "a" <= plain[stop] <= "z":
                yield index - 1, stop + 1
        elif "a" <= before <= "z" or (index + 1 < end and "a" <= plain[index + 1] <= "z"):
            yield index, index + 1


def leet_windows(plain: str) -> list[tuple[int, int]]:
    """Where a leet reading of ``plain`` (a folded text) may differ from the plain one: each
    space-separated chunk where a symbol touches a letter, with the chunk on either side (a
    banned phrase may hold the word before or after), overlapping windows merged."""
    windows: list[tuple[int, int]] = []
    for hint_start, hint_end in _leet_hints(plain):
        start = plain.rfind(" ", 0, hint_start) + 1
        if start > 0:
            start = plain.rfind(" ", 0, start - 1) + 1
        end = plain.find(" ", hint_end)
        if end >= 0:
            end = plain.find(" ", end + 1)
        end = len(plain) if end < 0 else end
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def has_two_readings(plain: str) -> bool:
    """Whether ``plain`` holds a symbol with two letter readings (``1``, ``|``)."""
    return _TWO_READINGS.search(plain) is not None


_SEPARATORS = re.compile(r"[^\w\s]+|_+")
_SPACES = re.compile(r"\s+")
_HAN = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_JOINED_SPACE = re.compile(
    rf"(?<=(?<![^\W_])[^\W_]) (?=[^\W_](?![^\W_]))|(?<=[{_HAN}]) (?=[{_HAN}])"
)
_REPEATED_LETTERS = re.compile(r"([a-z])\1+")
# In the leet views, @ and $ start or end a word, and ! and | sit inside one (sh!t, not hi!).
_LEET_RUN = re.compile(r"[@$]*[^\W_]+(?:[@$!|]+[^\W_]+)*[@$]*|[@$]+")


class _SeparatorTable(dict[int, str | None]):
    """``str.translate`` table that deletes what :data:`_SEPARATORS` matches."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        kept = None if _SEPARATORS.fullmatch(char) else char
        if len(self) < CACHE_LIMIT:
            self[code] = kept
        return kept


_separators = _SeparatorTable()


def leet_text(plain: str, leet: int) -> str:
    """``plain`` (a folded text) with the digits and symbols inside Latin words read as the
    letters they stand for (reading ``leet``: 1 or 2), character for character: only the
    words where a symbol touches a letter are read, so ``7.30`` and ``2024`` stay."""
    table = _LEET[leet - 1]
    out: list[str] = []
    position = 0
    for hint_start, hint_end in _leet_hints(plain):
        if hint_start < position:
            continue  # within a word already read
        # The space-separated chunk around it: no token crosses a space.
        start = plain.rfind(" ", position, hint_start) + 1 or position
        end = plain.find(" ", hint_end)
        end = len(plain) if end < 0 else end
        out.append(plain[position:start])
        out.append(
            _LEET_RUN.sub(
                lambda match: (
                    match.group().translate(table)
                    if _LATIN.search(match.group())
                    else match.group()
                ),
                plain[start:end],
            )
        )
        position = end
    if not position:
        return plain
    out.append(plain[position:])
    return "".join(out)


def words_string(plain: str, *, leet: int = 0) -> str:
    """The string of :func:`words_of_plain` for ``plain`` (a folded text), without the map
    to the original: regular expressions over the whole text, what every text costs; the
    map is made only for a text that matches."""
    if leet:
        plain = leet_text(plain, leet)
    parts = plain.translate(_separators).split()
    return _collapse(_join(parts))


_DOUBLES = tuple(letter * 2 for letter in "abcdefghijklmnopqrstuvwxyz")


def _collapse(text: str) -> str:
    """``_REPEATED_LETTERS.sub(r"\\1", text)``, by ``str`` methods."""
    for double in _DOUBLES:
        if double in text:
            while double in text:
                text = text.replace(double, double[0])
    return text


def _join(parts: list[str]) -> str:
    """``_JOINED_SPACE.sub("", " ".join(parts))``: the words of ``parts``, a space between
    two but where both are one character, or a Chinese character ends one and starts the
    next."""
    text = " ".join(parts)
    if text.isascii():
        singles = [len(part) == 1 for part in parts]
        if not any(a and b for a, b in itertools.pairwise(singles)):
            return text
    out = [parts[0]] if parts else []
    for previous, part in itertools.pairwise(parts):
        if (len(previous) == 1 and len(part) == 1) or (is_han(previous[-1]) and is_han(part[0])):
            out[-1] += part
        else:
            out.append(part)
    return " ".join(out)


def words_of_plain(plain: View, *, leet: int = 0) -> View:
    """The words view of a plain view (see :func:`words_view`): the steps of
    :func:`words_string`, each keeping the map to the original."""
    view = (leet_text(plain[0], leet), plain[1]) if leet else plain  # one for one
    view = _sub(view, _SEPARATORS, lambda match: "")
    view = _sub(view, _SPACES, lambda match: " ")
    text, origin = view
    if text.startswith(" "):
        text, origin = text[1:], origin[1:]
    if text.endswith(" "):
        text, origin = text[:-1], origin[:-1]
    view = _sub((text, origin), _JOINED_SPACE, lambda match: "")
    return _sub(view, _REPEATED_LETTERS, lambda match: match.group(1))


def _sub(view: View, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]) -> View:
    """``pattern.sub(replace, view's text)``, the map kept: a replacement as long as what it
    replaces keeps its characters' origins, a shorter one takes the first one's."""
    text, origin = view
    out: list[str] = []
    out_origin: list[int] = []
    position = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        out.append(text[position:start])
        out_origin.extend(origin[position:start])
        new = replace(match)
        out.append(new)
        if len(new) == end - start:
            out_origin.extend(origin[start:end])
        else:
            out_origin.extend([origin[start]] * len(new))
        position = end
    if not position and not out:
        return view
    out.append(text[position:])
    out_origin.extend(origin[position:])
    return "".join(out), out_origin


def words_of(texts: Iterable[str]) -> list[str]:
    """Each of ``texts`` (a word list) in its words view; one OpenCC call for the whole list."""
    texts = [text for text in texts if text and not text.isspace()]
    joined = "\n".join(texts)
    simplified = to_simplified(joined).split("\n")
    if len(simplified) != len(texts):  # pragma: no cover - a conversion that ate a newline
        simplified = [to_simplified(text) for text in texts]
    return [_word(text, plain) for text, plain in zip(texts, simplified, strict=True)]


# Words that need no folding, read without the general path (a 100,000-word list is mostly
# such words): plain ASCII letters, and Chinese characters alone.
_ASCII_REPEATS = re.compile(r"([a-z])\1+")
_HAN_ONLY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def _word(text: str, simplified: str) -> str:
    if simplified.isascii() and simplified.isalpha():
        return _ASCII_REPEATS.sub(r"\1", simplified.lower())
    if _HAN_ONLY.fullmatch(simplified):
        return simplified
    return words_view(text, simplified=simplified)[0]


# Bidirectional controls: embeddings and overrides (U+202A to U+202E), isolates (U+2066 to
# U+2069).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_OPEN_RTL = "\u202b\u202e\u2067"  # RLE, RLO, RLI
_OPEN_LTR = "\u202a\u202d\u2066\u2068"  # LRE, LRO, LRI, FSI
_CLOSE = "\u202c\u2069"  # PDF, PDI
_MAX_DEPTH = 125  # UAX #9's limit on explicit levels


def display_order(text: str) -> list[int] | None:
    """The indexes of ``text`` in the order a renderer shows them, when ``text`` holds
    bidirectional embeddings, overrides or isolates (UAX #9's explicit levels and rule L2;
    a character's own direction decides within an embedding, an override decides for all);
    ``None`` when the order is the stored one."""
    if _BIDI.search(text) is None:
        return None
    levels: list[int] = []
    stack: list[tuple[int, str]] = [(0, "")]
    for char in text:
        level, override = stack[-1]
        if char in _OPEN_RTL or char in _OPEN_LTR:
            levels.append(level)
            rtl = char in _OPEN_RTL
            new = level + (1 if level % 2 == 0 else 2) if rtl else level + (2 - level % 2)
            if new <= _MAX_DEPTH:
                forced = {"\u202e": "R", "\u202d": "L"}.get(char, "")
                stack.append((new, forced))
            continue
        if char in _CLOSE:
            levels.append(level)
            if len(stack) > 1:
                stack.pop()
            continue
        if override == "R":
            levels.append(level | 1)
        elif override == "L":
            levels.append(level + (level % 2))
        else:
            direction = unicodedata.bidirectional(char)
            if direction in ("R", "AL"):
                levels.append(level | 1)
            elif direction == "L":
                levels.append(level + (level % 2))
            else:
                levels.append(level)
    odd = [level for level in levels if level % 2]
    if not odd:
        return None
    order = list(range(len(text)))
    lowest = min(odd)
    for target in range(max(levels), lowest - 1, -1):
        index = 0
        while index < len(order):
            if levels[index] < target:
                index += 1
                continue
            stop = index
            while stop < len(order) and levels[stop] >= target:
                stop += 1
            order[index:stop] = order[index:stop][::-1]
            levels[index:stop] = levels[index:stop][::-1]
            index = stop
    return order


# Addresses written out: " dot ", "(dot)", "[.]", "点" and " . " for a dot, " at ", "(at)",
# "[at]" and "#" for an @ (when a domain follows), and letters spaced out one by one. Each is
# looked for only when its literal is in the text: every remark pays for the search.
_SPACED = re.compile(r"(?<!\S)[a-z0-9.@](?=\s)(?:\s+[a-z0-9.@](?!\S)){2,}")
_BRACKETED = re.compile(r"\s*[(\[{<]\s*(?:(dot|\.|点)|(at|@))\s*[)\]}>]\s*")
_SPOKEN_DOT = re.compile(r"\s+(?:dot|\.)\s+|\s*点\s*")
_SPACED_HINT = re.compile(r" \S \S ")
# What follows an @ that may start an address: labels with a dot, written or spelled, between.
_DOMAIN = re.compile(
    r"[a-z0-9-]+(?:(?:\.|\s+(?:dot|\.)\s+|\s*点\s*"
    r"|\s*[(\[{<]\s*(?:dot|\.|点)\s*[)\]}>]\s*)[a-z0-9-]+)+"
)


def spelled_out(plain: View) -> tuple[View, bool] | None:
    """``plain`` (a plain view) with the addresses written out in it read as they are spelled
    (``shop dot net`` as ``shop.net``, ``me(at)mail(dot)net`` as ``me@mail.net``), and
    whether a dot or spaced-out letters were among them (else only an ``@`` changed, and only
    an e-mail address can be new); ``None`` when it holds none of those spellings, or no dot
    at all (no address has none)."""
    text, origin = plain
    view = plain
    if "." in text and _SPACED_HINT.search(text) and _SPACED.search(text) is not None:
        kept = [True] * len(text)
        for match in _SPACED.finditer(text):
            for index in range(*match.span()):
                kept[index] = not text[index].isspace()
        view = (
            "".join(char for char, keep in zip(text, kept, strict=True) if keep),
            [index for index, keep in zip(origin, kept, strict=True) if keep],
        )
        text = view[0]
    edits: list[tuple[int, int, str]] = []
    if any(bracket in text for bracket in "([{<"):
        for match in _BRACKETED.finditer(text):
            edits.append((*match.span(), "." if match.group(1) else "@"))
    if "dot" in text or " ." in text or "点" in text:
        edits.extend(
            (*match.span(), ".")
            for match in _SPOKEN_DOT.finditer(text)
            if _between_labels(text, *match.span())
        )
    dotted = bool(edits) or view is not plain
    if not edits and "." not in text:
        return (view, True) if dotted else None  # no dot: no address, whatever the @
    for spoken in (" at ", "#"):
        start = text.find(spoken)
        while start >= 0:
            end = start + len(spoken)
            if _between_labels(text, start, end) and _DOMAIN.match(text, end):
                edits.append((start, end, "@"))
            start = text.find(spoken, end)
    if not edits:
        return (view, True) if dotted else None
    edits.sort()
    out: list[str] = []
    out_origin: list[int] = []
    position = 0
    origin = view[1]
    for start, end, replacement in edits:
        if start < position:
            continue  # overlapping spellings: the first one read
        out.append(text[position:start])
        out_origin.extend(origin[position:start])
        out.append(replacement)
        out_origin.append(origin[start])
        position = end
    out.append(text[position:])
    out_origin.extend(origin[position:])
    return ("".join(out), out_origin), dotted


def _between_labels(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` sits between two letters or digits (ASCII)."""
    return (
        start > 0
        and end < len(text)
        and (text[start - 1].isascii() and text[start - 1].isalnum())
        and (text[end].isascii() and text[end].isalnum())
    )
