"""`taskgroup finalize` with what is known, and `--until-stable` (the dry runner: the loop, not training)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from db import open_store
from db.affinity import store_affinity
from db.models import Job, Study
from db.results import results_frame
from tests.taskgroup.cli.helpers import run, run_error, run_json, run_ok

UNTIL_STABLE = ("--until-stable", "--devices", "cpu", "--runner", "dry")


def create_hoa_study(name: str = "s", plan: str = "hoa") -> None:
    """Four tasks with the plan's networks trained (dry losses: deterministic, made up per network)."""
    run_ok("study", "create", name, "--tasks", "a,b,c,d", "--sizes", "full=1.0")
    run_ok("plan", name, "--estimator", plan)
    run_ok("work", name, "--devices", "cpu", "--runner", "dry")


def fully_trained(name: str = "s") -> set[tuple[str, str]]:
    with open_store(None).session() as session:
        frame = results_frame(session, Study.find_or_raise_by_name(session, name))
    full = frame[(frame["stage"] == "full") & (frame["split"] == "val")]
    return set(zip(full["tasks"], full["size"]))


def chosen(summary: dict) -> dict[float, set[tuple[str, str]]]:
    return {b["budget"]: {("+".join(n["tasks"]), n["size"]) for n in b["networks"]} for b in summary["budgets"]}


def test_until_stable_trains_the_choices_until_every_chosen_network_is_trained():
    create_hoa_study()
    before = fully_trained()
    summary = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "hoa", *UNTIL_STABLE)
    trained = [("+".join(n["tasks"]), n["size"]) for round_ in summary["rounds"] for n in round_]

    assert summary["stop_reason"] == "stable"
    assert summary["networks_trained"] == len(trained) == len(set(trained)) > 0
    assert not set(trained) & before  # nothing trained twice
    assert fully_trained() == before | set(trained)
    for budget in summary["budgets"]:
        assert chosen(summary)[budget["budget"]] <= fully_trained()  # every final choice has real losses
        assert budget["val_loss"] == pytest.approx(budget["predicted_loss"])
        # stable means optimal among the trained networks: what exact selection finds on them
        exact = run_json("select", "s", "--budget", str(budget["budget"]), "--estimator", "exact")
        assert exact["val_loss"] == pytest.approx(budget["val_loss"])
    finalize_jobs = run_json("status", "s")["jobs"]["done"] - len(before)
    assert finalize_jobs == len(trained)
    assert (summary["fully_trained"], summary["possible"]) == (len(fully_trained()), 15)  # 4 tasks, one size

    again = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "hoa", *UNTIL_STABLE)
    assert again["rounds"] == [] and again["networks_trained"] == 0 and again["stop_reason"] == "stable"
    assert chosen(again) == chosen(summary)
    assert run_json("status", "s")["jobs"]["total"] == len(before) + len(trained)


def test_a_failed_full_training_job_stops_the_loop_with_its_error_until_retried():
    create_hoa_study(plan="esa")
    run_ok("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa")  # queues the choices' full training
    with open_store(None).session() as session:  # one of them fails as a diverging loss would fail it
        job = session.scalars(select(Job).where(Job.state == "queued").order_by(Job.id)).first()
        job.state, job.attempts, job.error = "failed", 1, "the loss of task a diverged (nan)"
        failed = (job.candidate.tasks, job.candidate.size)
    before = fully_trained()

    error = run_error("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE)
    assert f"{failed[0]}@{failed[1]} (full) failed: the loss of task a diverged (nan)" in error
    assert "taskgroup retry s" in error
    assert failed not in fully_trained() and before < fully_trained()  # the others were trained and kept

    run_ok("retry", "s")
    summary = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE)
    assert summary["stop_reason"] == "stable" and failed in fully_trained()


def test_the_compute_limit_stops_the_loop_after_that_many_networks():
    create_hoa_study("unlimited", plan="esa")
    needed = run_json("finalize", "unlimited", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE)
    assert needed["networks_trained"] >= 3 and len(needed["rounds"]) >= 2  # early losses mislead ESA here

    create_hoa_study("limited", plan="esa")
    limited = run_json("finalize", "limited", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "2",
                       *UNTIL_STABLE)
    assert limited["stop_reason"] == "limit" and limited["networks_trained"] == 2
    assert len(fully_trained("limited")) == 2
    nothing = run_json("finalize", "limited", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "0",
                       *UNTIL_STABLE)
    assert nothing["stop_reason"] == "limit" and nothing["rounds"] == []
    text = run_ok("finalize", "limited", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "0",
                  *UNTIL_STABLE).stdout
    assert "(not trained)" in text and "best trained choice: " in text  # untrained choices are marked
    resumed = run_json("finalize", "limited", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE)
    assert resumed["stop_reason"] == "stable"
    assert chosen(resumed) == chosen(needed)  # the limit only paused the same deterministic search


