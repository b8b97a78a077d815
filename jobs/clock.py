"""The database's clock, as SQL expressions: heartbeats and staleness never compare two machines' clocks.

PostgreSQL's `now()` is the start of the transaction, so a claim transaction that waited for a lock
would see an old time; `clock_timestamp()` is the moment the statement runs. SQLite's
`CURRENT_TIMESTAMP` has whole seconds; `strftime('%f')` gives milliseconds in the same sortable
UTC text format SQLAlchemy reads back as a datetime.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import ColumnElement, Interval, func, literal, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%f"


def database_now(dialect: Dialect) -> ColumnElement:
    """The current time on the database server, at the moment the statement runs."""
    if dialect.name == "sqlite":
        return func.strftime(_SQLITE_FORMAT, "now")
    if dialect.name == "postgresql":
        return func.clock_timestamp()
    return func.current_timestamp()


def database_seconds_ago(dialect: Dialect, seconds: float | ColumnElement) -> ColumnElement:
    """The database's current time minus `seconds` (a number, or a column: each row's own)."""
    if isinstance(seconds, ColumnElement):
        if dialect.name == "sqlite":
            return func.strftime(_SQLITE_FORMAT, "now", func.printf("-%.3f seconds", seconds))
        return database_now(dialect) - func.make_interval(0, 0, 0, 0, 0, 0, seconds)  # PostgreSQL's
    if dialect.name == "sqlite":
        return func.strftime(_SQLITE_FORMAT, "now", f"-{float(seconds):.3f} seconds")
    return database_now(dialect) - literal(timedelta(seconds=seconds), Interval())


def database_time(session: Session) -> datetime:
    """The database server's current time as an aware UTC datetime (for ages shown to users)."""
    value = session.scalar(select(database_now(session.get_bind().dialect)))
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones; make both aware."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
