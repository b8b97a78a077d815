"""Alembic driven from code: the schema check every open does, and `taskgroup db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from db.errors import MissingDatabaseError, SchemaVersionError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at our migrations; `engine` is handed to env.py when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no Alembic revisions found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def check_upgradable(engine: Engine) -> None:
    """Refuse to migrate what this code cannot: a database with tables of something else, or one
    written by a newer taskgroup (whose revision no migration here knows)."""
    current = current_revision(engine)
    if current is None:
        tables = set(inspect(engine).get_table_names())
        if tables:
            raise SchemaVersionError(
                f"the database has tables ({', '.join(sorted(tables)[:5])}) but no taskgroup schema "
                "version; it is not a taskgroup database"
            )
        return
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise SchemaVersionError(
            f"the database schema revision {current} is unknown to this taskgroup (head {head_revision()}); "
            "it was written by a newer taskgroup: upgrade taskgroup to use it"
        )


def check_schema(engine: Engine, *, create: bool) -> None:
    """Refuse a database of another schema version with a message that says what to run.

    A database with no tables at all is new: it is created at the head revision when `create`, else
    refused (a command that only reads must not turn a mistyped server database into a taskgroup one).
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    check_upgradable(engine)
    if current is None:
        if create:
            upgrade_to_head(engine)
            return
        raise MissingDatabaseError(engine.url.render_as_string(hide_password=True), "it has no taskgroup tables")
    raise SchemaVersionError(
        f"the database schema is at revision {current}, this taskgroup needs {head}: "
        "run `taskgroup db upgrade` (with the same --db) to migrate it"
    )
