"""The tests' throwaway PostgreSQL server goes away with the test run, even one killed by a signal."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer

REPOSITORY = Path(__file__).resolve().parents[2]
HOLDS_A_SERVER = """
import time
from tests.postgres_server import running_postgres
with running_postgres() as server:
    print(server.root, flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie no longer does: it only waits for its parent to read its status)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


@pytest.mark.postgres
def test_a_killed_test_run_leaves_no_server_behind(postgres: PostgresServer) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDS_A_SERVER], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True)
    root = Path(holder.stdout.readline().strip())
    postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
    assert _alive(postmaster)

    holder.kill()  # as SIGKILL (or an unhandled SIGTERM) ends pytest: no fixture is torn down
    holder.wait()
    deadline = time.monotonic() + 30
    while (root.exists() or _alive(postmaster)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(postmaster) and not root.exists()
    assert postgres.create_database("still_served").endswith("/still_served")
