"""The example's own settings: ``EXAMPLE_*`` keys of the app's config, read from the environment.

The library's settings are its ``FRIENDCB_*`` keys; these are everything else the service needs.
Values may be strings (the environment) or already typed (a test's config mapping).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import parse_many

from flask_friendcb import ConfigError

from .audit_log import parse_url

#: Prefix of the example's config keys and environment variables.
PREFIX = "EXAMPLE_"
#: Shortest ``EXAMPLE_PASSWORD`` accepted: the password guards the blocklist from the network.
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class ExampleSettings:
    """Validated ``EXAMPLE_*`` settings."""

    #: Address ``python -m example_app`` binds to; the operator pages need a password when it
    #: is not a loopback address.
    host: str = "127.0.0.1"
    #: Port ``python -m example_app`` listens on.
    port: int = 5000
    #: Password of the operator pages (HTTP Basic, any user name); ``None``: loopback only.
    password: str | None = None
    #: A responder may accept this many requests per window; the next is refused.
    velocity_limit: int = 20
    #: The velocity window, in seconds (counted in whole seconds, rounded up).
    velocity_window: float = 60.0

    @property
    def velocity_seconds(self) -> int:
        """The velocity window as it is counted: whole seconds, rounded up, at least one."""
        return max(1, math.ceil(self.velocity_window))

    #: An account this many distinct users put on their blocklist within the report window
    #: shows on the page's "blocked by users" panel.
    report_threshold: int = 3
    #: The report window, in seconds.
    report_window: float = 3600.0
    #: Words a remark or friend group may not hold (the content policy reads them the way it
    #: reads remarks; here they are only folded, to drop duplicates).
    banned_words: tuple[str, ...] = ()
    #: Redis (or Valkey) for the blocklist and the velocity counts of many instances:
    #: ``redis://``, ``rediss://``, ``valkey://``; ``None``: SQLite files on this machine.
    redis_url: str | None = None
    #: The SQLite database; ``None``: ``example_app.sqlite3`` in the app's instance folder.
    database: str | None = None
    #: The audit log's SQLAlchemy URL (``postgresql+psycopg://...``); ``None``: the SQLite
    #: database above, migrated by the app itself at start-up.
    database_url: str | None = None
    #: The local spool's file; ``None``: beside the SQLite database.
    audit_spool: str | None = None
    #: Records waiting in the spool past which the log says so loudly, every minute.
    audit_spool_limit: int = 1_000_000
    #: Callbacks older than this many days are pruned from the audit log.
    audit_retention_days: int = 90
    #: Flask's ``SECRET_KEY`` (signs the operator's CSRF session); ``None``: one is generated
    #: once and kept in the database, so that every worker shares it.
    secret_key: str | None = None
    #: Live streams (``/events``) one process serves at once; the next gets a 503 with
    #: ``Retry-After``, so open pages never take the connections callbacks need.
    max_streams: int = 100
    #: Seconds a live stream may wait for a reader to take what it sends before it is cut off.
    stream_send_timeout: float = 10.0
    #: Host names (and addresses) the operator pages answer to, besides the bound address and
    #: the loopback names; a leading dot allows every subdomain (Werkzeug's ``TRUSTED_HOSTS``).
    trusted_hosts: tuple[str, ...] = ()
    #: The operator reaches the pages over HTTPS (a TLS proxy): cookies are sent Secure.
    https: bool = False
    #: Wrong passwords a client may send (Flask-Limiter's notation) before it is refused.
    login_limit: str = "10/minute"

    @classmethod
    def unknown_keys(cls, config: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        """The ``EXAMPLE_*`` keys of ``config`` no setting reads (a typo, most likely), each
        with the setting's name it is closest to, if one is close."""
        known = [PREFIX + field.name.upper() for field in dataclasses.fields(cls)]
        return [
            (key, next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.8)), None))
            for key in sorted(config)
            if isinstance(key, str) and key.startswith(PREFIX) and key not in known
        ]

    @property
    def loopback_only(self) -> bool:
        """Whether the configured address is a loopback one."""
        return is_loopback(self.host)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ExampleSettings:
        """Read and validate the ``EXAMPLE_*`` keys of a Flask config; raises
        :class:`~flask_friendcb.ConfigError` naming the key at fault."""

        def get(name: str, default: Any) -> Any:
            value = config.get(PREFIX + name.upper())
            return default if value is None or value == "" else value

        settings = cls(
            host=_host(get("host", cls.host)),
            port=_integer("port", get("port", cls.port), 1, 65535),
            password=_optional_str(get("password", None)),
            velocity_limit=_integer("velocity_limit", get("velocity_limit", cls.velocity_limit), 1),
            velocity_window=_number("velocity_window", get("velocity_window", cls.velocity_window)),
            report_threshold=_integer(
                "report_threshold", get("report_threshold", cls.report_threshold), 1
            ),
            report_window=_number("report_window", get("report_window", cls.report_window)),
            banned_words=_words(get("banned_words", ())),
            database=_file("database", get("database", None)),
            redis_url=_redis_url(get("redis_url", None)),
            database_url=_database_url(get("database_url", None)),
            audit_spool=_file("audit_spool", get("audit_spool", None)),
            audit_spool_limit=_integer(
                "audit_spool_limit", get("audit_spool_limit", cls.audit_spool_limit), 1
            ),
            audit_retention_days=_integer(
                "audit_retention_days", get("audit_retention_days", cls.audit_retention_days), 1
            ),
            secret_key=_optional_str(get("secret_key", None)),
            max_streams=_integer("max_streams", get("max_streams", cls.max_streams), 1),
            stream_send_timeout=_number(
                "stream_send_timeout", get("stream_send_timeout", cls.stream_send_timeout)
            ),
            trusted_hosts=_names(get("trusted_hosts", ())),
            https=_flag("https", get("https", cls.https)),
            login_limit=_limit(get("login_limit", cls.login_limit)),
        )
        if settings.password is not None and len(settings.password) < MIN_PASSWORD_LENGTH:
            raise ConfigError(
                "EXAMPLE_PASSWORD",
                f"must be at least {MIN_PASSWORD_LENGTH} characters (it is"
                f" {len(settings.password)}): it guards the blocklist from the network",
            )
        if not settings.loopback_only and settings.password is None:
            raise ConfigError(
                "EXAMPLE_PASSWORD",
                f"is required when EXAMPLE_HOST ({settings.host}) is not a loopback address: "
                "the operator pages would be open to the network",
            )
        return settings


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or ``localhost``) is a loopback address."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123).
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def _host(value: Any) -> str:
    # Checked here, so that a URL or a typo is one line naming the key rather than a
    # traceback from the server's bind.
    host = str(value).strip()
    if len(host) <= 253 and _HOST_NAME.fullmatch(host):
        return host
    try:
        return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
    except ValueError:
        raise ConfigError(
            "EXAMPLE_HOST",
            f"must be an IP address or a host name (such as 127.0.0.1, 0.0.0.0 or localhost), "
            f"got {value!r}",
        ) from None


