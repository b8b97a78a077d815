"""`taskgroup finalize`: train fully what an estimator chose, once or until the choice stops changing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from db import open_store
from db.models import Study
from taskgroup.cli.affinity import affinity_remedy, note_on_lookahead
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, err_console, parse_key_values, print_note
from taskgroup.cli.plan import planned
from taskgroup.cli.select import ForbidOption, UnitOption
from taskgroup.cli.selection_input import (
    EVERY_ESTIMATOR, StudyEvidence, affinity_remedied, check_estimable, load_study_evidence,
    naming_options_that_leave_out, note_measured_unit,
)
from taskgroup.cli.work import (
    AddressOption, AttemptsOption, BackendOption, CheckpointOption, DevicesOption, GraceOption, HeartbeatOption,
    PerDeviceOption, RunnerOption, RunnerSetOption, _prepare, _request, check_runnable, log_dir, run_queued_jobs,
)
from taskgroup.errors import InvalidInputError
from taskgroup.selection.results import every_pair_trained, fully_trained
from taskgroup.wording import counted


FINALIZED = [name for name in EVERY_ESTIMATOR if name != "exact"]
"""The estimators whose choices finalize trains (exact's choices are trained already)."""


def register(app: typer.Typer) -> None:
    app.command("finalize")(finalize)


def _label(network: tuple[str, str]) -> str:
    return f"{network[0]}@{network[1]}"


def evidence_estimator(evidence: StudyEvidence) -> tuple[str, str]:
    """The estimator the study's stored evidence was gathered for, and why: finalize's default, so that
    after lookahead's singles and `affinity measure S`, `finalize S` finalizes lookahead's choice.

    Early-stage results and an affinity matrix come only from ESA's and lookahead's own protocols, so they
    decide. Fully trained pairs do not: `affinity measure` trains a two-task study's only pair and finalize
    rounds train pairs too, so hoa is the default only where neither exists. Refused, naming the choices,
    where both exist or nothing fits (exact needs no finalizing)."""
    results = evidence.results
    early = {(row.tasks, row.size) for row in results[results["stage"] == "early"].itertuples(index=False)}
    have = "has" if len(early) == 1 else "have"
    fits = {
        "esa": f"{counted(len(early), 'network')} {have} early-stage results" if early else None,
        "lookahead": "an affinity matrix is stored" if "affinity" in evidence.extras else None,
    }
    fitting = {estimator: why for estimator, why in fits.items() if why}
    if len(fitting) == 1:
        return next(iter(fitting.items()))
    choose = f"; choose one of {', '.join(FINALIZED)} with --estimator"
    if fitting:
        found = "; ".join(f"{estimator}: {why}" for estimator, why in fitting.items())
        raise InvalidInputError(f"study {evidence.name!r} holds evidence for {len(fitting)} estimators ({found}){choose}")
    if every_pair_trained(results):
        return "hoa", "every pair of tasks is trained fully"
    if len(evidence.tasks) == 1:
        raise one_task_error(evidence, "no estimator's choice to finalize")
    sizes = {size for _, size in evidence.trained}
    singles = any(all((task, size) in evidence.trained for task in evidence.tasks) for size in sizes)
    hint = (f"; its single-task networks are trained, as lookahead's plan trains them, and lookahead needs an affinity "
            f"matrix too: {affinity_remedy(evidence.name, evidence.trainable)}") if singles else ""
    raise InvalidInputError(f"study {evidence.name!r} holds no evidence that tells which estimator to finalize (esa: "
                            "early-stage results; lookahead: an affinity matrix; hoa, where neither is stored: every "
                            f"pair of tasks trained fully){hint}{choose}")


def one_task_error(evidence: StudyEvidence, why: str) -> InvalidInputError:
    """A one-task study has no groups for hoa or lookahead to estimate, and `affinity measure` refuses it, so
    the usual advice (measure an affinity matrix) would lead nowhere: point at choosing among its sizes."""
    return InvalidInputError(f"study {evidence.name!r} has one task ({evidence.tasks[0]}): there is nothing to group, "
                             f"so {why}; choose among its sizes with `taskgroup select {evidence.name} --budget B`")


def finalize(
    name: Annotated[str, typer.Argument(help="Study name.")],
    budgets: Annotated[str, typer.Option("--budgets", help="START:STOP:STEP (stop included) or a list, e.g. 1:5:0.5 or 1,2,4.")],
    estimator: Annotated[
        str | None,
        typer.Option("--estimator", show_default=False, help=(
            f"The estimator whose choices to train fully: {', '.join(EVERY_ESTIMATOR)} (networks already trained fully "
            "are judged on their real losses). Default: the one the study's evidence is for: esa where there are "
            "early-stage results, lookahead where an affinity matrix is stored (refused where both are), "
            "else hoa where every pair of tasks is trained fully; refused where none is.")),
    ] = None,
    unit: UnitOption = "relative",
    forbid: ForbidOption = [],
    until_stable: Annotated[
        bool, typer.Option("--until-stable", help="Train the chosen networks here (with the work options), re-select "
                           "with their real losses, and repeat until every chosen network is trained fully.")
    ] = False,
    max_trained: Annotated[
        int | None, typer.Option("--max-trained", min=0, help="With --until-stable: stop after training this many "
                                 "networks in total (a compute limit). Refused while the study has queued jobs, which "
                                 "its workers would train too.", show_default=False)
    ] = None,
    explore: Annotated[
        bool, typer.Option("--explore", help="With --max-trained: once the choice is stable, spend the rest of the "
                           "limit on the untrained networks closest to being chosen, each budget in turn (they may "
                           "turn out better than predicted, which plain finalization never finds out).")
    ] = False,
    devices: DevicesOption = None,
    per_device: PerDeviceOption = 1,
    backend: BackendOption = "local",
    address: AddressOption = None,
    heartbeat: HeartbeatOption = 10.0,
    grace: GraceOption = 60.0,
    max_attempts: AttemptsOption = 3,
    checkpoint_root: CheckpointOption = None,
    runner: RunnerOption = "train",
    runner_option: RunnerSetOption = [],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Select at each budget with the estimator and queue full training of the chosen networks (then
    `taskgroup work`); with --until-stable, train them here and repeat until the choice stops changing.

    --forbid leaves a candidate out of every choice, as in `select`: it is never queued, explored or
    deployed, and a queued job an earlier finalize made for it is removed."""
    from jobs.finalize import (
        budgets_json, check_estimates_done, check_queue_empty, finalize_study, remove_forbidden_jobs,
    )
    from taskgroup.finalization import feasible_budgets, known_selector
    from taskgroup.selection import parse_budgets

    budget_list = parse_budgets(budgets)
    if max_trained is not None and not until_stable:
        raise InvalidInputError("--max-trained limits --until-stable; add --until-stable or drop it")
    if explore and max_trained is None:
        raise InvalidInputError("--explore spends a compute limit; add --until-stable --max-trained N")
    from jobs.runners import build_runner

    build_runner(runner, parse_key_values(runner_option, "--runner-option"))  # bad options: refused before queuing
    store = open_store(db)
    with store.session() as session:
        check_estimates_done(session, Study.find_or_raise_by_name(session, name))
    evidence = load_study_evidence(db, name, unit)
    note_measured_unit(evidence.unit)
    if estimator is None:
        estimator, why = evidence_estimator(evidence)
        print_note(f"finalizing {estimator}'s choices: {why} (--estimator chooses another)")
    elif estimator == "lookahead" and len(evidence.tasks) == 1:
        raise one_task_error(evidence, "lookahead has no affinity between tasks to measure")
    with affinity_remedied(evidence):
        selector = known_selector(evidence.results, estimator, extras=evidence.extras, tasks=evidence.tasks,
                                  costs=evidence.costs)
    check_estimable(selector, evidence)
    with naming_options_that_leave_out(max_loss=False):  # the first choices: a loss or cost too far apart shows here
        budget_list, left_out = feasible_budgets(selector, budget_list, forbid)
    for budget, reason in left_out.items():
        print_note(f"budget {budget:g} left out: {reason}")
    if not until_stable:
        with store.session() as session:
            summary = finalize_study(session, Study.find_or_raise_by_name(session, name), budget_list, selector, forbid)
        _note_removed(summary.removed)
        note_on_lookahead(name, estimator, evidence.results, evidence.extras, evidence.possible,
                          evidence.tasks, trainable=evidence.trainable)
        if json_output:
            emit_json({"study": name, **summary.to_json(), "unit": evidence.unit, "left_out": _left_out_json(left_out)})
            return
        for budget, networks in summary.chosen.items():
            console.print(f"budget {budget:g}: " + ", ".join(map(_label, networks)))
        waiting = summary.plan.jobs_added + summary.plan.jobs_pending
        console.print(f"{planned(summary.plan, name, 'full-training job')}."
                      + (f" Run `taskgroup work {name}` to train them." if waiting else ""))
        return
    request = _request(db, name, devices, per_device, heartbeat, grace, max_attempts, checkpoint_root, runner,
                       runner_option, log_dir(checkpoint_root, db, name), backend, address)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        check_runnable(request, study)
        removed = remove_forbidden_jobs(session, study, forbid)
        if max_trained is not None:
            check_queue_empty(session, study)
    _note_removed(removed)
    outcome = _until_stable(store, name, request, backend, budget_list, estimator, evidence, forbid, max_trained,
                            explore, quiet=json_output)
    if not explore:
        note_on_lookahead(name, estimator, outcome.results, evidence.extras, evidence.possible,
                          evidence.tasks, trainable=evidence.trainable)
    if json_output:
        emit_json({
            "study": name,
            "left_out": _left_out_json(left_out),
            "estimator": next(iter(outcome.selections.values())).estimator,
            "stop_reason": outcome.stop_reason,
            "rounds": [[{"tasks": tasks.split("+"), "size": size} for tasks, size in round_] for round_ in outcome.rounds],
            "explorations": [None if e is None else {"budget": e.budget, "optimism": e.optimism}
                             for e in outcome.explorations],
            "networks_trained": len(outcome.trained),
            "jobs_removed": len(removed),
            "fully_trained": len(fully_trained(outcome.results)),
            "possible": evidence.possible,
            "unit": evidence.unit,
            "budgets": budgets_json(outcome.selections),
            "deployable": [
                {"budget": budget, "selection": None if selection is None else selection.to_json()}
                for budget, selection in outcome.deployable.items()
            ],
        })
        return
    _print_outcome(outcome, max_trained, evidence.possible)
    if outcome.rounds:
        console.print(f"worker logs: {request.log_dir}")


def _note_removed(removed: Sequence[tuple[str, str]]) -> None:
    """Say which queued jobs --forbid removed: an earlier finalize queued them, and the user may expect them trained."""
    if removed:
        print_note(f"--forbid: removed {counted(len(removed), 'queued full-training job')} an earlier finalize "
                   "queued: " + ", ".join(map(_label, removed)))


def _left_out_json(left_out: dict[float, str]) -> list[dict[str, Any]]:
    return [{"budget": budget, "reason": reason} for budget, reason in left_out.items()]


def _print_outcome(outcome: Any, max_trained: int | None, possible: int) -> None:
    """Each budget's choice, untrained networks marked, what to deploy where the choice is not all
    trained, and how much of the exhaustive search is now trained."""
    trained = fully_trained(outcome.results)
    for budget, selection in outcome.selections.items():
        keys = [(n.name, n.size) for n in selection.networks]
        line = f"budget {budget:g}: " + ", ".join(_label(k) + ("" if k in trained else " (not trained)") for k in keys)
        if not set(keys) <= trained:
            deployable = outcome.deployable[budget]
            line += "; best trained choice: " + (
                "none (the trained networks cannot serve every task)" if deployable is None
                else ", ".join(_label((n.name, n.size)) for n in deployable.networks)
            )
        console.print(line, markup=False, highlight=False)
    reason = {
        "stable": "every chosen network is trained fully",
        "limit": f"stopped at the limit of {counted(max_trained or 0, 'network')}",
        "exhausted": "explored every network that could be chosen",
    }[outcome.stop_reason]
    rounds, networks = counted(len(outcome.rounds), "round"), counted(len(outcome.trained), "network")
    console.print(f"{rounds}, {networks} trained{_explored(outcome)}; {reason}.")
    console.print(f"{len(trained)} of the {possible} possible networks (every subset of the tasks at every size) are "
                  f"now fully trained ({100 * len(trained) / possible:.0f}% of an exhaustive search).")
    if outcome.stop_reason == "stable":  # never when exploring, which goes on past a stable choice
        console.print("Networks the estimate judged worse than they are were never trained; with "
                      "`--max-trained N --explore`, what is left of N networks goes to those closest to being chosen.")


def _explored(outcome: Any) -> str:
    """How much of the training explored, and for which budgets (empty when nothing was explored)."""
    per_budget: dict[float, int] = {}
    for exploration, round_ in zip(outcome.explorations, outcome.rounds, strict=True):
        if exploration is not None:
            per_budget[exploration.budget] = per_budget.get(exploration.budget, 0) + len(round_)
    if not per_budget:
        return ""
    where = ", ".join(f"{count} for budget {budget:g}" for budget, count in sorted(per_budget.items()))
    return f" ({sum(per_budget.values())} of them exploring: {where})"


def _until_stable(store: Any, name: str, request: Any, backend: str, budgets: list[float], estimator: str,
                  evidence: Any, forbid: Sequence[str], max_trained: int | None, explore: bool, quiet: bool) -> Any:
    """`finalize_actively` with the job queue and this command's workers as its training step."""
    from jobs.finalize import QueuedTraining
    from taskgroup.finalization import Exploration, finalize_actively

    explored_last = None
    if explore:
        with store.session() as session:  # the budgets' turns go on from where the last exploring run left them
            explored_last = Study.find_or_raise_by_name(session, name).last_explored_budget

    rounds = 0
    prepared = False

    def announce(networks: Sequence[tuple[str, str]], exploration: Exploration | None) -> None:
        nonlocal rounds
        rounds += 1
        why = "" if exploration is None else f" (exploring for budget {exploration.budget:g})"
        err_console.print(f"round {rounds}{why}: training {counted(len(networks), 'network')} fully: "
                          + ", ".join(map(_label, networks)), markup=False, highlight=False)

    def work_off_queue() -> None:
        nonlocal prepared
        if not prepared:  # data once, and only when something is to be trained
            try:
                _prepare(request)
            except InvalidInputError as error:  # the round's networks are queued already: say so
                raise InvalidInputError(
                    f"{error} (round {rounds}'s networks stay queued: fix the data, then train them with "
                    f"`taskgroup work {name}` or remove them with `taskgroup cancel {name}`)"
                ) from None
            prepared = True
        run_queued_jobs(request, backend, quiet, resume=None if max_trained is None else (
            f"stopped; round {rounds}'s networks stay queued, and with --max-trained finalize refuses while jobs are "
            f"queued: train them with `taskgroup work {name}` (or remove them with `taskgroup cancel {name}`), then "
            "run the command again to go on"))

    return finalize_actively(
        evidence.results, estimator, budgets, QueuedTraining(store, name, work_off_queue, on_round=announce),
        extras=evidence.extras, tasks=evidence.tasks, costs=evidence.costs, max_trained=max_trained, explore=explore,
        explored_last=explored_last, forbid=forbid,
    )
