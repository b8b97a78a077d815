"""`taskgroup db upgrade|current`: the schema version of a database."""

from __future__ import annotations

import typer

from db import open_store
from db.migrations_api import head_revision
from taskgroup.cli.common import CommandGroup, DbOption, JsonOption, NewDbOption, console, emit_json

db_app = typer.Typer(cls=CommandGroup, help="Database schema: show its version, migrate it.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(db: NewDbOption = None, json_output: JsonOption = False) -> None:
    """Migrate the database to this taskgroup's schema version (creates it when new)."""
    store = open_store(db, check=False)
    before = store.revision()
    store.upgrade()
    if json_output:
        emit_json({"url": store.display_url, "from": before, "to": head_revision()})
        return
    if before == head_revision():  # not "0009 -> 0009", which reads as if something was migrated
        console.print(f"{store.display_url}: schema {before} is already this taskgroup's; nothing to do")
    else:
        console.print(f"{store.display_url}: schema {before or 'empty'} -> {head_revision()}")


@db_app.command("current")
def current(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Show the database's schema revision and the one this taskgroup needs."""
    store = open_store(db, create=False, check=False)  # an empty database is shown as empty, a missing file refused
    info = {"url": store.display_url, "revision": store.revision(), "head": head_revision()}
    if json_output:
        emit_json(info)
    else:
        console.print(f"{info['url']}: revision {info['revision'] or 'none (empty)'}, this taskgroup needs {info['head']}")
