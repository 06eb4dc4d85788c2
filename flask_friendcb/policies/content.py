"""``ContentPolicy``: remarks and friend groups within Tencent's limits, without banned words,
links, e-mail addresses or contact numbers, however they are written."""

from __future__ import annotations

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
from .normalize import CACHE_LIMIT, View, plain_view, to_simplified, words_of, words_view

Rule = Literal["too_long", "banned_word", "link", "email", "contact"]

#: Tencent's limit on a friend remark (``Tag_SNS_IM_Remark``), in bytes of UTF-8.
REMARK_MAX_BYTES = 96
#: Tencent's limit on a friend group name, in bytes of UTF-8.
TAG_MAX_BYTES = 30
#: Tencent's limit on a friend request's message (``Tag_SNS_IM_AddWording``), in bytes of UTF-8.
WORDING_MAX_BYTES = 256

_BANNED, _ALLOWED = 0, 1
#: How many recent texts' results a policy keeps (per word list: a reload() starts afresh).
RESULTS_KEPT = 4096
_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """Why a text was refused: the rule, and the part of the original text that matched
    (for an operator's eyes: it is never sent back to Tencent)."""

    rule: Rule
    matched: str


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


def _encode(text: str) -> tuple[str, list[int] | None]:
    """``text`` in the automaton's symbols, and the character of each symbol (``None``: one
    symbol per character, as for ASCII)."""
    if text.isascii():
        return text, None
    characters: list[int] = []
    for index, char in enumerate(text):
        characters.extend((index,) if char < "\x80" else (index, index))
    return text.translate(_PAIRS), characters


class _WordLists:
    """The banned and allowed words as one automaton; built whole, then swapped in."""

    def __init__(self, banned: Iterable[str], allowed: Iterable[str]) -> None:
        banned, allowed = _strings("banned_words", banned), _strings("allowed_words", allowed)
        #: The lists as given, for a reload() that replaces one of them only.
        self.sources = (tuple(banned), tuple(allowed))
        kinds: dict[str, int] = {}
        for kind, words in ((_BANNED, words_of(banned)), (_ALLOWED, words_of(allowed))):
            for word in words:
                # "free money" is also "free-money" and "freemoney", where the space went.
                forms = (word.strip(), word.replace(" ", "")) if " " in word else (word,)
                for form in forms:
                    # An allowed word that is also banned stays allowed.
                    if form and (kind == _ALLOWED or form not in kinds):
                        kinds[form] = kind
        self.banned = sum(1 for kind in kinds.values() if kind == _BANNED)
        #: Recent texts and what find() made of them, for these lists: spam repeats itself.
        self.results: dict[tuple[str, bool, bool, bool], ContentMatch | None] = {}
        self.automaton: Any = None
        if kinds:
            automaton = ahocorasick.Automaton()
            for form, kind in kinds.items():
                symbols = form if form.isascii() else form.translate(_PAIRS)
                automaton.add_word(symbols, (kind, len(symbols)))
            automaton.make_automaton()
            self.automaton = automaton

    def find(self, view: View) -> tuple[int, int] | None:
        """The span in ``view`` of the first banned word no allowed word covers."""
        if self.automaton is None:
            return None
        symbols, characters = _encode(view[0])
        banned: list[tuple[int, int]] = []
        allowed: list[tuple[int, int]] = []
        for end, (kind, length) in self.automaton.iter(symbols):
            start = end - length + 1
            if characters is not None:
                start, end = characters[start], characters[end]
            (banned if kind == _BANNED else allowed).append((start, end + 1))
        for start, end in sorted(banned):
            if not any(a_start <= start and end <= a_end for a_start, a_end in allowed):
                return start, end
        return None


class ContentPolicy(Policy):
    """Refuses an item whose ``Remark`` or ``TagName`` is too long or holds a banned word, a
    link, an e-mail address or a contact number, whatever the action; at the request step
    (``on_friend_add``), a request whose ``AddWording``, ``Remark`` or ``GroupName`` does.

    Text is read the way a spammer hopes it won't be (see :mod:`.normalize`); banned words are
    found by one Aho-Corasick automaton, so 100,000 words cost what 100 do. An
    ``allowed_words`` entry that holds a banned word wins over it (``Essex``, ``Scunthorpe``).
    ``ResultInfo`` names the field and the rule, never the word.
    """

    def __init__(
        self,
        *,
        banned_words: Iterable[str] = (),
        allowed_words: Iterable[str] = (),
        links: bool = True,
        emails: bool = True,
        contacts: bool = True,
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
        self.max_remark_bytes, self.max_tag_bytes = max_remark_bytes, max_tag_bytes
        self.max_wording_bytes = max_wording_bytes
        self._lists = _WordLists(banned_words, allowed_words)
        # The tables behind the first find() (the confusables map, OpenCC's dictionaries, the
        # public suffix list) load now, at start-up: some 300 ms that the first callback of
        # each worker would otherwise wait for, with every other request of a gevent worker.
        self.find("ready.example.com 准备")

    @property
    def banned_count(self) -> int:
        """How many distinct banned words (normalised) the policy holds."""
        return self._lists.banned

    def reload(
        self,
        *,
        banned_words: Iterable[str] | None = None,
        allowed_words: Iterable[str] | None = None,
    ) -> None:
        """Replace the word lists while callbacks run: the new lists are built whole, then put
        in place in one step, so a check sees the old lists or the new, never a mix. A list
        not given is kept as it is (``None``); pass ``()`` to empty it."""
        banned, allowed = self._lists.sources
        self._lists = _WordLists(
            banned if banned_words is None else banned_words,
            allowed if allowed_words is None else allowed_words,
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
        key = (text, self.links, self.emails, self.contacts)
        found = lists.results.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._find(text, lists)
            if len(lists.results) >= RESULTS_KEPT:
                lists.results.clear()  # bounded, whatever the remarks
            lists.results[key] = found
        return found  # type: ignore[return-value]

    def _find(self, text: str, lists: _WordLists) -> ContentMatch | None:
        simplified = to_simplified(text)  # one OpenCC pass for both views
        words = words_view(text, simplified=simplified)
        span = lists.find(words)
        if span is not None:
            return _match("banned_word", text, words, span)
        if self.emails or self.links or self.contacts:
            plain = plain_view(text, simplified=simplified)
            for rule, enabled, finder in (
                ("email", self.emails, find_email),
                ("link", self.links, find_link),
                ("contact", self.contacts, find_contact),
            ):
                if enabled and (span := finder(plain[0])) is not None:
                    return _match(rule, text, plain, span)  # type: ignore[arg-type]
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


def _match(rule: Rule, text: str, view: View, span: tuple[int, int]) -> ContentMatch:
    origin = view[1]
    start, end = span
    return ContentMatch(rule, text[origin[start] : origin[end - 1] + 1])


def _strings(name: str, words: Iterable[str]) -> list[str]:
    if isinstance(words, str):
        raise TypeError(f"{name} must be a list of str, not one str")
    words = list(words)
    if not all(isinstance(word, str) for word in words):
        raise TypeError(f"{name} must hold str only")
    return words
