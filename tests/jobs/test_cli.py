"""The scheduler commands as a user runs them: plan, configure, work, status, retry, cancel, finalize."""

from __future__ import annotations

import json
from math import comb

import pytest

from tests.taskgroup.cli.helpers import run_error, run_json, run_ok


def create(name: str = "s", tasks: str = "a,b,c,d", sizes: str = "full=1.0,half=0.5") -> None:
    run_ok("study", "create", name, "--tasks", tasks, "--sizes", sizes)


@pytest.mark.parametrize(("estimator", "expected"), [
    ("exact", 2 * (2**4 - 1)),
    ("esa", 2 * (2**4 - 1)),
    ("hoa", 2 * (comb(4, 1) + comb(4, 2))),
    ("lookahead", 2 * comb(4, 1)),
])
def test_plan_queues_what_the_estimator_needs_once(estimator, expected):
    create()
    first = run_json("plan", "s", "--estimator", estimator)
    assert first["jobs_added"] == expected
    again = run_json("plan", "s", "--estimator", estimator)
    assert again["jobs_added"] == 0 and again["jobs_existing"] == expected
    assert run_json("status", "s")["jobs"] == {"queued": expected, "running": 0, "done": 0, "failed": 0, "total": expected}


def test_plan_skips_candidates_with_imported_results(tmp_path):
    create(tasks="a,b", sizes="full=1.0")
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\na,full,1,full,val,a,0.5\na,full,1,full,test,a,0.6\n")
    run_ok("import", "s", str(csv))
    assert run_json("plan", "s", "--estimator", "exact")["with_results"] == 1
    assert run_json("status", "s")["jobs"]["queued"] == 2
    said = " ".join(run_ok("plan", "s", "--estimator", "exact").output.split())
    assert "0 jobs queued; 1 with imported results; 2 already queued or running" in said  # not "trained"


def test_configure_refuses_unknown_or_bad_options():
    create()
    assert "unknown training option 'learning_rate'" in run_error("configure", "s", "--set", "learning_rate=0.1")
    assert "lr must be a positive number" in run_error("configure", "s", "--set", "lr=-1")
    assert "lr must be a positive number of at most 1e+30" in run_error("configure", "s", "--set", "lr=1e300")
    assert "init must be one of per-task, sequential" in run_error("configure", "s", "--set", "init=shuffled")
    stored = run_json("configure", "s", "--set", "lr=0.01", "--set", "max_epochs=3")["training"]
    assert stored == {"lr": 0.01, "max_epochs": 3}
    assert run_json("configure", "s", "--set", "init=sequential")["training"]["init"] == "sequential"


@pytest.mark.parametrize(("setting", "message"), [
    ("optimizer=rmsprop", "unknown optimizer 'rmsprop' (known: adam, sgd)"),
    ("weighting=magic", "unknown weighting method 'magic'"),
    ('weighting_options={"alpha": 1}', "weighting method 'dwa' has no option 'alpha'"),
    ("weighting_options=3", "weighting_options must be a table of options, got 3"),
    ("amp=maybe", "amp must be true or false, got 'maybe'"),
    ("seed=abc", "seed must be a non-negative integer, got 'abc'"),
    ("seed=-1", "seed must be a non-negative integer, got -1"),
    ("lr=fast", "lr must be a number, got 'fast'"),
    ("momentum=x", "momentum must be a number, got 'x'"),
    ("batch_size=true", "batch_size must be a positive integer, got True"),
])
def test_configure_refuses_a_value_no_worker_could_train_with_and_keeps_the_stored_ones(setting, message):
    """Each would otherwise be stored and fail every job of the study, on every worker."""
    create()
    stored = run_json("configure", "s", "--set", "weighting=dwa", "--set", "lr=0.01")["training"]
    assert message in run_error("configure", "s", "--set", setting)
    assert run_json("configure", "s")["training"] == stored


