"""example_app's policies, one by one, through the real callback route: each refuses with its
own ResultCode, at exactly its edge, and declining is always allowed."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import pytest
import tldextract
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from example_app import PolicyCode, create_app
from example_app.policies import get_policies
from flask_friendcb import ConfigError
from flask_friendcb.policies import ContentPolicy
from flask_friendcb.testing import response_item

from .conftest import ExampleService, example_config
from .servers import free_port
from .services import RedisServer

BuildExample = Callable[..., ExampleService]
DECLINE = "Response_Action_Reject"
AGREE = "Response_Action_Agree"


def test_the_codes_are_distinct_and_in_the_apps_range() -> None:
    codes = [int(code) for code in PolicyCode]
    assert len(set(codes)) == len(codes) == 3
    assert all(38000 <= code <= 38899 for code in codes)


# -- declining -------------------------------------------------------------------------------


def test_declining_is_allowed_even_from_and_to_a_blocklisted_account(
    example: BuildExample,
) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino")
    service.blocklist.add("mallory", "bot")
    service.blocklist.add("eve", "bot")
    items = [
        response_item("eve", DECLINE),
        response_item("bob", DECLINE, remark="casino www.example.com " + "x" * 100),
    ]
    assert service.callback("mallory", *items) == [(0, ""), (0, "")]
    rows = service.store.latest()
    assert {row["hook"] for row in rows} == {"example_app.policies.declining"}
    assert {row["outcome"] for row in rows} == {"allowed"}


# -- blocklist -------------------------------------------------------------------------------


def test_a_blocklisted_requester_cannot_be_accepted(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("spammer", "bot farm")
    assert service.callback("bob", "spammer", response_item("alice", AGREE)) == [
        (PolicyCode.BLOCKLISTED, "the requester is blocked"),
        (0, ""),
    ]


def test_a_blocklisted_responder_cannot_accept_anyone(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("hijacked", "")
    assert service.codes("hijacked", "alice", response_item("bob", AGREE)) == [
        PolicyCode.BLOCKLISTED,
        PolicyCode.BLOCKLISTED,
    ]
    assert service.callback("hijacked", "carol")[0][1] == "the responder is blocked"


def test_unblocking_applies_to_the_next_callback(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("eve", "")
    assert service.codes("bob", "eve") == [PolicyCode.BLOCKLISTED]
    assert service.blocklist.remove("eve") is True
    assert service.codes("bob", "eve") == [0]
    assert service.blocklist.remove("eve") is False


def test_the_blocklist_decides_before_the_content_policy(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("eve", "")
    item = response_item("eve", remark="www.example.com")
    assert service.codes("bob", item) == [PolicyCode.BLOCKLISTED]


# -- content ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remark", "allowed"),
    [
        ("a" * 96, True),
        ("a" * 97, False),
        ("好" * 32, True),  # 3 bytes each: 96
        ("好" * 32 + "a", False),
        ("é" * 48, True),  # 2 bytes each: 96
        ("é" * 48 + "a", False),
    ],
    ids=["96-ascii", "97-ascii", "96-cjk", "97-cjk", "96-latin", "97-latin"],
)
def test_remarks_are_limited_to_96_bytes_of_utf8(
    example: BuildExample, remark: str, allowed: bool
) -> None:
    expected = (0, "") if allowed else (PolicyCode.CONTENT, "the remark is over 96 bytes")
    assert example().callback("bob", response_item("alice", remark=remark)) == [expected]


@pytest.mark.parametrize(
    ("tag", "allowed"),
    [("t" * 30, True), ("t" * 31, False), ("组" * 10, True), ("组" * 10 + "t", False)],
    ids=["30-ascii", "31-ascii", "30-cjk", "31-cjk"],
)
def test_friend_groups_are_limited_to_30_bytes_of_utf8(
    example: BuildExample, tag: str, allowed: bool
) -> None:
    expected = (0, "") if allowed else (PolicyCode.CONTENT, "the friend group is over 30 bytes")
    assert example().callback("bob", response_item("alice", tag_name=tag)) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "see http://spam.example",
        "HTTPS://X.Y",
        "weixin://dl/chat",
        "www.example",
        "buy at shop.example.com now",
        "bit.ly/abc",
        "\uff57\uff57\uff57\uff0e\uff53\uff50\uff41\uff4d\uff0e\uff43\uff4f\uff4d",  # full-width
        "\uff48\uff54\uff54\uff50\uff53\uff1a\uff0f\uff0fx",  # full-width https://x
        "\U0001d430\U0001d430\U0001d430.spam.com",  # mathematical bold www
        "\u24e6\u24e6\u24e6.spam.com",  # circled letters
        "spam\u3002com",  # the ideographic full stop IDNA reads as a dot
        "spam\uff61cn",  # its half-width form
        "ww\u200bw.spam.com",  # a zero-width space inside
        "例子.cn",
    ],
)
def test_a_link_in_a_remark_is_refused(example: BuildExample, text: str) -> None:
    assert example().callback("bob", response_item("alice", remark=text)) == [
        (PolicyCode.CONTENT, "the remark holds a link")
    ]


def test_a_link_in_a_friend_group_is_refused(example: BuildExample) -> None:
    assert example().callback("bob", response_item("alice", tag_name="join t.me/x")) == [
        (PolicyCode.CONTENT, "the friend group holds a link")
    ]


@pytest.mark.parametrize(
    "text", ["Mr.Li", "hello.world", "a.b", "3.14", "met at the café", "同事", "e.g. work"]
)
def test_everyday_remarks_are_not_taken_for_links(example: BuildExample, text: str) -> None:
    assert example().codes("bob", response_item("alice", remark=text, tag_name=text[:10])) == [0]


@pytest.mark.parametrize(
    "text",
    [
        "Casino night",
        "CASINO",
        "\uff23\uff41\uff53\uff49\uff4e\uff4f",  # full-width
        "cas\u200bino",  # zero-width space
        "cas\u00adino",  # soft hyphen
        "\U0001d41c\U0001d41a\U0001d42c\U0001d422\U0001d427\U0001d428",  # mathematical bold
        "get FREE Money",
        "免费领取",
    ],
)
def test_banned_words_are_found_case_insensitively_after_nfkc(
    example: BuildExample, text: str
) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino, free money ,免费")
    assert service.callback("bob", response_item("alice", remark=text)) == [
        (PolicyCode.CONTENT, "the remark holds a banned word")
    ]


@pytest.mark.parametrize("text", ["c-a-s-i-n-o", "free  money", "freemoney", "免 费", "賭場"])
def test_banned_words_are_found_through_separators_and_scripts(
    example: BuildExample, text: str
) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino, free money ,免费, 赌场")
    assert service.codes("bob", response_item("alice", remark=text)) == [PolicyCode.CONTENT]


@pytest.mark.parametrize("text", ["cas ino", "the casual inn", "money for free", "免除费用"])
def test_everyday_words_near_banned_ones_pass(example: BuildExample, text: str) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino, free money ,免费")
    assert service.codes("bob", response_item("alice", remark=text)) == [0]


@pytest.mark.parametrize(
    ("text", "info"),
    [
        ("mail me: a@b.com", "the remark holds an e-mail address"),
        ("加我 ①③⑧ 一二三四 五六七八", "the remark holds a contact number"),
    ],
)
def test_e_mails_and_contact_numbers_are_refused(
    example: BuildExample, text: str, info: str
) -> None:
    assert example().callback("bob", response_item("alice", remark=text)) == [
        (PolicyCode.CONTENT, info)
    ]


def test_banned_words_apply_to_friend_groups_and_may_be_configured_full_width(
    example: BuildExample,
) -> None:
    service = example(EXAMPLE_BANNED_WORDS=["\uff33\uff30\uff21\uff2d"])  # full-width SPAM
    assert service.callback("bob", response_item("alice", tag_name="spam group")) == [
        (PolicyCode.CONTENT, "the friend group holds a banned word")
    ]


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def _disguise(word: str, data: st.DataObject) -> str:
    out = []
    for char in word:
        style = data.draw(st.sampled_from(["plain", "upper", "full", "zero-width"]))
        if style == "upper":
            char = char.upper()
        elif style == "full":
            char = _FULL_WIDTH.get(char, char)
        elif style == "zero-width":
            char += data.draw(st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"]))
        out.append(char)
    return "".join(out)


@settings(max_examples=100, deadline=None)
@given(
    word=st.text(st.characters(min_codepoint=0x61, max_codepoint=0x7A), min_size=3, max_size=8),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    data=st.data(),
)
def test_a_disguised_banned_word_is_still_found(
    word: str, before: str, after: str, data: st.DataObject
) -> None:
    # Letters around the word may not combine with it: a space on each side keeps it whole.
    text = f"{before} {_disguise(word, data)} {after}"
    match = _content(word).find(text)
    assert match is not None
    assert match.rule == "banned_word"


@settings(max_examples=100, deadline=None)
@given(host=st.from_regex(r"[a-z]{2,10}\.(com|cn|net)", fullmatch=True), data=st.data())
def test_a_disguised_domain_is_still_a_link(host: str, data: st.DataObject) -> None:
    # A host that is itself a public suffix ("bj.cn", Beijing's) names no site.
    assume(_SUFFIXES(host).domain != "")
    disguised = _disguise(host, data)
    match = _content().find(disguised)
    assert match is not None, disguised
    assert match.rule == "link"


_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
_POLICIES: dict[str, ContentPolicy] = {}
# The apps' files, removed when the interpreter exits.
_FOLDER = tempfile.TemporaryDirectory(prefix="friendcb-content-")


def _content(word: str = "") -> ContentPolicy:
    """The service's content policy with ``word`` banned (one per word, kept: building an
    app per example would be slow)."""
    if word not in _POLICIES:
        database = os.path.join(_FOLDER.name, f"content{len(_POLICIES)}.sqlite3")
        app = create_app(example_config(database, EXAMPLE_BANNED_WORDS=word))
        _POLICIES[word] = get_policies(app).content
    return _POLICIES[word]


# -- velocity --------------------------------------------------------------------------------


def test_exactly_the_default_limit_of_acceptances_is_allowed(example: BuildExample) -> None:
    service = example()
    codes = [service.codes("bot", f"friend{i}")[0] for i in range(21)]
    assert codes == [0] * 20 + [PolicyCode.VELOCITY]
    assert service.callback("bot", "one-more") == [
        (PolicyCode.VELOCITY, "more than 20 acceptances in 60 s")
    ]


def test_acceptances_in_one_callback_count_one_by_one(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT="3")
    items = ["a", response_item("b", AGREE), "c", "d", response_item("e", DECLINE)]
    assert service.codes("bot", *items) == [0, 0, 0, PolicyCode.VELOCITY, 0]


def test_a_fractional_window_is_told_as_it_is_counted(example: BuildExample) -> None:
    # Counted in whole seconds, rounded up: the answer says the window that holds.
    service = example(EXAMPLE_VELOCITY_LIMIT=1, EXAMPLE_VELOCITY_WINDOW=1.5)
    assert service.callback("bot", "a", "b")[1] == (
        PolicyCode.VELOCITY,
        "more than 1 acceptances in 2 s",
    )


def test_the_window_slides(example: BuildExample) -> None:
    # The counts are the storage's (shared by every worker), kept on the real clock.
    service = example(EXAMPLE_VELOCITY_LIMIT=2, EXAMPLE_VELOCITY_WINDOW=1)
    assert service.codes("bot", "a", "b", "c") == [0, 0, PolicyCode.VELOCITY]
    time.sleep(1.1)
    assert service.codes("bot", "d", "e", "f") == [0, 0, PolicyCode.VELOCITY]


def test_velocity_and_blocklist_live_beside_the_database(example: BuildExample) -> None:
    service = example()
    folder = os.path.dirname(service.database)
    assert get_policies(service.app).velocity.storage_uri == "lmdb:///" + os.path.join(
        folder, "velocity.lmdb"
    )
    service.blocklist.add("eve")
    other = example()  # another worker, or the service restarted
    assert "eve" in other.blocklist


def test_velocity_is_per_responder_and_ignores_declines(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT=1)
    declines = [response_item(f"x{i}", DECLINE) for i in range(5)]
    assert service.codes("alice", *declines, "a") == [0] * 6
    assert service.codes("bob", "a") == [0]
    assert service.codes("alice", "b") == [PolicyCode.VELOCITY]


def test_refused_acceptances_do_not_use_up_the_allowance(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT=1)
    service.blocklist.add("eve", "")
    spam = response_item("x", remark="www.example.com")
    assert service.codes("bob", "eve", spam, "alice") == [
        PolicyCode.BLOCKLISTED,
        PolicyCode.CONTENT,
        0,
    ]


# -- storages: SQLite beside the database, or Redis ----------------------------------------------


def test_on_redis_every_instance_shares_the_blocklist_and_the_counts(
    example: BuildExample, redis_url: str
) -> None:
    first = example(EXAMPLE_REDIS_URL=redis_url, EXAMPLE_VELOCITY_LIMIT=2)
    second = example(EXAMPLE_REDIS_URL=redis_url, EXAMPLE_VELOCITY_LIMIT=2)
    assert get_policies(first.app).velocity.storage_uri == redis_url
    first.blocklist.add("eve", "bot")
    assert second.codes("eve", "bob") == [PolicyCode.BLOCKLISTED]
    assert first.codes("bot", "a") == [0]
    assert second.codes("bot", "b", "c") == [0, PolicyCode.VELOCITY]


@pytest.mark.parametrize("url", ["localhost:6379", "http://127.0.0.1:6379", "mysql://x"])
def test_a_malformed_redis_url_names_the_variable(example: BuildExample, url: str) -> None:
    with pytest.raises(ConfigError, match=r"^EXAMPLE_REDIS_URL: must be a redis://") as error:
        example(EXAMPLE_REDIS_URL=url)
    assert "\n" not in str(error.value)


def test_an_unreachable_redis_fails_at_start_up_in_one_line(example: BuildExample) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(
        ConfigError, match=r"^EXAMPLE_REDIS_URL: cannot use redis://\*\*\*@"
    ) as error:
        example(EXAMPLE_REDIS_URL=url)
    message = str(error.value)
    assert "\n" not in message
    assert "hunter2-secret" not in message


def test_a_dead_redis_costs_the_check_not_the_answer(
    example: BuildExample, redis_server: RedisServer, redis_url: str
) -> None:
    service = example(EXAMPLE_REDIS_URL=redis_url)
    service.blocklist.add("eve")
    assert service.codes("eve", "bob") == [PolicyCode.BLOCKLISTED]
    redis_server.stop()
    started = time.monotonic()
    # Allowed: the blocklist and the velocity policies let items through while Redis is down.
    assert service.codes("eve", "bob", "carol") == [0, 0]
    assert time.monotonic() - started < 2.0
    client = service.app.test_client()
    listing = client.get("/api/blocklist", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert listing.status_code == 503
    assert listing.json == {"error": "the blocklist is unavailable; try again"}


# -- the blocklist command -------------------------------------------------------------------


def test_the_blocklist_command(example: BuildExample) -> None:
    service = example()
    runner = service.app.test_cli_runner()
    added = runner.invoke(args=["blocklist", "add", "eve", "--reason", "bot farm"])
    assert added.exit_code == 0, added.output
    assert added.output == "blocked eve\n"
    assert service.codes("eve", "bob") == [PolicyCode.BLOCKLISTED]
    assert runner.invoke(args=["blocklist", "add", "mallory\tx\x1b[31m"]).exit_code == 0
    listed = runner.invoke(args=["blocklist", "list"])
    assert listed.exit_code == 0
    header, *lines = listed.output.splitlines()
    assert header == "account\tadded (UTC)\treason"
    assert len(lines) == 2
    account, added_at, reason = lines[0].split("\t")
    assert (account, reason) == ("eve", "bot farm")
    assert added_at == "2023-11-14T22:13:20Z"  # the app's (frozen) clock
    # A hostile account cannot write to the terminal: control characters are shown escaped.
    assert lines[1].startswith("mallory\\tx\\x1b[31m\t")
    removed = runner.invoke(args=["blocklist", "remove", "eve"])
    assert (removed.exit_code, removed.output) == (0, "unblocked eve\n")
    again = runner.invoke(args=["blocklist", "remove", "eve"])
    assert again.exit_code == 1
    assert "eve is not on the blocklist" in again.output
    assert service.codes("eve", "bob") == [0]
    assert runner.invoke(args=["blocklist", "add", ""]).exit_code == 2
    # Any account that can arrive on the wire can be blocked, a blank one too, as on the page.
    assert runner.invoke(args=["blocklist", "add", " "]).output == "blocked \\x20\n"
    assert service.codes(" ", "bob") == [PolicyCode.BLOCKLISTED]


def test_the_blocklist_command_reports_a_dead_storage(
    example: BuildExample, redis_server: RedisServer, redis_url: str
) -> None:
    service = example(EXAMPLE_REDIS_URL=redis_url)
    redis_server.stop()
    result = service.app.test_cli_runner().invoke(args=["blocklist", "add", "eve"])
    assert result.exit_code == 1
    assert "the blocklist could not be changed" in result.output
