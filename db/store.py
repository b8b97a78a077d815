"""Opening a database: engine set-up per backend, schema version checks, and the session context manager."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url as _make_url
from sqlalchemy.orm import Session, sessionmaker

from db.errors import ConflictError, MissingDatabaseError, StorageError
from db.migrations_api import check_schema, check_upgradable, current_revision, upgrade_to_head

SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_url() -> str:
    """`TASKGROUP_DB` if set, else a SQLite file in ~/.taskgroup (TASKGROUP_HOME overrides the folder)."""
    if env := os.environ.get("TASKGROUP_DB"):
        return normalise_url(env)
    home = Path(os.environ.get("TASKGROUP_HOME", Path.home() / ".taskgroup")).expanduser()
    return sqlite_url(home / "taskgroup.sqlite")


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite file at `path`, its `%`, `?`, `#` escaped: pasted into `sqlite:///` as is,
    `sp ace%41` would open `sp aceA` and a `?` would start the URL's query."""
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def make_url(url: str) -> URL:
    """`url` parsed by SQLAlchemy; one that it cannot parse (`postgresql://u@h:port/db`) is a
    StorageError naming it (its password hidden), not SQLAlchemy's ValueError and a traceback."""
    try:
        return _make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
        raise StorageError(f"{shown!r} is not a database URL ({error}); e.g. sqlite:////path/to/file.sqlite, "
                           "postgresql+psycopg://user@host/db, or a SQLite file's path") from None


URI_ONLY_PARAMETERS = frozenset({"mode", "cache", "immutable", "vfs", "nolock", "psow", "modeof"})
"""SQLite's URI-filename parameters: in a plain `sqlite:///x.db?mode=ro` SQLAlchemy warns and drops them."""


def normalise_url(url_or_path: str) -> str:
    """Accept a SQLAlchemy URL, or a plain file path meaning a SQLite database there. A SQLite file is
    made absolute with `~` expanded, so workers started elsewhere open the same file (in a SQLite URI
    filename too: `sqlite:///file:x.db?mode=ro&uri=true`). PostgreSQL without a driver named
    (`postgresql://`, or `postgres://` as hosting services hand it out, which SQLAlchemy does not
    know) means psycopg, the driver taskgroup installs."""
    if "://" not in url_or_path:
        if url_or_path == ":memory:":
            return "sqlite://"
        return sqlite_url(Path(url_or_path).expanduser().resolve())
    parsed = make_url(url_or_path)  # a malformed URL is refused as the user wrote it
    scheme, rest = url_or_path.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if parsed.get_backend_name() != "sqlite" or is_in_memory(url_or_path):
        return url_or_path
    absolute = str(Path(_sqlite_path(parsed)).expanduser().resolve())
    if not _is_sqlite_uri(parsed) and (uri_only := sorted(URI_ONLY_PARAMETERS & set(parsed.query))):
        raise StorageError(f"{url_or_path!r}: SQLite reads {', '.join(uri_only)} only from a URI filename, and would "
                           f"ignore it here; write {_as_sqlite_uri(url_or_path, parsed, absolute)}")
    if _is_sqlite_uri(parsed):
        return f"{parsed.drivername}:///{_uri_filename(absolute)}?{url_or_path.partition('?')[2]}"
    return parsed.set(database=absolute).render_as_string(hide_password=False)


def _uri_filename(path: str) -> str:
    """`file:PATH` as written in a URL, by hand (SQLAlchemy would write `file%3A`); the path quoted
    twice, as both SQLAlchemy and SQLite decode it."""
    return f"file:{quote(quote(path, safe='/'), safe='/')}"


def _as_sqlite_uri(url: str, parsed: URL, absolute: str) -> str:
    """`url` as a URI filename, so SQLite reads its parameters: `uri=true` in place of any `uri` it has,
    and `file:` and the `absolute` path before a plain path (a `file:` database kept as written)."""
    database = url.split("://", 1)[1].partition("?")[0].removeprefix("/")
    if not database.startswith("file:"):
        database = _uri_filename(absolute)
    query = [part for part in url.partition("?")[2].split("&") if part.partition("=")[0] != "uri"]
    return f"{parsed.drivername}:///{database}?{'&'.join([*query, 'uri=true'])}"


def _is_sqlite_uri(parsed: URL) -> bool:
    """Whether SQLite reads the database as a URI filename (`file:...` with `uri=true`, see SQLAlchemy's
    pysqlite dialect), where the path is percent-encoded and `mode=memory` keeps it in memory."""
    uri = str(parsed.query.get("uri", "")).lower() in ("true", "yes", "on", "y", "t", "1")  # as SQLAlchemy reads it
    return uri and (parsed.database or "").startswith("file:")


def _sqlite_path(parsed: URL) -> str:
    """The file path a SQLite URL's database names ("" or ":memory:" when none): a URI filename's path
    (`file:/x.db`, `file:///x.db`, `file://localhost/x.db`, `file:x.db`) decoded, else the database as is."""
    database = parsed.database or ""
    if not _is_sqlite_uri(parsed):
        return database
    path = database.removeprefix("file:").split("#", 1)[0]
    if path.startswith("//"):  # an authority, which SQLite allows empty or "localhost"
        path = "/" + path[2:].partition("/")[2]
    return unquote(path)


