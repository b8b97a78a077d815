"""`taskgroup select` on the paper's published results, as a user would run it."""

from __future__ import annotations

import json

import pytest

from tests.taskgroup.cli.helpers import run, run_error, run_json, run_ok

TASKS = "segment,depth,normal,keypoint,edge"
SELECT_KEYS = {"budget", "estimator", "networks", "assignment", "cost", "predicted_loss", "val_loss", "test_loss", "unit"}


@pytest.fixture
def paper(reference_dir):
    run_ok("study", "create", "paper", "--tasks", TASKS)
    run_ok(
        "import", "paper", "--format", "standley", "--tasks", TASKS,
        str(reference_dir / "results.txt"), str(reference_dir / "results_test.txt"),
        "--early", str(reference_dir / "results_20.txt"),
    )
    return "paper"


def test_select_json_is_the_design_contract(paper):
    chosen = run_json("select", paper, "--budget", "2.5")
    assert set(chosen) == SELECT_KEYS
    assert chosen["estimator"] == "exact" and chosen["budget"] == 2.5
    assert sorted(("+".join(n["tasks"]), n["size"]) for n in chosen["networks"]) == [
        ("depth+normal+segment", "full"), ("edge+keypoint+normal", "full"), ("normal", "half")
    ]
    assert chosen["cost"] == pytest.approx(sum(n["cost"] for n in chosen["networks"])) and chosen["cost"] <= 2.5
    assert sorted(chosen["assignment"]) == sorted(TASKS.split(","))
    assert round(chosen["test_loss"], 5) == 0.44612


def test_select_sweep_and_report_say_the_cost_unit_they_used(paper, tmp_path):
    """`relative` (the default) is the declared costs until `taskgroup cost` measured the networks:
    the outputs name the unit actually used."""
    assert run_json("select", paper, "--budget", "2.5")["unit"] == "declared"
    line = next(line for line in run_ok("select", paper, "--budget", "2.5").stdout.splitlines() if line.startswith("cost "))
    assert line.startswith("cost 2.5 of 2.5 (declared)   predicted loss")
    rows = run_json("sweep", paper, "--budgets", "1,2", "--estimators", "exact", "--random-samples", "5")
    assert {row["unit"] for row in rows} == {"declared"} and len(rows) == 2 * (1 + 4)
    run_ok("report", paper, "--out", str(tmp_path / "r"), "--budgets", "2", "--estimators", "exact", "--format", "json")
    document = json.loads((tmp_path / "r" / "report.json").read_text())
    assert document["unit"] == "declared" and document["selections"][0] == run_json("select", paper, "--budget", "2")


def test_both_solvers_agree_through_the_cli(paper):
    for budget in ("1.5", "3", "4.5"):
        bnb = run_json("select", paper, "--budget", budget, "--solver", "bnb")
        bip = run_json("select", paper, "--budget", budget, "--solver", "bip")
        assert bnb == bip


def test_estimators_choose_on_estimates_and_are_scored_on_real_losses(paper):
    esa = run_json("select", paper, "--budget", "1.5", "--estimator", "esa")
    assert round(esa["test_loss"], 5) == 0.48732
    assert esa["predicted_loss"] != esa["val_loss"]


def test_objective_options_change_the_choice(paper):
    plain = run_json("select", paper, "--budget", "2")
    capped = run_json("select", paper, "--budget", "2", "--max-networks", "1")
    assert len(capped["networks"]) == 1 and len(plain["networks"]) == 2
    forced = run_json("select", paper, "--budget", "2", "--require", "depth+normal+segment@full")
    assert ["depth", "normal", "segment"] in [n["tasks"] for n in forced["networks"]]
    assert "the cheapest feasible budget is 1.5" in run_error(
        "select", paper, "--budget", "1", "--forbid", "depth+edge+keypoint+normal+segment"
    )
    forbidden = run_json("select", paper, "--budget", "2", "--forbid", "depth+normal+segment")
    assert ["depth", "normal", "segment"] not in [n["tasks"] for n in forbidden["networks"]]
    assert forbidden["test_loss"] > plain["test_loss"]
    weighted = run_json("select", paper, "--budget", "2", "--weight", "keypoint=50")
    assert weighted != plain


