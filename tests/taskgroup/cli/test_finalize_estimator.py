"""`taskgroup finalize` without --estimator finalizes the estimator the study's evidence was gathered for."""

from __future__ import annotations

import json

import pytest

from db import open_store
from db.affinity import store_affinity
from db.models import Study
from jobs.finalize import queue_full_training
from tests.taskgroup.cli.helpers import run, run_error, run_json, run_ok

BUDGETS = ("--budgets", "1:3:1")


def trained_study(*plans: str, affinity: bool = False, tasks: str = "a,b,c") -> None:
    """Study `s` of `tasks` with each plan's networks trained by the dry runner (made-up losses)."""
    run_ok("study", "create", "s", "--tasks", tasks, "--sizes", "full=1.0")
    for plan in plans:
        run_ok("plan", "s", "--estimator", plan)
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    if affinity:  # what `taskgroup affinity measure` stores
        with open_store(None).session() as session:
            rows = [{"size": "full", "source": s, "target": t, "affinity": 0.02} for s in "abc" for t in "abc"]
            store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=1)


@pytest.mark.parametrize(("plan", "affinity", "estimator", "why"), [
    ("lookahead", True, "lookahead", "an affinity matrix is stored"),
    ("esa", False, "esa", "7 networks have early-stage results"),
    ("hoa", False, "hoa", "every pair of tasks is trained fully"),
])
def test_the_estimator_the_evidence_is_for_is_finalized_and_named_on_stderr(plan, affinity, estimator, why):
    """It was always esa: after lookahead's protocol, finalize chose among the singles on ESA's (missing) evidence."""
    trained_study(plan, affinity=affinity)
    result = run("finalize", "s", *BUDGETS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimator"] == estimator  # stdout is the JSON alone
    notes = [line for line in result.stderr.splitlines() if "finalizing" in line]
    assert notes == [f"note: finalizing {estimator}'s choices: {why} (--estimator chooses another)"]

    text = run_ok("finalize", "s", *BUDGETS, "--estimator", estimator)
    assert "finalizing" not in text.stderr  # named: nothing to say


def test_after_lookahead_finalize_chooses_what_lookahead_selects():
    trained_study("lookahead", affinity=True)
    summary = json.loads(run_ok("finalize", "s", "--budgets", "2", "--json").stdout)
    chosen = json.loads(run_ok("select", "s", "--budget", "2", "--estimator", "lookahead", "--json").stdout)
    assert summary["budgets"][0]["networks"] == chosen["networks"]


def test_early_results_and_an_affinity_matrix_together_are_refused_naming_both():
    trained_study("esa", "lookahead", affinity=True)
    message = " ".join(run_error("finalize", "s", *BUDGETS).split())
    assert ("holds evidence for 2 estimators (esa: 7 networks have early-stage results; lookahead: an affinity matrix "
            "is stored); choose one of esa, hoa, lookahead with --estimator") in message
    assert json.loads(run_ok("finalize", "s", *BUDGETS, "--estimator", "hoa", "--json").stdout)["estimator"] == "hoa"


def test_early_results_decide_over_trained_pairs():
    """A study planned for ESA and HOA was refused as holding evidence for both; pairs are trained by more than HOA."""
    trained_study("esa", "hoa")
    result = run("finalize", "s", *BUDGETS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimator"] == "esa"


def test_two_task_lookahead_flow_finalizes_lookahead(tmp_path):
    """The documented flow was refused: `affinity measure` trains the all-task network, a two-task study's only
    pair, so hoa seemed to fit too ("holds evidence for 2 estimators (hoa: ...; lookahead: ...)")."""
    run_ok("study", "create", "s", "--tasks", "depth,normal", "--sizes", "half=xception:0.5@0.5", "--dataset",
           "synthetic", "--data-option", "images=24", "--data-option", "resolution=16",
           "--data-option", f"cache_dir={tmp_path / 'cache'}")
    run_ok("configure", "s", "--set", "max_epochs=1", "--set", "batch_size=8")
    run_ok("run", "s", "--estimator", "lookahead", "--runner", "dry")
    run_ok("affinity", "measure", "s", "--every", "1")
    result = run("finalize", "s", "--budgets", "0.5,1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimator"] == "lookahead"
    assert "note: finalizing lookahead's choices: an affinity matrix is stored" in result.stderr


@pytest.mark.parametrize(("plan", "affinity", "estimator"), [("esa", False, "esa"), ("lookahead", True, "lookahead")])
def test_after_a_finalize_round_trains_every_pair_finalize_keeps_to_the_estimator(plan, affinity, estimator):
    """A second `finalize` without --estimator was refused once a round had trained every pair (hoa seemed to fit)."""
    trained_study(plan, affinity=affinity)
    with open_store(None).session() as session:  # what a finalize round queues when it chooses the pairs
        queue_full_training(session, Study.find_or_raise_by_name(session, "s"),
                            [("a+b", "full"), ("a+c", "full"), ("b+c", "full")])
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    result = run("finalize", "s", *BUDGETS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimator"] == estimator
    assert f"note: finalizing {estimator}'s choices" in result.stderr


def test_no_evidence_is_refused_with_the_choices_and_lookaheads_missing_step():
    """Lookahead's plan trains the singles; the affinity matrix comes from another command."""
    trained_study("lookahead")
    message = " ".join(run_error("finalize", "s", *BUDGETS).split())
    assert "holds no evidence that tells which estimator to finalize" in message
    assert "its single-task networks are trained, as lookahead's plan trains them" in message
    assert message.endswith("choose one of esa, hoa, lookahead with --estimator")


def test_a_one_task_study_is_refused_as_having_nothing_to_group():
    """It said lookahead needs an affinity matrix, which `affinity measure` refuses to measure for one task."""
    trained_study("lookahead", tasks="a")
    for estimator in ((), ("--estimator", "lookahead")):
        message = " ".join(run_error("finalize", "s", "--budgets", "1", *estimator).split())
        assert "study 's' has one task (a): there is nothing to group" in message
        assert message.endswith("choose among its sizes with `taskgroup select s --budget B`")
        assert "affinity measure" not in message
    assert run_json("select", "s", "--budget", "1")["networks"][0]["tasks"] == ["a"]  # the advice works


def test_a_one_task_study_with_early_results_finalizes_esa():
    """ESA still ranks the task's sizes by their early runs, so finalize trains the chosen one fully."""
    trained_study("esa", tasks="a")
    summary = run_json("finalize", "s", "--budgets", "1")
    assert summary["estimator"] == "esa" and summary["jobs_added"] == 1
