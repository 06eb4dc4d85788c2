"""Checking a banned-word list when it is loaded: the entries that would refuse everyday text.

Public lists are written for publishers' review queues, not for friend remarks: they hold
one-character entries (``b``, which every ``basketball`` holds once separators are read
through) and everyday words listed as sensitive (``电影``, ``房间``). :func:`check_words` drops

- ``one_character``: an entry of one letter or character once folded;
- ``short_number``: an entry of digits only, :data:`SHORT_NUMBER` (3) or fewer (``64``,
  ``89``, ``610``): room numbers, ages and years hold them;
- ``common_word``: an entry that a word-frequency list (``wordfreq``'s data, which ships in
  its wheel: nothing is fetched) counts as an everyday word of Chinese or English, at a
  Zipf frequency of :data:`COMMON_ZIPF` (4.5: about once in 30,000 words) or more; or a
  word that says who a contact is (:data:`EVERYDAY_ROLES`: an occupation, a title, a
  relation, ``中介``, ``导师``, ``师傅``), from :data:`ROLE_ZIPF` (3.5): remarks are made of
  such words,

unless the caller keeps them on purpose: ``keep_common=True`` keeps the whole list as given,
and words meant whatever they are go in ``ContentPolicy(always_banned=...)``, which is never
checked.

Why the roles are named rather than found by a lower threshold: between Zipf 4.0 and 4.5,
houbb/sensitive-word's dictionary holds 233 two-character Chinese entries (after the rest of
the check), neutral words (``中介`` 4.24, ``导师`` 4.40, ``护士`` 4.49) mixed with the words a
friend filter exists for (``赌博`` 4.20, ``诈骗`` 4.23, ``色情`` 4.45, ``毒品`` 4.45). No
threshold between them drops the first without the second: from 4.40 (the lowest that drops
``导师``), 36 entries more go, ``色情``, ``毒品`` and ``强奸`` among them; from 4.24 (``中介``), 107
go, ``做爱`` and ``妓女`` too; from 4.20, ``赌博``. Frequency says a word is common, not what it
means; the vocabulary of who a contact is says that, for the words a remark is made of.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .errors import missing_extra
from .normalize import is_han, to_simplified, words_of

#: The Zipf frequency (log10 of occurrences per billion words) from which a word is everyday.
COMMON_ZIPF = 4.5

#: How common an everyday word must be to be read as allowed around a banned word it holds.
HOLDER_ZIPF = 3.5

#: The Zipf frequency from which a word of :data:`EVERYDAY_ROLES` is everyday.
ROLE_ZIPF = 3.5

#: Words that say who a contact is, what remarks are made of: occupations and titles,
#: relations at school, at work and at home (simplified Chinese, as the check reads an entry).
#: None names an act or a trade that a friend filter exists for.
_ROLES = """
    老师 导师 教师 教授 讲师 校长 班主任 辅导员 教练 家教 助教
    医生 大夫 护士 护工 药师 医师 牙医 兽医
    律师 会计 出纳 工程师 设计师 程序员 建筑师 厨师 司机 快递员 快递 外卖员 保安 保姆 保洁
    月嫂 店员 店长 老板 老板娘 经理 总监 主管 助理 秘书 前台 客服 销售 业务员 中介 经纪人
    代理 房东 租客 房客 物业 师傅 师父 学徒 徒弟 学生 研究生 博士 硕士 本科生 同学 同事
    室友 邻居 老乡 客户 顾客 警察 民警 军人 记者 编辑 作家 摄影师 翻译 导游 空姐 乘务员
    飞行员 船长 农民 工人 电工 木匠 理发师 化妆师 美容师 主任 院长 队长 班长 组长 领导 老总
    董事长 总经理 同行
    父亲 母亲 爸爸 妈妈 哥哥 姐姐 弟弟 妹妹 爷爷 奶奶 外公 外婆 叔叔 阿姨 舅舅 舅妈 姑姑
    姨妈 表哥 表姐 表弟 表妹 堂哥 堂姐 老公 老婆 丈夫 妻子 儿子 女儿 朋友 男朋友 女朋友
    闺蜜 兄弟 亲戚 家人 干妈 宝宝 孩子 网友 队友 战友 校友 学长 学姐 学弟 学妹 前辈 晚辈
