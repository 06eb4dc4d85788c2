"""An anti-abuse service built on flask-friendcb: it blocks malicious friend-request responses
and lets an operator watch every response live.

- Policies (``policies.py``): blocklist, content, velocity; declining is always allowed.
- Audit log (``audit.py``, ``spool.py``, ``drainer.py``, ``audit_log.py``): every callback and
  decision, spooled locally before the answer leaves and shipped in batches to SQLite or
  PostgreSQL (SQLAlchemy; schema migrated with Alembic: ``flask --app example_app db upgrade``).
- Operator CLI (``cli.py``): ``flask --app example_app audit export``.
- Operator page (``operator.py``): live decisions (Server-Sent Events), filters, counters and
  the blocklist, at ``/``.

Configuration comes from the environment: ``FRIENDCB_*`` for the library (unset required keys
get development defaults, announced with a warning) and ``EXAMPLE_*`` for the service (see
:class:`~example_app.settings.ExampleSettings`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate  # type: ignore[import-untyped]
from flask_talisman import Talisman  # type: ignore[import-untyped]
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from flask_friendcb import ConfigError
from flask_friendcb.blueprint import callback_paths, get_state
from flask_friendcb.policies import RateLimitPolicy
from flask_friendcb.policies.storage import as_redis_url, file_path

from .audit import connect_audit
from .audit_log import MIGRATIONS
from .blocklist import blocklist_cli
from .callback_path import serve_callbacks_first
from .cli import audit_cli
from .drainer import Drainer
from .operator import login_limit_exempt, operator, wrong_password
from .policies import PolicyCode, embedded_uris, friendcb, install
from .service import EXTENSION_KEY, Service, get_service
from .settings import PREFIX, ExampleSettings
from .spool import Spool
from .store import Store

logger = logging.getLogger("example_app")

#: Development defaults, used only when the environment does not set the key.
DEV_CONFIG: dict[str, Any] = {
    "FRIENDCB_SDKAPPID": 1400000000,
    "FRIENDCB_TOKEN": "dev-token-change-me",
}

#: The database's file name in the app's instance folder, unless ``EXAMPLE_DATABASE`` is set.
DATABASE_NAME = "example_app.sqlite3"

__all__ = [
    "DEV_CONFIG",
    "ExampleSettings",
    "PolicyCode",
    "config_from_env",
    "create_app",
    "friendcb",
    "get_service",
]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service from ``config``, else from the environment, else development
    defaults. A bad setting raises :class:`~flask_friendcb.ConfigError` naming it; under the
    ``flask`` command it is one line (``Error: EXAMPLE_PASSWORD: ...``) and exit status 1."""
    try:
        return _create_app(config)
    except ConfigError as error:
        if click.get_current_context(silent=True) is None:
            raise
        # `flask --app example_app ...`: one line, as `make run` gives, not a traceback.
        raise click.ClickException(str(error)) from None


