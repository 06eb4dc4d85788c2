"""Configuration: read and validated once, errors that name the key."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from flask_friendcb import ConfigError, FriendCallbackMiddleware, Settings

from .conftest import TOKEN, flask_app, other_app


def test_defaults() -> None:
    settings = Settings.from_options({"sdkappid": 1400000000, "token": TOKEN})
    assert settings == Settings(
        sdkappid="1400000000",
        tokens=(TOKEN,),
        allow_unsigned=False,
        max_skew=60.0,
        on_hook_error="allow",
        hook_error_code=38999,
        deadline=1.5,
        max_content_length=1024 * 1024,
        clock=time.time,
    )


BAD = [
    ({"FRIENDCB_SDKAPPID": None}, "FRIENDCB_SDKAPPID", "required"),
    ({"FRIENDCB_SDKAPPID": "abc"}, "FRIENDCB_SDKAPPID", "SDKAppID"),
    ({"FRIENDCB_SDKAPPID": "\uff11\uff14\uff10\uff10"}, "FRIENDCB_SDKAPPID", "SDKAppID"),
    ({"FRIENDCB_SDKAPPID": 0}, "FRIENDCB_SDKAPPID", "SDKAppID"),
    ({"FRIENDCB_SDKAPPID": "9" * 5000}, "FRIENDCB_SDKAPPID", "SDKAppID"),
    ({"FRIENDCB_SDKAPPID": -5}, "FRIENDCB_SDKAPPID", "SDKAppID"),
    ({"FRIENDCB_SDKAPPID": True}, "FRIENDCB_SDKAPPID", "int or a str"),
    ({"FRIENDCB_SDKAPPID": 1.5}, "FRIENDCB_SDKAPPID", "int or a str"),
    ({"FRIENDCB_TOKEN": None}, "FRIENDCB_TOKEN", "FRIENDCB_ALLOW_UNSIGNED"),
    ({"FRIENDCB_TOKEN": ""}, "FRIENDCB_TOKEN", "empty"),
    ({"FRIENDCB_TOKEN": [TOKEN, ""]}, "FRIENDCB_TOKEN", "empty"),
    ({"FRIENDCB_TOKEN": []}, "FRIENDCB_TOKEN", "empty"),
    ({"FRIENDCB_TOKEN": b"bytes"}, "FRIENDCB_TOKEN", "str or a list"),
    ({"FRIENDCB_TOKEN": [TOKEN, 5]}, "FRIENDCB_TOKEN", "must be a str"),
    ({"FRIENDCB_ALLOW_UNSIGNED": "maybe"}, "FRIENDCB_ALLOW_UNSIGNED", "True or False"),
    ({"FRIENDCB_MAX_SKEW": 0}, "FRIENDCB_MAX_SKEW", "more than 0"),
    ({"FRIENDCB_MAX_SKEW": "a minute"}, "FRIENDCB_MAX_SKEW", "number"),
    ({"FRIENDCB_MAX_SKEW": float("nan")}, "FRIENDCB_MAX_SKEW", "finite"),
    ({"FRIENDCB_ON_HOOK_ERROR": "ignore"}, "FRIENDCB_ON_HOOK_ERROR", '"allow" or "reject"'),
    ({"FRIENDCB_ON_HOOK_ERROR": "Allow"}, "FRIENDCB_ON_HOOK_ERROR", '"allow" or "reject"'),
    ({"FRIENDCB_HOOK_ERROR_CODE": 1}, "FRIENDCB_HOOK_ERROR_CODE", "[38000, 39000]"),
    ({"FRIENDCB_HOOK_ERROR_CODE": 39001}, "FRIENDCB_HOOK_ERROR_CODE", "[38000, 39000]"),
    ({"FRIENDCB_HOOK_ERROR_CODE": True}, "FRIENDCB_HOOK_ERROR_CODE", "int"),
    ({"FRIENDCB_DEADLINE": 0}, "FRIENDCB_DEADLINE", "more than 0"),
    ({"FRIENDCB_DEADLINE": 2}, "FRIENDCB_DEADLINE", "2 s timeout"),
    ({"FRIENDCB_DEADLINE": -1}, "FRIENDCB_DEADLINE", "more than 0"),
    ({"FRIENDCB_MAX_CONTENT_LENGTH": 0}, "FRIENDCB_MAX_CONTENT_LENGTH", "more than 0"),
    ({"FRIENDCB_MAX_CONTENT_LENGTH": 1.5}, "FRIENDCB_MAX_CONTENT_LENGTH", "int"),
    ({"FRIENDCB_CLOCK": 5}, "FRIENDCB_CLOCK", "callable"),
]


@pytest.mark.parametrize(
    ("config", "key", "message"), BAD, ids=[f"{k}={c[k]!r}" for c, k, _ in BAD]
)
def test_registration_fails_naming_the_key(config: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        flask_app(**config)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("config", "attribute", "expected"),
    [
        ({"FRIENDCB_SDKAPPID": "1400000000"}, "sdkappid", "1400000000"),
        ({"FRIENDCB_SDKAPPID": " 01400000000 "}, "sdkappid", "1400000000"),
        ({"FRIENDCB_TOKEN": ["a", "b"]}, "tokens", ("a", "b")),
        ({"FRIENDCB_TOKEN": ("a",)}, "tokens", ("a",)),
        ({"FRIENDCB_TOKEN": None, "FRIENDCB_ALLOW_UNSIGNED": True}, "tokens", ()),
        ({"FRIENDCB_TOKEN": None, "FRIENDCB_ALLOW_UNSIGNED": "true"}, "allow_unsigned", True),
        ({"FRIENDCB_ALLOW_UNSIGNED": "off"}, "allow_unsigned", False),
        ({"FRIENDCB_MAX_SKEW": "30"}, "max_skew", 30.0),
        ({"FRIENDCB_DEADLINE": 0.5}, "deadline", 0.5),
        ({"FRIENDCB_HOOK_ERROR_CODE": "38500"}, "hook_error_code", 38500),
        ({"FRIENDCB_MAX_CONTENT_LENGTH": 4096}, "max_content_length", 4096),
    ],
)
def test_values_are_normalised(config: dict[str, Any], attribute: str, expected: Any) -> None:
    app, _ = flask_app(**config)
    assert getattr(app.extensions["friendcb"].settings, attribute) == expected


def test_unknown_prefixed_keys_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_friendcb"):
        flask_app(FRIENDCB_TOKENS=["typo"])
    assert any("FRIENDCB_TOKENS" in record.getMessage() for record in caplog.records)


def test_middleware_names_its_own_keys() -> None:
    with pytest.raises(ConfigError) as raised:
        FriendCallbackMiddleware(other_app, path="/cb", sdkappid=1, token=TOKEN, max_skew=-1)
    assert raised.value.key == "max_skew"
    with pytest.raises(ConfigError) as raised:
        FriendCallbackMiddleware(other_app, path="/cb", sdkappid=1)
    assert raised.value.key == "token"
    with pytest.raises(ConfigError) as raised:
        FriendCallbackMiddleware(other_app, path="/cb", sdkappid=1, token=TOKEN, max_skwe=5)
    assert raised.value.key == "max_skwe"
    with pytest.raises(ConfigError) as raised:
        FriendCallbackMiddleware(other_app, path="cb", sdkappid=1, token=TOKEN)
    assert raised.value.key == "path"