def test_work_dry_finishes_the_queue_then_retry_and_cancel():
    create(tasks="a,b,c", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "hoa")
    report = run_json("work", "s", "--devices", "cpu", "--runner", "dry")
    assert report["jobs"]["done"] == 6 and report["workers"][0]["done"] == 6
    assert run_json("retry", "s")["requeued"] == 0
    planned = " ".join(run_ok("plan", "s", "--estimator", "exact").output.split())
    assert "1 job queued; 6 already trained (1 new candidate)" in planned
    assert "1 job queued; 6 already trained; 1 already queued or running" not in planned
    assert "0 jobs queued; 6 already trained; 1 already queued or running" in " ".join(
        run_ok("plan", "s", "--estimator", "exact").output.split())
    assert run_json("cancel", "s")["cancelled"] == 1  # the triple a+b+c
    assert run_json("status", "s")["jobs"]["queued"] == 0
    assert run_json("plan", "s", "--estimator", "exact")["jobs_added"] == 1
    assert " ".join(run_ok("cancel", "s").output.split()) == "1 queued job of s removed."  # nothing runs: no "will finish"
    assert "0 failed jobs of s queued again" in run_ok("retry", "s").output


def test_finalize_queues_full_training_of_the_chosen_networks():
    create(tasks="a,b,c", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "esa")
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    summary = run_json("finalize", "s", "--budgets", "1:3:1", "--estimator", "esa")
    chosen = {("+".join(n["tasks"]), n["size"]) for b in summary["budgets"] for n in b["networks"]}
    assert [b["budget"] for b in summary["budgets"]] == [1.0, 2.0, 3.0]
    assert summary["jobs_added"] == len(chosen) > 0
    assert run_json("finalize", "s", "--budgets", "1:3:1", "--estimator", "esa")["jobs_added"] == 0
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")
    assert run_json("select", "s", "--budget", "2", "--estimator", "esa")["val_loss"] is not None
    again = " ".join(run_ok("finalize", "s", "--budgets", "2", "--estimator", "esa").output.split())
    assert "1 full-training job queued" in again  # the real losses now known change ESA's choice (dry losses are fixed)
    waiting = " ".join(run_ok("finalize", "s", "--budgets", "2", "--estimator", "esa").output.split())
    assert "0 full-training jobs queued;" in waiting and "already trained; 1 already queued or running." in waiting
    assert "Run `taskgroup work s` to train them." in waiting


def test_finalize_before_the_estimates_are_done_is_refused():
    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "esa")
    assert "still has 3 queued or running jobs" in run_error("finalize", "s", "--budgets", "1", "--estimator", "esa")


def test_bad_budgets_and_devices_get_one_clear_error():
    create()
    run_ok("plan", "s")
    assert "START:STOP:STEP" in run_error("finalize", "s", "--budgets", "one")
    assert "device 'gpu0' is not a torch device" in run_error("work", "s", "--devices", "gpu0", "--runner", "dry")
    assert "unknown job runner 'fast'" in run_error("work", "s", "--devices", "cpu", "--runner", "fast")
    assert "unknown plan 'tag'" in run_error("plan", "s", "--estimator", "tag")


def test_training_an_import_only_study_is_refused():
    create()
    assert "note: study 's' has no dataset" in run_ok("plan", "s", "--estimator", "lookahead").stderr  # for the dry runner only
    assert run_json("plan", "s")["trainable"] is False  # a script sees it too: the note was text only
    assert "no dataset" in run_error("work", "s", "--devices", "cpu")
    run_ok("study", "create", "t", "--tasks", "depth", "--sizes", "full=1.0", "--dataset", "synthetic")
    assert "note" not in run_ok("plan", "t").stderr
    assert run_json("plan", "t")["trainable"] is True


def test_run_refuses_an_import_only_study_before_it_stores_a_plan_or_a_setting():
    create()
    assert "no dataset" in run_error("run", "s", "--devices", "cpu", "--set", "max_epochs=1")
    assert run_json("status", "s")["jobs"]["total"] == 0
    assert run_json("configure", "s")["training"] == {}


def test_run_refuses_data_broken_since_the_study_was_created_before_it_queues_a_job(tmp_path):
    """The plan used to be stored first: the error came with every job queued, and without a word of it."""
    run_ok("data", "generate", "--out", str(tmp_path / "syn"), "--images", "6", "--resolution", "8")
    run_ok("study", "create", "s", "--tasks", "depth,edge", "--sizes", "full=1.0", "--dataset", "synthetic",
           "--data-root", str(tmp_path / "syn"))  # fmt: skip
    (tmp_path / "syn" / "edge.npy").write_bytes(b"broken")
    message = run_error("run", "s", "--devices", "cpu", "--set", "max_epochs=1")
    assert str(tmp_path / "syn" / "edge.npy") in message
    assert run_json("status", "s")["jobs"]["total"] == 0
    assert run_json("configure", "s")["training"] == {}