def is_in_memory(url: str) -> bool:
    """Whether `url` is an in-memory SQLite database, which vanishes when the process exits (a SQLite
    URI's `file::memory:`, `mode=memory` or empty path too)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return _sqlite_path(parsed) in ("", ":memory:") or (_is_sqlite_uri(parsed) and parsed.query.get("mode") == "memory")


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, enforced foreign keys, and BEGIN issued by us so immediate locks work."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or is_in_memory(url):
        return None
    return Path(_sqlite_path(parsed))


LIBPQ_TIMEOUTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                  "keepalives_count": 3, "tcp_user_timeout": 60_000}
"""How long a PostgreSQL call may wait on a server that does not answer before it fails (and a worker
retries it): libpq's defaults wait forever to connect and the system's TCP timeout (about 15 min)
on a lost server, much longer than a grace period, so a live worker's heartbeat would hang, not retry."""


def create_db_engine(url: str, *, create_folder: bool = True) -> Engine:
    """An engine for `url`; SQLite files get WAL mode, and their folder when `create_folder` (else a
    missing folder is refused: a mistyped path must not leave folders and a database behind)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (path := sqlite_file(url)) is not None:
            if not create_folder and not path.parent.is_dir():
                raise StorageError(f"cannot open database {path}: folder {path.parent} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        given = set(parsed.query)  # what the URL says wins
        return create_engine(url, pool_pre_ping=True,
                             connect_args={key: value for key, value in LIBPQ_TIMEOUTS.items() if key not in given})
    return create_engine(url, pool_pre_ping=True)


class Store:
    """A database at one URL: checked against this code's schema version, handing out sessions.

    `create=False` is for commands that only read: a SQLite file that does not exist, or a database
    without taskgroup's tables, is a `MissingDatabaseError` and nothing is made (a mistyped path must
    not leave an empty database behind, and "no study" would hide the typo).
    """

    def __init__(self, url: str, *, create: bool = True, check: bool = True, create_folder: bool = True) -> None:
        self.url = normalise_url(url)
        if not create and (path := sqlite_file(self.url)) is not None and not path.exists():
            raise MissingDatabaseError(self.display_url, "the file does not exist")  # connecting would create it
        with self._open_errors():
            self.engine = create_db_engine(self.url, create_folder=create_folder)
            if check:
                check_schema(self.engine, create=create)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def _open_errors(self) -> Iterator[None]:
        """A file that is not a database, a server that does not answer: one StorageError naming the URL."""
        try:
            yield
        except exc.SQLAlchemyError as error:
            raise StorageError(f"cannot open database {self.display_url}: {_driver_message(error)}") from error
        except ImportError as error:  # e.g. mysql:// without its driver: SQLAlchemy imports it on first use
            raise StorageError(f"cannot open database {self.display_url}: its driver is not installed "
                               f"({error.name or error})") from error

    @property
    def display_url(self) -> str:
        """The URL with its password hidden; a SQLite one as written (SQLAlchemy would encode `file:`'s colon)."""
        parsed = make_url(self.url)
        return self.url if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)

    @contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error, driver errors turned into ours.

        `immediate=True` takes SQLite's write lock at BEGIN, so a read-then-write (claiming a job)
        cannot be overtaken by another writer; on other backends use `for_update` finders.
        """
        session = self._sessions()
        if immediate and self.engine.dialect.name == "sqlite":
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield session
            session.commit()
        except exc.IntegrityError as error:
            session.rollback()
            raise ConflictError(f"conflicting write: {_driver_message(error)}") from error
        except exc.SQLAlchemyError as error:
            session.rollback()
            raise StorageError(f"database error: {_driver_message(error)}") from error
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def revision(self) -> str | None:
        """The schema revision the database is at (None: empty); refuses a database of something else."""
        with self._open_errors():
            revision = current_revision(self.engine)
            if revision is None:
                check_upgradable(self.engine)  # tables but no revision: not a taskgroup database
            return revision

    def upgrade(self) -> None:
        """Bring the schema to this code's head revision (`taskgroup db upgrade`)."""
        with self._open_errors():
            check_upgradable(self.engine)
            upgrade_to_head(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, *, create: bool = True, check: bool = True) -> Store:
    """The store at `url`, or at `default_url()`; with `create`, a new empty database is created at the
    head revision, else refused (commands that only read pass `create=False`).

    Only the default location (TASKGROUP_HOME) gets its folder made: a path the user names (`--db`,
    TASKGROUP_DB) must be in a folder that exists, so a typo is an error instead of a new database.
    """
    named = url or os.environ.get("TASKGROUP_DB")
    return Store(url or default_url(), create=create, check=check, create_folder=not named)


def _driver_message(error: exc.SQLAlchemyError) -> str:
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
