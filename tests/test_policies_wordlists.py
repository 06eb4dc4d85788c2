"""ContentPolicy with real word lists (houbb/sensitive-word's dictionary), the load check, the
``flask friendcb words check`` command, and the rules read from Unicode's and the public
suffix list's own data."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.policies import ALLOWED, BANNED, EVASIONS, EVERYDAY, EVERYDAY_MORE
from flask_friendcb.cli import words_group
from flask_friendcb.policies import ContentMatch, ContentPolicy
from flask_friendcb.policies.normalize import display_order, fold, to_simplified
from flask_friendcb.policies.wordlists import EVERYDAY_ROLES, check_words, zipf

PUBLIC_LIST = Path(__file__).parent / "data" / "sensitive-word" / "dict_v20240407.txt"


@pytest.fixture(scope="module")
def public_words() -> list[str]:
    return PUBLIC_LIST.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def public_policy(public_words: list[str]) -> ContentPolicy:
    return ContentPolicy(banned_words=public_words, always_banned=BANNED, allowed_words=ALLOWED)


def test_the_public_list_is_the_one_published(public_words: list[str]) -> None:
    assert len(public_words) == 65_143
    licence = PUBLIC_LIST.with_name("LICENSE.txt").read_text(encoding="utf-8")
    assert "Apache License" in licence
    assert "b86249ddfa381b426359a420623486e099c2092d" in PUBLIC_LIST.with_name(
        "NOTICE.md"
    ).read_text(encoding="utf-8")


def test_with_the_public_list_no_everyday_remark_is_refused(
    public_policy: ContentPolicy,
) -> None:
    remarks = [text for text in (*EVERYDAY, *EVERYDAY_MORE) if text]
    assert len(remarks) == 138
    assert [text for text in remarks if public_policy.find(text) is not None] == []


def test_with_the_public_list_every_evasion_is_still_refused(public_policy: ContentPolicy) -> None:
    assert [text for text, _ in EVASIONS if public_policy.find(text) is None] == []


def test_passed_straight_in_the_list_is_checked_and_the_drop_logged(
    public_words: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="flask_friendcb.policies"):
        policy = ContentPolicy(banned_words=public_words)
    reasons = {dropped.word: dropped.reason for dropped in policy.dropped}
    assert reasons["电影"] == "common_word"
    assert reasons["房间"] == "common_word"
    assert "赌博" not in reasons  # a sensitive word, less common than that
    assert policy.find("电影院认识的") is None  # 影院 is listed; 电影院 is an everyday word
    assert policy.find("成人影院") is not None
    assert policy.find("赌博") is not None
    # A word meant whatever it is stays refused inside an everyday word that holds it.
    strict = ContentPolicy(banned_words=public_words, always_banned=["电影院"])
    assert strict.find("电影院认识的") is not None
    (line,) = [r.getMessage() for r in caplog.records if "banned_words" in r.getMessage()]
    assert f"{len(public_words)} entries, {len(policy.dropped)} dropped" in line
    # Kept on purpose: the list stays as given.
    kept = ContentPolicy(banned_words=["电影", "b"], keep_common=True)
    assert kept.find("看电影") is not None
    assert kept.find("plan b") is not None
    assert kept.dropped == ()
    assert ContentPolicy(always_banned=["电影"]).find("看电影") is not None


def test_the_frequency_lists_are_let_go_once_the_lists_are_built() -> None:
    from flask_friendcb.policies import wordlists

    policy = ContentPolicy(banned_words=["电影", "casino night"])
    assert wordlists._frequencies == {}  # some 70 MB that matching never reads
    assert [dropped.word for dropped in policy.dropped] == ["电影"]
    policy.reload(banned_words=["房间"])  # read again for the next check
    assert [dropped.word for dropped in policy.dropped] == ["房间"]
    assert wordlists._frequencies == {}


def test_one_character_entries_and_everyday_words_are_dropped_with_their_reason() -> None:
    check = check_words(
        ["b", "\uff22", "操", "64", "8964", "money", "casino night", "赌博", "电影"]
    )
    assert check.kept == ("8964", "casino night", "赌博")
    assert [(d.word, d.reason) for d in check.dropped] == [
        ("b", "one_character"),
        ("\uff22", "one_character"),
        ("操", "one_character"),
        ("64", "short_number"),
        ("money", "common_word"),
        ("电影", "common_word"),
    ]
    assert check.counts() == {"one_character": 3, "short_number": 1, "common_word": 2}
    assert "Zipf" in check.dropped[4].detail
    # A phrase the frequency list lacks is estimated from its words: 好朋友 is everyday.
    assert zipf("好朋友")[0] >= 4.5 > zipf("代开发票")[0]


def test_a_word_for_who_a_contact_is_is_everyday_from_a_lower_frequency() -> None:
    # 中介 (4.24) and 导师 (4.40) are as common as 赌博 (4.20) and 色情 (4.45): frequency alone
    # cannot tell them apart, the vocabulary of roles does.
    check = check_words(["中介", "導師", "赌博", "色情", "代开发票", "月嫂"])
    assert check.kept == ("赌博", "色情", "代开发票", "月嫂")  # 月嫂: too rare to be judged
    assert [(d.word, d.reason) for d in check.dropped] == [
        ("中介", "common_word"),
        ("導師", "common_word"),
    ]
    assert "who a contact is" in check.dropped[0].detail
    assert zipf("赌博")[0] < zipf("中介")[0] < zipf("导师")[0] < zipf("色情")[0] < 4.5
    assert all(len(role) >= 2 and role == to_simplified(role) for role in EVERYDAY_ROLES)
    # Kept on purpose, a role stays refused.
    assert ContentPolicy(banned_words=["中介"], keep_common=True).find("中介 李经理") is not None
    assert ContentPolicy(always_banned=["中介"]).find("中介 李经理") is not None
    assert ContentPolicy(banned_words=["中介", "肾源中介"]).find("肾源中介") is not None


def test_a_single_letter_entry_no_longer_refuses_basketball() -> None:
    policy = ContentPolicy(banned_words=["b", "ball"])
    assert [dropped.word for dropped in policy.dropped] == ["b", "ball"]  # "ball" is everyday
    assert policy.find("b") is None
    kept = ContentPolicy(banned_words=["b", "ball"], keep_common=True)
    assert kept.find("basketball team") is None  # matched as whole words
    assert kept.find("b") == ContentMatch("banned_word", "b")
    assert kept.find("ball game") == ContentMatch("banned_word", "ball")
    inside = ContentPolicy(banned_words=["b", "ball"], keep_common=True, whole_words=False)
    assert inside.find("basketball team") == ContentMatch("banned_word", "b")


def test_words_check_prints_what_would_be_dropped_and_why(tmp_path: Path) -> None:
    listed = tmp_path / "banned.txt"
    listed.write_text("b\n电影\n赌博\n\n", encoding="utf-8")
    result = CliRunner().invoke(words_group, ["check", str(listed)])
    assert result.exit_code == 0, result.output
    assert "b\tone_character\t" in result.stdout
    assert "电影\tcommon_word\tZipf frequency" in result.stdout
    assert "赌博" not in result.stdout
    summary = "3 entries: 1 kept, 2 dropped (1 of one character, 0 short numbers, 1 everyday words)"
    assert summary in result.stderr


def test_the_word_frequencies_are_read_offline() -> None:
    # A fresh interpreter with every socket refused: wordfreq's data is in its wheel.
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network refused by the test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from flask_friendcb.policies.wordlists import zipf\n"
        "assert zipf('电影')[0] > 5, zipf('电影')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


# From Unicode's own data: every character whose name says it is a Latin letter in a style
# (small capital, circled, negative circled, squared, parenthesized, mathematical, modifier,
# regional indicator) folds to that letter.
_STYLED = re.compile(
    r"^(?:(?:NEGATIVE )?(?:CIRCLED|SQUARED)|PARENTHESIZED|MATHEMATICAL [A-Z -]+|FULLWIDTH)?"
    r" ?LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$|^LATIN LETTER SMALL CAPITAL ([A-Z])$"
    r"|^MODIFIER LETTER (?:CAPITAL|SMALL) ([A-Z])$|^REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$"
    r"|^MATHEMATICAL [A-Z -]+ (?:CAPITAL|SMALL) ([A-Z])$"
)


def test_every_latin_letter_style_unicode_names_folds_to_its_letter() -> None:
    styled = {}
    for code in range(0x80, 0x20000):
        match = _STYLED.match(unicodedata.name(chr(code), ""))
        if match:
            styled[chr(code)] = next(group for group in match.groups() if group).lower()
    assert len(styled) > 900  # the mathematical alphabets alone hold some 700
    wrong = {char: fold(char) for char, letter in styled.items() if fold(char) != letter}
    assert wrong == {}


def test_unicode_confusables_of_latin_letters_read_as_the_letter() -> None:
    from confusable_homoglyphs import confusables

    # Unicode's confusables (UTS #39): each single character listed as looking like an ASCII
    # letter, in a script that is not Latin (Cyrillic, Greek, Armenian, Cherokee, ...).
    data = confusables.confusables_data
    pairs = [
        (char, homoglyph["c"])
        for char, homoglyphs in data.items()
        if len(char) == 1 and char.isalpha() and not char.isascii()
        for homoglyph in homoglyphs
        if len(homoglyph["c"]) == 1 and homoglyph["c"].isascii() and homoglyph["c"].isalpha()
    ]
    assert len(pairs) > 1000
    # Each reads as the letter it looks like, or, where Unicode decomposes it to a letter of
    # its own (a mathematical capital I, listed as like l; the long s, listed as like f), as
    # that letter.
    unread = [
        (char, letter)
        for char, letter in pairs
        if fold(char) not in (letter.lower(), unicodedata.normalize("NFKD", char).casefold())
    ]
    assert unread == []


def test_links_spelled_out_with_every_short_public_suffix_are_links() -> None:
    import tldextract

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    suffixes = [
        suffix
        for suffix in extract.tlds
        if suffix.isascii() and suffix.isalpha() and len(suffix) <= 3 and "." not in suffix
    ]
    assert len(suffixes) > 250  # every two-letter country code, and com, net, org, top...
    policy = ContentPolicy()
    missed = [
        suffix
        for suffix in suffixes
        if (policy.find(f"mybrand dot {suffix}") or ContentMatch("too_long", "")).rule != "link"
    ]
    assert missed == []
    # Not a suffix: "polka dot dress" stays a dress.
    assert "dress" not in suffixes or policy.find("polka dot dress") is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\u202emaps\u202c", "spam"),
        ("ab\u202ecd\u202cef", "abdcef"),
        ("x\u202e\u202dab\u202ccd\u202c", "xdcab"),  # an LTR override inside an RTL one
        ("plain", None),
        ("a\u202bb\u202c", None),  # an embedding alone does not turn Latin letters round
    ],
)
def test_display_order_applies_overrides(text: str, shown: str | None) -> None:
    order = display_order(text)
    if shown is None:
        assert order is None or "".join(text[i] for i in order if text[i].isalnum()) == "ab"
        return
    assert order is not None
    assert "".join(text[i] for i in order if text[i].isalnum()) == shown


def test_pinyin_can_be_switched_off_and_short_syllables_never_match() -> None:
    on = ContentPolicy(always_banned=["赌博", "博"])
    off = ContentPolicy(always_banned=["赌博"], pinyin=False)
    assert on.find("DU BO") is not None
    assert off.find("DU BO") is None
    assert on.find("bo from work") is None
    assert on.find("bob") is None
    assert on.find("dubok") is None  # whole words only


def test_spelled_out_links_can_be_switched_off() -> None:
    assert ContentPolicy().find("shop dot net") == ContentMatch("link", "shop dot net")
    assert ContentPolicy(spelled_out=False).find("shop dot net") is None
    assert ContentPolicy().find("met at school, polka dot dress") is None


def test_symbols_read_as_letters_only_where_the_plain_reading_misses() -> None:
    policy = ContentPolicy(always_banned=["vie", "shit"])
    assert policy.find("v1.3 release") is None  # a version stays a version
    assert policy.find("sh!t") == ContentMatch("banned_word", "sh!t")
    assert policy.find("sh1t") == ContentMatch("banned_word", "sh1t")
    assert policy.find("wow!") is None


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("spam", ()),
        ("sp4m", ("symbols",)),
        ("du bo", ("pinyin",)),
        ("\u202emaps\u202c", ("displayed",)),
        ("shop dot net", ("spelled_out",)),
        ("a.example.com", ()),
    ],
)
def test_a_match_says_how_the_text_was_read(text: str, readings: tuple[str, ...]) -> None:
    match = ContentPolicy(always_banned=["spam", "赌博"]).find(text)
    assert match is not None
    assert match.readings == readings
    # For an operator only: a match equals one of the same rule and text, however read.
    assert match == ContentMatch(match.rule, match.matched)


def test_a_number_matches_as_a_whole_number() -> None:
    policy = ContentPolicy(always_banned=["8964", "64"])
    assert policy.find("8964") == ContentMatch("banned_word", "8964")
    assert policy.find("六月 8964!") is not None
    assert policy.find("class of 1989, room 189640") is None
    assert policy.find("64GB") is not None  # a letter beside a digit edge is no longer number
    assert policy.find("1964") is None
