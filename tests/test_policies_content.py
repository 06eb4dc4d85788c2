"""ContentPolicy: the evasion table, everyday remarks, what it reports, and reload() under load."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.policies import ALLOWED, BANNED, EVASIONS, EVERYDAY
from flask_friendcb import FriendResponseEvent, FriendResponseItem, Reject, ResponseAction
from flask_friendcb.policies import ContentMatch, ContentPolicy
from flask_friendcb.policies.normalize import (
    plain_view,
    words_of,
    words_of_plain,
    words_string,
    words_view,
)


@pytest.fixture(scope="module")
def policy() -> ContentPolicy:
    return ContentPolicy(always_banned=BANNED, allowed_words=ALLOWED)


def event(*items: FriendResponseItem) -> FriendResponseEvent:
    return FriendResponseEvent(
        "1400000000", "Sns.CallbackPrevFriendResponse", "", "responder", 0, items
    )


@pytest.mark.parametrize(("text", "rule"), EVASIONS, ids=[repr(t) for t, _ in EVASIONS])
def test_evasion_is_caught_by_its_rule(policy: ContentPolicy, text: str, rule: str) -> None:
    match = policy.find(text)
    assert match is not None, f"{text!r} walked past"
    assert match.rule == rule
    # The match is a part of the original text, for an operator to read.
    assert match.matched
    assert match.matched in text


@pytest.mark.parametrize("text", EVERYDAY, ids=[repr(t) for t in EVERYDAY])
def test_everyday_remark_passes(policy: ContentPolicy, text: str) -> None:
    assert policy.find(text) is None


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("hello s-p-a-m world", "s-p-a-m"),
        ("我在賭 博网站", "賭 博"),
        ("visit \uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d now", None),
        ("call 138-1234-5678 today", "138-1234-5678"),
        ("加我 ①③⑧①②③④⑤⑥⑦⑧ 谢谢", "①③⑧①②③④⑤⑥⑦⑧"),
        ("write to a@b.com please", "a@b.com"),
        ("so spaaaam!", "spaaaam"),
    ],
)
def test_matched_is_the_original_text(
    policy: ContentPolicy, text: str, matched: str | None
) -> None:
    match = policy.find(text)
    assert match is not None
    expected = matched or "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"
    assert match.matched == expected


def test_allowed_word_wins_only_over_the_banned_word_it_holds() -> None:
    # Matching inside words (whole_words=False), where allowed words are needed.
    policy = ContentPolicy(always_banned=["sex"], allowed_words=["Essex"], whole_words=False)
    assert policy.find("Essex") is None
    assert policy.find("ESSEX county") is None
    assert policy.find("Essex sex") == ContentMatch("banned_word", "sex")
    # Without the allowed word, the same text is refused.
    # (Repeated letters count once: the match covers both s.)
    inside = ContentPolicy(always_banned=["sex"], whole_words=False)
    assert inside.find("Essex") == ContentMatch("banned_word", "ssex")
    # By default a Latin word matches whole: Essex holds no "sex", "sex" alone is one.
    whole = ContentPolicy(always_banned=["sex"])
    assert whole.find("Essex") is None
    assert whole.find("Middlesex sextant") is None
    assert whole.find("sex人") == ContentMatch("banned_word", "sex")  # beside Chinese
    assert whole.find("s-e-x!") == ContentMatch("banned_word", "s-e-x")


def test_a_word_of_two_parts_is_found_with_any_separator() -> None:
    policy = ContentPolicy(banned_words=["free money"])
    for text in ("free money", "FREE  MONEY", "free-money", "freemoney", "fr3e m0ney"):
        assert policy.find(text) is not None, text
    assert policy.find("money for free") is None


def test_rules_can_be_turned_off() -> None:
    policy = ContentPolicy(links=False, emails=False, contacts=False)
    assert policy.find("example.com a@b.com 13812345678") is None
    assert ContentPolicy(emails=False).find("a@b.com") is None
    assert ContentPolicy(links=False).find("a@b.com") == ContentMatch("email", "a@b.com")


def test_too_long_is_counted_in_utf8_bytes() -> None:
    policy = ContentPolicy()
    assert policy.find("好" * 32, max_bytes=96) is None  # 96 bytes
    assert policy.find("好" * 33, max_bytes=96) == ContentMatch("too_long", "好")
    assert policy.find("好" * 33) is None  # no limit given


@pytest.mark.parametrize(
    ("remark", "tag", "info"),
    [
        ("spam", "", "Remark: banned_word"),
        ("", "賭博", "TagName: banned_word"),
        ("x" * 97, "", "Remark: too_long"),
        ("", "x" * 31, "TagName: too_long"),
        ("example.com", "", "Remark: link"),
        ("", "a@b.com", "TagName: email"),
        ("13812345678", "", "Remark: contact"),
    ],
)
def test_result_info_names_field_and_rule_only(
    policy: ContentPolicy, remark: str, tag: str, info: str
) -> None:
    item = FriendResponseItem("requester", ResponseAction.REJECT, remark=remark, tag_name=tag)
    decision = policy(item, event(item))
    assert decision == Reject(38003, info)


def test_code_and_limits_can_be_set() -> None:
    policy = ContentPolicy(banned_words=["spam"], code=38500, max_remark_bytes=4)
    item = FriendResponseItem("requester", ResponseAction.AGREE, remark="hello")
    assert policy(item, event(item)) == Reject(38500, "Remark: too_long")
    clean = FriendResponseItem("requester", ResponseAction.AGREE, remark="hi", tag_name="家人")
    assert policy(clean, event(clean)) is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"banned_words": "spam"}, TypeError),
        ({"banned_words": ["spam", 3]}, TypeError),
        ({"code": 37999}, ValueError),
        ({"code": True}, ValueError),
        ({"max_remark_bytes": 0}, ValueError),
        ({"always_banned": "spam"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ContentPolicy(**kwargs)  # type: ignore[arg-type]


def test_reload_replaces_one_list_or_both() -> None:
    policy = ContentPolicy(banned_words=["spam"], allowed_words=["spamalot"])
    assert policy.find("spamalot") is None
    policy.reload(banned_words=["casino"])
    assert policy.find("spam") is None
    assert policy.find("casino") is not None
    assert policy.banned_count == 1
    policy.reload(allowed_words=["Casino Royale"])
    assert policy.find("casino royale") is None
    assert policy.find("casino-royale") is None  # its space gone, as in a banned word
    assert policy.find("casino") is not None
    policy.reload(banned_words=())
    assert policy.find("casino") is None


def test_reload_under_concurrent_find_never_sees_a_half_built_list() -> None:
    # Two lists of 3,000 words each, so that a build takes long enough to be met mid-way; the
    # probe holds one word of each, so any state but "list A" or "list B" shows.
    list_a = ["alpha", *(f"a{n}filler" for n in range(3000))]
    list_b = ["omega", *(f"b{n}filler" for n in range(3000))]
    policy = ContentPolicy(banned_words=list_a)
    seen: set[str | None] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                match = policy.find("alpha and omega")
                seen.add(None if match is None else match.matched)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(8):
            policy.reload(banned_words=list_b if round_ % 2 == 0 else list_a)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors
    assert None not in seen, "a find() ran against an empty or half-built list"
    assert seen <= {"alpha", "omega"}
    assert seen == {"alpha", "omega"}, "the readers did not overlap the reloads"


@pytest.mark.parametrize("word", ["Spaaam", "casino", "SSSex", "赌博", "代开发票", "賭博", "㐀㐁"])
def test_the_word_lists_quick_reading_is_the_full_one(word: str) -> None:
    assert words_of([word]) == [words_view(word)[0]]


@pytest.mark.parametrize(
    "text", ["a\ud800b", "\udfff赌博", "x\U0010ffff", "\x00spam", "\u01c5" * 10, "\ufdfa", "\u0301"]
)
def test_any_text_from_the_network_is_read(policy: ContentPolicy, text: str) -> None:
    match = policy.find(text, max_bytes=96)
    assert match is None or match.matched in text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_find_never_raises_and_matches_a_part_of_the_text(text: str) -> None:
    policy = ContentPolicy(always_banned=BANNED, allowed_words=ALLOWED)
    match = policy.find(text)
    assert match is None or (match.matched and match.matched in text)


def test_the_per_character_caches_are_bounded(policy: ContentPolicy) -> None:
    from flask_friendcb.policies import content, normalize

    # Remarks that walk through every code point, as a hostile sender's might.
    for start in range(0x4E00, 0x4E00 + normalize.CACHE_LIMIT + 4000, 30):
        policy.find("".join(map(chr, range(start, start + 30))))
    assert len(normalize._fold_cache) <= normalize.CACHE_LIMIT
    assert len(normalize._one_cache) <= normalize.CACHE_LIMIT
    assert len(normalize._separators) <= normalize.CACHE_LIMIT
    assert len(content._PAIRS) <= normalize.CACHE_LIMIT


def test_recent_results_are_kept_bounded_and_forgotten_on_reload() -> None:
    from flask_friendcb.policies.content import RESULTS_KEPT

    policy = ContentPolicy(banned_words=["spam"], keep_common=True)
    first = policy.find("spam here")
    assert policy.find("spam here") is first  # kept
    for n in range(RESULTS_KEPT + 10):
        policy.find(f"remark {n}")
    assert len(policy._lists.results) <= RESULTS_KEPT
    policy.reload(banned_words=["here"])
    assert policy.find("spam here") == ContentMatch("banned_word", "here")
    policy.links = False  # the rules in force are part of what is kept
    assert ContentPolicy(links=False).find("example.com") is None
    policy.reload(banned_words=())
    assert policy.find("example.com") is None
    policy.links = True
    assert policy.find("example.com") == ContentMatch("link", "example.com")


_WORDY = st.text(
    alphabet=st.sampled_from(list("ab sS1!|@$-._4赌博賭x\u3000\u200b\u202e\u202d\u202c\u2067zz")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_WORDY, st.text(max_size=40)), leet=st.sampled_from([0, 1, 2]))
def test_the_words_string_is_the_words_view_without_its_map(text: str, leet: int) -> None:
    # Every text is searched in the string; a match is mapped back through the view: both
    # must read the text the same way.
    plain = plain_view(text)
    words, origin = words_of_plain(plain, leet=leet)
    assert words_string(plain[0], leet=leet) == words
    assert len(origin) == len(words)
    assert all(0 <= index < len(text) for index in origin)


def test_reload_keeps_or_replaces_the_words_always_banned() -> None:
    policy = ContentPolicy(always_banned=["money"], banned_words=["casino"])
    assert policy.find("money") is not None  # everyday, but meant
    policy.reload(banned_words=["money"])  # checked: everyday, dropped
    assert policy.find("money") is not None  # still in always_banned
    assert policy.find("casino") is None
    policy.reload(always_banned=())
    assert policy.find("money") is None
    assert [dropped.word for dropped in policy.dropped] == ["money"]


def test_a_reversed_word_is_matched_as_the_reader_sees_it(policy: ContentPolicy) -> None:
    text = "hi \u202eonisac\u202c night"
    assert policy.find(text) == ContentMatch("banned_word", "onisac")
    # As stored, nothing is reversed: the same letters without the override are no word.
    assert policy.find("hi onisac night") is None


@settings(max_examples=200, deadline=None)
@given(text=_WORDY)
def test_find_reads_any_mix_of_controls_symbols_and_scripts(text: str) -> None:
    policy = ContentPolicy(always_banned=["spam", "赌博", "sab"], keep_common=True)
    match = policy.find(text)
    assert match is None or (match.matched and match.matched in text)