def _key(name: str) -> str:
    return PREFIX + name.upper()


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _file(name: str, value: Any) -> str | None:
    # Every worker and every `flask --app example_app ...` command opens the same file: an
    # in-memory database would be a different, empty one in each (and SQLite writes
    # ":memory:"-named side files into the working directory).
    if value is None:
        return None
    path = str(value)
    if path.strip() == ":memory:" or path.startswith("file:"):
        raise ConfigError(
            _key(name),
            f"must be the path of a file, got {path!r}: the service's workers and commands "
            "all open it",
        )
    return path


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    try:
        number = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        raise ConfigError(_key(name), f"must be an integer, got {value!r}") from None
    if isinstance(number, bool) or not isinstance(number, int):
        raise ConfigError(_key(name), f"must be an integer, got {value!r}")
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ConfigError(_key(name), f"must be {bounds}, got {number}")
    return number


def _database_url(value: Any) -> str | None:
    if value is None:
        return None
    url = str(value)
    parse_url(url)  # a ConfigError naming EXAMPLE_DATABASE_URL, without the URL's password
    return url


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(_key(name), f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not 0 < number < float("inf"):
        raise ConfigError(_key(name), f"must be a positive number, got {value!r}")
    return number


def _redis_url(value: Any) -> str | None:
    if value is None:
        return None
    url = str(value).strip()
    scheme = url.partition("://")[0].lower()
    if scheme not in ("redis", "rediss", "valkey", "valkeys") or "://" not in url:
        raise ConfigError(
            "EXAMPLE_REDIS_URL",
            "must be a redis://, rediss://, valkey:// or valkeys:// URL "
            f"(redis://host:6379/0), got one starting {url[:12]!r}",
        )
    return url


def _words(value: Any) -> tuple[str, ...]:
    # The environment gives "casino, free money"; a config mapping may give a list.
    words = value.split(",") if isinstance(value, str) else value
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise ConfigError(
            "EXAMPLE_BANNED_WORDS", f"must be a comma-separated str or a list of str, got {value!r}"
        )
    # Folded only to drop duplicates (" Casino" and its full-width twin); ContentPolicy reads them
    # the way it reads remarks.
    folded = (unicodedata.normalize("NFKC", word).casefold().strip() for word in words)
    return tuple(dict.fromkeys(word for word in folded if word))


def _names(value: Any) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            "EXAMPLE_TRUSTED_HOSTS",
            f"must be a comma-separated str or a list of str, got {value!r}",
        )
    return tuple(name.strip().lower() for name in names if name.strip())


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(_key(name), f"must be true or false, got {value!r}")


def _limit(value: Any) -> str:
    try:
        parse_many(str(value))
    except ValueError:
        raise ConfigError(
            "EXAMPLE_LOGIN_LIMIT", f"must be a rate such as '10/minute', got {value!r}"
        ) from None
    return str(value)
