"""`taskgroup db current|upgrade`: what a user runs after upgrading taskgroup, on SQLite and PostgreSQL."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from sqlalchemy import inspect, text

from db.migrations_api import current_revision, head_revision, upgrade_to_head
from db.store import create_db_engine, normalise_url
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok


def _upgrade(db_url: str) -> str:
    return " ".join(run_ok("db", "upgrade", "--db", db_url).stdout.split())  # a long URL wraps the line


def test_an_older_database_is_refused_until_upgraded_then_keeps_its_studies(db_url):
    engine = create_db_engine(db_url)
    upgrade_to_head(engine, "0005")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO study (name, tasks, sizes, dataset, training, created_at) "
                                "VALUES ('old', '[\"a\"]', '[]', '{}', '{}', CURRENT_TIMESTAMP)"))
    current = run_json("db", "current", "--db", db_url)
    assert (current["revision"], current["head"]) == ("0005", head_revision())
    assert "run `taskgroup db upgrade`" in run_error("study", "list", "--db", db_url)

    assert f"schema 0005 -> {head_revision()}" in _upgrade(db_url)
    assert [study["name"] for study in run_json("study", "list", "--db", db_url)] == ["old"]
    again = run_json("db", "upgrade", "--db", db_url)  # nothing left to do
    assert (again["from"], again["to"]) == (head_revision(), head_revision())
    assert f"schema {head_revision()} is already this taskgroup's; nothing to do" in _upgrade(db_url)  # not "0009 -> 0009"


def test_upgrading_a_database_of_a_newer_taskgroup_is_refused_and_leaves_it(db_url):
    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    assert "written by a newer taskgroup" in run_error("db", "upgrade", "--db", db_url)
    assert current_revision(engine) == "0099"


def test_version_names_the_package_and_the_schema_revision_it_writes(tmp_path):
    """What a bug report needs, and what `db current` compares a database with."""
    output = run_ok("--version").output.strip()
    assert output == f"taskgroup {version('taskgroup')} (database schema revision {head_revision()})"
    run_ok("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'v.sqlite'}")
    assert run_json("db", "current", "--db", f"sqlite:///{tmp_path / 'v.sqlite'}")["head"] == head_revision()


def test_db_commands_refuse_a_file_that_is_not_a_database_and_leave_it(tmp_path):
    not_a_database = tmp_path / "notes.sqlite"
    not_a_database.write_text("hello\n")
    for command in ("current", "upgrade"):
        assert "cannot open database" in run_error("db", command, "--db", str(not_a_database))
    assert not_a_database.read_text() == "hello\n"


def test_db_current_calls_a_database_of_something_else_not_a_taskgroup_database(tmp_path):
    """Not "empty": its tables belong to another program, and `db upgrade` would refuse it too."""
    other = tmp_path / "other.sqlite"
    with create_db_engine(f"sqlite:///{other}").begin() as connection:
        connection.execute(text("CREATE TABLE foo (x INTEGER)"))
    for command in ("current", "upgrade"):
        assert "not a taskgroup database" in run_error("db", command, "--db", str(other))
    (tmp_path / "new.sqlite").touch()
    assert run_json("db", "current", "--db", str(tmp_path / "new.sqlite"))["revision"] is None  # empty is empty


def test_a_database_path_that_does_not_exist_is_refused_and_nothing_is_made(tmp_path, monkeypatch):
    """A typo in --db (or TASKGROUP_DB) used to create the folders and an empty database, then say "no study";
    only `study create`, `db upgrade` and `demo` make a new database, in a folder that exists."""
    typo = tmp_path / "tpyo" / "taskgroup.sqlite"
    for command in (("study", "show", "paper"), ("study", "list"), ("db", "current")):
        assert f"no database at {typo} (--db {typo}): check the path" in run_error(*command, "--db", str(typo))
    for command in (("study", "create", "s", "--tasks", "a,b"), ("db", "upgrade")):  # these make a new database
        assert f"folder {typo.parent} does not exist" in run_error(*command, "--db", str(typo))
    monkeypatch.setenv("TASKGROUP_DB", str(typo))  # the message says where the path came from, and no --db
    assert run_error("study", "list") == (f"error: no database at {typo} (TASKGROUP_DB={typo}): check the path "
                                          "(`taskgroup study create NAME` makes a new one)")
    assert not typo.parent.exists()
    monkeypatch.delenv("TASKGROUP_DB")
    new = tmp_path / "new.sqlite"  # in a folder that exists: a mistyped file name is refused too, and not made
    assert f"no database at {new}" in run_error("study", "list", "--db", str(new)) and not new.exists()
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", str(new))  # the command that makes a new one
    assert [study["name"] for study in run_json("study", "list", "--db", str(new))] == ["s"]
    monkeypatch.setenv("TASKGROUP_HOME", str(tmp_path / "first-run"))  # the default place is made on first write
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert (tmp_path / "first-run" / "taskgroup.sqlite").is_file()


# The commands that only read the database, with what they need to get as far as opening it.
READ_ONLY_COMMANDS = (
    ("status", "s"), ("study", "show", "s"), ("select", "s", "--budget", "2"),
    ("sweep", "s", "--budgets", "1,2"), ("report", "s", "--out", "report"), ("export", "s", "s.csv"),
    ("affinity", "show", "s"), ("cost", "s", "--stored"), ("configure", "s"),
)


def test_read_only_commands_refuse_a_default_database_that_does_not_exist_and_make_nothing(
        tmp_path, monkeypatch, taskgroup_home):
    """`taskgroup status` with no database yet (or TASKGROUP_HOME mistyped) used to create the folder and an
    empty database, then say "no study named ..."; it is refused now, and writing commands still make it."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{taskgroup_home / 'taskgroup.sqlite'}"
    for command in (*READ_ONLY_COMMANDS, ("db", "current")):
        assert run_error(*command) == (f"error: no taskgroup database at {url}: the file does not exist "
                                       "(create a study first with `taskgroup study create`)")
    said = "".join(run_ok("study", "list").stdout.split())  # a first run: nothing yet, and where it looked
    assert said == "".join((f"No studies yet (no database at {url}: the file does not exist). Create one with "
                            "`taskgroup study create NAME --tasks a,b,c`.").split())
    assert run_json("study", "list") == []
    assert not any(tmp_path.iterdir())  # neither the home folder, nor the database, nor report's --out
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert run_json("status", "s")["jobs"]["total"] == 0


