"""Riding out database hiccups in long-running workers: a PostgreSQL restart, a busy SQLite file.

A worker that trains for hours must not die because the database was away for a minute. Errors
the driver raises for lost connections and lock timeouts are retried with exponential backoff
until a deadline; anything else (a conflict, a missing study) is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc

from db.errors import ConflictError, NotFoundError, StorageError

T = TypeVar("T")
QUIET_SECONDS = 10.0
"""Retries within this many seconds are routine (a busy SQLite file) and logged at debug level only."""
log = logging.getLogger("taskgroup.jobs")


def is_transient(error: BaseException) -> bool:
    """A storage error caused by a lost connection or a lock timeout, which a retry can cure."""
    if not isinstance(error, StorageError) or isinstance(error, ConflictError | NotFoundError):
        return False
    cause = error.__cause__
    if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
        return True
    return isinstance(cause, exc.OperationalError | exc.InterfaceError)


def retry_transient(
    action: Callable[[], T],
    *,
    deadline: float = 600.0,
    first_delay: float = 0.05,
    max_delay: float = 5.0,
    what: str = "database call",
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Run `action`; while it fails transiently and `deadline` seconds have not passed, wait and retry.

    The last transient error is raised once the deadline passes, so a database that stays away is
    still reported (with the driver's message) rather than waited on forever.
    """
    start = time.monotonic()
    delay = first_delay
    while True:
        try:
            return action()
        except StorageError as error:
            if not is_transient(error) or time.monotonic() - start + delay > deadline:
                raise
            waited = time.monotonic() - start
            level = logging.WARNING if waited >= QUIET_SECONDS else logging.DEBUG
            log.log(level, "%s failed (%s); retrying in %.2fs", what, error, delay)
            sleep(delay)
            delay = min(max_delay, delay * 2)
