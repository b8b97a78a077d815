"""`taskgroup study ...` as a user runs it."""

from __future__ import annotations

from db import open_store
from db.affinity import store_affinity
from db.models import Study
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok
from tests.taskgroup.data.test_data_loaders import write_nyuv2


def test_delete_without_a_terminal_needs_yes_and_keeps_the_study(tmp_path):
    """It printed the question, then "Aborted." (exit 1), without saying what would do."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", db)
    assert run_error("study", "delete", "s", "--db", db) == (
        "error: Delete study 's', its 0 results: there is no terminal to confirm in; add --yes")
    assert [s["name"] for s in run_json("study", "list", "--db", db)] == ["s"]


def test_create_list_show_delete(tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    created = run_json("study", "create", "s1", "--tasks", "depth,normal,segment", "--sizes", "full=1.0,half=0.5", "--db", db)
    assert created["tasks"] == ["depth", "normal", "segment"]
    assert [s["label"] for s in created["sizes"]] == ["full", "half"]
    assert created["sizes"][1]["width"] == 0.5
    run_ok("study", "create", "s2", "--tasks", "a,b", "--db", db)
    assert [s["name"] for s in run_json("study", "list", "--db", db)] == ["s1", "s2"]
    assert "depth, normal, segment" in run_ok("study", "show", "s1", "--db", db).stdout
    run_ok("study", "delete", "s1", "--yes", "--db", db)
    assert [s["name"] for s in run_json("study", "list", "--db", db)] == ["s2"]


def test_database_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKGROUP_DB", str(tmp_path / "env.sqlite"))
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert (tmp_path / "env.sqlite").exists()


def test_default_database_lives_in_taskgroup_home(taskgroup_home):
    run_ok("study", "create", "s", "--tasks", "a,b")
    assert (taskgroup_home / "taskgroup.sqlite").exists()


def test_bad_study_definitions_are_one_line_errors():
    assert "listed twice" in run_error("study", "create", "s", "--tasks", "a,a")
    assert "may only use" in run_error("study", "create", "s", "--tasks", "a+b,c")
    assert "study name 'x[red]y' must start with an ASCII letter or digit and may only use" in run_error(
        "study", "create", "x[red]y", "--tasks", "a")
    for name in (".", "..", ".hidden", "_s"):  # a folder's self or parent, a hidden folder
        assert f"study name {name!r} must start with an ASCII letter or digit" in run_error("study", "create", name, "--tasks", "a")
    assert "size" in run_error("study", "create", "s", "--tasks", "a", "--sizes", "full=-1")
    assert "'tâche' must start with an ASCII letter" in run_error("study", "create", "s", "--tasks", "tâche")
    long_names = ",".join(f"t{i:02d}" + "x" * 96 for i in range(21))  # each 99 characters, 2099 in the all-task network
    assert "the network of all 21 tasks would be named by 2099 characters" in run_error(
        "study", "create", "s", "--tasks", long_names)  # PostgreSQL stores at most 2000: its import failed
    run_ok("study", "create", "s", "--tasks", "a")
    assert "exists already" in run_error("study", "create", "s", "--tasks", "a")


def test_unknown_study_is_an_error_naming_the_known_ones():
    run_ok("study", "create", "known", "--tasks", "a")
    message = run_error("study", "show", "missing")
    assert "missing" in message and "known" in message


def test_error_messages_are_printed_verbatim():
    """Rich markup or emoji codes in a user's input must not be rendered away in the error line."""
    run_ok("study", "create", "s", "--tasks", "a,b")
    message = run_error("study", "show", "[bold]x:end:")
    assert "[bold]x:end:" in message


SPEC = """
tasks = ["segment", "depth", "normal"]
sizes = ["full=1.0", "half=0.5"]
[dataset]
name = "synthetic"
options = { images = 48, resolution = 16 }
[training]
max_epochs = 2
weighting = "uncertainty"
"""