def test_human_readable_table(paper):
    out = run_ok("select", paper, "--budget", "2.5").stdout
    assert "depth+normal+segment" in out and "test loss 0.44612" in out
    [totals] = [line for line in out.splitlines() if line.startswith("cost ")]  # one line, not wrapped at 80 columns
    assert totals.endswith("test loss 0.44612") and "predicted loss" in totals


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--budget", "0.2"), "cheapest feasible budget is 1"),
        (("--budget", "2", "--estimator", "magic"), "unknown estimator 'magic'"),
        (("--budget", "2", "--solver", "magic"), "magic"),
        (("--budget", "2", "--weight", "nosuch=2"), "nosuch"),
        (("--budget", "2", "--weight", "depth"), "TASK=VALUE"),
        (("--budget", "2", "--max-loss", "depth=abc"), "not a number"),
        (("--budget", "2", "--require", "depth+nosuch"), "nosuch"),
        (("--budget", "2", "--unit", "ms"), "taskgroup cost"),
        (("--budget", "2", "--unit", "furlongs"), "known: declared, macs, ms, params, relative"),
        (("--budget", "-1",), "budget"),
    ],
)
def test_bad_queries_are_one_line_errors(paper, args, expected):
    assert expected in run_error("select", paper, *args)


def test_study_without_results_and_unknown_study(tmp_path):
    run_ok("study", "create", "empty", "--tasks", "a,b")
    assert ("study 'empty' has no results yet: import them (`taskgroup import empty FILE`); the study has no dataset "
            "to train on") in run_error("select", "empty", "--budget", "1")
    run_ok("study", "create", "trainable", "--tasks", "depth,normal", "--dataset", "synthetic")
    assert "has no results yet: train them (`taskgroup run trainable`) or import them" in run_error(
        "select", "trainable", "--budget", "1")
    assert "no study named 'ghost'" in run_error("select", "ghost", "--budget", "1")