def test_configure_shows_every_option_a_worker_uses_and_which_the_study_set():
    create()
    shown = run_json("configure", "s", "--set", "lr=0.01")
    assert shown["training"] == {"lr": 0.01}
    effective = shown["effective"]
    assert effective["lr"] == 0.01 and effective["init"] == "per-task" and effective["max_epochs"] > 0
    assert run_json("configure", "s")["effective"] == effective  # showing changes nothing
    table = run_ok("configure", "s").stdout
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") >= 3}
    assert set(rows) == set(effective)
    assert "set" in rows["lr"] and "default" in rows["max_epochs"]

    run_ok("plan", "s", "--estimator", "hoa")
    run_ok("configure", "s", "--candidate", "a+b@full", "--set", "weighting=uncertainty")
    own = run_json("configure", "s", "--candidate", "a+b@full")  # shown, not changed: its weighting over the study's
    assert own["training"] == {"lr": 0.01, "weighting": "uncertainty"} and own["effective"]["weighting"] == "uncertainty"
    assert run_json("configure", "s")["effective"]["weighting"] == "uniform"
    assert "candidate a+b+c@full of study 's' is not planned yet" in run_error("configure", "s", "--candidate",
                                                                               "a+b+c@full")  # hoa: no triples


def test_configure_says_what_it_changed_including_what_reset_put_back():
    """It showed the whole table only: a --reset silently put max_epochs back to its default."""
    create()
    default_epochs = run_json("configure", "s")["effective"]["max_epochs"]
    assert "changed" not in run_json("configure", "s")  # showing changes nothing
    changed = run_json("configure", "s", "--set", "lr=0.01", "--set", "max_epochs=3")["changed"]
    assert changed == {"lr": {"before": 0.001, "after": 0.01}, "max_epochs": {"before": default_epochs, "after": 3}}
    assert run_json("configure", "s", "--set", "lr=0.01")["changed"] == {}
    assert "training options unchanged" in run_ok("configure", "s", "--set", "lr=0.01").output
    assert run_json("configure", "s", "--reset", "--set", "lr=0.02")["changed"] == {
        "lr": {"before": 0.01, "after": 0.02}, "max_epochs": {"before": 3, "after": default_epochs}}
    assert "training options changed: weighting uniform -> dwa" in run_ok("configure", "s", "--set", "weighting=dwa").output
    planned = run_json("plan", "s", "--estimator", "hoa", "--set", "batch_size=8")  # plan and run --set say it too
    assert planned["changed"] == {"batch_size": {"before": 16, "after": 8}} and planned["jobs_added"] > 0
    assert "training options changed: lr 0.02 -> 0.03" in run_ok("plan", "s", "--set", "lr=0.03").output
    ran = run_ok("run", "s", "--estimator", "hoa", "--runner", "dry", "--set", "lr=0.04").output
    assert "training options changed: lr 0.03 -> 0.04" in ran


def test_finalize_with_every_chosen_network_trained_has_nothing_to_queue(tmp_path):
    create(tasks="a,b", sizes="full=1.0")
    lines = ["tasks,size,cost,stage,split,task,loss"]
    for tasks in ("a", "b", "a+b"):
        for stage in ("early", "full"):
            lines += [f"{tasks},full,1,{stage},{split},{task},0.5" for split in ("val", "test") for task in tasks.split("+")]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    run_ok("import", "s", str(tmp_path / "r.csv"))
    output = " ".join(run_ok("finalize", "s", "--budgets", "1:2:1", "--estimator", "esa").output.split())
    assert "0 full-training jobs queued;" in output and "with imported results." in output
    assert "taskgroup work" not in output


def test_configure_checks_the_weighting_options_values_for_the_study_s_tasks():
    """Only the options' names were checked: a temperature of "hot" was stored and failed every job."""
    create()
    stored = run_json("configure", "s")["training"]
    for options, message in (('{"temperature":"hot"}', "could not convert string to float: 'hot'"),
                             ('{"temperature":0}', "dwa temperature must be > 0")):
        assert message in run_error("configure", "s", "--set", "weighting=dwa", "--set", f"weighting_options={options}")
    assert "which is not one of" in run_error("configure", "s", "--set", "weighting=uniform", "--set",
                                              'weighting_options={"weights":{"nosuch":1}}')
    assert run_json("configure", "s")["training"] == stored