def _create_app(config: Mapping[str, Any] | None) -> Flask:
    app = Flask(__name__)
    app.config.update(config if config is not None else config_from_env(os.environ))
    # The page stays open for hours: its CSRF token must not expire after Flask-WTF's hour.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    settings = ExampleSettings.from_config(app.config)

    # Prometheus metrics at /metrics (loopback or the operator password); FRIENDCB_METRICS=false
    # turns them off.
    app.config.setdefault("FRIENDCB_METRICS", True)
    app.register_blueprint(friendcb, url_prefix="/im")  # POST /im/callback

    database = settings.database or os.path.join(app.instance_path, DATABASE_NAME)
    spool_path = settings.audit_spool or f"{os.path.splitext(database)[0]}.audit-spool.sqlite3"
    # The instance folder is made when missing (zero-config); a folder the operator named must
    # exist: a typo is an error, not a new, empty database somewhere else.
    if settings.database is None:
        os.makedirs(app.instance_path, exist_ok=True)
    check_sqlite_file(database, "EXAMPLE_DATABASE")
    check_sqlite_file(
        spool_path, "EXAMPLE_AUDIT_SPOOL" if settings.audit_spool else "EXAMPLE_DATABASE"
    )
    store = Store(database, settings.database_url)
    spool = Spool(spool_path)
    if settings.database_url is None:
        # The embedded default is zero-config: it migrates itself (workers take turns).
        store.audit.upgrade()
    else:
        _check_audit_database(store, spool)
    # The blocklist and the velocity counts: on EXAMPLE_REDIS_URL, else beside the database.
    folder = os.path.dirname(os.path.abspath(store.path))
    policies = install(app, settings, folder)
    if not settings.redis_url:
        # Files this process cannot use are an error now, not policies that quietly allow.
        blocklist_uri, _ = embedded_uris(folder)
        check_sqlite_file(file_path(blocklist_uri), "EXAMPLE_DATABASE")
        check_velocity_file(policies.velocity, "EXAMPLE_DATABASE")
    app.cli.add_command(blocklist_cli)
    clock = get_state(app).settings.clock
    drainer = Drainer(
        spool,
        store.audit,
        clock=clock,
        spool_limit=settings.audit_spool_limit,
        retention_days=settings.audit_retention_days,
    )
    store.drainer = drainer
    app.extensions[EXTENSION_KEY] = Service(settings, store, clock, spool, drainer)
    connect_audit(app)
    # `flask --app example_app db upgrade|current|...` on the audit database.
    Migrate(app, store.audit, directory=MIGRATIONS)
    app.cli.add_command(audit_cli)
    # Ships what earlier runs, or workers killed since, left in the spool.
    drainer.start()
    if not app.secret_key:
        app.secret_key = settings.secret_key or store.secret_key()
    # Guards the operator's changes; the callback route exempts itself (Tencent sends no token).
    CSRFProtect(app)
    _harden(app, settings)
    app.register_blueprint(operator)
    # The callback skips the operator pipeline (Talisman, Flask-Limiter, the session, CSRF).
    serve_callbacks_first(app)
    _announce(app)
    return app


#: The operator page's Content-Security-Policy: its own script and style only (nothing inline,
#: nothing from elsewhere), its own origin for fetch and the event stream, and no framing.
CSP = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _harden(app: Flask, settings: ExampleSettings) -> None:
    """Security headers and cookies (Flask-Talisman), and the limit on wrong operator
    passwords (Flask-Limiter).

    No HTTPS redirect: the service runs on loopback or behind the operator's TLS proxy, and a
    redirect would break Tencent's callback. The headers on the callback's answers are inert.
    """
    Talisman(
        app,
        force_https=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="no-referrer",
        # The session holds only the CSRF token; no other site may send it along.
        session_cookie_samesite="Strict",
        session_cookie_secure=settings.https,
        # HSTS is the TLS proxy's to send: this service sees plain HTTP behind it.
        strict_transport_security=False,
    )
    # Wrong passwords are counted in Redis when the service has one (every worker of every
    # instance shares the count), else in this process (the limit then applies per worker,
    # which bounds guessing all the same). Flask-Limiter's RATELIMIT_STORAGE_URI wins. With
    # Redis down, each process counts alone until it is back.
    configured = app.config.get("RATELIMIT_STORAGE_URI")
    storage = configured or (
        as_redis_url(settings.redis_url) if settings.redis_url else "memory://"
    )
    # Falling back to memory is this service's choice for its own Redis; a store named in
    # RATELIMIT_STORAGE_URI keeps Flask-Limiter's default behaviour.
    on_our_redis = not configured and settings.redis_url is not None
    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[],
        storage_uri=storage,
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if on_our_redis else {},
        key_prefix="example_app",
        in_memory_fallback_enabled=on_our_redis,
        # No X-RateLimit-* on every answer: the 429 says when to retry (operator.api_error).
        headers_enabled=False,
    )
    # One count for the whole page and API, per client: a guesser gains nothing by switching
    # between the page's routes.
    limiter.shared_limit(
        settings.login_limit,
        scope="operator-login",
        deduct_when=wrong_password,
        exempt_when=login_limit_exempt,
    )(operator)


