"""The ready policies: how much they catch, what they cost, and at what list size.

``python -m bench.policies`` (``make bench`` runs it after the rest) prints:

- the evasion table (English and Chinese): evasions caught / total, everyday remarks refused
  / total (false positives);
- houbb/sensitive-word's dictionary passed straight in: what the load check drops, everyday
  remarks refused (bar: none), evasions still refused;
- ``ContentPolicy.find`` per remark at 100 and at 100,000 banned words (medians, and their
  ratio, which must stay at most 1.5: the list size must not matter), and the time to build
  the 100,000-word policy (under 5 s);
- ``ContentPolicy.find`` on a 256-byte request wording, Chinese, English and mixed, every
  rule on (bar: under 100 µs);
- ``ContentPolicy`` at the request step (an ``on_friend_add`` hook on a request with a
  256-byte ``AddWording``, a ``Remark`` and a ``GroupName``) at 100 and at 100,000 banned
  words (bar: under 100 µs, ratio at most 1.5);
- ``RateLimitPolicy`` checks per second on Redis (a throwaway ``redis-server`` on a free
  loopback port) from one process.

The costs are the benchmark thread's CPU time (``time.thread_time``), each round after a
garbage collection, as in the in-process table: what other processes of a shared machine do
is not counted, nor a collection of what earlier parts of the run left.

The tables are also what ``tests/test_policies_content.py`` checks, case by case.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask_friendcb.models import CallbackContext, FriendAddEvent, FriendAddItem
from flask_friendcb.protocol import FRIEND_ADD_COMMAND

#: The banned and allowed words the tables are read with.
BANNED = (
    "spam",
    "casino",
    "free money",
    "fuck",
    "cunt",
    "sex",
    "shit",
    "slut",
    "赌博",
    "色情",
    "代开发票",
)
ALLOWED = ("essex", "sussex", "middlesex", "scunthorpe")

#: Evasions, each with the rule that must catch it.
EVASIONS: tuple[tuple[str, str], ...] = (
    # English banned words
    ("spam", "banned_word"),
    ("SPAM here", "banned_word"),
    ("\uff33\uff50\uff41\uff4d", "banned_word"),  # full-width
    ("\u0455\u0440\u0430\u043c", "banned_word"),  # Cyrillic look-alikes
    ("\u0455p\u0430m", "banned_word"),  # mixed scripts
    ("\u24e2\u24df\u24d0\u24dc", "banned_word"),  # circled
    ("\U0001d42c\U0001d429\U0001d41a\U0001d426", "banned_word"),  # mathematical bold
    ("\U0001d4c8\U0001d4c5\U0001d4b6\U0001d4c2", "banned_word"),  # mathematical script
    ("s-p-a-m", "banned_word"),
    ("s.p.a.m", "banned_word"),
    ("s p a m", "banned_word"),
    ("s_p_a_m", "banned_word"),
    ("s*p*a*m!", "banned_word"),
    ("s\u200bp\u200ba\u200bm", "banned_word"),  # zero-width spaces
    ("s\u202ep\u202ca\u2066m", "banned_word"),  # bidirectional controls
    ("s\u00adpam", "banned_word"),  # soft hyphen
    ("spaaaaam", "banned_word"),
    ("sssppaammm", "banned_word"),
    ("sp4m", "banned_word"),
    ("5p@m", "banned_word"),
    ("spa\u0301m", "banned_word"),  # combining accent
    ("\u015bp\u00e0m", "banned_word"),  # precomposed accents
    ("c4sino night", "banned_word"),
    ("\u03f2asino", "banned_word"),  # Greek lunate sigma for c
    ("FREE MONEY", "banned_word"),
    ("free-money", "banned_word"),
    ("fr33 m0ney", "banned_word"),
    ("f*u*c*k", "banned_word"),
    ("\u1da0\u1d58\u1d9c\u1d4f", "banned_word"),  # modifier (superscript) letters
    ("s e x", "banned_word"),
    # letter styles without a decomposition, read from their Unicode names
    ("\ua731\u1d18\u1d00\u1d0d", "banned_word"),  # small capitals
    ("\U0001f162\U0001f15f\U0001f150\U0001f15c", "banned_word"),  # negative circled
    ("\U0001f182\U0001f17f\U0001f170\U0001f17c", "banned_word"),  # negative squared
    ("\U0001f142\U0001f13f\U0001f130\U0001f13c", "banned_word"),  # squared
    ("\u24ae\u24ab\u249c\u24a8", "banned_word"),  # parenthesized
    ("\U0001f1f8\U0001f1f5\U0001f1e6\U0001f1f2", "banned_word"),  # regional indicators
    ("\U0001d598\U0001d595\U0001d586\U0001d592", "banned_word"),  # mathematical fraktur
    # symbols for letters
    ("sh!t", "banned_word"),
    ("sh1t", "banned_word"),
    ("$lut", "banned_word"),
    ("s|ut", "banned_word"),
    ("c@$ino", "banned_word"),
    # a word stored backwards behind a right-to-left override: the reader sees "spam"
    ("\u202emaps\u202c", "banned_word"),
    ("hi \u202eonisac\u202c night", "banned_word"),
    # pinyin of a Chinese banned word, with or without separators
    ("dubo", "banned_word"),
    ("du bo", "banned_word"),
    ("Du-Bo wang", "banned_word"),
    ("se qing", "banned_word"),
    ("DAIKAIFAPIAO", "banned_word"),
    ("dai kai fa piao", "banned_word"),
    # Chinese banned words
    ("赌博", "banned_word"),
    ("賭博", "banned_word"),  # traditional
    ("赌 博", "banned_word"),
    ("賭\u3000博", "banned_word"),  # ideographic space
    ("赌-博", "banned_word"),
    ("赌\u200b博", "banned_word"),
    ("色 情 网站", "banned_word"),
    ("代開發票", "banned_word"),  # traditional
    ("代.开.发.票", "banned_word"),
    # links
    ("example.com", "link"),
    ("visit EXAMPLE.COM", "link"),
    ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "link"),  # full-width
    ("example\u3002com", "link"),  # ideographic full stop
    ("example\uff61com", "link"),  # half-width ideographic full stop
    ("www.example", "link"),
    ("http://x.y", "link"),
    ("weixin://dl/chat", "link"),
    ("例子.cn", "link"),
    ("bit.ly/abc", "link"),
    ("t.me/joinchannel", "link"),
    ("加我 abc.top", "link"),
    ("shop.example.com.cn", "link"),
    ("\u0435x\u0430mple.com", "link"),  # Cyrillic look-alikes
    # e-mail addresses
    ("a@b.com", "email"),
    ("mail me: foo\uff20bar\uff0ecom", "email"),  # full-width @ and dot
    ("me@example\u3002com", "email"),
    # links and e-mail addresses written out
    ("shop dot net", "link"),
    ("shop(dot)net", "link"),
    ("shop[.]net", "link"),
    ("shop点net", "link"),
    ("shop . net", "link"),
    ("w w w . s h o p . n e t", "link"),
    ("visit shop DOT com now", "link"),
    ("me at mail dot net", "email"),
    ("me(at)mail(dot)net", "email"),
    ("me[at]mail[.]net", "email"),
    ("me#mail(dot)net", "email"),
    # contact numbers
    ("13812345678", "contact"),
    ("138-1234-5678", "contact"),
    ("138 1234 5678", "contact"),
    ("\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "contact"),
    ("①③⑧①②③④⑤⑥⑦⑧", "contact"),
    ("\U0001d7cf\U0001d7d1\U0001d7d6\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2\U0001d7d3", "contact"),
    ("¹³⁸¹²³⁴⁵⁶⁷⁸", "contact"),
    ("一三八一二三四五六七八", "contact"),
    ("壹叁捌 壹贰叁肆 伍陆柒捌", "contact"),
    ("幺三八-幺二三四-五六七八", "contact"),
    ("+86 138 1234 5678", "contact"),
    ("加我QQ 12345", "contact"),
    ("微信: 98765", "contact"),
)

#: Everyday remarks and friend groups: none may be refused.
EVERYDAY: tuple[str, ...] = (
    "this pam is mine",
    "the spa manager",
    "this exam is hard",
    "best.friends",
    "No.1",
    "hello.world",
    "hello world",
    "生日 1999-12-31",
    "生日19991231",
    "房间302",
    "room 1203",
    "Essex",
    "Sussex uni",
    "Scunthorpe United",
    "class of 2024",
    "see you at 3pm",
    "e.g. a friend",
    "Mr. Smith",
    "Mr.Li",
    "Dr.Ma",
    "I am a student",
    "call me maybe",
    "3.14159",
    "好朋友",
    "同事 小王",
    "大学同学",
    "2024年12月31日",
    "高中同学 三班",
    "一二三 木头人",
    "老张 138",
    "张三 (同事)",
    "同学.小李",
    "Family",
    "Work",
    "家人",
    "John \U0001f600",
    "",
    # dots in titles, abbreviations, software names, ratings and versions
    "Mr. Li",
    "U.K. cousin",
    "Ph.D. classmate",
    "St. Louis trip",
    "next.js club",
    "node.js meetup",
    "rated 4.5 stars",
    "v2.3.1 tester",
    "Python 3.11 group",
    "see you at 7.30",
    # "at" and "dot" as English words; a Latin syllable that is also pinyin
    "met at school",
    "Wang at HR",
    "polka dot dress",
    "dot and dash",
    "bo from work",
    "Bob from work",
    "Li Bo (friend)",
    "basketball team",
    "I love sushi",
    "classic cars",
    "sextant collector",
    "Dickens fan",
    "flower shop",
    "seeyou tomorrow",
    "see you at the gym",
    # Chinese remarks with numbers and dots
    "楼下邻居 3.5号楼",
    "5点30分 接孩子",
    "房间302的阿姨",
    "2号线 地铁认识",
    "同学会 2024",
    "老李 2019年认识",
    "v1.2 测试群",
    # years, ages and room numbers (public lists hold "64", "89" and "610")
    "class of 1989",
    "89年的 老乡",
    "Room 64",
    "610宿舍 室友",
    "2064 fan club",
)

#: More everyday remarks, for the public word list (houbb/sensitive-word's dictionary): what
#: people call their friends, in Chinese and English.
EVERYDAY_MORE: tuple[str, ...] = (
    "Dr. Wang dentist",
    "Mt. Tai hiking",
    "a.m. shift",
    "iPhone 15 seller",
    "met at the gym",
    "Lisa (at work)",
    "Tom, sales",
    "gaming buddy",
    "my boss",
    "uncle Joe",
    "neighbour 3B",
    "landlord",
    "piano teacher",
    "yoga class",
    "hiking club",
    "Cantonese tutor",
    "college roommate",
    "book club",
    "coffee shop owner",
    "Amazon driver",
    "Alex's mum",
    "小王 同事",
    "房东 张阿姨",
    "健身房教练",
    "电影院认识的",
    "看电影的朋友",
    "同一个房间的室友",
    "公司前台",
    "篮球队 队长",
    "钢琴老师",
    "表哥",
    "大学室友 老王",
    "王总 客户",
    "深圳 做支付的",
    "上海 设计师",
    "老乡 湖南",
    "微博上认识的",
    "游戏好友",
    "高铁上认识的",
    "小区业主群",
    "孩子同学的妈妈",
    "驾校教练",
    "快递小哥",
    "中介 李经理",
    "瑜伽课 同学",
    "初中同桌",
    "日语班 同学",
    "广州 卖水果的",
    "前同事 阿里",
    "北京 出差认识",
    "舅舅",
    "奶奶",
    "男朋友",
    "宝宝的干妈",
    "研究生 导师",
    "中国银行 客户经理",
    "学习小组",
    "电影爱好者",
    "老师 数学",
    "Mom",
    "Dad",
    "bestie",
    "gym bro",
    "boss Li",
    "Zhang San",
)


def evasion_figures() -> dict[str, Any]:
    """Evasions caught (by the expected rule) and everyday remarks refused."""
    from flask_friendcb.policies import ContentPolicy

    policy = ContentPolicy(always_banned=BANNED, allowed_words=ALLOWED)
    missed = []
    for text, rule in EVASIONS:
        match = policy.find(text)
        if match is None or match.rule != rule:
            missed.append(text)
    refused = [text for text in EVERYDAY if policy.find(text) is not None]
    return {
        "caught": len(EVASIONS) - len(missed),
        "evasions": len(EVASIONS),
        "missed": missed,
        "false_positives": len(refused),
        "everyday": len(EVERYDAY),
        "refused": refused,
    }


#: houbb/sensitive-word's dictionary (tests/data/sensitive-word/NOTICE.md): 65,143 entries.
PUBLIC_LIST = (
    Path(__file__).parent.parent / "tests" / "data" / "sensitive-word" / "dict_v20240407.txt"
)


def public_list_figures() -> dict[str, Any]:
    """houbb/sensitive-word's dictionary passed straight in (with the table's own words as
    ``always_banned``): what the load check drops, everyday remarks refused (both tables),
    evasions still refused (by any rule), and the build time."""
    from flask_friendcb.policies import ContentPolicy

    words = PUBLIC_LIST.read_text(encoding="utf-8").splitlines()
    cpu = time.process_time()
    policy = ContentPolicy(banned_words=words, always_banned=BANNED, allowed_words=ALLOWED)
    build = time.process_time() - cpu
    remarks = [text for text in (*EVERYDAY, *EVERYDAY_MORE) if text]
    refused = [text for text in remarks if policy.find(text) is not None]
    missed = [text for text, _ in EVASIONS if policy.find(text) is None]
    reasons = [dropped.reason for dropped in policy.dropped]
    # The same list read as a plain substring filter reads it: no check, words inside words.
    plain = ContentPolicy(
        banned_words=words,
        always_banned=BANNED,
        allowed_words=ALLOWED,
        keep_common=True,
        whole_words=False,
        pinyin=False,
    )
    substring = [text for text in remarks if plain.find(text) is not None]
    return {
        "entries": len(words),
        "dropped_one_character": reasons.count("one_character"),
        "dropped_short_number": reasons.count("short_number"),
        "dropped_common_word": reasons.count("common_word"),
        "everyday": len(remarks),
        "refused": refused,
        "refused_as_substrings": substring,
        "evasions": len(EVASIONS),
        "evasions_missed": missed,
        "build_cpu_s": build,
    }


#: Request wordings of 256 bytes (AddWording's limit), everyday ones: every rule runs to the
#: end on them, which is the most a wording costs.
WORDINGS: dict[str, str] = {
    "Chinese": (
        "你好，我们是大学同学，在深圳一起做支付相关的工作，下次聚会记得叫上他，还有小王和老李，"  # noqa: RUF001
        "周末一起打球吧好不好呀。上周在会上认识的，想加个好友，方便以后联系，谢谢你啦！祝好！"  # noqa: RUF001
    ),
    "English": (
        "Hi, I'm Wang from the payments team. We met at the conference in Shenzhen last week; "
        "you asked about the Q3 plan and the v2.3.1 release. Mr. Li said you run the next.js "
        "club at the U.K. office too. Would love to connect and share notes, see you at 7.30 on "
        "Friday!! Thanks"
    ),
    "mixed": (
        "你好，我是王磊，上周在深圳的支付大会上认识的，Mr. Li 介绍的。我们聊过 Q3 的计划和 "  # noqa: RUF001
        "v2.3.1 版本，周五 7.30 见，加个好友吧，谢谢！下次一起打球 polka dot 派对见"  # noqa: RUF001
    ),
}


#: Wordings made to be slow to read: each repeats what one of the readings works on, to 256
#: bytes.
HOSTILE: dict[str, str] = {
    "dots": "a.",
    "spaced letters": "w ",
    "spelled dots": "a dot ",
    "bracketed dots": "a(dot)",
    "spelled @": "a at b.",
    "bidi controls": "\u202e\u202d",
    "symbols in a word": "a1",
    "bars in a word": "a|",
    "digits": "1-",
    "Chinese dots": "点a",
    "zero-width": "s\u200b",
}


def hostile_costs(policy: Any, rounds: int) -> dict[str, float]:
    """µs per 256-byte hostile wording (median of ``rounds`` rounds of 50 reads each)."""
    costs: dict[str, float] = {}
    for name, unit in HOSTILE.items():
        text = _cut(unit * 256)
        samples = []
        for _ in range(rounds):
            gc.collect()  # as the in-process table does before each batch
            started = _cpu()
            for _ in range(50):
                policy._lists.results.clear()
                policy.find(text, max_bytes=256)
            samples.append((_cpu() - started) / 50 * 1e6)
        costs[name] = statistics.median(samples)
    return costs


#: The clock of the costs: this thread's CPU seconds.
_cpu = time.thread_time


def _cut(text: str, size: int = 256) -> str:
    while len(text.encode("utf-8")) > size:
        text = text[:-1]
    return text


def wording_costs(policy: Any, rounds: int) -> dict[str, float]:
    """µs per 256-byte wording (median of ``rounds`` rounds of 200 reads each), every rule
    on, without the cache of recent results."""
    costs: dict[str, float] = {}
    for name, text in WORDINGS.items():
        text = _cut(text)
        assert policy.find(text, max_bytes=256) is None, name  # everyday: read to the end
        samples = []
        for _ in range(rounds):
            gc.collect()  # as the in-process table does before each batch
            started = _cpu()
            for _ in range(200):
                policy._lists.results.clear()
                policy.find(text, max_bytes=256)
            samples.append((_cpu() - started) / 200 * 1e6)
        costs[name] = statistics.median(samples)
    return costs


def request_step_costs(policies: list[Any], rounds: int) -> list[list[float]]:
    """µs per friend request checked at the request step (``policy(item, event)`` as an
    ``on_friend_add`` hook: its 256-byte ``AddWording``, ``Remark`` and ``GroupName``), per
    policy, per round (interleaved, 200 requests of every wording a round), without the cache
    of recent results."""
    context = CallbackContext("1400000000", FRIEND_ADD_COMMAND, "127.0.0.1", "Android")
    requests = []
    for wording in WORDINGS.values():
        item = FriendAddItem(
            "recipient", "colleague", "work", "AddSource_Type_Android", _cut(wording)
        )
        event = FriendAddEvent("sender", "sender", "Add_Type_Both", 0, 0, (item,), context)
        requests.append((item, event))
    samples: list[list[float]] = [[] for _ in policies]
    repeats = 200 // len(requests)
    for _ in range(rounds):
        for policy, times in zip(policies, samples, strict=True):
            gc.collect()
            started = _cpu()
            for _ in range(repeats):
                for item, event in requests:
                    policy._lists.results.clear()
                    assert policy(item, event) is None  # everyday: every field read to the end
            times.append((_cpu() - started) / (200 // len(requests) * len(requests)) * 1e6)
    return samples


def word_list(count: int, seed: int = 9) -> list[str]:
    """``count`` made-up banned words, half Latin (4 to 10 letters), half Chinese (2 to 4)."""
    rng = random.Random(seed)  # noqa: S311  (made-up words, not secrets)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = []
    for index in range(count):
        if index % 2:
            words.append(
                "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4)))
            )
        else:
            words.append("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return words


def remarks() -> list[str]:
    """What ``find`` is timed on: every remark of both tables, a long one, a mixed one."""
    return (
        [text for text, _ in EVASIONS]
        + list(EVERYDAY)
        + [
            "Met at the conference in Shenzhen, works on payments, ask about the Q3 plan",
            "大学室友 老王 在深圳做支付 下次聚会记得叫上他",
        ]
    )


def build(words: int) -> tuple[Any, float, float]:
    """A ``ContentPolicy`` with ``words`` banned words (the table's among them), and the
    seconds its build took: CPU time of this process (what the build costs, whatever else the
    machine runs), and wall time."""
    from flask_friendcb.policies import ContentPolicy

    listed = word_list(words - len(BANNED))
    cpu, wall = time.process_time(), time.perf_counter()
    policy = ContentPolicy(banned_words=listed, always_banned=BANNED, allowed_words=ALLOWED)
    return policy, time.process_time() - cpu, time.perf_counter() - wall


def find_costs(policies: list[Any], rounds: int) -> list[list[float]]:
    """µs per remark of each policy's ``find``, per round; the policies take turns within each
    round, so that a noisy machine weighs on all of them alike."""
    texts = remarks()
    for policy in policies:
        for text in texts:  # warm the per-character caches
            policy.find(text)
    samples: list[list[float]] = [[] for _ in policies]
    for _ in range(rounds):
        for policy, times in zip(policies, samples, strict=True):
            # The cost of reading each remark, not of finding it among recent results.
            policy._lists.results.clear()
            gc.collect()
            started = _cpu()
            for text in texts:
                policy.find(text)
            times.append((_cpu() - started) / len(texts) * 1e6)
    return samples


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port, without persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: run `make services`")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.kill()
            process.wait()


def ratelimit_rate(url: str, seconds: float) -> float:
    """``RateLimitPolicy`` checks per second against ``url``, one process, one thread."""
    from flask_friendcb import FriendResponseEvent, FriendResponseItem, ResponseAction
    from flask_friendcb.policies import RateLimitPolicy

    policy = RateLimitPolicy("1000000/minute", storage_uri=url)
    item = FriendResponseItem("requester", ResponseAction.AGREE_AND_ADD)
    events = [
        FriendResponseEvent("1400000000", "Sns.CallbackPrevFriendResponse", "", f"r{n}", 0, (item,))
        for n in range(100)
    ]
    checks = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for event in events:
            if policy(item, event) is not None:
                raise RuntimeError("the bench's limit was reached")
        checks += len(events)
    return checks / elapsed


def _print_public(figures: dict[str, Any]) -> None:
    public = public_list_figures()
    figures["public_list"] = public
    print("\nContentPolicy loaded with houbb/sensitive-word's dictionary as published\n")
    print(f"  {public['entries']:,} entries; dropped on load: {public['dropped_one_character']} "
          f"of one character, {public['dropped_short_number']} short numbers, "
          f"{public['dropped_common_word']} everyday words "
          f"(build {public['build_cpu_s']:.1f} s of CPU)")  # fmt: skip
    met = not public["refused"]
    print(f"  everyday remarks refused: {len(public['refused'])}/{public['everyday']} "
          f"(bar: none): {'bar met' if met else 'BAR MISSED'}")  # fmt: skip
    for text in public["refused"]:
        print(f"    refused: {text!r}")
    print(f"  read as a plain substring filter (keep_common=True, whole_words=False, "
          f"pinyin=False): {len(public['refused_as_substrings'])}/{public['everyday']} "
          f"refused")  # fmt: skip
    print(f"  evasions refused: {public['evasions'] - len(public['evasions_missed'])}/"
          f"{public['evasions']}")  # fmt: skip


def run(
    *, rounds: int = 30, words: int = 100_000, redis_seconds: float = 3.0, public: bool = True
) -> dict[str, Any]:
    """Measure and print every figure; returns them."""
    figures: dict[str, Any] = {}
    table = evasion_figures()
    figures["evasions"] = table
    print("\nPolicies: ContentPolicy's evasion table (English and Chinese)\n")
    print(f"  evasions caught: {table['caught']}/{table['evasions']}")
    print(f"  false positives: {table['false_positives']}/{table['everyday']} everyday remarks")
    for text in table["missed"]:
        print(f"    missed: {text!r}")
    for text in table["refused"]:
        print(f"    refused: {text!r}")

    if public:
        _print_public(figures)

    small_policy, small_build, _ = build(100)
    large_policy, large_build, large_wall = build(words)
    small_times, large_times = find_costs([small_policy, large_policy], rounds)
    small, large = statistics.median(small_times), statistics.median(large_times)
    ratio = statistics.median(b / a for a, b in zip(small_times, large_times, strict=True))
    figures["find"] = {
        "words_small": 100,
        "us_small": small,
        "words_large": words,
        "us_large": large,
        "ratio": ratio,
        "build_s_large": large_build,
        "build_s_small": small_build,
        "build_wall_s_large": large_wall,
    }
    print(
        f"\nContentPolicy.find per remark ({len(remarks())} remarks), median of {rounds} rounds\n"
    )
    print("| banned words | find per remark | build (CPU) |")
    print("| ---: | ---: | ---: |")
    print(f"| 100 | {small:.1f} µs | {small_build * 1000:.1f} ms |")
    print(f"| {words:,} | {large:.1f} µs | {large_build:.2f} s |")
    print(f"  ratio x{ratio:.2f}, median of per-round ratios (bar 1.5): "
          f"{'bar met' if ratio <= 1.5 else 'BAR MISSED'}")  # fmt: skip
    print(f"  {words:,}-word build {large_build:.2f} s of CPU ({large_wall:.2f} s of wall "
          f"time; bar 5 s): {'bar met' if large_build < 5 else 'BAR MISSED'}")  # fmt: skip
    print(f"  load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    costs = wording_costs(large_policy, rounds)
    figures["wording_256_bytes_us"] = costs
    print(f"\nContentPolicy.find on a 256-byte request wording (AddWording), every rule on, "
          f"{words:,} banned words, median of {rounds} rounds\n")  # fmt: skip
    for name, cost in costs.items():
        print(f"  {name}: {cost:.1f} µs (bar 100 µs): {'bar met' if cost < 100 else 'BAR MISSED'}")
    small_step, large_step = request_step_costs([small_policy, large_policy], rounds)
    step_ratio = statistics.median(b / a for a, b in zip(small_step, large_step, strict=True))
    figures["request_step_us"] = {
        "words_small": 100,
        "us_small": statistics.median(small_step),
        "words_large": words,
        "us_large": statistics.median(large_step),
        "ratio": step_ratio,
    }
    print(f"\nContentPolicy at the request step (on_friend_add: a 256-byte AddWording, a Remark "
          f"and a GroupName), median of {rounds} rounds\n")  # fmt: skip
    print(f"  100 banned words: {statistics.median(small_step):.1f} µs per request")
    large_us = statistics.median(large_step)
    print(f"  {words:,} banned words: {large_us:.1f} µs per request "
          f"(bar 100 µs): {'bar met' if large_us < 100 else 'BAR MISSED'}")  # fmt: skip
    print(f"  ratio x{step_ratio:.2f}, median of per-round ratios (bar 1.5): "
          f"{'bar met' if step_ratio <= 1.5 else 'BAR MISSED'}")  # fmt: skip
    hostile = hostile_costs(large_policy, max(3, rounds // 3))
    figures["hostile_256_bytes_us"] = hostile
    worst = max(hostile, key=hostile.__getitem__)
    print(f"\n  hostile 256-byte wordings ({len(hostile)}, made to be slow to read): "
          f"the slowest, {worst!r}, {hostile[worst]:.0f} µs")  # fmt: skip
    for name, cost in hostile.items():
        print(f"    {name}: {cost:.0f} µs")

    with redis_server() as url:
        rate = ratelimit_rate(url, redis_seconds)
    figures["ratelimit_redis_checks_per_s"] = rate
    print(f"\nRateLimitPolicy on Redis, one process: {rate:,.0f} checks/s\n")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.policies", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="find() rounds (30)")
    parser.add_argument("--words", type=int, default=100_000, help="the large list (100,000)")
    parser.add_argument("--redis-seconds", type=float, default=3.0, help="rate-limit run (3 s)")
    parser.add_argument(
        "--no-public", action="store_true", help="skip houbb/sensitive-word's list (some 10 s)"
    )
    args = parser.parse_args(argv)
    run(
        rounds=args.rounds,
        words=args.words,
        redis_seconds=args.redis_seconds,
        public=not args.no_public,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
