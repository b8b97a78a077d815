"""Job claim throughput and scheduler overhead per job, SQLite vs PostgreSQL, 1..8 worker processes.

Each run queues JOBS jobs that do no work (`dry` runner, zero steps), starts W worker processes,
waits until every one has imported its modules and opened the database, then releases them at once
and times until the queue is empty. Throughput is jobs per second of that wall time; overhead per
job is wall time x workers / jobs: what one job costs a worker in claiming, heartbeat thread and
the results-and-done transaction. PostgreSQL runs on a throwaway local server (tests/postgres_server.py).

    .venv/bin/python benchmarks/scheduler.py [--jobs 300] [--workers 1,2,4,8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.jobs.helpers import make_study, job_states  # noqa: E402
from tests.postgres_server import running_postgres  # noqa: E402


def _worker(url: str, root: str, ready, go) -> None:
    from db import open_store
    from jobs.runners import build_runner
    from jobs.settings import WorkerSettings
    from jobs.worker import Worker

    store = open_store(url)
    settings = WorkerSettings(heartbeat=5, grace=60, poll=0.05, checkpoint_root=Path(root), runner="dry")
    worker = Worker(store, "s", "cpu", settings, build_runner("dry", {"steps": 0}))
    ready.release()
    go.wait()
    worker.run()


def measure(url: str, jobs: int, workers: int, root: Path) -> tuple[float, float]:
    store = make_study(url, tasks=[f"t{i}" for i in range(12)], jobs=jobs)
    context = multiprocessing.get_context("spawn")
    ready, go = context.Semaphore(0), context.Event()
    processes = [context.Process(target=_worker, args=(url, str(root), ready, go)) for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for process in processes:
        process.join()
    wall = time.perf_counter() - start
    assert job_states(store) == {"done": jobs}, job_states(store)
    store.dispose()
    return jobs / wall, wall * workers / jobs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4,8")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    rows = []
    with running_postgres() as server, tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            for workers in counts:
                name = f"{backend}_{workers}"
                if backend == "sqlite":
                    url = f"sqlite:///{Path(tmp) / name}.sqlite"
                elif server is not None:
                    url = server.create_database(name)
                else:
                    continue
                throughput, overhead = measure(url, args.jobs, workers, Path(tmp) / "ck")
                rows.append((backend, workers, throughput, overhead))
                print(f"{backend:10s} workers={workers}: {throughput:7.1f} jobs/s, {overhead:6.1f} ms per job per worker",
                      flush=True)
    print("\n| backend | workers | jobs/s | overhead per job (ms) |\n| --- | --- | --- | --- |")
    for backend, workers, throughput, overhead in rows:
        print(f"| {backend} | {workers} | {throughput:.1f} | {overhead:.1f} |")


if __name__ == "__main__":
    main()
