"""The audit log's database through SQLAlchemy 2 Core: the same code on SQLite and PostgreSQL
(psycopg 3).

Records reach it from the spool (``spool.py``) by the drainer (``drainer.py``): each carries
a unique id, and shipping inserts with ``ON CONFLICT DO NOTHING`` on that id, so a batch shipped
twice (a crash between the insert and the spool's acknowledgement) writes its rows once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url

from flask_friendcb import ConfigError, ResponseAction

from .audit_schema import RESPONSE_COMMAND, callbacks, decisions, metadata

logger = logging.getLogger("example_app.audit")

#: The environment variable (and config key) of the audit database's URL.
DATABASE_URL_KEY = "EXAMPLE_DATABASE_URL"
#: Where the migrations live; Flask-Migrate and :meth:`AuditLog.upgrade` both read them here.
MIGRATIONS = str(Path(__file__).with_name("migrations"))

#: An account search with no index reads this many decision ids per query (about 30 ms on
#: SQLite on the development machine), and stops after this many seconds with what it found:
#: see :meth:`AuditLog.search_page`.
SEARCH_SLICE_IDS = 50_000
SEARCH_BUDGET_S = 0.5
# pg_trgm finds trigrams in runs of letters and digits (not "_"): a text without three in a
# row cannot narrow an index scan, and is searched in slices.
_TRIGRAM_WORD = re.compile(r"[^\W_]{3}")

_ACCEPTING = (ResponseAction.AGREE_AND_ADD.value, ResponseAction.AGREE.value)
#: The commands of the friend flow, as the audit log's ``command`` column holds them.
REQUEST_COMMAND = "Sns.CallbackPrevFriendAdd"
FRIEND_ADDED_COMMAND = "Sns.CallbackFriendAdd"
FRIEND_DELETED_COMMAND = "Sns.CallbackFriendDelete"
BLOCKLIST_ADDED_COMMAND = "Sns.CallbackBlackListAdd"
BLOCKLIST_REMOVED_COMMAND = "Sns.CallbackBlackListDelete"
# Shippers of every instance take this PostgreSQL lock for their transaction: decision ids then
# become visible in the order they were given, so a reader that keeps the last id it saw (the
# live page) cannot step over a row committed late.
_SHIP_LOCK = 0x66726E64
# The columns of a decision as the page and the API show it.
_DECISION_COLUMNS = (
    decisions.c.id,
    decisions.c.callback_id,
    decisions.c.position,
    decisions.c.received_at_ms,
    decisions.c.command,
    decisions.c.from_account,
    decisions.c.to_account,
    decisions.c.action,
    decisions.c.remark,
    decisions.c.tag_name,
    decisions.c.wording,
    decisions.c.result_code,
    decisions.c.result_info,
    decisions.c.outcome,
    decisions.c.hook,
    callbacks.c.event_time_ms,
    callbacks.c.requester_account,
    callbacks.c.client_ip,
    callbacks.c.platform,
)
#: The fields of ``flask --app example_app audit export``, in their order (DESIGN.md, 4);
#: ``command`` last, so that readers of the older export find its fields where they were.
EXPORT_FIELDS = (
    "from_account",
    "to_account",
    "action",
    "result_code",
    "result_info",
    "policy",
    "event_time_ms",
    "received_at_ms",
    "client_ip",
    "platform",
    "command",
)


class _ItemFields(TypedDict):
    to_account: str
    action: str
    remark: str
    tag_name: str
    result_code: int
    result_info: str
    outcome: str
    hook: str | None


class ItemRecord(_ItemFields, total=False):
    """The decision on one item, or one pair of an after-callback, as spooled."""

    #: A pair's own From_Account (after-callbacks); the callback's otherwise.
    from_account: str
    #: A request's AddWording (absent from records spooled before the whole flow).
    wording: str


class _RecordFields(TypedDict):
    record_id: str
    received_at_ms: int
    event_time_ms: int
    sdkappid: str
    from_account: str
    requester_account: str
    client_ip: str
    platform: str
    items: list[ItemRecord]


class AuditRecord(_RecordFields, total=False):
    """One callback and its decisions, as spooled and shipped."""

    #: Its CallbackCommand (absent from records spooled before the whole flow: responses).
    command: str


@dataclass(frozen=True)
class ShippedBatch:
    """What one committed batch held (given to the ``on_shipped`` observers)."""

    record_ids: tuple[str, ...]
    decisions: int


@dataclass(frozen=True)
class MinuteCount:
    """How many items of one kind one policy decided in one minute (see
    :meth:`AuditLog.per_minute`)."""

    #: The minute's start, in ms since the epoch (a multiple of 60,000).
    minute_ms: int
    #: ``"accepted"``, ``"declined"`` (responses allowed), ``"requested"`` (requests allowed),
    #: ``"blocked"``, or ``"observed"`` (after-callbacks' pairs, which the page does not chart).
    kind: str
    #: The hook that blocked (``None`` for allowed items, and for a blocked item no hook named).
    hook: str | None
    count: int


def escape_like(text: str) -> str:
    """``text`` for a ``LIKE ... ESCAPE '\\'`` pattern: its ``\\``, ``%`` and ``_`` matched
    as themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def policy_name(hook: str | None) -> str:
    """The policy that decided, as the page names it: the hook's last dotted part."""
    return (hook or "").rsplit(".", 1)[-1]


