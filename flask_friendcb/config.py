"""Settings: defaults, validation, and reading ``FRIENDCB_*`` keys from a Flask config.

Every setting is checked once, when the blueprint is registered or the middleware is built;
the request path trusts a :class:`Settings` object and never looks at configuration again.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import ConfigError
from .protocol import CODE_MAX, CODE_MIN, TENCENT_TIMEOUT, ErrorCode

logger = logging.getLogger("flask_friendcb")

#: Prefix of the Flask config keys.
CONFIG_PREFIX = "FRIENDCB_"

ON_HOOK_ERROR_ALLOW = "allow"
ON_HOOK_ERROR_REJECT = "reject"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    """Validated settings of one receiver (one Flask app, or one middleware)."""

    #: The application's SDKAppID, as the decimal string Tencent sends.
    sdkappid: str
    #: Accepted callback tokens; more than one during a rotation; empty when unsigned.
    tokens: tuple[str, ...] = ()
    #: Whether callbacks without a token are accepted (only when ``tokens`` is empty).
    allow_unsigned: bool = False
    #: Seconds ``RequestTime`` may differ from ``clock()``, either way.
    max_skew: float = 60.0
    #: "allow" or "reject": what a failing hook, or a passed deadline, means for an item.
    on_hook_error: str = ON_HOOK_ERROR_ALLOW
    #: ``ResultCode`` used when ``on_hook_error`` is "reject".
    hook_error_code: int = int(ErrorCode.HOOK_FAILED)
    #: Seconds of hook time per request before the remaining items fall back to the policy.
    deadline: float = 1.5
    #: Largest body accepted, in bytes.
    max_content_length: int = 1 << 20
    #: Returns the current Unix time in seconds; replaced in tests to freeze time.
    clock: Callable[[], float] = time.time
    #: Where to serve the OpenAPI description of the callback (GET), or ``None``: not served.
    openapi_route: str | None = None
    #: Whether to record Prometheus metrics (:mod:`flask_friendcb.metrics`; needs the
    #: ``metrics`` extra).
    metrics: bool = False
    #: Whether Flask-Limiter's limits skip the callback route (Flask only).
    limiter_exempt: bool = True
    #: Whether Flask-WTF's CSRF protection skips the callback route (Flask only).
    csrf_exempt: bool = True

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, key: Callable[[str], str] = str
    ) -> Settings:
        """Validate ``options`` (lower-case setting names) into settings.

        ``key`` turns a setting name into the name the user wrote, for error messages.
        Raises :class:`ConfigError` naming the first key at fault.
        """
        unknown = sorted(set(options) - _OPTION_NAMES)
        if unknown:
            raise ConfigError(key(unknown[0]), "unknown setting")

        def get(name: str) -> Any:
            return options.get(name, _DEFAULTS[name])

        if options.get("sdkappid") is None:
            raise ConfigError(key("sdkappid"), "is required: set it to your app's SDKAppID")
        sdkappid = _sdkappid(key("sdkappid"), options["sdkappid"])
        tokens = _tokens(key("token"), options.get("token"))
        allow_unsigned = _boolean(key("allow_unsigned"), get("allow_unsigned"))
        if not tokens and not allow_unsigned:
            raise ConfigError(
                key("token"),
                "is required: set the callback token from Tencent's console, or set "
                f"{key('allow_unsigned')} to True to accept unsigned callbacks",
            )
        on_hook_error = get("on_hook_error")
        if on_hook_error not in (ON_HOOK_ERROR_ALLOW, ON_HOOK_ERROR_REJECT):
            raise ConfigError(
                key("on_hook_error"), f'must be "allow" or "reject", got {on_hook_error!r}'
            )
        hook_error_code = _integer(key("hook_error_code"), get("hook_error_code"))
        if not CODE_MIN <= hook_error_code <= CODE_MAX:
            raise ConfigError(
                key("hook_error_code"),
                f"must be in [{CODE_MIN}, {CODE_MAX}], got {hook_error_code}",
            )
        deadline = _number(key("deadline"), get("deadline"))
        if not 0 < deadline < TENCENT_TIMEOUT:
            raise ConfigError(
                key("deadline"),
                f"must be more than 0 and less than Tencent's {TENCENT_TIMEOUT:g} s timeout, "
                f"got {deadline:g}",
            )
        max_skew = _number(key("max_skew"), get("max_skew"))
        if max_skew <= 0:
            raise ConfigError(key("max_skew"), f"must be more than 0, got {max_skew:g}")
        max_content_length = _integer(key("max_content_length"), get("max_content_length"))
        if max_content_length <= 0:
            raise ConfigError(
                key("max_content_length"), f"must be more than 0, got {max_content_length}"
            )
        clock = get("clock")
        if not callable(clock):
            raise ConfigError(key("clock"), "must be a callable returning Unix time in seconds")
        openapi_route = _route(key("openapi_route"), get("openapi_route"))
        metrics = _boolean(key("metrics"), get("metrics"))
        if metrics and importlib.util.find_spec("prometheus_client") is None:
            # Better at start-up than as a callback that cannot record.
            raise ConfigError(
                key("metrics"), "needs prometheus_client: pip install 'flask-friendcb[metrics]'"
            )
        return cls(
            sdkappid=sdkappid,
            tokens=tokens,
            allow_unsigned=allow_unsigned,
            max_skew=max_skew,
            on_hook_error=on_hook_error,
            hook_error_code=hook_error_code,
            deadline=deadline,
            max_content_length=max_content_length,
            clock=clock,
            openapi_route=openapi_route,
            metrics=metrics,
        )

    @classmethod
    def from_flask_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and validate the ``FRIENDCB_*`` keys of a Flask config.

        Keys with the prefix that name no setting are logged as a warning (a typo such as
        ``FRIENDCB_TOKENS`` would otherwise go unnoticed) and otherwise ignored.
        """
        options: dict[str, Any] = {}
        flask_options: dict[str, Any] = {}
        for config_key, value in config.items():
            if not config_key.startswith(CONFIG_PREFIX):
                continue
            name = config_key[len(CONFIG_PREFIX) :].lower()
            if name in _OPTION_NAMES:
                options[name] = value
            elif name in _FLASK_OPTION_NAMES:
                flask_options[name] = value
            else:
                logger.warning("ignoring unknown config key %s", config_key)
        settings = cls.from_options(options, key=config_key_for)

        # Settings about other Flask extensions mean nothing to the middleware, which runs
        # outside Flask: from_options (the middleware's) refuses them as unknown.
        def exempt(name: str) -> bool:
            return _boolean(config_key_for(name), flask_options.get(name, True))

        return replace(
            settings, limiter_exempt=exempt("limiter_exempt"), csrf_exempt=exempt("csrf_exempt")
        )