def test_switching_weighting_method_drops_the_previous_method_s_options():
    """docs/scheduler.md's example: a dwa temperature stored for the study, then gradnorm for one candidate."""
    create(tasks="a,b", sizes="full=1.0")
    run_ok("configure", "s", "--set", "weighting=dwa", "--set", 'weighting_options={"temperature":1.5}')
    run_ok("plan", "s", "--estimator", "hoa")
    candidate = run_json("configure", "s", "--candidate", "a+b@full", "--set", "weighting=gradnorm")["effective"]
    assert (candidate["weighting"], candidate["weighting_options"]) == ("gradnorm", {})
    study = run_json("configure", "s", "--set", "weighting=uncertainty")["effective"]
    assert (study["weighting"], study["weighting_options"]) == ("uncertainty", {})
    kept = run_json("configure", "s", "--set", "lr=0.01")["effective"]  # not switching: options stay as they are
    assert kept["weighting"] == "uncertainty"


@pytest.mark.parametrize(("options", "message"), [
    (["--runner", "dry", "--runner-option", "steps=abc"], "job runner 'dry' option steps must be a non-negative integer, got 'abc'"),
    (["--runner", "dry", "--runner-option", "steps=1.5"], "option steps must be a non-negative integer, got 1.5"),
    (["--runner", "dry", "--runner-option", "step_seconds=-1"], "option step_seconds must be a non-negative number"),
    (["--runner", "dry", "--runner-option", "bogus=1"], "job runner 'dry' has no option 'bogus' (its options: steps, step_seconds)"),
    (["--runner", "train", "--runner-option", "steps=2"], "job runner 'train' has no option 'steps' (its options: none)"),
])
def test_runner_options_are_checked_before_anything_is_queued(options, message):
    """A bad value used to fail every job three times at run time; an unknown key was ignored."""
    create(tasks="a,b", sizes="full=1.0")
    assert message in run_error("run", "s", "--estimator", "hoa", *options)
    assert run_json("status", "s")["jobs"]["total"] == 0
    run_ok("plan", "s", "--estimator", "hoa")
    assert message in run_error("work", "s", *options)
    assert run_json("status", "s")["jobs"] == {"queued": 3, "running": 0, "done": 0, "failed": 0, "total": 3}
    assert message in run_error("finalize", "s", "--budgets", "2", "--estimator", "hoa", *options)  # not only --until-stable


def test_import_removes_the_queued_jobs_of_the_networks_it_fills(tmp_path):
    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "exact")  # a, b, a+b
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\na,full,1,full,val,a,0.5\na,full,1,full,test,a,0.6\n")
    said = run_ok("import", "s", str(csv))
    assert "1 queued job removed (a network's losses come from one run, imported or trained)" in " ".join(said.output.split())
    assert run_json("status", "s")["jobs"]["queued"] == 2
    again = run_json("import", "s", str(csv))  # unchanged: nothing more to remove
    assert (again["results_unchanged"], again["queued_jobs_removed"]) == (2, 0)
    run_ok("work", "s", "--runner", "dry")
    exported = run_ok("export", "s", "-").stdout
    assert "a,full,1.0,full,val,a,0.5" in exported and "a,full,1.0,full,test,a,0.6" in exported


def test_a_network_imported_in_part_is_not_trained_so_its_losses_come_from_one_run(tmp_path):
    """Its queued job used to stay and train the rest, putting a trained test loss beside the
    imported validation loss, while `plan` counted the network as done."""
    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "exact")
    part = tmp_path / "part.csv"
    part.write_text("tasks,size,cost,stage,split,task,loss\na+b,full,1,full,val,a,0.5\n")
    assert run_json("import", "s", str(part))["queued_jobs_removed"] == 1
    assert run_json("plan", "s", "--estimator", "exact")["jobs_added"] == 0  # plan agrees: it has results
    run_ok("work", "s", "--runner", "dry", "--runner-option", "steps=1")
    assert run_json("status", "s")["jobs"]["done"] == 2
    exported = run_ok("export", "s", "-").stdout
    assert "a+b,full,1.0,full,val,a,0.5" in exported and "a+b,full,1.0,full,test" not in exported


