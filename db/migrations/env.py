"""Alembic environment: runs migrations on the engine handed over by db.migrations_api.

On SQLite, batch mode changes a table by copying it to a new one and dropping the old; with foreign
keys enforced (as db.store turns them on), that drop would run the ON DELETE actions of every table
referring to it (a study's candidates and jobs deleted, results' jobs set to NULL). So foreign keys
are off while migrations run, and on again after.
"""

from alembic import context

from db.models import Base

engine = context.config.attributes["engine"]


def _foreign_keys(connection, on: bool) -> None:  # type: ignore[no-untyped-def]
    """Set on the driver's connection: the pragma does nothing inside a transaction, and SQLAlchemy's
    own execute would begin one."""
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _foreign_keys(connection, on=False)
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite)
            context.run_migrations()
    finally:
        if sqlite:
            _foreign_keys(connection, on=True)
