"""The audit log's tables as SQLAlchemy Core sees them at the newest migration.

The migrations in ``migrations/versions`` make and change the tables; this module only
describes the result, for the queries. Times are Unix milliseconds (BIGINT: they pass 2**31).
"""

from __future__ import annotations

import sqlalchemy as sa

#: The command of rows written before the audit log knew the whole flow (migration 0005).
RESPONSE_COMMAND = "Sns.CallbackPrevFriendResponse"

#: Row ids: BIGINT on PostgreSQL; on SQLite, INTEGER PRIMARY KEY (the rowid) is already 64-bit
#: and only that spelling makes the column the rowid.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

#: One row per friend callback: a request, a response or an after-callback.
callbacks = sa.Table(
    "callbacks",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("command", sa.Text, nullable=False, server_default=RESPONSE_COMMAND),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    # 0 for an after-callback that carried no EventTime.
    sa.Column("event_time_ms", sa.BigInteger, nullable=False),
    sa.Column("sdkappid", sa.Text, nullable=False),
    sa.Column("from_account", sa.Text, nullable=False),
    sa.Column("requester_account", sa.Text, nullable=False),
    sa.Column("client_ip", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    # The spool's id of the record: shipping the same record twice finds it here.
    sa.Column("record_id", sa.Text, nullable=True),
    sa.Index("callbacks_by_record", "record_id", unique=True),
    sa.Index("callbacks_by_time", "received_at_ms"),
)

#: One row per item of a callback: a request's or a response's item, with the decision it got,
#: or a pair an after-callback reported (``outcome`` ``observed``, ``result_code`` 0).
#: ``action``: a response's ResponseAction, a request's AddType, a friend addition's
#: ClientCmd ("" for the other after-callbacks). ``tag_name``: a response's TagName, a
#: request's GroupName. ``wording``: a request's AddWording ("" otherwise).
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("callback_id", RowId, sa.ForeignKey("callbacks.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.Column("command", sa.Text, nullable=False, server_default=RESPONSE_COMMAND),
    sa.Column("from_account", sa.Text, nullable=False),
    sa.Column("to_account", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("remark", sa.Text, nullable=False),
    sa.Column("tag_name", sa.Text, nullable=False),
    sa.Column("wording", sa.Text, nullable=False, server_default=""),
    sa.Column("result_code", sa.Integer, nullable=False),
    sa.Column("result_info", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("hook", sa.Text, nullable=True),
    sa.Column("record_id", sa.Text, nullable=True),
    sa.Index("decisions_by_record", "record_id", "position", unique=True),
    # Deleting a callback checks its foreign key here (retention on PostgreSQL).
    sa.Index("decisions_by_callback", "callback_id"),
    # The page's counters and chart read a time range from this index alone.
    sa.Index(
        "decisions_by_time_counts", "received_at_ms", "result_code", "action", "hook", "command"
    ),
    sa.Index("decisions_by_from", "from_account", "id"),
    sa.Index("decisions_by_to", "to_account", "id"),
    # The "blocked by users" panel: one command's rows in a time range (migration 0005).
    sa.Index("decisions_by_command", "command", "received_at_ms"),
    # The page's account search (ILIKE '%part%') on PostgreSQL, by trigrams (migration 0004,
    # where pg_trgm could be created); SQLite reads the table.
    *(
        sa.Index(
            name,
            column,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql")
        for name, column in (
            ("decisions_from_trgm", "from_account"),
            ("decisions_to_trgm", "to_account"),
        )
    ),
)