def test_a_task_of_the_study_without_results_is_named_as_such_not_as_unknown(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\na,full,1,full,val,a,0.9\n")
    run_ok("study", "create", "half", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("import", "half", str(csv))
    error = run_error("select", "half", "--budget", "2")
    assert "1 task of study 'half' has no results yet (b)" in error and "unknown" not in error


def test_an_estimator_with_nothing_to_estimate_from_says_what_to_train(tmp_path):
    csv = tmp_path / "early.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n"
                   "a,full,1,early,val,a,0.9\nb,full,1,early,val,b,0.8\na+b,full,1,early,val,a,0.7\n"
                   "a+b,full,1,early,val,b,0.9\n")
    run_ok("study", "create", "early", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("import", "early", str(csv))  # early-stage (ESA) runs only
    assert ("estimator exact has nothing to estimate from in study 'early': it needs fully trained (full-stage) "
            "validation losses (import them (`taskgroup import early FILE`); the study has no dataset to train on)"
            ) in run_error("select", "early", "--budget", "2")
    assert run_json("select", "early", "--budget", "2", "--estimator", "esa")["predicted_loss"] == pytest.approx(1.5)
    swept = run_ok("sweep", "early", "--budgets", "1,2", "--estimators", "exact,esa", "--random-samples", "5")
    notes = [line for line in swept.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "taskgroup import early FILE" in notes[0]  # one line, however long


EXPECTED_EXACT = {1: 0.50278, 1.5: 0.46132, 2: 0.45224, 2.5: 0.44612, 3: 0.44235}


def test_sweep_json_has_every_budget_and_estimator_plus_baselines(paper):
    rows = run_json("sweep", paper, "--budgets", "0.5:3:0.5", "--estimators", "exact,hoa", "--random-samples", "50")
    selections = [row for row in rows if "estimator" in row]
    baselines = [row for row in rows if "baseline" in row]
    assert [(row["budget"], row["estimator"]) for row in selections] == [
        (b, e) for b in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0) for e in ("exact", "hoa")
    ]
    infeasible = [row for row in selections if "error" in row]
    assert {row["budget"] for row in infeasible} == {0.5}
    assert all("cheapest feasible budget is 1" in row["error"] for row in infeasible)
    for row in selections:
        if row["estimator"] == "exact" and "error" not in row:
            assert set(row) == SELECT_KEYS
            assert round(row["test_loss"], 5) == EXPECTED_EXACT[row["budget"]]
    assert {row["baseline"] for row in baselines} == {"all-in-one", "one-per-task", "random", "worst"}
    for budget in (1.0, 2.0, 3.0):
        at = {row["baseline"]: row for row in baselines if row["budget"] == budget}
        exact = next(r for r in selections if r["budget"] == budget and r["estimator"] == "exact")
        assert at["all-in-one"]["test_loss"] == pytest.approx(0.50278, abs=1e-5)
        assert at["worst"]["val_loss"] >= at["random"]["val_loss"] >= exact["val_loss"]


def test_sweep_gives_a_repeated_budget_once_in_ascending_order_as_report_does(paper):
    rows = run_json("sweep", paper, "--budgets", "2,1,2", "--estimators", "exact", "--random-samples", "5")
    assert [row["budget"] for row in rows if "estimator" in row] == [1.0, 2.0]
    assert [row["budget"] for row in rows if row.get("baseline") == "worst"] == [1.0, 2.0]


def test_sweep_table_is_readable(paper):
    out = run_ok("sweep", paper, "--budgets", "1,2", "--estimators", "exact", "--random-samples", "20").stdout
    assert "exact" in out and "all-in-one" in out and "worst" in out and "0.45224" in out


def test_sweep_says_how_many_distinct_groupings_the_random_baseline_is_over(paper):
    """It said "1000 random groupings" where budget 1 affords one grouping and budget 2 affords 31."""
    out = run_ok("sweep", paper, "--budgets", "1,2,3", "--estimators", "exact", "--random-samples", "50").stdout
    said = ["".join(line.split("│")[3] for line in block) for block in _table_rows(out, "random")]
    assert ["".join(text.split()) for text in said] == [  # folded at the column's width, maybe mid-word
        "theonlyfeasiblegrouping", "all31feasiblegroupings", "50distinctrandomgroupings"]
    rows = run_json("sweep", paper, "--budgets", "1,2,3", "--estimators", "exact", "--random-samples", "50")
    assert [(row["samples"], row["exact"]) for row in rows if row.get("baseline") == "random"] == [
        (1, True), (31, True), (50, False)]


def test_sweep_table_shows_the_random_spread_on_validation_and_test(paper):
    """Only the test column had a spread; validation, the split a choice is made on, showed the mean alone."""
    out = run_ok("sweep", paper, "--budgets", "3", "--estimators", "exact", "--random-samples", "50").stdout
    (row,) = _table_rows(out, "random")
    val, test = ("".join(line.split("│")[column] for line in row) for column in (5, 6))
    rows = run_json("sweep", paper, "--budgets", "3", "--estimators", "exact", "--random-samples", "50")
    (random,) = [row for row in rows if row.get("baseline") == "random"]
    assert f"±{random['val_loss_std']:.5f}" in "".join(val.split())
    assert f"±{random['test_loss_std']:.5f}" in "".join(test.split())


def _table_rows(table: str, choice: str) -> list[list[str]]:
    """The lines of each table row whose choice column is `choice` (a row wraps over several lines)."""
    rows: list[list[str]] = []
    current: list[str] | None = None
    for line in table.splitlines():
        cells = line.split("│")
        if len(cells) < 4:
            current = None
        elif cells[2].strip():  # a row starts
            current = [line] if cells[2].strip() == choice else None
            if current is not None:
                rows.append(current)
        elif current is not None:
            current.append(line)
    return rows


def test_sweep_leaves_out_an_estimator_that_cannot_estimate_and_says_why(paper):
    result = run_ok("sweep", paper, "--budgets", "1,2", "--estimators", "exact,lookahead", "--random-samples", "20",
                    "--json")
    assert "estimator lookahead left out" in result.stderr and IMPORT_A_MATRIX in "".join(result.stderr.split())
    estimators = {row["estimator"] for row in json.loads(result.stdout) if "estimator" in row}
    assert estimators == {"exact"}
    assert "no estimator can select" in run_error("sweep", paper, "--budgets", "1", "--estimators", "lookahead")


IMPORT_A_MATRIX = ("thelookaheadestimatorneedsanaffinitymatrix;thestudyhasnodatasettomeasureoneon,soimportone"
                   "(`taskgroupimportpaperFILE`readsFILE.affinity.csvbesideFILE;seedocs/lookahead.md,"
                   "\"Movingastudytoanotherdatabase\")")
"""What lookahead's missing matrix says for a study of imported results, whitespace removed."""


def test_lookahead_without_a_matrix_says_how_this_study_gets_one(paper, tmp_path):
    """An imported study was told to run `taskgroup affinity measure`, which fails on a study without a
    dataset; it is told to import a matrix, and a study with a dataset still to measure one."""
    for command in (("select", paper, "--budget", "2", "--estimator", "lookahead"), ("affinity", "show", paper)):
        message = "".join(run_error(*command).split())
        assert IMPORT_A_MATRIX.split(";", 1)[1] in message and "affinitymeasure" not in message
    report = run_ok("report", paper, "--estimators", "exact,lookahead", "--budgets", "1,2", "--out", str(tmp_path / "r"))
    assert f"estimatorlookaheadleftout:{IMPORT_A_MATRIX}" in "".join(report.stderr.split())

    run_ok("study", "create", "measurable", "--tasks", "depth,edge", "--dataset", "synthetic")
    (tmp_path / "r.csv").write_text("tasks,size,cost,stage,split,task,loss\n" + "".join(
        f"{tasks},full,1,full,val,{task},0.5\n" for tasks, task in (("depth", "depth"), ("edge", "edge"), ("depth+edge", "depth"), ("depth+edge", "edge"))))
    run_ok("import", "measurable", str(tmp_path / "r.csv"))
    message = " ".join(run_error("select", "measurable", "--budget", "1", "--estimator", "lookahead").split())
    assert message == ("error: the lookahead estimator needs an affinity matrix; `taskgroup affinity measure measurable` "
                       "measures one")


def test_sweep_compares_every_estimator_that_can_estimate_by_default_with_one_note_for_the_rest(paper):
    result = run_ok("sweep", paper, "--budgets", "1,2", "--random-samples", "20", "--json")
    estimators = [row["estimator"] for row in json.loads(result.stdout) if "estimator" in row]
    assert list(dict.fromkeys(estimators)) == ["exact", "esa", "hoa"]  # exact first: the reference
    notes = " ".join(result.stderr.split()).split("note: ")[1:]
    assert [note for note in notes if note.startswith("not compared")] == [
        next(note for note in notes if "with nothing to estimate from: lookahead (needs" in note)]


def test_exact_on_a_partly_trained_study_says_what_it_chose_among(paper):
    """The paper trained every subset at full size but only singles at half: 36 of the 62 networks."""
    for command in (["select", paper, "--budget", "2"], ["sweep", paper, "--budgets", "2", "--random-samples", "5"]):
        stderr = " ".join(run_ok(*command).stderr.split())
        assert "exact chose among the 36 fully trained networks of the 62 possible" in stderr
        assert "import the others' results to search them all" in stderr  # nothing to train an imported study on
    assert "exact chose" not in run_ok("select", paper, "--budget", "2", "--estimator", "esa").stderr


def test_select_names_the_chosen_networks_that_are_not_trained_yet(tmp_path):
    """HOA predicts a triple from its pairs; choosing it leaves its real losses unknown until finalize
    trains it (a study with a dataset) or its results are imported (a study of imported results)."""
    rows = ["tasks,size,cost,stage,split,task,loss"]
    losses = {"depth": 1.0, "edge": 1.0, "normal": 1.0, "depth+edge": 0.5, "depth+normal": 0.5, "edge+normal": 0.5}
    for tasks, loss in losses.items():
        rows += [f"{tasks},full,1,full,{split},{task},{loss}" for split in ("val", "test") for task in tasks.split("+")]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    for name, dataset in (("trainable", ["--dataset", "synthetic"]), ("imported", [])):
        run_ok("study", "create", name, "--tasks", "depth,edge,normal", "--sizes", "full=1.0", *dataset)
        run_ok("import", name, str(tmp_path / "r.csv"))
        result = run_ok("select", name, "--budget", "1", "--estimator", "hoa", "--json")
        assert json.loads(result.stdout)["val_loss"] is None
        assert ("not trained fully yet, so the real losses are unknown: depth+edge+normal@full ("
                + ("`taskgroup finalize trainable --budgets 1 --estimator hoa` queues them)" if dataset
                   else "import their full-stage results)")) in " ".join(result.stderr.split())
        exact = " ".join(run_ok("select", name, "--budget", "2", "--estimator", "exact").stderr.split())
        assert "not trained fully yet" not in exact and "exact chose among the 6 fully trained networks of the 7" in exact
        assert ("`taskgroup plan trainable --estimator exact` queues the rest" if dataset else "import the others'") in exact


def test_select_sweep_and_report_count_the_possible_networks_alike(tmp_path):
    """Every subset imported at full size of a study that declares two sizes: 7 of the 14 networks.
    The report counted only the sizes it had results for, and so said nothing of the half-size ones."""
    subsets = ["depth", "edge", "normal", "depth+edge", "depth+normal", "edge+normal", "depth+edge+normal"]
    rows = ["tasks,size,cost,stage,split,task,loss"]
    rows += [f"{tasks},full,1,full,{split},{task},{1.0 / len(tasks)}"
             for tasks in subsets for split in ("val", "test") for task in tasks.split("+")]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    run_ok("study", "create", "two", "--tasks", "depth,edge,normal", "--sizes", "full=1.0,half=0.5")
    run_ok("import", "two", str(tmp_path / "r.csv"))
    said = "chose among the 7 fully trained networks of the 14 possible"
    assert said in " ".join(run_ok("select", "two", "--budget", "2").stderr.split())
    assert said in " ".join(run_ok("sweep", "two", "--budgets", "2", "--random-samples", "5").stderr.split())
    run_ok("report", "two", "--out", str(tmp_path / "report"), "--budgets", "1,2", "--format", "json")
    assert said in json.loads((tmp_path / "report" / "report.json").read_text())["summary"]
    partial = tmp_path / "partial.csv"  # the three-task network at half size, with one task's loss only
    partial.write_text("tasks,size,cost,stage,split,task,loss\ndepth+edge+normal,half,0.5,full,val,depth,0.1\n")
    run_ok("import", "two", str(partial))
    assert said in " ".join(run_ok("select", "two", "--budget", "2").stderr.split())  # it cannot be chosen: not counted


def test_progress_bars_leave_no_blank_lines_where_stderr_is_not_a_terminal(paper):
    """A log or a pipe gets the notes and errors only (rich would leave an empty line per bar)."""
    result = run_ok("sweep", paper, "--budgets", "1,2", "--random-samples", "5", "--json")
    assert result.stderr.strip() and "" not in result.stderr.splitlines()
    failed = run("sweep", paper, "--budgets", "1", "--estimators", "exact,oracle")
    assert failed.exit_code == 1 and failed.stderr.splitlines() == ["error: unknown estimator 'oracle' (known: esa, exact, hoa, lookahead)"]


def test_an_empty_name_list_is_refused(paper, tmp_path):
    assert "--estimators needs at least one name" in run_error("sweep", paper, "--estimators", " , ")
    assert "--format needs at least one name" in run_error("report", paper, "--out", str(tmp_path), "--format", ",")


def test_sweep_rejects_bad_budgets(paper):
    message = run_error("sweep", paper, "--budgets", "5:1:1")
    assert "budgets" in message and "note:" not in message  # refused before the study is read


def test_declared_unit_is_the_imported_cost(paper):
    assert run_json("select", paper, "--budget", "3", "--unit", "declared") == run_json("select", paper, "--budget", "3")


def test_sweep_says_why_a_row_is_infeasible(paper):
    result = run_ok("sweep", paper, "--budgets", "0.5,1", "--estimators", "exact", "--random-samples", "5")
    assert "infeasible" in result.stdout
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: exact at budget 0.5")]
    assert notes == ["note: exact at budget 0.5: budget 0.5 is infeasible: the cheapest feasible budget is 1"]


def test_a_sweep_or_report_where_nothing_is_feasible_is_an_error(paper, tmp_path):
    """They exited 0 with a table (or report) of nothing but 'infeasible', where select exits 1."""
    expected = "no estimator can choose at budgets 0.2, 0.5: budget 0.2 is infeasible: the cheapest feasible budget is 1"
    assert expected in run_error("sweep", paper, "--budgets", "0.2,0.5", "--estimators", "exact")
    assert expected in run_error("report", paper, "--out", str(tmp_path / "r"), "--budgets", "0.2,0.5", "--estimators", "exact")
    assert not (tmp_path / "r").exists()


def _three_tasks(tmp_path, extra: str = "") -> str:
    """Every subset of a, b, c trained at full size (validation and test), plus `extra` exchange lines."""
    losses = {"a": 0.5, "b": 0.6, "c": 0.4, "a+b": 0.45, "a+c": 0.55, "b+c": 0.5, "a+b+c": 0.6}
    csv = tmp_path / "three.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n" + "".join(
        f"{tasks},full,1.0,full,{split},{task},{loss}\n"
        for tasks, loss in losses.items() for split in ("val", "test") for task in tasks.split("+")) + extra)
    run_ok("study", "create", "three", "--tasks", "a,b,c", "--sizes", "full=1.0,half=0.5")
    run_ok("import", "three", str(csv))
    return "three"


def test_sweep_baselines_meet_the_selection_options_and_show_the_ones_nothing_meets_as_unavailable(tmp_path):
    """A diverged loss broke the baselines under --max-loss (only --forbid left it out of a sweep), and
    they ignored --require and --max-networks too."""
    study = _three_tasks(tmp_path)
    diverged = tmp_path / "diverged.csv"
    diverged.write_text("tasks,size,cost,stage,split,task,loss\na+b,full,1.0,full,val,a,1e14\n")
    run_ok("import", study, str(diverged), "--replace")
    rows = run_json("sweep", study, "--budgets", "3", "--max-loss", "a=1", "--random-samples", "20")
    baselines = {row["baseline"]: row for row in rows if "baseline" in row}
    assert set(baselines) == {"all-in-one", "one-per-task", "random", "worst"}
    assert all(row["cost"] is not None for row in baselines.values())
    assert not any(["a", "b"] == network["tasks"] for row in baselines.values() for network in row["networks"] or ())

    options = ("--budgets", "3", "--max-loss", "a=1", "--max-networks", "2", "--require", "b+c", "--random-samples", "20")
    rows = run_json("sweep", study, *options)
    baselines = {row["baseline"]: row for row in rows if "baseline" in row}
    for name in ("all-in-one", "one-per-task"):  # neither holds b+c
        assert (baselines[name]["networks"], baselines[name]["cost"], baselines[name]["samples"]) == (None, None, 0)
    assert [network["tasks"] for network in baselines["worst"]["networks"]] == [["a"], ["b", "c"]]
    table = run_ok("sweep", study, *options).stdout
    assert [line.split("│")[3].strip() for line in table.splitlines() if "one-per-task" in line] == ["unavailable"]


def test_sweep_forbids_a_network_only_an_estimator_knows_without_breaking_the_baselines(tmp_path):
    """--forbid a+b, which ESA knows from its early-stage results but which was never trained fully, was
    refused by the baselines ("no candidate a+b with results and a cost"), so the sweep failed."""
    early = [("a", "full", "a"), ("b", "full", "b"), ("c", "full", "c"), ("a+b", "half", "a"), ("a+b", "half", "b")]
    study = _three_tasks(tmp_path, "".join(f"{tasks},{size},1.0,early,val,{task},0.3\n" for tasks, size, task in early))
    rows = run_json("sweep", study, "--budgets", "3", "--estimators", "esa", "--forbid", "a+b@half",
                    "--random-samples", "5")
    assert {row.get("baseline") for row in rows} >= {"all-in-one", "one-per-task", "random", "worst"}
    required = run_json("sweep", study, "--budgets", "3", "--estimators", "esa", "--require", "a+b@half",
                        "--random-samples", "5")  # no trained network is a+b@half: no baseline holds it
    assert all(row["cost"] is None for row in required if "baseline" in row)
    assert "no candidate a+b+c@half" in run_error("sweep", study, "--budgets", "3", "--forbid", "a+b+c@half")


def test_lookahead_on_a_one_task_study_says_there_is_nothing_to_group(tmp_path):
    """It said to run `affinity measure`, which refuses a study of one task."""
    db = f"sqlite:///{tmp_path / 'one.sqlite'}"
    run_ok("study", "create", "one", "--tasks", "depth", "--sizes", "full=1,half=0.5", "--db", db)
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\ndepth,full,1,full,val,depth,0.5\ndepth,half,0.5,full,val,depth,0.6\n")
    run_ok("import", "one", str(csv), "--db", db)
    said = " ".join(run_error("select", "one", "--budget", "1", "--estimator", "lookahead", "--db", db).split())
    assert "study 'one' has one task (depth): lookahead has no tasks to group; --estimator exact chooses among its sizes" in said
    assert "affinity measure" not in said
    assert run_json("select", "one", "--budget", "1", "--estimator", "exact", "--db", db)["networks"][0]["size"] == "full"
