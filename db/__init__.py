"""Storage for taskgroup: SQLAlchemy models, sessions, Alembic migrations and finders.

SQLite by default, any SQLAlchemy URL (PostgreSQL included) by `--db URL` or `TASKGROUP_DB`.
This package imports nothing from `taskgroup` or `jobs`.
"""

from db.errors import ConflictError, MissingDatabaseError, NotFoundError, SchemaVersionError, StorageError
from db.store import Store, default_url, open_store

__all__ = [
    "ConflictError",
    "MissingDatabaseError",
    "NotFoundError",
    "SchemaVersionError",
    "StorageError",
    "Store",
    "default_url",
    "open_store",
]