def test_study_from_a_toml_spec_with_flags_overriding_it(tmp_path):
    spec = tmp_path / "study.toml"
    spec.write_text(SPEC)
    created = run_json("study", "create", "s", "--spec", str(spec), "--data-option", "images=32")
    assert created["tasks"] == ["segment", "depth", "normal"]
    assert created["dataset"] == {"name": "synthetic", "root": None, "options": {"images": 32, "resolution": 16}}
    assert created["training"] == {"max_epochs": 2, "weighting": "uncertainty"}
    assert run_json("study", "create", "t", "--spec", str(spec), "--tasks", "depth")["tasks"] == ["depth"]
    short = tmp_path / "short.toml"
    short.write_text('tasks = "depth,edge"\ndataset = "synthetic"\n')  # the dataset by name alone
    assert run_json("study", "create", "u", "--spec", str(short))["dataset"]["name"] == "synthetic"


def test_bad_specs_name_the_file_and_problem(tmp_path):
    cases = {
        "tasks = [": "not a valid TOML",
        'tasks = ["depth"]\ncolour = "red"': "unknown key 'colour'",
        'tasks = ["depth"]\n[training]\nmax_epoch = 3': "unknown training option 'max_epoch'",
        'tasks = ["depth"]\n[training]\nlr = "fast"': "[training]: training option lr must be a number, got 'fast'",
        'tasks = ["depth"]\n[training]\noptimizer = "rmsprop"': "[training]: unknown optimizer 'rmsprop'",
        'tasks = ["depth"]\n[dataset]\nname = "synthetic"\nextra = 1': "[dataset] table of name, root and options",
        'tasks = ["depth"]\ndataset = 3': "dataset is a name",
        'tasks = ["depth"]\n[dataset]\noptions = { images = 64 }': '[dataset] needs a name, e.g. name = "synthetic"',
        'tasks = [1, 2]': "tasks must be a string or a list of strings",
        'tasks = ["nope"]\n[dataset]\nname = "synthetic"': "unknown task 'nope'",
    }
    for number, (text, expected) in enumerate(cases.items()):
        spec = tmp_path / f"spec{number}.toml"
        spec.write_text(text)
        message = run_error("study", "create", f"s{number}", "--spec", str(spec))
        assert expected in message
    assert "no such file" in run_error("study", "create", "x", "--spec", str(tmp_path / "missing.toml"))
    assert "--tasks" in run_error("study", "create", "x")
    assert run_json("study", "list") == []


def test_a_dataset_that_workers_could_not_read_is_refused_when_the_study_is_created(tmp_path):
    """Each of these used to create the study and fail later, in every worker that took a job."""
    assert "is read from disk: give its folder with --data-root" in run_error(
        "study", "create", "s", "--tasks", "depth", "--dataset", "nyuv2")
    assert "unknown option(s) imagez" in run_error(
        "study", "create", "s", "--tasks", "depth", "--dataset", "synthetic", "--data-option", "imagez=64")
    assert "images must be an integer, got 'abc'" in run_error(
        "study", "create", "s", "--tasks", "depth", "--dataset", "synthetic", "--data-option", "images=abc")
    assert "resolution must be an integer >= 8" in run_error(
        "study", "create", "s", "--tasks", "depth", "--dataset", "celeba", "--data-root", str(tmp_path),
        "--data-option", "resolution=4")
    assert "must be a list of building names" in run_error(
        "study", "create", "s", "--tasks", "depth", "--dataset", "taskonomy", "--data-root", str(tmp_path),
        "--data-option", "train=b1")
    for flags in (("--data-option", "images=64"), ("--data-root", str(tmp_path))):  # --dataset forgotten
        assert "describe a dataset: name it with --dataset" in run_error("study", "create", "s", "--tasks", "depth", *flags)
    assert run_json("study", "list") == []