def test_imports_into_one_study_at_once_run_one_after_another(db_url, reference_dir, tmp_path):
    """They used to fail with 'database is locked' (SQLite) or a duplicate-key error (PostgreSQL)."""
    import subprocess
    import sys
    from pathlib import Path

    taskgroup = Path(sys.executable).parent / "taskgroup"
    run_ok("study", "create", "imp", "--tasks", "s,d,n,k,t", "--db", db_url)
    command = [str(taskgroup), "import", "imp", "--format", "standley", "--tasks", "s,d,n,k,t", "--db", db_url, "--json",
               str(reference_dir / "results.txt"), str(reference_dir / "results_test.txt"),
               "--early", str(reference_dir / "results_20.txt")]
    imports = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outcomes = [process.communicate(timeout=120) for process in imports]
    assert [process.returncode for process in imports] == [0, 0, 0], [stderr for _, stderr in outcomes]
    added = sorted(json.loads(stdout)["results_added"] for stdout, _ in outcomes)
    assert added == [0, 0, 255]  # one import wrote them; the others found them there, unchanged


def test_status_shows_a_running_jobs_whole_worker_name_in_80_columns(tmp_path):
    """The worker name (host:pid:slot:id) tells machines apart; the table cut it to `vm:24760…`."""
    from db import open_store
    from db.models import Study
    from jobs.queue import JobQueue
    from tests.jobs.helpers import settings

    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("plan", "s", "--estimator", "exact")
    store = open_store()
    with store.session() as session:
        study_id = Study.find_or_raise_by_name(session, "s").id
    name = "gpu-node-17.cluster.example.org:123456:cuda:0#1:9f3a2b"
    JobQueue(store, study_id, settings(tmp_path)).claim(name, "cuda:0")
    lines = run_ok("status", "s").output.splitlines()
    header = next(line for line in lines if "worker" in line)
    column = [cell.strip() for cell in header.split("┃")].index("worker")
    cells = [line.split("│")[column].strip() for line in lines if line.startswith("│")]
    assert "".join(cells) == name and max(map(len, lines)) <= 80


def test_run_of_a_diverging_study_says_retry_once():
    """The job's error said `then taskgroup retry s` and `run` added `see status, then taskgroup retry s`."""
    run_ok("study", "create", "s", "--tasks", "depth", "--sizes", "full=xception:1.0@0.25", "--dataset", "synthetic",
           "--data-option", "images=12", "--data-option", "resolution=16")
    run_ok("configure", "s", "--set", "lr=1e30", "--set", "optimizer=sgd", "--set", "max_epochs=1",
           "--set", "batch_size=4", "--set", "amp=false")
    error = run_error("run", "s", "--devices", "cpu")
    assert "diverged" in error and error.count("taskgroup retry") == 1, error
    assert error.endswith("(`taskgroup configure s --set lr=...` or `--set weighting=...`); "
                          "see `taskgroup status s`, then `taskgroup retry s`")
    assert " ".join(run_ok("status", "s").output.split()).count("taskgroup retry") == 1


def test_status_shows_a_failed_jobs_whole_error_in_80_columns():
    """The file name that says what to fix was cut: `corrupt numpy file: /data/…`."""
    from db import open_store
    from db.models import Job

    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("plan", "s", "--estimator", "exact")
    error = ("corrupt numpy file: /mnt/shared/datasets/nyuv2-labelled/train/depth/scene_0421_kitchen_0007.npy "
             "(holds NaN or infinite values)")
    with open_store(None).session() as session:
        job = session.get(Job, 1)
        job.state, job.attempts, job.error = "failed", 1, error
    lines = run_ok("status", "s").output.splitlines()
    header = next(line for line in lines if "error" in line)
    column = [cell.strip() for cell in header.split("┃")].index("error")
    cells = [line.split("│")[column].strip() for line in lines if line.startswith("│")]
    assert "".join(cells).replace(" ", "") == error.replace(" ", "") and max(map(len, lines)) <= 80