def parse_url(url: str) -> sa.URL:
    """``url`` checked: a SQLAlchemy URL of SQLite or PostgreSQL; raises
    :class:`~flask_friendcb.ConfigError` naming the variable otherwise."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(
            DATABASE_URL_KEY,
            "is not a SQLAlchemy URL (postgresql+psycopg://user:password@host/db, "
            "sqlite:////path/to/file)",
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            DATABASE_URL_KEY,
            f"names the {parsed.get_backend_name()!r} database: only postgresql and sqlite "
            "are supported",
        )
    return parsed


@dataclass(frozen=True)
class SearchPage:
    """A page of the operator page's search: its rows, newest first; ``next_before``: the
    ``before_id`` of the next page (``None``: the log is read to its oldest row);
    ``partial``: the page stopped on its time budget before it was full."""

    rows: list[dict[str, Any]]
    next_before: int | None
    partial: bool


class AuditLog:
    """The audit database at ``url`` (a SQLAlchemy URL). Connections are opened when needed."""

    def __init__(self, url: str | sa.URL) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.dialect = self.url.get_backend_name()
        self.metadata = metadata
        self._trigram_indexes: bool | None = None
        try:
            self.engine: Engine = _engine(self.url)
        except (ImportError, sa.exc.NoSuchModuleError) as error:
            raise ConfigError(
                DATABASE_URL_KEY, f"names a driver that is not installed ({error})"
            ) from None

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    # -- schema ----------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to ``revision``. Processes of one machine that start together
        on a new SQLite file take turns (a lock file beside it)."""
        with self._migration_lock(), self.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema's current revision; ``None`` for a database never migrated."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head() -> str:
        """The newest revision the code knows."""
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        head = ScriptDirectory.from_config(config).get_current_head()
        assert head is not None
        return head

    def check(self) -> None:
        """At start-up: the database answers (else :class:`~flask_friendcb.ConfigError`, one
        line naming the variable). A schema that is not the newest is logged as an error, not
        raised: ``flask db upgrade`` must start, and records wait in the spool until then."""
        try:
            current = self.revision()
        except sa.exc.DBAPIError as error:
            raise ConfigError(
                DATABASE_URL_KEY,
                f"cannot reach the audit database {self.display_url}: {_first_line(error)}",
            ) from None
        if current != self.head():
            logger.error(
                "%s: the audit database %s is at schema revision %s, not %s: run `flask --app "
                "example_app db upgrade` (records wait in the spool until then)",
                DATABASE_URL_KEY,
                self.display_url,
                current or "none",
                self.head(),
            )

    # -- writing ---------------------------------------------------------------------------

    def ship(self, records: Sequence[AuditRecord]) -> ShippedBatch:
        """Write ``records`` in one transaction; a record already there is left as it is."""
        if not records:
            return ShippedBatch((), 0)
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        record_ids = [record["record_id"] for record in records]
        with self.engine.begin() as db:
            if self.dialect == "postgresql":
                db.execute(sa.select(sa.func.pg_advisory_xact_lock(_SHIP_LOCK)))
            db.execute(
                insert(callbacks).on_conflict_do_nothing(index_elements=["record_id"]),
                [
                    {
                        "record_id": record["record_id"],
                        "command": record.get("command", RESPONSE_COMMAND),
                        "received_at_ms": record["received_at_ms"],
                        "event_time_ms": record["event_time_ms"],
                        "sdkappid": record["sdkappid"],
                        "from_account": record["from_account"],
                        "requester_account": record["requester_account"],
                        "client_ip": record["client_ip"],
                        "platform": record["platform"],
                    }
                    for record in records
                ],
            )
            ids = dict(
                db.execute(
                    sa.select(callbacks.c.record_id, callbacks.c.id).where(
                        callbacks.c.record_id.in_(record_ids)
                    )
                ).all()
            )
            rows = [
                {
                    "callback_id": ids[record["record_id"]],
                    "record_id": record["record_id"],
                    "position": position,
                    "received_at_ms": record["received_at_ms"],
                    "command": record.get("command", RESPONSE_COMMAND),
                    "from_account": record["from_account"],
                    "wording": "",
                    **item,
                }
                for record in records
                for position, item in enumerate(record["items"])
            ]
            if rows:
                db.execute(
                    insert(decisions).on_conflict_do_nothing(
                        index_elements=["record_id", "position"]
                    ),
                    rows,
                )
        return ShippedBatch(tuple(record_ids), len(rows))

    def prune(self, before_ms: int, batch: int = 500) -> int:
        """Delete up to ``batch`` callbacks received before ``before_ms``, with their
        decisions, in one short transaction; how many callbacks went."""
        with self.engine.begin() as db:
            old = db.execute(
                sa.select(callbacks.c.id, callbacks.c.record_id)
                .where(callbacks.c.received_at_ms < before_ms)
                .order_by(callbacks.c.received_at_ms)
                .limit(batch)
            ).all()
            if not old:
                return 0
            db.execute(
                sa.delete(decisions).where(decisions.c.record_id.in_([r.record_id for r in old]))
            )
            # Rows of another writer's schema without a record id still go with their callback.
            db.execute(sa.delete(decisions).where(decisions.c.callback_id.in_([r.id for r in old])))
            db.execute(sa.delete(callbacks).where(callbacks.c.id.in_([r.id for r in old])))
        return len(old)

    # -- reading ---------------------------------------------------------------------------

    def latest(
        self,
        *,
        account: str | None = None,
        blocked: bool | None = None,
        up_to: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The newest decisions first; see :meth:`example_app.store.Store.latest`."""
        where: list[sa.ColumnElement[bool]] = []
        if up_to is not None:
            where.append(decisions.c.id <= up_to)
        if account:
            where.append(
                sa.or_(decisions.c.from_account == account, decisions.c.to_account == account)
            )
        if blocked is not None:
            where.append(decisions.c.result_code != 0 if blocked else decisions.c.result_code == 0)
        return self.decisions(where, [decisions.c.id.desc()], limit)

    def since(self, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """Decisions with an id above ``after_id``, oldest first."""
        return self.decisions([decisions.c.id > after_id], [decisions.c.id], limit)

    def search(
        self,
        *,
        contains: str = "",
        blocked: bool | None = None,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Decisions newest first; see :meth:`example_app.store.Store.search`. ``after_id``:
        only those with a larger id."""
        where: list[sa.ColumnElement[bool]] = []
        if before_id is not None:
            where.append(decisions.c.id < before_id)
        if after_id is not None:
            where.append(decisions.c.id > after_id)
        if contains:
            # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite: letters in any case on both.
            pattern = "%" + escape_like(contains) + "%"
            where.append(
                sa.or_(
                    decisions.c.from_account.ilike(pattern, escape="\\"),
                    decisions.c.to_account.ilike(pattern, escape="\\"),
                )
            )
        if blocked is not None:
            where.append(decisions.c.result_code != 0 if blocked else decisions.c.result_code == 0)
        return self.decisions(where, [decisions.c.id.desc()], limit)

    def search_page(
        self,
        *,
        contains: str = "",
        blocked: bool | None = None,
        before_id: int,
        limit: int = 200,
        budget_s: float | None = None,
    ) -> SearchPage:
        """One page of :meth:`search`, as the operator page asks for it: the rows, and the
        ``before_id`` of the next page.

        An account search with no index to read (SQLite; PostgreSQL without ``pg_trgm``, or a
        text without three letters or digits in a row) reads the log newest first in slices of
        ``SEARCH_SLICE_IDS`` ids, each a short query, and gives the worker to other requests
        between two (``time.sleep(0)``: under gevent, the callbacks of the same worker); once
        ``budget_s`` has passed it stops with the rows found so far (``partial``), and the next
        page goes on from where it stopped. A search for a text that matches nothing is so many
        bounded pages, never one query that holds the worker for seconds.
        """
        if not contains or (self._accounts_indexed() and _TRIGRAM_WORD.search(contains)):
            rows = self.search(contains=contains, blocked=blocked, before_id=before_id, limit=limit)
            next_before = rows[-1]["id"] if len(rows) == limit else None
            return SearchPage(rows, next_before, partial=False)
        deadline = time.monotonic() + (SEARCH_BUDGET_S if budget_s is None else budget_s)
        oldest = self._first_decision_id()
        rows = []
        # A ``before`` past the newest id would only read empty slices.
        upper = min(before_id, self.last_decision_id() + 1)
        while len(rows) < limit and upper > oldest:
            lower = max(upper - SEARCH_SLICE_IDS, oldest)
            rows += self.search(
                contains=contains,
                blocked=blocked,
                before_id=upper,
                after_id=lower - 1,
                limit=limit - len(rows),
            )
            upper = lower
            if len(rows) < limit and upper > oldest and time.monotonic() > deadline:
                return SearchPage(rows, upper, partial=True)
            time.sleep(0)
        if len(rows) == limit:
            return SearchPage(rows, rows[-1]["id"], partial=False)
        return SearchPage(rows, None, partial=False)

    def _first_decision_id(self) -> int:
        with self.engine.connect() as db:
            value = db.execute(sa.select(sa.func.coalesce(sa.func.min(decisions.c.id), 0)))
            return int(value.scalar_one())

    def _accounts_indexed(self) -> bool:
        """Whether the account columns have trigram indexes (PostgreSQL after migration 0004,
        where ``pg_trgm`` could be created); asked once per process (indexes added later are
        used after a restart)."""
        if self._trigram_indexes is None:
            if self.dialect != "postgresql":
                self._trigram_indexes = False
            else:
                with self.engine.connect() as db:
                    names = {index["name"] for index in sa.inspect(db).get_indexes("decisions")}
                self._trigram_indexes = {"decisions_from_trgm", "decisions_to_trgm"} <= names
        return self._trigram_indexes

    def per_minute(self, since_ms: int, until_ms: int) -> list[MinuteCount]:
        """Items decided in ``[since_ms, until_ms)`` per minute, kind and blocking hook; see
        :meth:`example_app.store.Store.per_minute`."""
        at = decisions.c.received_at_ms
        # The remainder, not a division: "/" is exact division for SQLAlchemy, and the two
        # engines' integer divisions differ.
        minute = (at - at % 60000).label("minute_ms")
        kind = sa.case(
            (decisions.c.result_code != 0, sa.literal_column("'blocked'")),
            (
                decisions.c.command == sa.literal_column(f"'{REQUEST_COMMAND}'"),
                sa.literal_column("'requested'"),
            ),
            (
                decisions.c.command != sa.literal_column(f"'{RESPONSE_COMMAND}'"),
                sa.literal_column("'observed'"),
            ),
            (
                decisions.c.action.in_([sa.literal_column(f"'{a}'") for a in _ACCEPTING]),
                sa.literal_column("'accepted'"),
            ),
            else_=sa.literal_column("'declined'"),
        ).label("kind")
        blocker = sa.case((decisions.c.result_code != 0, decisions.c.hook)).label("blocker")
        query = (
            sa.select(minute, kind, blocker, sa.func.count())
            # No condition on the command: the time range is read from the covering index.
            .where(at >= since_ms, at < until_ms)
            # By position: PostgreSQL wants the grouped expressions written identically.
            .group_by(sa.literal_column("1"), sa.literal_column("2"), sa.literal_column("3"))
            .order_by(
                sa.literal_column("1"),
                sa.literal_column("2"),
                sa.literal_column("3").nulls_first(),
            )
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [MinuteCount(int(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]

    def last_decision_id(self) -> int:
        """The id of the newest decision, 0 when there is none."""
        with self.engine.connect() as db:
            value = db.execute(sa.select(sa.func.coalesce(sa.func.max(decisions.c.id), 0)))
            return int(value.scalar_one())

    def stats(self, since_ms: int) -> dict[str, int]:
        """Responses accepted and declined, requests let through, and items of either
        blocked, after ``since_ms`` (after-callbacks' pairs are not counted)."""
        allowed = decisions.c.result_code == 0
        response = decisions.c.command == RESPONSE_COMMAND
        accepting = decisions.c.action.in_(_ACCEPTING)
        query = sa.select(
            sa.func.count().filter(sa.and_(allowed, response, accepting)),
            sa.func.count().filter(sa.and_(allowed, response, sa.not_(accepting))),
            sa.func.count().filter(sa.and_(allowed, decisions.c.command == REQUEST_COMMAND)),
            sa.func.count().filter(decisions.c.result_code != 0),
        ).where(decisions.c.received_at_ms > since_ms)
        with self.engine.connect() as db:
            accepted, declined, requested, blocked = db.execute(query).one()
        return {
            "accepted": accepted,
            "declined": declined,
            "requested": requested,
            "blocked": blocked,
        }

    def blocked_by_users(
        self, since_ms: int, threshold: int, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Accounts that at least ``threshold`` distinct users put on their blocklist
        (``Sns.CallbackBlackListAdd``) since ``since_ms``, the most reported first: each with
        ``account``, ``users`` (how many distinct users), ``last_ms`` (the newest report).
        Read from the audit log, so every instance's reports count."""
        reported = decisions.c.to_account
        users = sa.func.count(sa.distinct(decisions.c.from_account))
        query = (
            sa.select(
                reported.label("account"),
                users.label("users"),
                sa.func.max(decisions.c.received_at_ms).label("last_ms"),
            )
            .where(
                decisions.c.command == BLOCKLIST_ADDED_COMMAND,
                decisions.c.received_at_ms >= since_ms,
            )
            .group_by(reported)
            .having(users >= threshold)
            .order_by(users.desc(), sa.func.max(decisions.c.received_at_ms).desc(), reported)
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [
                {"account": row.account, "users": int(row.users), "last_ms": int(row.last_ms)}
                for row in db.execute(query)
            ]

    def story(self, first: str, second: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every row between ``first`` and ``second``, whichever sent what, in the order they
        were received (the newest ``limit``): the pair's request, response, and what became of
        the friendship."""
        between = sa.or_(
            sa.and_(decisions.c.from_account == first, decisions.c.to_account == second),
            sa.and_(decisions.c.from_account == second, decisions.c.to_account == first),
        )
        # In the order they arrived: ids follow the order the rows were shipped, which
        # another worker's or instance's spool may change by a moment.
        order = [decisions.c.received_at_ms.desc(), decisions.c.id.desc()]
        rows = self.decisions([between], order, limit)
        rows.reverse()
        return rows

    def counts(self) -> tuple[int, int]:
        """How many callbacks and item decisions the log holds."""
        with self.engine.connect() as db:
            (callback_count,) = db.execute(sa.select(sa.func.count()).select_from(callbacks)).one()
            (decision_count,) = db.execute(sa.select(sa.func.count()).select_from(decisions)).one()
        return int(callback_count), int(decision_count)

    def decisions(
        self,
        where: Sequence[sa.ColumnElement[bool]],
        order: Sequence[sa.ColumnElement[Any]],
        limit: int,
    ) -> list[dict[str, Any]]:
        """Decisions joined with their callback, as the page shows them."""
        query = (
            sa.select(*_DECISION_COLUMNS)
            .select_from(decisions.join(callbacks, callbacks.c.id == decisions.c.callback_id))
            .where(*where)
            .order_by(*order)
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [dict(row) for row in db.execute(query).mappings()]

    def export(self, since_ms: int | None = None, chunk: int = 1000) -> Iterator[dict[str, Any]]:
        """Every decision (received at or after ``since_ms``), oldest first, with the export's
        fields; streamed (a server-side cursor on PostgreSQL), so memory stays flat however
        long the log."""
        query = (
            sa.select(
                decisions.c.from_account,
                decisions.c.to_account,
                decisions.c.action,
                decisions.c.result_code,
                decisions.c.result_info,
                decisions.c.hook,
                callbacks.c.event_time_ms,
                decisions.c.received_at_ms,
                callbacks.c.client_ip,
                callbacks.c.platform,
                decisions.c.command,
            )
            .select_from(decisions.join(callbacks, callbacks.c.id == decisions.c.callback_id))
            .order_by(decisions.c.id)
        )
        if since_ms is not None:
            query = query.where(decisions.c.received_at_ms >= since_ms)
        with self.engine.connect() as db:
            result = db.execution_options(stream_results=True, yield_per=chunk).execute(query)
            for row in result.mappings():
                yield {
                    field: policy_name(row["hook"]) if field == "policy" else row[field]
                    for field in EXPORT_FIELDS
                }

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        path = self.url.database if self.dialect == "sqlite" else None
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


# Engines of this process: a forked child drops the parent's pooled connections without
# closing them (they are the parent's sockets), as SQLAlchemy advises for multiprocessing.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_parent_connections() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def _engine(url: sa.URL) -> Engine:
    engine = _new_engine(url)
    _ENGINES.add(engine)
    return engine


def _new_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url,
        # A database that went away is noticed when a connection is taken, not mid-batch.
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        pool_timeout=10,
        connect_args={
            # Bounded waits: a slow or silent server costs the drainer a retry, never a hang.
            "connect_timeout": 5,
            "options": "-c statement_timeout=30000 -c lock_timeout=10000",
        },
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    try:
        # WAL: the live page reads while the drainer writes. NORMAL: a commit survives a crash
        # of the service, and the write lock is not held through a disk sync.
        with contextlib.suppress(Exception):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]
