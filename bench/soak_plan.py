"""The soak's traffic, planned before it is sent: signed friend-response callbacks with hostile
requests mixed in, so that every answer and every audit row can be counted against what was sent.

Valid callbacks come from many responders, few enough callbacks each that the velocity policy
never refuses them, plus a few bots that accept far more than it allows. Their items mix plain
acceptances, declines, acceptances of blocklisted requesters and remarks with a banned word or
a link, so every policy decides some. Each hostile request is of one :data:`HOSTILE` kind, and
must get that kind's status and ``ErrorCode``.

:func:`write_plan` writes one request per line for ``soak.lua``; :func:`write_signs` writes the
Lua table of ``RequestTime`` -> ``Sign`` for every second of the run, since wrk's Lua has no
SHA-256: each request is signed at the second it is sent, and the app keeps its 60 s window.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.signing import SDKAPPID, TOKEN
from example_app import PolicyCode
from example_app.settings import ExampleSettings
from flask_friendcb.config import Settings
from flask_friendcb.protocol import FRIEND_RESPONSE_COMMAND, ErrorCode, ResponseAction
from flask_friendcb.testing import callback_query, friend_response_body, response_item, sign

PATH = "/im/callback"
#: Placeholders of a planned query that soak.lua fills in when it sends the request: the
#: second, its Sign, and a Sign that is wrong for it.
TIME, SIGN, FORGED_SIGN = "$T", "$S", "$F"
#: A planned body of this prefix and a size, "@pad:1048577", is made by soak.lua: a JSON
#: object of exactly that many bytes (see :func:`padded_body`).
PADDED = "@pad:"

#: Requesters on the operator's blocklist before the run starts.
BLOCKED = ("spamfarm01", "spamfarm02", "spamfarm03", "spamfarm04", "spamfarm05")
#: Responders who accept far more than the velocity policy allows.
BOTS = ("acceptbot01", "acceptbot02")
#: The service's banned words (``EXAMPLE_BANNED_WORDS``), and remarks each policy refuses.
BANNED_WORDS = ("casino", "免费加群")
REFUSED_REMARKS = (
    "casino bonus inside",
    "\uff23\uff21\uff33\uff29\uff2e\uff2f",  # CASINO in full-width letters: normalised first
    "免费加群领红包",
    "visit www.example.com",
    "加我 weixin://abc",
)
PLAIN_REMARKS = ("", "met at PyCon", "同事", "Bob from work", "高中同学", "neighbour")
TAGS = ("", "friends", "work", "家人")
PLATFORMS = ("iOS", "Android", "Web", "Windows", "Mac", "iPad")
#: Items per callback and how often each count occurs.
ITEM_COUNTS = (1, 2, 3)
ITEM_COUNT_WEIGHTS = (70, 20, 10)
#: What an item of a plain responder's callback is, and how often.
ITEM_OUTCOMES = ("allowed", "declined", "blocklisted", "content")
ITEM_OUTCOME_WEIGHTS = (72, 12, 8, 8)
#: Share of valid callbacks sent by the bots (at least twice the velocity limit each).
BOT_SHARE = 0.02
#: Nesting of the deep-nesting body: far past Python's recursion limit.
DEEP = 10_000


@dataclass(frozen=True)
class Kind:
    """A kind of request of the mix, and the answer it must get."""

    name: str
    status: int
    error_code: int
    description: str

    @property
    def answer(self) -> tuple[int, int]:
        """(HTTP status, ``ErrorCode``)."""
        return self.status, int(self.error_code)


VALID = Kind("valid", 200, 0, "a signed friend-response callback")
HOSTILE = (
    Kind("forged_sign", 401, ErrorCode.SIGN_MISMATCH, "a Sign that is not the token's"),
    Kind("stale_sign", 401, ErrorCode.REQUEST_TIME_STALE, "a genuine Sign of an hour ago"),
    Kind("unsigned", 401, ErrorCode.SIGN_MISSING, "no Sign and no RequestTime"),
    Kind("wrong_sdkappid", 403, ErrorCode.SDKAPPID_MISMATCH, "another app's SdkAppid, signed"),
    Kind("invalid_json", 400, ErrorCode.BODY_NOT_JSON, "a body cut in the middle"),
    Kind("nan", 400, ErrorCode.BODY_NOT_JSON, "EventTime NaN"),
    Kind("deep_nesting", 400, ErrorCode.BODY_NOT_JSON, f"arrays nested {DEEP:,} deep"),
    Kind("wrong_types", 400, ErrorCode.BODY_INVALID, "a number for a string, and the like"),
    Kind("oversized", 413, ErrorCode.BODY_TOO_LARGE, "one byte over the 1 MiB limit"),
    Kind("other_method", 405, ErrorCode.METHOD_NOT_ALLOWED, "GET, PUT, PATCH or DELETE"),
)
KINDS = {kind.name: kind for kind in (VALID, *HOSTILE)}
#: The methods the other_method requests use, in turn.
OTHER_METHODS = ("GET", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the plan, as soak.lua sends it (placeholders and all)."""

    kind: str
    method: str
    #: The path and query, with :data:`TIME`, :data:`SIGN` and :data:`FORGED_SIGN` where the
    #: request is signed when sent.
    path: str
    #: The body as text ("" for none), or :data:`PADDED` and a size.
    body: str

    def line(self) -> str:
        """Its line in the plan file."""
        fields = (self.kind, self.method, self.path, self.body)
        assert not any("\t" in part or "\n" in part for part in fields), fields
        return "\t".join(fields)

    def materialize(self, now: int, token: str = TOKEN) -> tuple[str, str, bytes]:
        """(method, path, body) as soak.lua sends it at Unix second ``now``: the same
        substitutions, for tests that send the plan without wrk."""
        signature = sign(token, now)
        path = (
            self.path.replace(TIME, str(now))
            .replace(SIGN, signature)
            .replace(FORGED_SIGN, forge(signature))
        )
        if self.body.startswith(PADDED):
            return self.method, path, padded_body(int(self.body[len(PADDED) :]))
        return self.method, path, self.body.encode()