def test_one_round_judges_trained_networks_on_their_real_losses():
    """ESA predicts from early losses; a chosen network that was trained fully since is judged on its
    real loss, so a choice of trained networks predicts exactly its real validation loss."""
    run_ok("study", "create", "s", "--tasks", "a,b,c", "--sizes", "full=1.0")
    run_ok("plan", "s", "--estimator", "esa")
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    first = run_json("finalize", "s", "--budgets", "1:3:1", "--estimator", "esa")
    assert first["jobs_added"] > 0 and all(b["val_loss"] is None for b in first["budgets"])
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    second = run_json("finalize", "s", "--budgets", "1:3:1", "--estimator", "esa")
    all_trained = [b for b in second["budgets"] if chosen({"budgets": [b]})[b["budget"]] <= fully_trained()]
    assert all_trained
    for budget in all_trained:
        assert budget["predicted_loss"] == pytest.approx(budget["val_loss"])


def test_lookahead_finalize_reads_the_stored_affinity():
    run_ok("study", "create", "s", "--tasks", "a,b,c", "--sizes", "full=1.0")
    assert run_json("plan", "s", "--estimator", "lookahead")["jobs_added"] == 3
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    message = "".join(run_error("finalize", "s", "--budgets", "1:3:1", "--estimator", "lookahead").split())
    assert "nodatasettomeasureoneon,soimportone(`taskgroupimportsFILE`readsFILE.affinity.csv" in message
    matrix = {("a", "b"): 0.02, ("b", "a"): 0.02, ("a", "c"): -0.01, ("c", "a"): -0.01, ("b", "c"): 0.0, ("c", "b"): 0.0}
    with open_store(None).session() as session:
        rows = [{"size": "full", "source": s, "target": t, "affinity": matrix.get((s, t), 0.03)}
                for s in "abc" for t in "abc"]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=1)
    summary = run_json("finalize", "s", "--budgets", "1:3:1", "--estimator", "lookahead", *UNTIL_STABLE)
    assert summary["estimator"] == "lookahead" and summary["stop_reason"] == "stable"
    for budget, networks in chosen(summary).items():
        assert networks <= fully_trained()
        selection = run_json("select", "s", "--budget", str(budget), "--estimator", "lookahead")
        assert {("+".join(n["tasks"]), n["size"]) for n in selection["networks"]} == networks


def test_max_trained_without_until_stable_is_refused():
    create_hoa_study()
    assert "--until-stable" in run_error("finalize", "s", "--budgets", "1", "--estimator", "hoa", "--max-trained", "2")


def test_explore_without_a_limit_is_refused():
    create_hoa_study()
    message = run_error("finalize", "s", "--budgets", "1", "--estimator", "hoa", "--explore", *UNTIL_STABLE)
    assert "--max-trained" in message