def test_work_counts_a_gone_workers_job_it_gave_up_on_as_failed(tmp_path):
    """A worker that found a dead worker's job stale on its last attempt marked it failed, and its
    summary still said `failed 0`: the summary (and --json) count it now, as stale."""
    from sqlalchemy import update

    from db import open_store
    from db.models import Job, Study
    from jobs.clock import database_seconds_ago
    from jobs.queue import JobQueue
    from tests.jobs.helpers import settings
    from tests.taskgroup.cli.helpers import run

    def dead_worker_on_its_last_attempt() -> None:
        store = open_store()
        with store.session() as session:
            study_id = Study.find_or_raise_by_name(session, "s").id
        claim = JobQueue(store, study_id, settings(tmp_path)).claim("dead", "cpu")
        with store.session() as session:
            session.execute(update(Job).where(Job.id == claim.job_id).values(
                attempts=3, heartbeat_at=database_seconds_ago(session.get_bind().dialect, 120)))

    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "exact")  # a, b and a+b
    dead_worker_on_its_last_attempt()
    result = run("work", "s", "--devices", "cpu", "--runner", "dry", "--json")
    assert result.exit_code == 1 and "worker dead stopped sending heartbeats during attempt 3 of 3" in result.stderr
    (worker,) = json.loads(result.stdout)["workers"]
    assert (worker["done"], worker["failed"], worker["failed_stale"]) == (2, 1, 1)

    run_ok("retry", "s")
    dead_worker_on_its_last_attempt()
    result = run("work", "s", "--devices", "cpu", "--runner", "dry")
    row = next(line for line in result.stdout.splitlines() if line.startswith("│"))
    assert [cell.strip() for cell in row.split("│")[2:4]] == ["0", "1 (1 stale)"]  # done, failed


def test_a_run_whose_study_is_deleted_meanwhile_says_so_not_no_study_named(tmp_path):
    """`work` ended with "no study named 's' (studies: ...); `taskgroup study create` makes one"."""
    from types import SimpleNamespace

    from taskgroup.cli.work import _status
    from taskgroup.errors import InvalidInputError

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", db)
    request = SimpleNamespace(db_url=db, study="s", settings=SimpleNamespace(db_retry_deadline=1.0))
    assert _status(request).total == 0
    run_ok("study", "delete", "s", "--yes", "--db", db)
    with pytest.raises(InvalidInputError, match="study 's' was deleted while this command ran"):
        _status(request)


def test_work_json_says_it_was_not_stopped_when_it_ran_out_of_jobs():
    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "exact")
    report = run_json("work", "s", "--devices", "cpu", "--runner", "dry")
    assert report["stopped"] is None and report["jobs"]["done"] == 3


def test_work_json_names_the_signal_that_stopped_it(tmp_path):
    """A script could not tell a Ctrl-C'd `work --json` from one that ran out of jobs but by the queue's counts."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.jobs.helpers import job_states, make_study, wait_for

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=2)
    command = [str(Path(sys.executable).parent / "taskgroup"), "work", "s", "--db", url, "--devices", "cpu", "--json",
               "--runner", "dry", "--runner-option", "steps=600", "--runner-option", "step_seconds=0.1",
               "--checkpoint-root", str(tmp_path / "checkpoints")]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: job_states(store)["running"] == 1, 120, "a running job")
        worker.send_signal(signal.SIGINT)
        stdout, _ = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 130
    report = json.loads(stdout)
    assert report["stopped"] == "SIGINT" and report["jobs"]["queued"] == 2  # its job released, back in the queue


def test_run_says_what_it_planned_before_it_trains():
    """`run` went straight to the progress display: how many jobs it queued, and how many were done, went unsaid."""
    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "hoa")
    run_ok("work", "s", "--devices", "cpu", "--runner", "dry")  # a, b and a+b trained
    run_ok("plan", "s", "--estimator", "esa")  # three early-stage jobs queued by another plan: run trains them too
    said = " ".join(run_ok("run", "s", "--estimator", "exact", "--devices", "cpu", "--runner", "dry").output.split())
    assert "Planned exact for study s: 0 jobs queued; 3 already trained; training the study's 3 queued jobs." in said
    report = run_json("run", "s", "--estimator", "esa", "--devices", "cpu", "--runner", "dry")
    plan = report["plan"]
    assert (plan["estimator"], plan["planned"], plan["jobs_added"], plan["jobs_done"]) == ("esa", 3, 0, 3)
    assert plan["planned"] == plan["jobs_added"] + plan["jobs_existing"] + plan["with_results"]


def test_status_shows_no_progress_for_a_job_that_has_reported_none(tmp_path):
    """A job just claimed showed `0%` in `status` where `status --json` said `null`."""
    from db import open_store
    from db.models import Study
    from jobs.queue import JobQueue
    from tests.jobs.helpers import settings

    create(tasks="a,b", sizes="full=1.0")
    run_ok("plan", "s", "--estimator", "exact")
    store = open_store()
    with store.session() as session:
        study_id = Study.find_or_raise_by_name(session, "s").id
    queue = JobQueue(store, study_id, settings(tmp_path))
    queue.claim("w1", "cpu")
    queue.heartbeat(queue.claim("w2", "cpu"), 0.25)
    assert [job["progress"] for job in run_json("status", "s")["running"]] == [None, 0.25]
    lines = run_ok("status", "s").output.splitlines()
    header = next(line for line in lines if "progress" in line)
    column = [cell.strip() for cell in header.split("┃")].index("progress")
    cells = [line.split("│")[column].strip() for line in lines if line.startswith("│") and line.split("│")[1].strip()]
    assert cells == ["-", "25%"]


def test_changed_options_are_said_as_set_takes_them_not_as_python_values():
    """`weighting_options {} -> {'temperature': 3}` and `amp True`: Python's spelling, which --set does not take."""
    create()
    said = " ".join(run_ok("configure", "s", "--set", "weighting=dwa", "--set", 'weighting_options={"temperature": 3}',
                           "--set", "amp=false").output.split())
    assert 'weighting_options {} -> {"temperature": 3}' in said and "amp true -> false" in said
    assert "{'" not in said and "True" not in said and "False" not in said
    said = " ".join(run_ok("configure", "s", "--set", "lr=1e6").output.split())
    assert "lr 0.001 -> 1e+06" in said  # not 1000000.0
    said = " ".join(run_ok("configure", "s", "--set", "lr=0.001234567").output.split())
    assert "lr 1e+06 -> 0.001234567" in said  # every digit kept


