"""Shared fixtures: a private taskgroup home per test, and SQLite/PostgreSQL database URLs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, running_postgres

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "standley2020"
_database_names = itertools.count()


@pytest.fixture(autouse=True)
def taskgroup_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own default database and cache, never the user's ~/.taskgroup."""
    home = tmp_path / "taskgroup-home"
    monkeypatch.setenv("TASKGROUP_HOME", str(home))
    monkeypatch.setenv("TASKGROUP_CACHE", str(home / "cache"))
    monkeypatch.delenv("TASKGROUP_DB", raising=False)
    return home


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole run.

    Skipped where PostgreSQL is not installed, except when TASKGROUP_REQUIRE_POSTGRES=1 (set by
    .ci/run), where a missing server is a failure rather than a silent skip.
    """
    with running_postgres() as server:
        if server is None:
            if os.environ.get("TASKGROUP_REQUIRE_POSTGRES") == "1":
                pytest.fail("PostgreSQL is required (TASKGROUP_REQUIRE_POSTGRES=1) but not installed")
            pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend: the same storage tests run against both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"taskgroup_test_{os.getpid()}_{next(_database_names)}")


@pytest.fixture
def reference_dir() -> Path:
    """The paper's published Taskonomy results (shared/reference/standley2020)."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference results not found at {REFERENCE}")
    return REFERENCE