def test_explore_spends_the_limit_and_never_deploys_worse_than_stopping_when_stable():
    create_hoa_study("plain", plan="esa")
    plain = run_json("finalize", "plain", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE)
    assert plain["stop_reason"] == "stable"
    limit = plain["networks_trained"] + 3

    create_hoa_study("explored", plan="esa")
    explored = run_json("finalize", "explored", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained",
                        str(limit), "--explore", *UNTIL_STABLE)
    assert explored["stop_reason"] in {"limit", "exhausted"}
    assert explored["networks_trained"] == len(fully_trained("explored")) > plain["networks_trained"]
    assert explored["rounds"][: len(plain["rounds"])] == plain["rounds"]  # the same search, then exploration
    reasons = explored["explorations"]
    assert len(reasons) == len(explored["rounds"]) and reasons[: len(plain["rounds"])] == [None] * len(plain["rounds"])
    assert reasons[len(plain["rounds"]):] and all(r["budget"] in {1, 2, 3, 4} and 0 <= r["optimism"] <= 1
                                                  for r in reasons[len(plain["rounds"]):])
    deployable = {entry["budget"]: entry["selection"] for entry in explored["deployable"]}
    for budget in plain["budgets"]:
        assert deployable[budget["budget"]]["val_loss"] <= budget["val_loss"] + 1e-12
        exact = run_json("select", "explored", "--budget", str(budget["budget"]), "--estimator", "exact")
        assert deployable[budget["budget"]]["val_loss"] == pytest.approx(exact["val_loss"])

    text = run_ok("finalize", "explored", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "0",
                  "--explore", *UNTIL_STABLE)
    assert "stopped at the limit of 0 networks" in text.stdout and "exploring" not in text.stdout
    assert "never trained" not in text.stdout  # the hint to explore is for runs that did not
    stable = run_ok("finalize", "plain", "--budgets", "1:4:1", "--estimator", "esa", *UNTIL_STABLE).stdout
    assert "every chosen network is trained fully" in stable and "`--max-trained N --explore`" in stable
    share = f"{len(fully_trained('plain'))} of the 15 possible networks (every subset of the tasks at every size) are now fully trained"
    assert share in " ".join(stable.split())

    create_hoa_study("told", plan="esa")  # the same search again, told as text
    text = run_ok("finalize", "told", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", str(limit),
                  "--explore", *UNTIL_STABLE)
    exploring = sum(len(round_) for round_, reason in zip(explored["rounds"], reasons) if reason is not None)
    assert f"{explored['networks_trained']} networks trained ({exploring} of them exploring: " in text.stdout
    assert f" for budget {reasons[-1]['budget']:g}" in text.stdout
    announced = [line for line in text.stderr.splitlines() if line.startswith("round ")]
    assert len(announced) == len(reasons)  # each round says what it trains, and why when it explores
    for line, reason in zip(announced, reasons):
        assert ("exploring" in line) == (reason is not None)
        assert reason is None or f"(exploring for budget {reason['budget']:g}): training" in line


def test_a_second_exploring_run_continues_the_budgets_turns():
    create_hoa_study("once", plan="esa")
    args = ("--budgets", "1:4:1", "--estimator", "esa", "--explore", *UNTIL_STABLE)
    once = run_json("finalize", "once", "--max-trained", "11", *args)
    exploring = [i for i, reason in enumerate(once["explorations"]) if reason is not None]
    assert len({once["explorations"][i]["budget"] for i in exploring}) >= 2  # the dry losses explore two budgets

    create_hoa_study("twice", plan="esa")  # the same limit, spent in two runs
    first_limit = sum(len(round_) for round_ in once["rounds"][: exploring[0] + 1])
    first = run_json("finalize", "twice", "--max-trained", str(first_limit), *args)
    last = [reason["budget"] for reason in first["explorations"] if reason is not None][-1]
    assert run_json("study", "show", "twice")["last_explored_budget"] == last  # where the second run goes on
    assert f"budget {last:g} (finalize --explore goes on from the next)" in run_ok("study", "show", "twice").stdout
    second = run_json("finalize", "twice", "--max-trained", str(once["networks_trained"] - first_limit), *args)
    assert first["rounds"] + second["rounds"] == once["rounds"]
    assert first["explorations"] + second["explorations"] == once["explorations"]
    assert second["budgets"] == once["budgets"]


def test_finalize_with_an_estimator_that_has_nothing_to_estimate_from_says_what_to_train():
    create_hoa_study(plan="esa")  # early-stage runs only
    error = run_error("finalize", "s", "--budgets", "1:2:1", "--estimator", "exact", *UNTIL_STABLE)
    assert "estimator exact has nothing to estimate from in study 's': it needs fully trained" in error
    assert "import them (`taskgroup import s FILE`); the study has no dataset to train on" in error  # no `run` advice
    assert run_json("status", "s")["jobs"]["total"] == len(fully_trained()) + 15  # nothing queued: the 15 early runs


def test_finalize_help_names_every_estimator_it_accepts(monkeypatch):
    """It listed esa, hoa or lookahead, though exact is accepted too (and any estimator registered later)."""
    import typer.rich_utils

    from taskgroup.estimators import ESTIMATORS

    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)  # the option's help on one line
    line = next(line for line in run_ok("finalize", "--help").output.splitlines() if "--estimator" in line)
    listed = line.split("train fully: ", 1)[1].split(" (", 1)[0]
    assert sorted(listed.split(", ")) == ESTIMATORS.names() == ["esa", "exact", "hoa", "lookahead"]


