"""Backend-neutral storage tests: every test runs against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text, update

from db import ConflictError, NotFoundError, SchemaVersionError, StorageError, open_store
from db.migrations_api import current_revision, head_revision
from db.models import Candidate, Job, Result, Study
from db.affinity import load_affinity, store_affinity
from db.results import results_frame, store_results
from jobs.claim import JobOutput
from jobs.finalize import queue_full_training
from jobs.manage import record_finished_run

ROWS = [
    {"tasks": "a", "size": "full", "cost": 1.0, "stage": "full", "split": "val", "task": "a", "loss": 0.5},
    {"tasks": "a+b", "size": "full", "cost": 1.0, "stage": "full", "split": "val", "task": "a", "loss": 0.4},
    {"tasks": "a+b", "size": "full", "cost": 1.0, "stage": "full", "split": "val", "task": "b", "loss": 0.3},
]


def _make_study(store, name="s", rows=ROWS):
    with store.session() as session:
        study = Study(name=name, tasks=["a", "b"], sizes=[{"label": "full", "cost": 1.0}], dataset={}, training={})
        session.add(study)
        session.flush()
        store_results(session, study, rows, replace=False)


def _frame(store, name="s"):
    with store.session() as session:
        return results_frame(session, Study.find_or_raise_by_name(session, name))


class TestStorage:
    def test_new_database_is_created_at_head_revision(self, db_url):
        store = open_store(db_url)
        assert current_revision(store.engine) == head_revision()

    def test_results_round_trip(self, db_url):
        store = open_store(db_url)
        _make_study(store)
        frame = _frame(store)
        assert sorted(map(tuple, frame[["tasks", "task", "loss"]].values.tolist())) == [
            ("a", "a", 0.5), ("a+b", "a", 0.4), ("a+b", "b", 0.3)
        ]

    def test_reimport_of_identical_rows_changes_nothing(self, db_url):
        store = open_store(db_url)
        _make_study(store)
        with store.session() as session:
            summary = store_results(session, Study.find_or_raise_by_name(session, "s"), ROWS, replace=False)
        assert (summary.results_added, summary.results_unchanged) == (0, 3)
        assert len(_frame(store)) == 3

    def test_conflicting_result_is_refused_and_nothing_is_written(self, db_url):
        store = open_store(db_url)
        _make_study(store)
        new_row = {**ROWS[0], "tasks": "b", "task": "b", "loss": 0.7}
        conflicting = {**ROWS[1], "loss": 0.9}
        with pytest.raises(ConflictError, match="--replace"):
            with store.session() as session:
                store_results(session, Study.find_or_raise_by_name(session, "s"), [new_row, conflicting], replace=False)
        frame = _frame(store)
        assert len(frame) == 3 and 0.9 not in frame["loss"].tolist()

    def test_replace_overwrites(self, db_url):
        store = open_store(db_url)
        _make_study(store)
        with store.session() as session:
            summary = store_results(session, Study.find_or_raise_by_name(session, "s"), [{**ROWS[1], "loss": 0.9}], replace=True)
        assert summary.results_replaced == 1
        assert 0.9 in _frame(store)["loss"].tolist()

    def test_duplicate_study_name_is_a_conflict(self, db_url):
        store = open_store(db_url)
        _make_study(store)
        with pytest.raises(ConflictError):
            _make_study(store)

    def test_studies_and_candidates_are_listed_in_the_same_order_on_every_backend(self, db_url):
        """PostgreSQL's collation sorted `B` between `a` and `c` and ignored `_`: lists differed from SQLite's."""
        store = open_store(db_url)
        names = ["c", "B", "a", "_z", "a_b", "ab"]
        for name in names:
            _make_study(store, name)
        with store.session() as session:
            assert [study.name for study in Study.all(session)] == sorted(names)
            study = Study.find_or_raise_by_name(session, "c")
            for tasks in ("b", "B+a", "A"):
                session.add(Candidate(study_id=study.id, tasks=tasks, size="full", cost=1.0))
            session.flush()
            listed = [candidate.tasks for candidate in Candidate.all_of_study(session, study.id)]
            assert listed == sorted(listed)
            tasks = ["b", "B", "a", "_c"]
            store_affinity(session, study, [{"size": "full", "source": source, "target": target, "affinity": 0.0}
                                            for source in tasks for target in tasks], measurements=1)
            pairs = list(load_affinity(session, study)[["source", "target"]].itertuples(index=False, name=None))
            assert pairs == sorted(pairs)

    def test_unknown_study_names_the_known_ones(self, db_url):
        store = open_store(db_url)
        _make_study(store, "alpha")
        with store.session() as session, pytest.raises(NotFoundError, match="alpha"):
            Study.find_or_raise_by_name(session, "beta")

    def test_deleting_a_study_deletes_its_candidates_jobs_and_results(self, db_url):
        store = open_store(db_url)
        _make_study(store, "one")
        _make_study(store, "two")
        with store.session() as session:
            study = Study.find_or_raise_by_name(session, "one")
            candidate = Candidate.all_of_study(session, study.id)[0]
            session.add(Job(study_id=study.id, candidate_id=candidate.id, stage="full"))
        with store.session() as session:
            session.delete(Study.find_or_raise_by_name(session, "one"))
        with store.session() as session:
            assert session.query(Candidate).count() == 2
            assert session.query(Result).count() == 3
            assert session.query(Job).count() == 0

    def test_the_budget_explored_last_is_that_of_the_studys_latest_exploring_training(self, db_url):
        store = open_store(db_url)
        _make_study(store, "one", rows=[])  # nothing trained yet
        _make_study(store, "two", rows=[])
        with store.session() as session:
            one, two = (Study.find_or_raise_by_name(session, name) for name in ("one", "two"))
            assert one.last_explored_budget is None
            queue_full_training(session, one, [("a+b", "full")], explored_budget=2.0)
            queue_full_training(session, one, [("a", "full")])  # chosen, then left queued by a stopped run
            queue_full_training(session, two, [("a", "full")], explored_budget=4.0)
        with store.session() as session:  # the next run explores the network whose job is still queued
            queue_full_training(session, Study.find_or_raise_by_name(session, "one"), [("a", "full")], explored_budget=1.5)
        with store.session() as session:
            queue_full_training(session, Study.find_or_raise_by_name(session, "one"), [("b", "full")])  # explores nothing
        with store.session() as session:
            one, two = (Study.find_or_raise_by_name(session, name) for name in ("one", "two"))
            assert (one.last_explored_budget, two.last_explored_budget) == (1.5, 4.0)
            assert len(Job.all_of_study(session, one.id)) == 3  # the queued job was not queued twice

    def test_a_run_made_outside_the_queue_is_recorded_as_its_candidates_finished_job(self, db_url):
        store = open_store(db_url)
        _make_study(store, rows=ROWS[:1])  # `a` has results; `b` and `a+b` have none
        output = JobOutput(val_losses={"a": 0.4, "b": 0.3}, test_losses={"a": 0.45, "b": 0.35}, epochs=3, wall_time=90.0)
        with store.session() as session:
            study = Study.find_or_raise_by_name(session, "s")
            queue_full_training(session, study, [("b", "full")])
            session.execute(update(Job).values(state="running"))  # a worker is training `b`
            queue_full_training(session, study, [("a+b", "full")])
        with store.session() as session:
            study = Study.find_or_raise_by_name(session, "s")
            job_id = record_finished_run(session, study, "a+b", "full", output, worker="w", device="cpu")
            assert record_finished_run(session, study, "a", "full", output, worker="w", device="cpu") is None
            assert record_finished_run(session, study, "b", "full", output, worker="w", device="cpu") is None
        with store.session() as session:
            job = Job.find_or_raise_by_id(session, job_id)
            assert (job.candidate.tasks, job.state, job.epochs, job.attempts, job.device) == ("a+b", "done", 3, 1, "cpu")
            assert (job.finished_at - job.started_at).total_seconds() == pytest.approx(90.0)
            assert len(Job.all_of_study(session, job.study_id)) == 2  # the queued job was finished, not doubled
        frame = _frame(store)
        assert set(frame[frame["tasks"] == "a+b"]["loss"]) == {0.4, 0.3, 0.45, 0.35}
        assert list(frame[frame["tasks"] == "a"]["loss"]) == [0.5]  # kept
        assert frame[frame["tasks"] == "b"].empty  # left to its worker

    def test_error_inside_a_session_rolls_back(self, db_url):
        store = open_store(db_url)
        with pytest.raises(RuntimeError):
            with store.session() as session:
                session.add(Study(name="x", tasks=["a"], sizes=[], dataset={}, training={}))
                session.flush()
                raise RuntimeError("boom")
        with store.session() as session:
            assert Study.all(session) == []

    def test_unknown_schema_revision_is_refused_with_advice(self, db_url):
        store = open_store(db_url)
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
        with pytest.raises(SchemaVersionError, match="newer taskgroup"):
            open_store(db_url)
        with pytest.raises(SchemaVersionError, match="newer taskgroup"):  # and `taskgroup db upgrade` leaves it
            open_store(db_url, check=False).upgrade()
        assert current_revision(store.engine) == "ffffffff"

    def test_foreign_database_is_refused(self, db_url):
        store = open_store(db_url, check=False)
        with store.engine.begin() as connection:
            connection.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SchemaVersionError, match="not a taskgroup database"):
            open_store(db_url)
        with pytest.raises(SchemaVersionError, match="not a taskgroup database"):
            open_store(db_url, check=False).upgrade()
        assert inspect(store.engine).get_table_names() == ["unrelated"]


def test_unreachable_database_is_one_storage_error(tmp_path):
    with pytest.raises(StorageError, match="cannot open database"):
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_server_that_never_answers_is_a_storage_error_not_a_hang():
    """A port that accepts connections but never speaks (a half-dead server, a partition): libpq's
    default waited forever, so a worker's heartbeat hung instead of failing and being retried."""
    import socket
    import threading

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nothing ever answers libpq's start-up packet
        port = silent.getsockname()[1]
        raised: list[BaseException] = []

        def connect() -> None:
            try:
                open_store(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
            except BaseException as error:  # noqa: BLE001 - handed to the test's thread
                raised.append(error)

        attempt = threading.Thread(target=connect, daemon=True)
        attempt.start()
        attempt.join(timeout=120)  # generous: not a timing check, only "it returns"
        assert not attempt.is_alive(), "opening a database whose server never answers hung"
    assert isinstance(raised[0], StorageError) and "cannot open database" in str(raised[0])


def test_a_postgres_url_keeps_the_timeouts_it_names(tmp_path):
    """A `connect_timeout` in the URL is the user's choice and wins over taskgroup's."""
    from db.store import create_db_engine

    from sqlalchemy import event

    engine = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=3")
    sent: dict = {}

    @event.listens_for(engine, "do_connect")
    def capture(dialect, record, cargs, cparams):  # what libpq would be given
        sent.update(cparams)
        raise ConnectionAbortedError("captured")

    with pytest.raises(Exception, match="captured"):
        engine.connect()
    assert sent["connect_timeout"] == "3" and sent["keepalives_idle"] == 30 and sent["tcp_user_timeout"] == 60_000


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_plain_path_means_sqlite_file(tmp_path):
    path = tmp_path / "db.sqlite"
    store = open_store(str(path))
    assert path.exists() and store.engine.dialect.name == "sqlite"