def config_key_for(name: str) -> str:
    """The Flask config key of a setting: ``max_skew`` gives ``FRIENDCB_MAX_SKEW``."""
    return CONFIG_PREFIX + name.upper()


_DEFAULTS: dict[str, Any] = {
    "allow_unsigned": False,
    "max_skew": Settings.max_skew,
    "on_hook_error": Settings.on_hook_error,
    "hook_error_code": Settings.hook_error_code,
    "deadline": Settings.deadline,
    "max_content_length": Settings.max_content_length,
    "clock": time.time,
    "openapi_route": None,
    "metrics": False,
}
_OPTION_NAMES = frozenset(_DEFAULTS) | {"sdkappid", "token"}
# Settings the Flask adapter alone reads.
_FLASK_OPTION_NAMES = frozenset({"limiter_exempt", "csrf_exempt"})


def _sdkappid(key: str, value: Any) -> str:
    # Tencent sends the SDKAppID as decimal digits; accept the int or the str form of it.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(key, f"must be an int or a str of digits, got {type(value).__name__}")
    text = str(value).strip()
    # Twenty digits at most: SDKAppIDs have ten, and int() refuses thousands.
    if not (text.isascii() and text.isdigit() and len(text) <= 20) or int(text) <= 0:
        raise ConfigError(key, f"must be a positive decimal SDKAppID, got {value!r}"[:200])
    # Tencent sends it without leading zeros, and requests are compared as text.
    return str(int(text))


def _tokens(key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise ConfigError(key, f"must be a str or a list of str, got {type(value).__name__}")
    tokens = []
    for token in values:
        if not isinstance(token, str):
            raise ConfigError(key, f"every token must be a str, got {type(token).__name__}")
        if not token.strip():
            # sha256("" + RequestTime) is computable by anyone: an empty token is no secret.
            raise ConfigError(key, "a token must not be empty")
        if token != token.strip():
            # Almost always a newline read from a file or an environment variable; kept, it
            # would make every Sign mismatch, silently.
            raise ConfigError(key, "a token must not start or end with whitespace")
        tokens.append(token)
    if not tokens:
        raise ConfigError(key, "the list of tokens is empty")
    return tuple(tokens)


def _route(key: str, value: Any) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "<>?#"):
        raise ConfigError(
            key, f"must be a path starting with '/' (or None to serve nothing), got {value!r}"
        )
    if importlib.util.find_spec("apispec") is None:
        # Better at start-up than as a failing route.
        raise ConfigError(key, "needs apispec: pip install 'flask-friendcb[openapi]'")
    return value


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
    raise ConfigError(key, f"must be True or False, got {value!r}")


def _number(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(key, f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    return float(value)


def _integer(key: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an int, got {value!r}")
    return int(value)