def test_until_stable_shows_progress_and_keeps_worker_logs_in_files(tmp_path):
    create_hoa_study()
    result = run_ok("finalize", "s", "--budgets", "1:4:1", "--estimator", "hoa", "--checkpoint-root", str(tmp_path),
                    *UNTIL_STABLE)
    assert " INFO " not in result.stderr  # the display owns the terminal
    logs = tmp_path / "logs" / run_json("study", "show", "s")["checkpoint_folder"]
    log = (logs / "worker-main.log").read_text()
    trained = [line for line in result.stderr.splitlines() if line.startswith("round ")]
    assert trained and log.count(": done") >= len(trained)
    assert "".join(f"worker logs: {logs}".split()) in "".join(result.stdout.split())


def test_until_stable_refuses_an_import_only_study_before_it_queues_anything():
    """Trained with the dry runner, but without a dataset the training runner cannot train what it would choose."""
    create_hoa_study()
    jobs = run_json("status", "s")["jobs"]
    assert "no dataset" in run_error("finalize", "s", "--budgets", "1:4:1", "--estimator", "hoa",
                                     "--until-stable", "--devices", "cpu")
    assert run_json("status", "s")["jobs"] == jobs


def test_until_stable_says_the_rounds_networks_stay_queued_when_the_data_cannot_be_opened(tmp_path):
    """The data is opened only when a round has networks to train, after they are queued: the error
    used to leave them queued without a word of it."""
    run_ok("data", "generate", "--out", str(tmp_path / "syn"), "--images", "6", "--resolution", "8")
    run_ok("study", "create", "s", "--tasks", "depth,edge,normal", "--sizes", "full=1.0", "--dataset", "synthetic",
           "--data-root", str(tmp_path / "syn"))  # fmt: skip
    run_ok("plan", "s", "--estimator", "hoa")
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    (tmp_path / "syn" / "normal.npy").unlink()
    message = run_error("finalize", "s", "--budgets", "1:3:1", "--estimator", "hoa", "--until-stable", "--devices", "cpu")
    queued = run_json("status", "s")["jobs"]["queued"]
    assert f"missing file: {tmp_path / 'syn' / 'normal.npy'}" in message and queued > 0
    assert ("round 1's networks stay queued: fix the data, then train them with `taskgroup work s` or remove them "
            "with `taskgroup cancel s`") in message