def _check_audit_database(store: Store, spool: Spool) -> None:
    """Refuse to start on an audit database this machine has never reached (a wrong URL, a
    wrong host): one line naming EXAMPLE_DATABASE_URL. One reached before and down now is an
    outage: the service starts all the same (a worker gunicorn restarts must boot), and the
    records wait in the spool."""
    reached = f"reached {store.audit.display_url}"
    try:
        store.audit.check()
    except ConfigError as error:
        if not spool.flag(reached):
            raise
        logger.error("%s; starting all the same: records wait in the spool", error)
    else:
        spool.flip(reached, 1)


def check_sqlite_file(path: str, key: str) -> None:
    """Refuse, naming ``key``, a SQLite file that cannot be opened: in a folder that does not
    exist, a folder itself, or one this process may not read and write."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(key, f"the folder {folder!r} does not exist; create it or fix the path")
    if os.path.isdir(path):
        raise ConfigError(key, f"{path!r} is a folder; name a file in it")
    if not os.access(folder, os.W_OK):
        # SQLite writes its journal and WAL beside the file, whatever the file allows.
        raise ConfigError(
            key, f"this process may not write in the folder {folder!r} (it holds {path!r})"
        )
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(key, f"this process may not read and write {path!r}")
    try:
        db = sqlite3.connect(path, timeout=30.0)
        try:
            db.execute("PRAGMA user_version").fetchone()
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as error:
        raise ConfigError(key, f"cannot open {path!r} as a SQLite database: {error}") from None


def check_velocity_file(policy: RateLimitPolicy, key: str) -> None:
    """Refuse, naming ``key``, a velocity counts' file the policy cannot open."""
    try:
        policy.remaining("")
    except Exception as error:
        raise ConfigError(key, f"cannot use {file_path(policy.storage_uri)!r}: {error}") from None


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``FRIENDCB_*`` variables, JSON-decoded when they are JSON (as ``flask`` does), with
    development defaults for the unset required ones; ``EXAMPLE_*`` variables as they are."""
    config: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(PREFIX):
            config[key] = value
        elif key.startswith("FRIENDCB_"):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            # A token of digits is still a token (a list is a rotation).
            token = key == "FRIENDCB_TOKEN" and not isinstance(decoded, list)
            config[key] = value if token else decoded
    # Announced once, when the app is made (_announce), rather than once per key here.
    for key, value in DEV_CONFIG.items():
        config.setdefault(key, value)
    return config


def _announce(app: Flask) -> None:
    console = (
        "in Tencent's console (Callback Configuration) set the callback URL to "
        f"https://<this host>{callback_paths(app)[0]}, the same token, and enable "
        "'Before a Friend Request Is Responded' and 'Before a Friend Is Added', and (for the "
        "audit log and the 'blocked by users' panel) the after-callbacks of friends added "
        "and deleted and of blocklists changed"
    )
    for key, close in ExampleSettings.unknown_keys(app.config):
        # Read by nothing, so without effect: say so rather than run on a default unawares.
        logger.warning(
            "%s is not a setting of example_app, and has no effect%s",
            key,
            f" (did you mean {close}?)" if close else "",
        )
    settings = get_state(app).settings
    if settings.tokens[:1] == (DEV_CONFIG["FRIENDCB_TOKEN"],):
        logger.warning(
            "the development token is in use (FRIENDCB_TOKEN is unset or the default): anyone "
            "can sign callbacks. Set FRIENDCB_SDKAPPID and FRIENDCB_TOKEN to your app's, then %s",
            console,
        )
    elif settings.sdkappid == str(DEV_CONFIG["FRIENDCB_SDKAPPID"]):
        logger.warning(
            "the development SdkAppid is in use (FRIENDCB_SDKAPPID is %s): Tencent's "
            "callbacks for your app will be refused. Set FRIENDCB_SDKAPPID to your app's, then %s",
            settings.sdkappid,
            console,
        )
    else:
        logger.info("%s", console)