def test_read_only_commands_refuse_an_empty_sqlite_file_and_leave_it_empty(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for command in READ_ONLY_COMMANDS:
        assert (f"no taskgroup database at sqlite:///{empty}: it has no taskgroup tables"
                in run_error(*command, "--db", str(empty)))
    assert inspect(create_db_engine(f"sqlite:///{empty}")).get_table_names() == []  # nothing created in it
    assert run_json("db", "current", "--db", str(empty))["revision"] is None  # db current says what it is


@pytest.mark.postgres
def test_read_only_commands_refuse_an_empty_postgresql_database_and_create_no_tables(postgres):
    """An empty (or mistyped, but existing) PostgreSQL database was given taskgroup's tables by
    `taskgroup status` or `study list`; only commands that write create them now."""
    url = postgres.create_database("readonly_empty")
    for command in READ_ONLY_COMMANDS:
        assert run_error(*command, "--db", url) == (
            f"error: no taskgroup database at {url}: it has no taskgroup tables "
            "(create a study first with `taskgroup study create`)")
    assert run_json("study", "list", "--db", url) == []  # no studies in it, and still no tables
    engine = create_db_engine(url)
    assert inspect(engine).get_table_names() == []
    assert run_json("db", "current", "--db", url)["revision"] is None
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", url)
    assert run_json("status", "s", "--db", url)["jobs"]["total"] == 0
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_creates_a_new_database_that_read_only_commands_then_open(db_url):
    before = run_json("db", "upgrade", "--db", db_url)
    assert (before["from"], before["to"]) == (None, head_revision())
    assert run_json("study", "list", "--db", db_url) == []


def test_an_in_memory_database_is_refused_by_every_command(tmp_path, monkeypatch):
    """Each command would get a new empty database: `study create` said "Created" and the study was gone.
    A plain `:memory:` was a file of that name in the current folder."""
    monkeypatch.chdir(tmp_path)
    for db in ("sqlite://", "sqlite:///:memory:", ":memory:"):
        for command in (("study", "create", "s", "--tasks", "a,b"), ("study", "list"), ("demo", "--quick", "--out", "d")):
            assert "in-memory database" in run_error(*command, "--db", db)
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_url_with_a_home_folder_or_a_relative_path_names_one_absolute_file(tmp_path, monkeypatch):
    """`sqlite:///~/x.sqlite` was a folder named `~` under the current one; a relative URL is made absolute,
    so a worker started from another folder opens the same file."""
    monkeypatch.setenv("HOME", str(tmp_path))
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", "sqlite:///~/x.sqlite")
    assert (tmp_path / "x.sqlite").is_file()
    monkeypatch.chdir(tmp_path)
    assert [study["name"] for study in run_json("study", "list", "--db", "sqlite:///x.sqlite")] == ["s"]
    assert normalise_url("sqlite:///x.sqlite?timeout=3") == f"sqlite:///{tmp_path / 'x.sqlite'}?timeout=3"


def test_a_database_whose_driver_is_not_installed_is_one_error_line():
    """mysql:// needs MySQLdb, which is not one of our dependencies: SQLAlchemy's import error was a traceback."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("MySQLdb is installed here")
    for command in (("db", "current"), ("study", "list")):
        assert "its driver is not installed (MySQLdb)" in run_error(*command, "--db", "mysql://u@127.0.0.1:1/db")


def test_a_taskgroup_home_written_with_a_tilde_is_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TASKGROUP_HOME", "~/tg")
    monkeypatch.chdir(tmp_path)
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert (tmp_path / "tg" / "taskgroup.sqlite").is_file() and not (tmp_path / "~").exists()


@pytest.mark.postgres
def test_a_postgresql_url_without_a_driver_opens_the_database_with_psycopg(postgres):
    """`postgres://` (Heroku's, Render's DATABASE_URL) was "Can't load plugin: sqlalchemy.dialects:postgres";
    `postgresql://` means psycopg2 to SQLAlchemy 2.0, which taskgroup does not install."""
    url = postgres.create_database("hosted")
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", url.replace("postgresql+psycopg://", "postgres://"))
    run_ok("study", "create", "t", "--tasks", "a,b", "--db", url.replace("postgresql+psycopg://", "postgresql://"))
    assert [study["name"] for study in run_json("study", "list", "--db", url)] == ["s", "t"]
    assert normalise_url("postgres://u:secret@db-host:5433/tg?sslmode=require") == \
        "postgresql+psycopg://u:secret@db-host:5433/tg?sslmode=require"


def test_a_sqlite_uri_url_opens_the_file_it_names(tmp_path, monkeypatch):
    """`sqlite:///file:PATH?mode=ro&uri=true` (SQLite's URI filenames, which SQLAlchemy passes on) was
    "no database at file:PATH": the check looked for a file named `file:PATH`."""
    path = tmp_path / "x.sqlite"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", str(path))
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert [study["name"] for study in run_json("study", "list", "--db", read_only)] == ["s"]
    assert "readonly database" in run_error("study", "create", "t", "--tasks", "a,b", "--db", read_only)
    for url in (f"sqlite:///file://{path}?mode=rw&uri=true", f"sqlite+pysqlite:///file://localhost{path}?uri=true"):
        run_ok("study", "create", f"t{len(url)}", "--tasks", "a,b", "--db", url)
    monkeypatch.chdir(tmp_path)  # a relative URI path is the file in the current folder
    assert len(run_json("study", "list", "--db", "sqlite:///file:x.sqlite?mode=ro&uri=true")) == 3
    assert {file.name for file in tmp_path.iterdir()} <= {"x.sqlite", "x.sqlite-wal", "x.sqlite-shm"}  # no `file:x.sqlite`
    missing = " ".join(run_error("study", "list", "--db", f"sqlite:///file:{tmp_path / 'y.sqlite'}?mode=ro&uri=true").split())
    assert f"no database at {tmp_path / 'y.sqlite'} (--db" in missing


def test_a_uri_parameter_without_uri_true_is_refused_not_ignored(tmp_path):
    """`sqlite:///PATH?mode=ro` opened the file read-write: SQLAlchemy only warned that it dropped `mode`."""
    path = tmp_path / "x.sqlite"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", str(path))
    said = " ".join(run_error("study", "create", "t", "--tasks", "a,b", "--db", f"sqlite:///{path}?mode=ro").split())
    assert f"SQLite reads mode only from a URI filename, and would ignore it here; write sqlite:///file:{path}?mode=ro&uri=true" in said
    assert [study["name"] for study in run_json("study", "list", "--db", str(path))] == ["s"]
    assert [study["name"] for study in run_json("study", "list", "--db", f"sqlite:///{path}?timeout=30")] == ["s"]


def _suggested(said: str) -> str:
    """The URL an error line says to write instead."""
    return said.rpartition("; write ")[2]


@pytest.mark.parametrize("written", ["sqlite:///file:{path}?mode=ro", "sqlite:///{path}?mode=ro&uri=false",
                                     "sqlite:///file:{path}?mode=ro&uri=false"])
def test_the_url_suggested_for_a_uri_parameter_is_the_same_url_with_uri_true(tmp_path, monkeypatch, written):
    """A `file:` database got a second one (`file:CWD/file:/x.sqlite`) and `uri=false` was kept beside `uri=true`."""
    path = tmp_path / "x.sqlite"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", str(path))
    monkeypatch.chdir(tmp_path)
    said = " ".join(run_error("study", "list", "--db", written.format(path=path)).split())
    assert _suggested(said) == f"sqlite:///file:{path}?mode=ro&uri=true"
    assert [study["name"] for study in run_json("study", "list", "--db", _suggested(said))] == ["s"]
    assert "readonly database" in run_error("study", "create", "t", "--tasks", "a,b", "--db", _suggested(said))


def test_a_plain_database_path_is_used_exactly_as_written(tmp_path):
    """`--db "/x/sp ace%41/x.sqlite"` said folder `/x/sp aceA` does not exist: the path was read as a URL."""
    folder = tmp_path / "sp ace%41 #1?a=b"
    folder.mkdir()
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", str(folder / "x.sqlite"))
    assert [study["name"] for study in run_json("study", "list", "--db", str(folder / "x.sqlite"))] == ["s"]
    assert [path.name for path in tmp_path.iterdir()] == ["sp ace%41 #1?a=b"]  # no `sp aceA` made beside it
    assert [path.name for path in folder.iterdir() if not path.name.endswith(("-wal", "-shm"))] == ["x.sqlite"]


def test_a_taskgroup_home_with_a_percent_sign_holds_the_default_database(tmp_path, monkeypatch):
    home = tmp_path / "home%41"
    monkeypatch.setenv("TASKGROUP_HOME", str(home))
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert (home / "taskgroup.sqlite").is_file() and not (tmp_path / "homeA").exists()


def test_an_in_memory_sqlite_uri_url_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for db in ("sqlite:///file::memory:?cache=shared&uri=true", "sqlite:///file:x?mode=memory&uri=true"):
        assert "in-memory database" in run_error("study", "create", "s", "--tasks", "a,b", "--db", db)
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_database_url_is_one_error_line_that_hides_the_password():
    """SQLAlchemy's ValueError for a port that is not a number was a traceback."""
    for url in ("postgresql://u:secret@host:port/db", "sqlite://:x", "://x"):
        message = run_error("study", "list", "--db", url)
        assert "is not a database URL" in message and "secret" not in message
    assert "'postgresql://u:***@host:port/db'" in run_error("study", "list", "--db", "postgresql://u:secret@host:port/db")
