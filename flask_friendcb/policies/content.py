"""``ContentPolicy``: remarks and friend groups within Tencent's limits, without banned words,
links, e-mail addresses or contact numbers, however they are written."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .errors import missing_extra

try:
    import ahocorasick  # type: ignore[import-not-found]
except ImportError as error:
    raise missing_extra("policies", error) from error

from ..models import FriendAddItem, Reject
from .base import Policy, PolicyEvent, PolicyItem
from .contacts import find_contact
from .links import find_email, find_link
from .normalize import (
    CACHE_LIMIT,
    View,
    display_order,
    fold,
    has_two_readings,
    is_han,
    leet_windows,
    plain_view,
    spelled_out,
    to_simplified,
    words_of,
    words_of_plain,
    words_string,
)
from .wordlists import DroppedWord, check_words, everyday_holders, release

# Imported when first needed (half a second between them), but looked for now.
for _module in ("pypinyin", "wordfreq"):
    if importlib.util.find_spec(_module) is None:
        raise missing_extra("policies", ImportError(f"No module named {_module!r}", name=_module))

Rule = Literal["too_long", "banned_word", "link", "email", "contact"]

#: Tencent's limit on a friend remark (``Tag_SNS_IM_Remark``), in bytes of UTF-8.
REMARK_MAX_BYTES = 96
#: Tencent's limit on a friend group name, in bytes of UTF-8.
TAG_MAX_BYTES = 30
#: Tencent's limit on a friend request's message (``Tag_SNS_IM_AddWording``), in bytes of UTF-8.
WORDING_MAX_BYTES = 256

logger = logging.getLogger("flask_friendcb.policies")

_BANNED, _ALLOWED, _PINYIN = 0, 1, 2  # _PINYIN: banned, as a Chinese word's pinyin
#: How many recent texts' results a policy keeps (per word list: a reload() starts afresh).
RESULTS_KEPT = 4096
_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """Why a text was refused: the rule, and the part of the original text that matched
    (for an operator's eyes: it is never sent back to Tencent).

    ``readings`` says how the text had to be read for it to match, for an operator: empty
    when as written (folding aside), else some of ``"displayed"`` (in the order a renderer
    shows it, bidirectional controls applied), ``"symbols"`` (digits and symbols read as
    letters), ``"pinyin"`` (the pinyin of a Chinese banned word) and ``"spelled_out"`` (an
    address written out). It is not part of the match's equality."""

    rule: Rule
    matched: str
    readings: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)


class _Pairs(dict[int, str]):
    """``str.translate`` table: a character past ASCII as two symbols (its code point's high
    and low byte, each in a range of its own), ASCII as itself.

    pyahocorasick looks a node's children up one by one; 100,000 Chinese words give the root
    some 20,000 children, and every step back to the root would scan them. Two symbols per
    character keep every node under 300 children, so the list size stops mattering.
    """

    def __missing__(self, code: int) -> str:
        pair = chr(0x10000 + (code >> 8)) + chr(0x20000 + (code & 0xFF))
        if len(self) < CACHE_LIMIT:  # bounded, as the folding cache is
            self[code] = pair
        return pair


_PAIRS = _Pairs({code: chr(code) for code in range(128)})