@dataclass
class Plan:
    """Every request of a soak, and what the service must answer."""

    requests: list[PlannedRequest]
    #: Items of valid callbacks, by expected outcome: "allowed", "declined", "blocklisted",
    #: "content", and "bot" (a bot's acceptance: allowed up to the velocity limit).
    items: Counter[str] = field(default_factory=Counter)
    #: Acceptances planned per bot.
    bot_acceptances: dict[str, int] = field(default_factory=dict)
    velocity_limit: int = ExampleSettings.velocity_limit
    velocity_window: float = ExampleSettings.velocity_window

    def sent(self) -> Counter[str]:
        """Requests by kind."""
        return Counter(request.kind for request in self.requests)

    @property
    def valid(self) -> int:
        return self.sent()[VALID.name]

    @property
    def hostile(self) -> int:
        return len(self.requests) - self.valid

    def expected_answers(self) -> Counter[tuple[int, int]]:
        """How many answers of each (status, ``ErrorCode``) the plan must get."""
        answers: Counter[tuple[int, int]] = Counter()
        for name, count in self.sent().items():
            answers[KINDS[name].answer] += count
        return answers

    def expected_results(self) -> dict[int, int]:
        """Items per ``ResultCode`` for the policies that always decide the same way; the
        bots' items are left out (see :meth:`velocity_refusals`)."""
        return {
            0: self.items["allowed"] + self.items["declined"],
            PolicyCode.BLOCKLISTED: self.items["blocklisted"],
            PolicyCode.CONTENT: self.items["content"],
        }

    def velocity_refusals(self, seconds: float) -> tuple[int, int]:
        """The fewest and most of the bots' acceptances the velocity policy can refuse in a
        run of ``seconds``: each bot gets ``velocity_limit`` allowed in any window, so at
        least that many, and at most that many per window the run touches."""
        windows = math.floor(seconds / self.velocity_window) + 1
        low = high = 0
        for count in self.bot_acceptances.values():
            low += count - min(count, self.velocity_limit * windows)
            high += count - min(count, self.velocity_limit)
        return low, high

    def server_env(self) -> dict[str, str]:
        """What the service needs in its environment for this plan."""
        return {"EXAMPLE_BANNED_WORDS": ",".join(BANNED_WORDS)}


