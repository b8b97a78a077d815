"""Alembic revisions: the models match the migrations, and every revision upgrades to head with data kept."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from db import SchemaVersionError, open_store
from db.migrations_api import alembic_config, current_revision, head_revision, upgrade_to_head
from db.models import Base, Candidate, Job, Result, Study
from db.store import create_db_engine
from jobs.training_options import training_config

REVISIONS = [script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()]


def _sample_database(db_url: str, revision: str, *inserts: str) -> None:
    """A database at an older `revision`, with rows written by that revision's SQL."""
    engine = create_db_engine(db_url)
    upgrade_to_head(engine, revision)
    with engine.begin() as connection:
        for insert in inserts:
            connection.execute(text(insert))


def test_models_match_the_migrations(db_url):
    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"


def test_downgrade_to_base_and_upgrade_again(db_url):
    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "base")
    assert current_revision(engine) is None
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()


def test_downgrading_to_the_first_revision_and_back_keeps_every_row(db_url):
    store = open_store(db_url)
    with store.session() as session:
        study = Study(name="kept", tasks=["a"], sizes=[{"label": "full", "cost": 1.0}], dataset={}, training={})
        candidate = Candidate(study=study, tasks="a", size="full", cost=1.0)
        session.add(candidate)
        session.flush()
        job = Job(study_id=study.id, candidate=candidate, stage="full", state="done")
        session.add(job)
        session.flush()
        session.add(Result(candidate=candidate, job_id=job.id, stage="full", split="val", task="a", loss=0.25))

    def rows() -> list[tuple]:
        with store.engine.connect() as connection:
            return [tuple(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                          for table in ("study", "candidate", "job", "result")),
                    tuple(connection.execute(text("SELECT job_id IS NOT NULL, loss FROM result")).one())]

    assert rows() == [(1, 1, 1, 1), (True, 0.25)]
    command.downgrade(alembic_config(store.engine), REVISIONS[-1])  # each table rebuilt by some revision
    assert rows() == [(1, 1, 1, 1), (True, 0.25)]
    upgrade_to_head(store.engine)
    assert rows() == [(1, 1, 1, 1), (True, 0.25)]


@pytest.mark.parametrize("revision", [r for r in REVISIONS if r != head_revision()] or [None])
def test_sample_database_of_an_older_revision_upgrades_with_its_data(db_url, revision):
    if revision is None:
        pytest.skip("only one revision so far: no older schema to upgrade from")
    _sample_database(db_url, revision, "INSERT INTO study (name, tasks, sizes, dataset, training, created_at) "
                     "VALUES ('old', '[\"a\"]', '[]', '{}', '{}', CURRENT_TIMESTAMP)")
    with pytest.raises(SchemaVersionError, match="taskgroup db upgrade"):
        open_store(db_url)
    open_store(db_url, check=False).upgrade()
    store = open_store(db_url)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM study")).scalars().all() == ["old"]


def test_studies_made_before_per_task_init_keep_training_sequentially(db_url):
    _sample_database(
        db_url, "0003",
        "INSERT INTO study (name, tasks, sizes, dataset, training, created_at) VALUES "
        "('plain', '[\"a\"]', '[]', '{}', '{}', CURRENT_TIMESTAMP), "
        "('tuned', '[\"a\"]', '[]', '{}', '{\"lr\": 0.01, \"seed\": 3}', CURRENT_TIMESTAMP)",
    )
    open_store(db_url, check=False).upgrade()
    store = open_store(db_url)
    with store.session() as session:
        assert Study.find_or_raise_by_name(session, "plain").training == {"init": "sequential"}
        tuned = Study.find_or_raise_by_name(session, "tuned").training
    assert tuned == {"lr": 0.01, "seed": 3, "init": "sequential"}
    assert training_config(tuned).init == "sequential"

    command.downgrade(alembic_config(store.engine), "0003")
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT name, training FROM study ORDER BY name")).all()
    assert [(name, json.loads(training) if isinstance(training, str) else training) for name, training in rows] == [
        ("plain", {}), ("tuned", {"lr": 0.01, "seed": 3})
    ]


def test_the_budget_explored_last_moves_from_the_newest_marked_job_to_its_study(db_url):
    _sample_database(
        db_url, "0005",
        "INSERT INTO study (id, name, tasks, sizes, dataset, training, created_at) VALUES "
        "(1, 'explored', '[\"a\", \"b\"]', '[]', '{}', '{}', CURRENT_TIMESTAMP), "
        "(2, 'planned', '[\"a\", \"b\"]', '[]', '{}', '{}', CURRENT_TIMESTAMP)",
        "INSERT INTO candidate (id, study_id, tasks, size, cost) VALUES "
        "(1, 1, 'a', 'full', 1.0), (2, 1, 'b', 'full', 1.0), (3, 1, 'a+b', 'full', 1.0), (4, 2, 'a', 'full', 1.0)",
        "INSERT INTO job (id, study_id, candidate_id, stage, state, priority, attempts, explored_budget, created_at) "
        "VALUES (1, 1, 1, 'full', 'done', 10, 1, 2.0, CURRENT_TIMESTAMP), "
        "(2, 1, 2, 'full', 'done', 10, 1, 1.5, CURRENT_TIMESTAMP), "
        "(3, 1, 3, 'full', 'queued', 10, 0, NULL, CURRENT_TIMESTAMP), "
        "(4, 2, 4, 'early', 'done', 0, 1, NULL, CURRENT_TIMESTAMP)",
        "INSERT INTO result (candidate_id, job_id, stage, split, task, loss, created_at) "
        "VALUES (2, 2, 'full', 'val', 'b', 0.25, CURRENT_TIMESTAMP)",
    )
    open_store(db_url, check=False).upgrade()
    store = open_store(db_url)
    with store.session() as session:
        assert Study.find_or_raise_by_name(session, "explored").last_explored_budget == 1.5
        assert Study.find_or_raise_by_name(session, "planned").last_explored_budget is None
    with store.engine.connect() as connection:  # rebuilding the job table kept what refers to it
        assert connection.execute(text("SELECT job_id, loss FROM result")).all() == [(2, 0.25)]

    command.downgrade(alembic_config(store.engine), "0005")
    with store.engine.connect() as connection:
        marked = connection.execute(text("SELECT id, explored_budget FROM job ORDER BY id")).all()
        assert [tuple(row) for row in marked] == [(1, None), (2, None), (3, 1.5), (4, None)]
        assert connection.execute(text("SELECT count(*) FROM candidate")).scalar() == 4
        assert connection.execute(text("SELECT job_id, loss FROM result")).all() == [(2, 0.25)]