@pytest.mark.parametrize(("candidate", "message"), [
    ("nope@full", "study 's' has no task 'nope' (its tasks: a, b, c, d)"),
    ("a+nope@full", "study 's' has no task 'nope' (its tasks: a, b, c, d)"),
    ("a+b@tiny", "study 's' has no size 'tiny' (its sizes: full, half)"),
    ("nope@tiny", "study 's' has no task 'nope' (its tasks: a, b, c, d); and no size 'tiny' (its sizes: full, half)"),
])
def test_configure_names_the_unknown_task_or_size_of_a_candidate(candidate, message):
    """It said `has no candidate nope@tiny; plan the study first`, which planning could never cure."""
    create()
    run_ok("plan", "s", "--estimator", "hoa")
    assert message in run_error("configure", "s", "--candidate", candidate)
    assert message in run_error("configure", "s", "--candidate", candidate, "--set", "weighting=dwa")


def test_configure_says_to_plan_a_candidate_that_is_not_planned_yet():
    create()
    run_ok("plan", "s", "--estimator", "hoa")  # singles and pairs: no triple
    assert ("candidate a+b+c@full of study 's' is not planned yet; `taskgroup plan s` queues its candidates"
            in run_error("configure", "s", "--candidate", "a+b+c@full", "--set", "weighting=dwa"))


def test_configure_refuses_a_weighting_for_a_single_task_candidate():
    """It was stored, and changed nothing: one task has no other to be weighed against."""
    create()
    run_ok("plan", "s", "--estimator", "hoa")
    error = run_error("configure", "s", "--candidate", "a@full", "--set", "weighting=dwa")
    assert "a@full is a single-task network: a loss weighting balances the tasks of a multi-task network" in error
    assert run_json("configure", "s", "--candidate", "a@full")["training"] == {}
    assert run_json("configure", "s", "--candidate", "a@full", "--reset")["training"] == {}  # removing is fine
    assert run_json("configure", "s", "--candidate", "a+b@full", "--set", "weighting=dwa")["training"] == {
        "weighting": "dwa"}


def test_workers_that_all_ended_with_jobs_left_is_an_error_not_success(tmp_path):
    """Every `work --per-device` slot given up on after its restarts: `work` exited 0 with jobs still queued."""
    import threading
    from types import SimpleNamespace

    from taskgroup.cli.work import _raise_if_unfinished, _status
    from taskgroup.errors import InvalidInputError

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)
    run_ok("plan", "s", "--db", db)
    request = SimpleNamespace(db_url=db, study="s", settings=SimpleNamespace(db_retry_deadline=1.0))
    with pytest.raises(InvalidInputError, match=r"every worker ended with 3 jobs queued and 0 running; the log says why"):
        _raise_if_unfinished(request, _status(request), threading.Event())