def build_plan(
    total: int,
    *,
    hostile_share: float = 0.1,
    seed: int = 20261125,
    now: float | None = None,
    velocity_limit: int = ExampleSettings.velocity_limit,
) -> Plan:
    """``total`` requests, ``hostile_share`` of them hostile, in a shuffled order that the seed
    fixes. ``now`` dates the bodies and the stale Sign (default: the real time)."""
    if not 0 <= hostile_share < 1:
        raise ValueError(f"hostile_share must be in [0, 1), got {hostile_share}")
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    now = time.time() if now is None else now
    hostile = round(total * hostile_share)
    valid = total - hostile
    plan = Plan([], velocity_limit=velocity_limit)
    builder = _Builder(rng, int(now * 1000))
    # Bots: enough acceptances each to pass the limit twice, or BOT_SHARE of the valid ones.
    bots = min(valid // 4, max(round(valid * BOT_SHARE), len(BOTS) * 2 * velocity_limit))
    # A plain responder gets at most this many callbacks: even if every item is an acceptance,
    # the velocity limit is never reached.
    per_responder = max(1, velocity_limit // max(ITEM_COUNTS))
    responders = max(1, math.ceil((valid - bots) / per_responder))
    for number in range(valid - bots):
        plan.requests.append(builder.callback(plan, f"responder{number % responders:05d}"))
    for number in range(bots):
        bot = BOTS[number % len(BOTS)]
        plan.requests.append(builder.bot_callback(plan, bot))
    for number in range(hostile):
        plan.requests.append(builder.hostile(HOSTILE[number % len(HOSTILE)], number))
    rng.shuffle(plan.requests)
    return plan


class _Builder:
    """Makes the plan's requests; counts items and accounts as it goes."""

    def __init__(self, rng: random.Random, event_time_ms: int) -> None:
        self.rng = rng
        self.event_time_ms = event_time_ms
        self.requesters = 0
        self.stale_query = callback_query(
            SDKAPPID, token=TOKEN, request_time=event_time_ms // 1000 - 3600
        )

    def _requester(self) -> str:
        self.requesters += 1
        return f"user{self.requesters:06d}"

    def _query(self, sdkappid: str = SDKAPPID, signature: str = SIGN) -> str:
        rng = self.rng
        base = callback_query(
            sdkappid,
            client_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            opt_platform=rng.choice(PLATFORMS),
        )
        return f"{PATH}?{base}&RequestTime={TIME}&Sign={signature}"

    def _body(self, from_account: str, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
        return friend_response_body(from_account, list(items), event_time_ms=self.event_time_ms)

    def _item(self, outcome: str) -> dict[str, Any]:
        rng = self.rng
        accept = rng.choice((ResponseAction.AGREE_AND_ADD, ResponseAction.AGREE))
        plain = {"remark": rng.choice(PLAIN_REMARKS), "tag_name": rng.choice(TAGS)}
        if outcome == "allowed":
            return response_item(self._requester(), accept, **plain)
        if outcome == "declined":
            # Declining is always allowed: to a blocked account, with a refused remark too.
            to = rng.choice((self._requester(), rng.choice(BLOCKED)))
            remark = rng.choice((*PLAIN_REMARKS, *REFUSED_REMARKS))
            return response_item(to, ResponseAction.REJECT, remark=remark)
        if outcome == "blocklisted":
            return response_item(rng.choice(BLOCKED), accept, **plain)
        assert outcome == "content"
        return response_item(self._requester(), accept, remark=rng.choice(REFUSED_REMARKS))

    def callback(self, plan: Plan, responder: str) -> PlannedRequest:
        count = self.rng.choices(ITEM_COUNTS, ITEM_COUNT_WEIGHTS)[0]
        outcomes = self.rng.choices(ITEM_OUTCOMES, ITEM_OUTCOME_WEIGHTS, k=count)
        plan.items.update(outcomes)
        body = self._body(responder, (self._item(outcome) for outcome in outcomes))
        return PlannedRequest(VALID.name, "POST", self._query(), _json(body))

    def bot_callback(self, plan: Plan, bot: str) -> PlannedRequest:
        plan.items["bot"] += 1
        plan.bot_acceptances[bot] = plan.bot_acceptances.get(bot, 0) + 1
        body = self._body(bot, [response_item(self._requester(), ResponseAction.AGREE_AND_ADD)])
        return PlannedRequest(VALID.name, "POST", self._query(), _json(body))

    def hostile(self, kind: Kind, number: int) -> PlannedRequest:
        """A request of ``kind``; ``number`` picks among its variants in turn. Its body is
        one a valid callback could have, unless the body is what is wrong with it."""
        body = self._body(self._requester(), [self._item("allowed")])
        text = _json(body)
        query, method = self._query(), "POST"
        name = kind.name
        if name == "forged_sign":
            query = self._query(signature=FORGED_SIGN)
        elif name == "stale_sign":
            query = f"{PATH}?{self.stale_query}"
        elif name == "unsigned":
            query = query.split(f"&RequestTime={TIME}")[0]
        elif name == "wrong_sdkappid":
            query = self._query(sdkappid=str(int(SDKAPPID) + 1))
        elif name == "invalid_json":
            text = text[: len(text) // 2]
        elif name == "nan":
            text = _json({**body, "EventTime": math.nan})
        elif name == "deep_nesting":
            text = _json({**body, "ResponseFriendItem": []}).replace(
                '"ResponseFriendItem":[]', '"ResponseFriendItem":' + "[" * DEEP + "]" * DEEP
            )
        elif name == "wrong_types":
            text = _json(_wrong_types(body, number))
        elif name == "oversized":
            text = f"{PADDED}{Settings.max_content_length + 1}"
        else:
            assert name == "other_method"
            method = OTHER_METHODS[number // len(HOSTILE) % len(OTHER_METHODS)]
            text = text if method in ("PUT", "PATCH") else ""
        return PlannedRequest(name, method, query, text)


def _wrong_types(body: dict[str, Any], number: int) -> dict[str, Any]:
    item = body["ResponseFriendItem"][0]
    variants = (
        {**body, "ResponseFriendItem": [{**item, "To_Account": 12345}]},
        {**body, "EventTime": str(body["EventTime"])},
        # An unknown ResponseAction costs that item only (200); an element that is not an
        # object still refuses the callback.
        {**body, "ResponseFriendItem": [item, "Response_Action_Maybe"]},
        {**body, "ResponseFriendItem": item},
        {**body, "From_Account": ["a", "list"]},
    )
    return variants[number // len(HOSTILE) % len(variants)]


def _json(value: Any) -> str:
    # ASCII: no tab or newline can reach a plan line; NaN only where the plan puts it.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def forge(signature: str) -> str:
    """A Sign that differs from ``signature`` in its first digit (soak.lua does the same)."""
    return ("1" if signature[0] == "0" else "0") + signature[1:]


_PAD_HEAD = f'{{"CallbackCommand":"{FRIEND_RESPONSE_COMMAND}","Padding":"'.encode()
_PAD_TAIL = b'"}'


def padded_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (soak.lua makes the same)."""
    return _PAD_HEAD + b"x" * (size - len(_PAD_HEAD) - len(_PAD_TAIL)) + _PAD_TAIL


def write_plan(plan: Plan, path: Path) -> None:
    """The plan file soak.lua reads: a comment line, then one request per line."""
    with path.open("w", encoding="ascii") as out:
        out.write("# kind, method, path, body; tab-separated (bench/soak_plan.py)\n")
        for request in plan.requests:
            out.write(request.line() + "\n")


def write_signs(path: Path, first: int, last: int, token: str = TOKEN) -> None:
    """A Lua chunk returning ``{[RequestTime] = Sign}`` for every second from ``first`` to
    ``last``, both included."""
    with path.open("w", encoding="ascii") as out:
        out.write("-- RequestTime -> Sign (bench/soak_plan.py)\nreturn {\n")
        for second in range(first, last + 1):
            out.write(f'[{second}]="{sign(token, second)}",\n')
        out.write("}\n")
