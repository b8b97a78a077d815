"""Planning again: what is already there is counted by state, so `plan` and `finalize` can say it."""

from __future__ import annotations

from sqlalchemy import update

from db.models import Job, Study
from jobs.plans import PLANS, add_jobs, plan_study
from tests.jobs.helpers import make_study


def test_planning_again_counts_existing_jobs_by_state(db_url):
    store = make_study(db_url, tasks=["a", "b", "c"], jobs=3)  # the three singles
    with store.session() as session:
        jobs = sorted(session.query(Job).all(), key=lambda job: job.id)
        session.execute(update(Job).where(Job.id == jobs[0].id).values(state="done"))
        session.execute(update(Job).where(Job.id == jobs[1].id).values(state="failed"))
    with store.session() as session:
        summary = plan_study(session, Study.find_or_raise_by_name(session, "s"), "hoa")
    assert (summary.jobs_added, summary.jobs_existing) == (3, 3)  # the pairs are new
    assert (summary.jobs_done, summary.jobs_failed, summary.jobs_pending) == (1, 1, 1)
    assert summary.to_json()["jobs_done"] == 1 and summary.to_json()["jobs_failed"] == 1


def test_a_key_listed_twice_is_planned_once(db_url):
    store = make_study(db_url, tasks=["a", "b"])
    with store.session() as session:
        summary = add_jobs(session, Study.find_or_raise_by_name(session, "s"), [("a", "full", "full")] * 2)
    assert (summary.planned, summary.jobs_added, summary.jobs_existing) == (1, 1, 0)


def test_lookaheads_runs_hold_the_all_task_network_only_where_its_affinities_were_measured():
    lookahead = PLANS.get("lookahead")()
    singles = {(task, size, "full") for task in "abc" for size in ("full", "half")}
    assert set(lookahead.runs(["c", "a", "b"], ["full", "half"])) == singles
    assert set(lookahead.runs(["c", "a", "b"], ["full", "half"], affinity_sizes={"half"})) == singles | {("a+b+c", "half", "full")}
    assert set(PLANS.get("hoa")().runs(["a", "b"], ["full"], affinity_sizes={"full"})) == {
        ("a", "full", "full"), ("b", "full", "full"), ("a+b", "full", "full")}