"""
EVERYDAY_ROLES = frozenset(_ROLES.split())

Reason = Literal["one_character", "short_number", "common_word"]
#: The longest number dropped as an entry.
SHORT_NUMBER = 3

_frequencies: dict[str, dict[str, float]] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class DroppedWord:
    """An entry :func:`check_words` drops: the entry as given, why, and the evidence."""

    word: str
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class WordListCheck:
    """What :func:`check_words` made of a list: the entries kept, in their order, and the
    ones dropped."""

    kept: tuple[str, ...]
    dropped: tuple[DroppedWord, ...]

    def counts(self) -> dict[Reason, int]:
        """How many entries were dropped for each reason."""
        counts: dict[Reason, int] = {"one_character": 0, "short_number": 0, "common_word": 0}
        for dropped in self.dropped:
            counts[dropped.reason] += 1
        return counts


def _frequency_dict(language: str) -> dict[str, float]:
    found = _frequencies.get(language)
    if found is None:
        with _lock:
            found = _frequencies.get(language)
            if found is None:
                try:
                    import wordfreq
                except ImportError as error:
                    raise missing_extra("policies", error) from error
                found = wordfreq.get_frequency_dict(language, wordlist="best")
                _frequencies[language] = found
    return found


def release() -> None:
    """Let the frequency lists go (some 70 MB for Chinese and English): they are needed to
    check a list, not to match text; the next check reads them again."""
    with _lock:
        _frequencies.clear()


def zipf(word: str) -> tuple[float, str]:
    """``word``'s Zipf frequency in the language of its script (Chinese for a word with a
    Chinese character, English otherwise), and that language's code; 0 for a word the list
    does not hold (a phrase, a made-up word).

    A Chinese word the list does not hold whole is cut into the longest words it does hold,
    and estimated the way ``wordfreq`` estimates a phrase: the parts' frequencies combined as
    ``1 / sum(1 / f)``, divided by 10 for each cut (so ``好朋友`` is about as common as
    ``朋友`` is, and ``代开发票`` is rare); its digits are read as wordfreq counts them, each
    as 0 (``89年`` as ``00`` and ``年``)."""
    language = "zh" if any(is_han(char) for char in word) else "en"
    key = to_simplified(word) if language == "zh" else word.lower()
    table = _frequency_dict(language)
    frequency = table.get(key, 0.0)
    if not frequency and language == "zh" and len(key) > 2:
        # wordfreq counts numbers with their digits as 0 ("89" as "00"): 89年 is 00 and 年.
        frequency = _phrase_frequency(_DIGITS.sub("0", key), table)
    return (round(math.log10(frequency * 1e9), 2) if frequency > 1e-9 else 0.0), language


_DIGITS = re.compile(r"[0-9]")


def _phrase_frequency(phrase: str, table: dict[str, float]) -> float:
    inverse, parts, position = 0.0, 0, 0
    while position < len(phrase):
        for length in range(min(6, len(phrase) - position), 0, -1):
            frequency = table.get(phrase[position : position + length], 0.0)
            if frequency:
                break
        else:
            return 0.0  # a part no word of the list holds: a made-up or rare phrase
        inverse += 1 / frequency
        parts += 1
        position += length
    return 1 / inverse / 10.0 ** (parts - 1)


def everyday_holders(
    banned: Iterable[str], *, always: Iterable[str] = (), min_zipf: float = HOLDER_ZIPF
) -> list[str]:
    """The everyday Chinese words (``wordfreq``'s, at a Zipf frequency of ``min_zipf`` or
    more) that hold one of ``banned`` (in their words view) and are more common than it:
    ``电影院`` for ``影院``. The policy reads them as allowed words, so ``电影院`` passes and
    ``成人影院`` does not. A word that holds one of ``always`` (the words meant whatever they
    are) is never one."""
    banned = {word for word in banned if word and all(is_han(char) for char in word)}
    if not banned:
        return []
    strict = {word for word in always if word and all(is_han(char) for char in word)}
    lengths = sorted({len(word) for word in banned})
    strict_lengths = sorted({len(word) for word in strict})
    table = _frequency_dict("zh")
    threshold = 10 ** (min_zipf - 9)
    holders: list[str] = []
    for word, frequency in table.items():
        if frequency < threshold or len(word) < 2 or word in banned:
            continue
        for length in lengths:
            if length >= len(word):
                break
            if any(
                part in banned and table.get(part, 0.0) < frequency
                for part in (word[i : i + length] for i in range(len(word) - length + 1))
            ):
                if not _holds(word, strict, strict_lengths):
                    holders.append(word)
                break
    return holders


def _holds(word: str, words: set[str], lengths: list[int]) -> bool:
    return any(
        word[i : i + length] in words
        for length in lengths
        if length <= len(word)
        for i in range(len(word) - length + 1)
    )


def check_words(
    words: Iterable[str], *, keep_common: bool = False, common_zipf: float = COMMON_ZIPF
) -> WordListCheck:
    """Split ``words`` into the entries kept and the entries dropped (see the module's
    description); ``keep_common=True`` keeps every entry.

    >>> check = check_words(["b", "电影", "赌博", "casino night"])
    >>> check.kept
    ('赌博', 'casino night')
    >>> [(d.word, d.reason) for d in check.dropped]
    [('b', 'one_character'), ('电影', 'common_word')]
    """
    words = [word for word in words if word and not word.isspace()]
    views = words_of(words)
    kept: list[str] = []
    dropped: list[DroppedWord] = []
    if keep_common:
        return WordListCheck(tuple(words), ())
    for word, view in zip(words, views, strict=True):
        folded = view.replace(" ", "")
        if len(folded) <= 1:
            dropped.append(DroppedWord(word, "one_character", f"{view!r} once folded"))
            continue
        if folded.isdigit() and folded.isascii() and len(folded) <= SHORT_NUMBER:
            detail = f"{folded!r} once folded, a number of {SHORT_NUMBER} digits or fewer"
            dropped.append(DroppedWord(word, "short_number", detail))
            continue
        frequency, language = zipf(word.strip())
        if frequency >= common_zipf:
            detail = f"Zipf frequency {frequency:.2f} in {language} (from {common_zipf})"
            dropped.append(DroppedWord(word, "common_word", detail))
            continue
        if frequency >= ROLE_ZIPF and folded in EVERYDAY_ROLES:
            detail = (
                f"Zipf frequency {frequency:.2f} in {language}, a word for who a contact is "
                f"(from {ROLE_ZIPF})"
            )
            dropped.append(DroppedWord(word, "common_word", detail))
            continue
        kept.append(word)
    return WordListCheck(tuple(kept), tuple(dropped))
