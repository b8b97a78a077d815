"""A throwaway PostgreSQL cluster for the tests, started as a non-root user (PostgreSQL refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian layout), or one on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One cluster in a temp folder; `url(db)` gives SQLAlchemy URLs, `restart()` bounces it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="taskgroup-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            os.chmod(self.root, 0o777)
        # An English collation, as on a typical production server: it orders "B" between "a" and "c"
        # (a C-locale cluster sorts like SQLite and Python and would hide code that relies on ORDER BY).
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale-provider=icu", "--icu-locale=en-US")

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self.user, "--", *command] if os.geteuid() == 0 else command

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(self._command(tool, *args), check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def reap_when_gone(self, owner: int) -> subprocess.Popen:
        """A watchdog, in a session of its own, that stops the server and deletes its folder once process
        `owner` is gone: a test run killed by a signal never tears its fixtures down, and the server,
        which `pg_ctl` detaches, would run on."""
        stop = shlex.join(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"))
        script = f"while kill -0 {owner} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {shlex.quote(str(self.root))}"
        return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer | None]:
    """A started server, or None when PostgreSQL is not installed."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        yield None
        return
    server = PostgresServer(bin_dir)
    server.start()
    watchdog = server.reap_when_gone(os.getpid())
    try:
        yield server
    finally:
        watchdog.kill()
        watchdog.wait()
        server.cleanup()