def test_a_data_root_that_cannot_be_opened_is_refused_before_the_study_exists(tmp_path):
    """A broken folder on this machine used to be accepted; `run` then queued the study's jobs and
    only its workers found the folder broken."""
    write_nyuv2(tmp_path / "nyu")
    (tmp_path / "nyu" / "train" / "depth" / "2.npy").unlink()
    message = run_error("study", "create", "s", "--tasks", "depth,normal", "--dataset", "nyuv2",
                        "--data-root", str(tmp_path / "nyu"))  # fmt: skip
    assert f"missing file: {tmp_path / 'nyu' / 'train' / 'depth' / '2.npy'}" in message
    assert f"the study is not created; `taskgroup data check nyuv2 --data-root {tmp_path / 'nyu'}`" in message
    assert run_json("study", "list") == []
    assert run_json("study", "create", "s", "--tasks", "normal", "--dataset", "nyuv2",
                    "--data-root", str(tmp_path / "nyu"))["tasks"] == ["normal"]  # fmt: skip


def test_a_relative_data_root_is_stored_absolute_and_a_specs_is_relative_to_its_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_nyuv2(tmp_path / "nyu")
    created = run_json("study", "create", "s", "--tasks", "depth", "--dataset", "nyuv2", "--data-root", "nyu")
    assert created["dataset"]["root"] == str(tmp_path / "nyu")
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "study.toml"
    spec.write_text('tasks = ["depth"]\n[dataset]\nname = "nyuv2"\nroot = "../nyu"\n')
    assert run_json("study", "create", "t", "--spec", str(spec))["dataset"]["root"] == str(tmp_path / "nyu")
    result = run_ok("study", "create", "u", "--tasks", "depth", "--dataset", "nyuv2", "--data-root", str(tmp_path / "elsewhere"))
    assert "is not a folder on this machine" in " ".join(result.output.split())


def test_show_says_how_the_study_trains_and_where_its_affinities_were_measured(tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--db", db)
    shown = " ".join(run_ok("study", "show", "s", "--db", db).stdout.split())
    assert "training defaults" in shown and "affinities" not in shown
    run_ok("configure", "s", "--set", "max_epochs=3", "--set", "lr=0.01", "--db", db)
    with open_store(db).session() as session:
        rows = [{"size": "half", "source": s, "target": t, "affinity": 0.01} for s in "ab" for t in "ab"]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=1)
    shown = " ".join(run_ok("study", "show", "s", "--db", db).stdout.split())
    assert "training max_epochs=3, lr=0.01; the rest default" in shown
    assert "affinities measured at half (taskgroup affinity show s)" in shown
    assert run_json("study", "show", "s", "--db", db)["affinity_sizes"] == ["half"]


def test_a_relative_synthetic_cache_dir_is_stored_absolute_like_the_root(tmp_path, monkeypatch):
    """Otherwise every folder a worker starts in would generate and cache the data anew."""
    monkeypatch.chdir(tmp_path)
    created = run_json("study", "create", "s", "--tasks", "depth", "--dataset", "synthetic",
                       "--data-option", "cache_dir=cache")
    assert created["dataset"]["options"]["cache_dir"] == str(tmp_path / "cache")
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "study.toml"
    spec.write_text('tasks = ["depth"]\n[dataset]\nname = "synthetic"\n[dataset.options]\ncache_dir = "../shared"\n')
    assert run_json("study", "create", "t", "--spec", str(spec))["dataset"]["options"]["cache_dir"] == str(tmp_path / "shared")


def test_a_name_too_long_for_a_checkpoint_folder_is_refused_before_anything_is_stored():
    """Its folder (name + 9 characters) passed 255 bytes: the study could be created but neither trained nor deleted."""
    assert "is 250 characters long; at most 100 are allowed" in run_error("study", "create", "z" * 250, "--tasks", "a")
    assert run_json("study", "list") == []
    run_ok("study", "create", "z" * 100, "--tasks", "a")


def test_study_list_folds_long_names_and_task_lists_instead_of_cutting_them(tmp_path):
    """At 80 columns (or in a pipe) tasks showed as `segment,…` and headers as `candidat…`."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    tasks = "segment,depth,normal,keypoint,edge,reshade,albedo"
    run_ok("study", "create", "a-long-study-name", "--tasks", tasks, "--db", db)
    lines = run_ok("study", "list", "--db", db).stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in "".join(lines)
    cells = "".join(line.split("│")[2].strip() for line in lines if line.startswith("│"))
    assert cells.replace(" ", "") == tasks  # every task, folded over lines