def test_the_compute_limit_holds_when_an_earlier_finalize_left_jobs_queued():
    """A plain `finalize` queues its choices; `--until-stable --max-trained 1` would have worked them all off."""
    create_hoa_study(plan="esa")
    queued = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa")["jobs_added"]
    assert queued >= 2
    error = run_error("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "1", *UNTIL_STABLE)
    assert f"has {queued} queued jobs" in error and "taskgroup work s" in error and "taskgroup cancel s" in error
    assert run_json("status", "s")["jobs"]["queued"] == queued and len(fully_trained()) == 0  # nothing was trained
    run_ok("cancel", "s")
    limited = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--max-trained", "1", *UNTIL_STABLE)
    assert limited["networks_trained"] == 1 and len(fully_trained()) == 1


def test_a_budget_no_network_fits_is_left_out_with_a_note_and_the_others_finalized():
    """As sweep and report do: after `taskgroup cost`, budget 1 may lie below the cheapest feasible one."""
    create_hoa_study()
    result = run("finalize", "s", "--budgets", "0.5,1,2", "--estimator", "hoa", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [b["budget"] for b in summary["budgets"]] == [1.0, 2.0]
    assert summary["left_out"] == [{"budget": 0.5, "reason": "budget 0.5 is infeasible: the cheapest feasible budget is 1"}]
    assert "note: budget 0.5 left out: budget 0.5 is infeasible" in " ".join(result.stderr.split())
    until = run_json("finalize", "s", "--budgets", "0.5,1", "--estimator", "hoa", *UNTIL_STABLE)
    assert [b["budget"] for b in until["budgets"]] == [1.0] and until["left_out"][0]["budget"] == 0.5
    assert "cheapest feasible budget is 1" in run_error("finalize", "s", "--budgets", "0.5", "--estimator", "hoa")


def test_when_no_budget_is_feasible_the_error_names_every_one():
    create_hoa_study()
    error = run_error("finalize", "s", "--budgets", "0.25,0.5", "--estimator", "hoa")
    assert "no budget is feasible: budget 0.25 is infeasible" in error and "budget 0.5 is infeasible" in error


def test_a_stopped_until_stable_with_max_trained_says_what_lets_it_go_on(tmp_path):
    """It said "run the command again", which --max-trained then refused (the round's jobs were still queued)."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b,c,d", "--sizes", "full=1.0", "--db", db)
    run_ok("plan", "s", "--estimator", "hoa", "--db", db)
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry", "--db", db)
    command = [str(Path(sys.executable).parent / "taskgroup"), "finalize", "s", "--budgets", "1:4:1", "--estimator",
               "hoa", "--until-stable", "--max-trained", "4", "--devices", "cpu", "--runner", "dry", "--runner-option",
               "steps=400", "--runner-option", "step_seconds=0.05", "--db", db]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while run_json("status", "s", "--db", db)["jobs"]["running"] == 0 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    said = " ".join(stderr.split())
    assert process.returncode == 130, stderr
    assert ("stopped; round 1's networks stay queued, and with --max-trained finalize refuses while jobs are queued: "
            "train them with `taskgroup work s` (or remove them with `taskgroup cancel s`), then run the command "
            "again to go on") in said
    assert "finalize --until-stable would train" in run_error(*command[1:])  # as the message warned
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry", "--runner-option", "steps=1", "--db", db)
    assert run_json(*command[1:], "--json")["networks_trained"] >= 0  # then the same command goes on


def test_finalize_forbids_a_network_as_select_does_and_says_the_unit():
    """finalize had no --forbid (select, sweep and report have it), and its --json no `unit`."""
    create_hoa_study("s")
    create_hoa_study("t")
    free = run_json("finalize", "s", "--budgets", "1,2", "--estimator", "hoa")
    assert free["unit"] == "declared"
    wanted = sorted(set().union(*chosen(free).values()) - fully_trained("s"))[0]  # a network it queued
    queued = run_json("status", "t")["jobs"]
    assert "unknown task 'zz'" in run_error("finalize", "t", "--budgets", "1,2", "--estimator", "hoa", "--forbid", "a+zz")
    assert run_json("status", "t")["jobs"] == queued  # refused before anything was queued

    forbidden = f"{wanted[0]}@{wanted[1]}"
    held = run_json("finalize", "t", "--budgets", "1,2", "--estimator", "hoa", "--forbid", forbidden, *UNTIL_STABLE)
    assert held["unit"] == "declared" and held["stop_reason"] == "stable"
    assert not any(wanted in networks for networks in chosen(held).values())
    assert wanted not in {("+".join(n["tasks"]), n["size"]) for round_ in held["rounds"] for n in round_}
    assert wanted not in fully_trained("t")


def label(network: tuple[str, str]) -> str:
    return f"{network[0]}@{network[1]}"


def first_finalize_queued() -> list[tuple[str, str]]:
    """ESA's choices at budgets 1 to 4, queued by a plain finalize (none is trained fully yet)."""
    create_hoa_study(plan="esa")
    queued = sorted(set().union(*chosen(run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa")).values()))
    assert len(queued) >= 2 and run_json("status", "s")["jobs"]["queued"] == len(queued)
    return queued


def test_forbid_removes_the_queued_job_an_earlier_finalize_made_for_the_network():
    """`finalize --forbid X` left X's queued job from an earlier finalize in place, and `work` trained it."""
    queued = first_finalize_queued()
    forbidden = queued[0]
    result = run("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--forbid", label(forbidden), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobs_removed"] == 1
    assert (f"note: --forbid: removed 1 queued full-training job an earlier finalize queued: {label(forbidden)}"
            in " ".join(result.stderr.split()))
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    assert forbidden not in fully_trained() and set(queued[1:]) <= fully_trained()
    again = run("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--forbid", label(forbidden), "--json")
    assert json.loads(again.stdout)["jobs_removed"] == 0 and "--forbid: removed" not in again.stderr


def test_forbid_with_until_stable_removes_the_earlier_finalizes_job_before_working_the_queue():
    """--until-stable works off the whole queue: it trained the forbidden network an earlier finalize queued."""
    queued = first_finalize_queued()
    forbidden = queued[-1]
    summary = run_json("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--forbid", forbidden[0],
                       *UNTIL_STABLE)
    assert summary["jobs_removed"] == 1 and summary["stop_reason"] == "stable"
    assert forbidden not in fully_trained()


def test_forbid_leaves_a_running_job_to_finish():
    """Only queued jobs are removed: a worker holding one finishes it."""
    forbidden = first_finalize_queued()[0]
    with open_store(None).session() as session:
        job = next(job for job in session.scalars(select(Job).where(Job.stage == "full"))
                   if (job.candidate.tasks, job.candidate.size) == forbidden)
        job.state = "running"
    result = run("finalize", "s", "--budgets", "1:4:1", "--estimator", "esa", "--forbid", label(forbidden), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobs_removed"] == 0
    assert run_json("status", "s")["jobs"]["running"] == 1