def _pinyin(words: list[str]) -> list[str]:
    """The toneless pinyin of each all-Chinese word of two syllables or more, with and
    without spaces (``du bo``, ``dubo``); a reading that is an English word is left out."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError as error:
        raise missing_extra("policies", error) from error
    forms: list[str] = []
    for word in words:
        if len(word) < 2 or not _HAN_WORD.fullmatch(word):
            continue
        syllables = [s for s in lazy_pinyin(word, errors="ignore", v_to_u=False) if s.isalpha()]
        if len(syllables) < 2:
            continue
        joined = "".join(syllables)
        collapsed = _REPEATED.sub(r"\1", joined)
        if len(joined) < MIN_PINYIN_LETTERS or collapsed in _english_words(PINYIN_ENGLISH_ZIPF):
            continue
        spaced = [_REPEATED.sub(r"\1", syllable) for syllable in syllables]
        # "se you" (色友) is also "see you" once repeats are read through: a reading whose
        # every syllable is an English word is left out, with its spaces and without.
        if all(syllable in _english_words(SPACED_ENGLISH_ZIPF) for syllable in spaced):
            continue
        forms.extend((collapsed, " ".join(spaced)))
    return forms


_HAN_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_REPEATED = re.compile(r"([a-z])\1+")
#: The shortest pinyin reading (in letters) matched: ``bo`` or ``li`` alone never is.
MIN_PINYIN_LETTERS = 4
# A banned word's edge that is a Latin letter (the character beside it must not be one), or a
# digit (the character beside it must not be one: "89" is not in "1989").
_LEFT, _RIGHT, _LEFT_DIGIT, _RIGHT_DIGIT = 1, 2, 4, 8


def _edges(form: str) -> int:
    edges = 0
    if "a" <= form[0] <= "z":
        edges |= _LEFT
    elif "0" <= form[0] <= "9":
        edges |= _LEFT_DIGIT
    if "a" <= form[-1] <= "z":
        edges |= _RIGHT
    elif "0" <= form[-1] <= "9":
        edges |= _RIGHT_DIGIT
    return edges


def _is_letter(char: str) -> bool:
    return ("a" <= char <= "z") or (char > "\x7f" and char.isalpha() and not is_han(char))


def _inside(text: str, start: int, end: int, edges: int) -> bool:
    """Whether the match ``text[start:end + 1]`` continues a word (or a number) on an edge
    that must not."""
    before = text[start - 1] if start else ""
    after = text[end + 1] if end + 1 < len(text) else ""
    return bool(
        (edges & _LEFT and before and _is_letter(before))
        or (edges & _RIGHT and after and _is_letter(after))
        or (edges & _LEFT_DIGIT and "0" <= before <= "9" and before)
        or (edges & _RIGHT_DIGIT and "0" <= after <= "9" and after)
    )


class _WordLists:
    """The banned and allowed words as one automaton; built whole, then swapped in."""

    def __init__(
        self,
        banned: Iterable[str],
        allowed: Iterable[str],
        always: Iterable[str] = (),
        *,
        keep_common: bool = False,
        whole_words: bool = True,
        pinyin: bool = True,
    ) -> None:
        banned, allowed = _strings("banned_words", banned), _strings("allowed_words", allowed)
        always = _strings("always_banned", always)
        #: The lists as given, for a reload() that replaces some of them only.
        self.sources = (tuple(banned), tuple(allowed), tuple(always))
        check = check_words(banned, keep_common=keep_common)
        self.check = check
        if check.dropped:
            counts = check.counts()
            logger.info(
                "banned_words: %d entries, %d dropped (%d of one character, %d short numbers, "
                "%d everyday words); pass them in always_banned= or keep_common=True to keep "
                "them",
                len(banned),
                len(check.dropped),
                counts["one_character"],
                counts["short_number"],
                counts["common_word"],
            )
        banned_views = words_of([*check.kept, *always])
        if not keep_common:
            # Everyday words around a listed word are allowed words (电影院 around 影院).
            kept, strict = words_of(check.kept), words_of(always)
            allowed = [*allowed, *everyday_holders(kept, always=strict)]
        readings = _pinyin(banned_views) if pinyin else []
        release()  # the frequency lists serve the check only
        kinds: dict[str, int] = {}
        for kind, words in (
            (_BANNED, banned_views),
            (_PINYIN, readings),
            (_ALLOWED, words_of(allowed)),
        ):
            for word in words:
                # "free money" is also "free-money" and "freemoney", where the space went.
                forms = (word.strip(), word.replace(" ", "")) if " " in word else (word,)
                for form in forms:
                    # An allowed word that is also banned stays allowed.
                    if form and (kind == _ALLOWED or form not in kinds):
                        kinds[form] = kind
        self.banned = sum(1 for kind in kinds.values() if kind != _ALLOWED)
        #: Recent texts and what find() made of them, for these lists: spam repeats itself.
        self.results: dict[tuple[str, tuple[bool, ...]], ContentMatch | None] = {}
        self.automaton: Any = None
        if kinds:
            automaton = ahocorasick.Automaton()
            for form, kind in kinds.items():
                symbols = form if form.isascii() else form.translate(_PAIRS)
                edges = _edges(form) if whole_words and kind != _ALLOWED else 0
                automaton.add_word(symbols, (kind, len(symbols), edges))
            automaton.make_automaton()
            self.automaton = automaton

    def find(self, text: str) -> tuple[int, int, bool] | None:
        """The span in ``text`` (a words view's string) of the first banned word no allowed
        word covers, and whether it is a pinyin reading."""
        if self.automaton is None:
            return None
        symbols = text if text.isascii() else text.translate(_PAIRS)
        banned: list[tuple[int, int, bool]] = []
        allowed: list[tuple[int, int]] = []
        characters: list[int] | None = None
        for end, (kind, length, edges) in self.automaton.iter(symbols):
            start = end - length + 1
            if symbols is not text:
                if characters is None:
                    characters = _characters(text)
                start, end = characters[start], characters[end]
            if kind == _ALLOWED:
                allowed.append((start, end + 1))
                continue
            if edges and _inside(text, start, end, edges):
                continue  # inside a longer word: "basketball" holds no "ball"
            banned.append((start, end + 1, kind == _PINYIN))
        for start, end, by_pinyin in sorted(banned):
            if not any(a_start <= start and end <= a_end for a_start, a_end in allowed):
                return start, end, by_pinyin
        return None


def _characters(text: str) -> list[int]:
    """The character of each of the automaton's symbols for ``text``."""
    characters: list[int] = []
    for index, char in enumerate(text):
        characters.extend((index,) if char < "\x80" else (index, index))
    return characters


_english: dict[float, frozenset[str]] = {}


def _english_words(zipf: float) -> frozenset[str]:
    """English words of a Zipf frequency of ``zipf`` or more, repeated letters read once."""
    found = _english.get(zipf)
    if found is None:
        from .wordlists import _frequency_dict

        threshold = 10 ** (zipf - 9)
        found = frozenset(
            _REPEATED.sub(r"\1", word)
            for word, frequency in _frequency_dict("en").items()
            if frequency >= threshold and word.isascii() and word.isalpha()
        )
        _english[zipf] = found
    return found


#: A pinyin reading that is an English word of this Zipf frequency or more is not matched.
PINYIN_ENGLISH_ZIPF = 2.5
#: A spaced pinyin reading whose every syllable is an English word of this Zipf frequency or
#: more is not matched with its spaces (``se you``, ``see you``).
SPACED_ENGLISH_ZIPF = 4.5


class ContentPolicy(Policy):
    """Refuses an item whose ``Remark`` or ``TagName`` is too long or holds a banned word, a
    link, an e-mail address or a contact number, whatever the action; at the request step
    (``on_friend_add``), a request whose ``AddWording``, ``Remark`` or ``GroupName`` does.

    Text is read the way a spammer hopes it won't be (see :mod:`.normalize`), as stored and
    as displayed (bidirectional overrides applied); banned words are found by one
    Aho-Corasick automaton, so 100,000 words cost what 100 do. A Latin-script banned word
    matches as a whole word (``whole_words``); an ``allowed_words`` entry that holds a banned
    word wins over it (``Essex``, ``Scunthorpe``); ``pinyin`` also matches the toneless
    pinyin of each Chinese banned word. ``banned_words`` is checked when loaded (see
    :mod:`.wordlists`): one-character entries and everyday words are dropped and logged,
    unless ``keep_common=True``; ``always_banned`` is never checked. ``spelled_out`` reads
    links and e-mail addresses written out (``shop dot net``). ``ResultInfo`` names the field
    and the rule, never the word.
    """

    def __init__(
        self,
        *,
        banned_words: Iterable[str] = (),
        allowed_words: Iterable[str] = (),
        always_banned: Iterable[str] = (),
        keep_common: bool = False,
        whole_words: bool = True,
        pinyin: bool = True,
        links: bool = True,
        emails: bool = True,
        contacts: bool = True,
        spelled_out: bool = True,
        max_remark_bytes: int = REMARK_MAX_BYTES,
        max_tag_bytes: int = TAG_MAX_BYTES,
        max_wording_bytes: int = WORDING_MAX_BYTES,
        code: int = 38003,
    ) -> None:
        super().__init__(code)
        for name, value in (
            ("max_remark_bytes", max_remark_bytes),
            ("max_tag_bytes", max_tag_bytes),
            ("max_wording_bytes", max_wording_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.links, self.emails, self.contacts = bool(links), bool(emails), bool(contacts)
        self.spelled_out = bool(spelled_out)
        self.max_remark_bytes, self.max_tag_bytes = max_remark_bytes, max_tag_bytes
        self.max_wording_bytes = max_wording_bytes
        self._settings = {
            "keep_common": bool(keep_common),
            "whole_words": bool(whole_words),
            "pinyin": bool(pinyin),
        }
        self._lists = _WordLists(banned_words, allowed_words, always_banned, **self._settings)
        # The tables behind the first find() (the confusables map, OpenCC's dictionaries, the
        # public suffix list) load now, at start-up: some 300 ms that the first callback of
        # each worker would otherwise wait for, with every other request of a gevent worker.
        self.find("ready.example.com 准备 \u202eready\u202c sh0p dot net")

    @property
    def banned_count(self) -> int:
        """How many distinct banned forms (normalised words, and their pinyin) the policy
        holds."""
        return self._lists.banned

    @property
    def dropped(self) -> tuple[DroppedWord, ...]:
        """The ``banned_words`` entries the load check dropped, each with its reason."""
        return self._lists.check.dropped

    def reload(
        self,
        *,
        banned_words: Iterable[str] | None = None,
        allowed_words: Iterable[str] | None = None,
        always_banned: Iterable[str] | None = None,
    ) -> None:
        """Replace the word lists while callbacks run: the new lists are built whole, then put
        in place in one step, so a check sees the old lists or the new, never a mix. A list
        not given is kept as it is (``None``); pass ``()`` to empty it."""
        banned, allowed, always = self._lists.sources
        self._lists = _WordLists(
            banned if banned_words is None else banned_words,
            allowed if allowed_words is None else allowed_words,
            always if always_banned is None else always_banned,
            **self._settings,
        )

    def find(self, text: str, *, max_bytes: int | None = None) -> ContentMatch | None:
        """The first rule ``text`` breaks, with the part of ``text`` that broke it; ``None``
        when it breaks none. ``max_bytes``: the length limit, in bytes of UTF-8 (none when
        not given)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            return None
        if max_bytes is not None:
            data = text.encode("utf-8", "surrogatepass")
            if len(data) > max_bytes:
                kept = data[:max_bytes].decode("utf-8", "ignore")
                return ContentMatch("too_long", text[len(kept) :])
        lists = self._lists  # one read: a reload() meanwhile does not mix two lists
        key = (text, (self.links, self.emails, self.contacts, self.spelled_out))
        found = lists.results.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._find(text, lists)
            if len(lists.results) >= RESULTS_KEPT:
                lists.results.clear()  # bounded, whatever the remarks
            lists.results[key] = found
        return found  # type: ignore[return-value]

    def _find(self, text: str, lists: _WordLists) -> ContentMatch | None:
        order = display_order(text)
        if order is None:
            return self._find_in(text, text, None, lists)
        # As stored, then as displayed: a word stored backwards behind an override reads
        # forwards on the screen.
        found = self._find_in(text, text, None, lists)
        if found is None:
            found = self._find_in(text, "".join(text[i] for i in order), order, lists)
        return found

    def _find_in(
        self, text: str, shown: str, order: list[int] | None, lists: _WordLists
    ) -> ContentMatch | None:
        plain = plain_view(shown, simplified=to_simplified(shown))  # one OpenCC pass
        shown_as = ("displayed",) if order is not None else ()
        found = lists.find(words_string(plain[0]))
        if found is not None:
            readings = (*shown_as, *(("pinyin",) if found[2] else ()))
            words = words_of_plain(plain)
            return _match("banned_word", text, words, found[:2], order, readings)
        # Symbols for letters only where the word does not match as written, and only around
        # the words where a symbol touches a letter.
        for start, end in leet_windows(plain[0]):
            part = (plain[0][start:end], plain[1][start:end])
            for leet in (1, 2) if has_two_readings(part[0]) else (1,):
                if (found := lists.find(words_string(part[0], leet=leet))) is not None:
                    readings = (*shown_as, "symbols", *(("pinyin",) if found[2] else ()))
                    words = words_of_plain(part, leet=leet)
                    return _match("banned_word", text, words, found[:2], order, readings)
        if not (self.emails or self.links or self.contacts):
            return None
        views = [(plain, True)]
        if self.spelled_out and (self.emails or self.links):
            written = spelled_out(plain)
            if written is not None:
                views.append(written)
        for view, dotted in views:
            readings = shown_as if view is plain else (*shown_as, "spelled_out")
            for rule, enabled, finder in (
                ("email", self.emails, find_email),
                ("link", self.links and dotted, find_link),
                ("contact", self.contacts and view is plain, find_contact),
            ):
                if enabled and (span := finder(view[0])) is not None:
                    return _match(rule, text, view, span, order, readings)  # type: ignore[arg-type]
        return None

    def __call__(self, item: PolicyItem, event: PolicyEvent) -> Reject | None:
        checked: tuple[tuple[str, str, int], ...]
        if type(item) is FriendAddItem:
            # The wording first: it is what a spammer writes to every victim.
            checked = (
                ("AddWording", item.add_wording, self.max_wording_bytes),
                ("Remark", item.remark, self.max_remark_bytes),
                ("GroupName", item.group_name, self.max_tag_bytes),
            )
        else:
            checked = (
                ("Remark", item.remark, self.max_remark_bytes),
                ("TagName", item.tag_name, self.max_tag_bytes),  # type: ignore[union-attr]
            )
        for field, text, limit in checked:
            match = self.find(text, max_bytes=limit)
            if match is not None:
                # The field and the rule only: the word list is the operator's, not the spammer's.
                return Reject(self.code, f"{field}: {match.rule}")
        return None

    def __repr__(self) -> str:
        return "ContentPolicy"


def _match(
    rule: Rule,
    text: str,
    view: View,
    span: tuple[int, int],
    order: list[int] | None,
    readings: tuple[str, ...],
) -> ContentMatch:
    start, end = span
    origin = view[1][start:end]
    if order is not None:
        origin = [order[index] for index in origin]
    first, last = min(origin), max(origin) + 1
    if rule == "banned_word":
        # A repeated letter read once ("ball" as "bal") ends the match at its first copy.
        while last < len(text) and (letter := fold(text[last])) and letter == fold(text[last - 1]):
            last += 1
    return ContentMatch(rule, text[first:last], readings)


def _strings(name: str, words: Iterable[str]) -> list[str]:
    if isinstance(words, str):
        raise TypeError(f"{name} must be a list of str, not one str")
    words = list(words)
    if not all(isinstance(word, str) for word in words):
        raise TypeError(f"{name} must hold str only")
    return words
