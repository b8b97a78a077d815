"""How close each estimator gets to the exact optimum, for how much compute (issue 9).

On a synthetic study every task subset is trained to convergence once (the exhaustive table, which
also serves as ground truth), every subset once at the early stage (ESA), and the all-task network
once more with lookahead measurements. Then, for each budget, each method chooses networks:

- exact: the exhaustive table;  esa: early-stage losses;  hoa: singles and pairs;
- lookahead: singles and the affinity matrix (plus the all-task network it trained);
- X + fin: active finalization after X (train the chosen networks, re-solve, repeat until stable);
- X + fin<=k: the same, stopped after k networks trained by finalization (`--fin-limits`);
- X + fin@15%: finalization under a compute cap (`--compute-cap`, % of exhaustive, everything
  counted), one search for all budgets; "per budget": a separate search for each budget;
  "explore": once the choice is stable, the rest of the cap trains the untrained networks closest
  to being chosen (`finalize --explore`);
- exact, seed N run (`--replicate-seed N[,M...]`): the exact choice of another exhaustive run with
  training seed N, scored on the first: the regret of a perfect search, i.e. the run-to-run noise
  floor; with it, every method is also scored on the mean of all the runs of each network (against
  that table's own exact optimum: a grouping's quality with most of one run's luck averaged out),
  and the seed noise of each task's losses over all the runs is printed next to their spread over
  the groupings (`benchmarks/seed_noise.py`);
- random: random groupings of the tasks into at most `budget` networks (mean of many draws).

Validation and test splits are 10% of `--images` each; `--train-images` trains on fewer images than
the remaining 80%, so the held-out splits can be large (64 images each by default) while training
stays cheap: with 16 validation images, 1% differences between groupings were noise.

Training is deterministic on the CPU for a fixed seed, so "training" a network during finalization
reads its row of the exhaustive table (the same run) and charges its epochs. A chosen network is
scored by the real test losses of the network serving each task (lowest real validation loss).
Compute is in candidate-epochs: epochs actually run (early stopping included; an early-stage run
counts its fraction; the lookahead run counts its measured CPU-time overhead), including the full
training of every chosen network a method needs before deployment.

    .venv/bin/python benchmarks/search_quality.py --tasks depth,edge,keypoint,normal,occlusion,reshade,segment

`--cache FILE` keeps the trained tables (pickle), so the analysis can be re-run without training;
`--replicates-only` trains just the `--replicate-seed` tables into their caches, so a second
process can train them beside the main one. Every run also prints whether the affinities rank the
groups the right way round (`affinity_fit.py`); `--affinity-norm source` scores the lookahead rows
with source-normalised affinities instead, `--lookahead-score alignment` with the alignment of a
group's gradients recovered from the matrix, `--lookahead-score task-offset` with a sharing cost per
task, `--lookahead-score pairwise` with a per-task pair model that every measured network updates
(prototypes, not the library's estimator). `search_quality_summary.py` puts the `--json` files
of several studies side by side.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from itertools import combinations
from pathlib import Path

import pandas as pd
import torch
from affinity_fit import (  # benchmarks/ is on sys.path when this script runs
    PairwiseLookahead,
    TaskOffsetLookahead,
    alignment_score,
    fit_table,
    source_normalised,
)
from seed_noise import noise_table

from taskgroup.affinity.measure import measure_affinity
from taskgroup.data import DatasetSpec, load_splits
from taskgroup.data.synthetic import SyntheticDataset
from taskgroup.estimators.lookahead import LookaheadEstimator, mean_score
from taskgroup.finalization import choose_with_known, deployable_choices, finalize_actively
from taskgroup.models import parse_size
from taskgroup.selection.select import Selector
from taskgroup.training import INITS, TrainConfig, train_candidate, train_lockstep
from taskgroup.training.batches import steps_per_epoch

COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="depth,edge,normal,occlusion,reshade")
    parser.add_argument("--size", default="full=xception:1.0@0.25")
    parser.add_argument("--images", type=int, default=640, help="images generated; the last 10%% are test, the 10%% before val")
    parser.add_argument("--train-images", type=int, default=128,
                        help="train on only the first N training images (so a large --images buys large val/test splits)")
    parser.add_argument("--resolution", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--budgets", default="1,2,3,4,5")
    parser.add_argument("--random-draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", choices=INITS, default=TrainConfig.init,
                        help="how a network's parts are initialised (TrainConfig.init): per-task (each decoder starts the "
                             "same in every network) or sequential (the library's before schema 0004, and every study "
                             "in docs/benchmarks.md before the 10-task per-task one)")
    parser.add_argument("--plot", type=Path, default=None, help="write a regret-by-budget plot (PNG) here")
    parser.add_argument("--json", type=Path, default=None, help="write the raw table as JSON here")
    parser.add_argument("--fin-limits", default="", help="comma-separated compute limits (networks) for finalization")
    parser.add_argument("--compute-cap", type=float, default=15.0,
                        help="%% of exhaustive compute for the capped finalization rows ('X + fin@cap')")
    parser.add_argument("--lookahead-every", type=int, default=None,
                        help="lookahead measurement interval in steps (default: the library's, 4 x tasks); "
                             "measured in its own run, cached next to --cache")
    parser.add_argument("--replicate-seed", type=lambda text: [int(seed) for seed in text.split(",")], default=None,
                        help="train every subset again with these training seeds (comma-separated; same data) and "
                             "add rows 'exact, seed N run' (a perfect search on another run: the noise floor) and "
                             "the regret on the mean of all runs")
    parser.add_argument("--affinity-norm", choices=["target", "source"], default="target",
                        help="how the lookahead estimator normalises an affinity: by the target's own step (the "
                             "library's) or by the source's own effect (benchmarks/affinity_fit.py; a prototype)")
    parser.add_argument("--lookahead-score", choices=["mean", "alignment", "task-offset", "pairwise"], default="mean",
                        help="the group feature the lookahead estimator scales by: the mean normalised affinity "
                             "(the library's) or the alignment of the group's summed gradient with the task's "
                             "(benchmarks/affinity_fit.py; a prototype), or the mean affinity with a sharing cost per task "
                             "(task-offset, a prototype), or a per-task pair model that every measured network "
                             "updates (pairwise, a prototype; --pairwise-prior)")
    parser.add_argument("--pairwise-prior", type=lambda text: [float(v) for v in text.split(",")], default=[0.05, 0.05, 0.03],
                        metavar="TAU_C,TAU_W,SIGMA",
                        help="--lookahead-score pairwise: prior sd of each task's sharing cost and of each pair weight, and "
                             "the noise of a measured loss, in loss-ratio units (default 0.05,0.05,0.03)")
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the trained tables: read if present, else written")
    parser.add_argument("--replicates-only", action="store_true",
                        help="only train the --replicate-seed tables into their caches next to --cache, then stop: "
                             "run it beside the same command without this flag to use a second core")
    args = parser.parse_args()
    if args.replicates_only and (args.cache is None or args.replicate_seed is None):
        parser.error("--replicates-only needs --cache and --replicate-seed")
    if len(args.pairwise_prior) != 3 or min(args.pairwise_prior) <= 0:
        parser.error("--pairwise-prior takes three positive numbers: TAU_C,TAU_W,SIGMA")
    torch.set_num_threads(args.threads)
    tasks = sorted(args.tasks.split(","))
    budgets = [float(b) for b in args.budgets.split(",")]
    size = parse_size(args.size)
    config = TrainConfig(max_epochs=args.epochs, batch_size=args.batch_size, patience=3, seed=args.seed, init=args.init)
    started = time.perf_counter()
    if args.replicates_only:
        _replicates(tasks, size, config, args)
        print(f"trained seeds {', '.join(map(str, args.replicate_seed))} into caches next to {args.cache}")
        return
    trained_tables = _cached(args.cache, _study(args), lambda: _train_tables(tasks, size, config, args))
    truth, early_rows, epochs, early_epochs, affinity, overhead, measurements = trained_tables
    if args.lookahead_every is not None:
        affinity, overhead, measurements = _cached(
            args.cache and args.cache.with_suffix(f".every{args.lookahead_every}.pkl"), _study(args),
            lambda: _lookahead(tasks, size, config, args, _splits(tasks, args), args.lookahead_every))
    read_affinity = source_normalised(affinity) if args.affinity_norm == "source" else affinity
    lookahead = (TaskOffsetLookahead() if args.lookahead_score == "task-offset"
                 else PairwiseLookahead(*args.pairwise_prior) if args.lookahead_score == "pairwise"
                 else LookaheadEstimator(score=alignment_score if args.lookahead_score == "alignment" else mean_score))
    exhaustive = sum(epochs.values())
    subsets = [g for g in epochs]
    rows_of = partial(replayed_rows, truth)
    hoa_known, hoa_spent = _head_start("hoa", tasks, size.label, epochs, overhead)
    lookahead_known, lookahead_spent = _head_start("lookahead", tasks, size.label, epochs, overhead)
    methods = {
        "exact": ("exact", truth, {}, exhaustive, set(epochs)),
        "esa": ("esa", early_rows, {}, early_epochs, set()),
        "hoa": ("hoa", rows_of(hoa_known), {}, hoa_spent, set(hoa_known)),
        "lookahead": (lookahead, rows_of(lookahead_known), {"affinity": read_affinity}, lookahead_spent,
                      set(lookahead_known)),
    }
    exact_selector = Selector(truth, "exact")
    optimum = {b: exact_selector.select(b) for b in budgets}
    records = []
    for name, (estimator, evidence, extras, spent, trained) in methods.items():
        selector = Selector(evidence, estimator, extras=extras, tasks=tasks)
        selections = {budget: selector.select(budget) for budget in budgets}
        records.extend(scored_selections(name, selections, truth, optimum, epochs, spent, trained, exhaustive))
        if name == "exact":
            continue
        for limit in [None, *(int(k) for k in args.fin_limits.split(",") if k)]:
            outcome = finalize_actively(evidence, estimator, budgets, rows_of, extras=extras, tasks=tasks, max_trained=limit)
            label = f"{name} + fin" if limit is None else f"{name} + fin<={limit}"
            records.extend(scored_selections(label, outcome.selections, truth, optimum, epochs, spent, trained,
                                             exhaustive, also_trained=outcome.trained))
        for per_budget, explore in ((False, False), (True, False), (False, True)):
            records.extend(capped_search(name, estimator, evidence, extras, tasks, budgets, rows_of, epochs, spent,
                                         trained, truth, optimum, exhaustive, [args.compute_cap], per_budget, explore))
    if args.replicate_seed is not None:
        others = _replicates(tasks, size, config, args)
        noise = noise_table([val_losses_by_network(t) for t in [truth, *others.values()]], tasks)
        mean_truth = _mean_table([truth, *others.values()])
        mean_optimum = {b: Selector(mean_truth, "exact").select(b) for b in budgets}
        for record in records:
            keys = {(g, size.label) for g in record["networks"].split()}
            record["mean_regret_pct"] = 100 * (_totals(keys, mean_truth)[1] / mean_optimum[record["budget"]].test_loss - 1)
        for seed, other in others.items():
            replica = Selector(other, "exact")
            for budget in budgets:
                keys = {(n.name, n.size) for n in replica.select(budget).networks}
                records.append(score_choice(f"exact, seed {seed} run", budget, keys, truth, optimum[budget],
                                      exhaustive, exhaustive, mean_truth, mean_optimum[budget]))
    else:
        mean_truth, mean_optimum = None, {}
    rng = random.Random(args.seed)
    for budget in budgets:
        draws = [_random_grouping(tasks, int(budget), rng) for _ in range(args.random_draws)]
        scored = [score_choice("random", budget, {(g, size.label) for g in d}, truth, optimum[budget],
                         sum(epochs[(g, size.label)] for g in d), exhaustive, mean_truth, mean_optimum.get(budget))
                  for d in draws]
        averaged = ["test_loss", "regret_pct", "val_regret_pct", "epochs", "compute_pct"]
        mean = {key: sum(s[key] for s in scored) / len(scored) for key in averaged + ["mean_regret_pct"] * (mean_truth is not None)}
        records.append({"method": "random (mean)", "budget": budget, "networks": f"{args.random_draws} draws", **mean})
    table = pd.DataFrame(records)
    print(f"{len(tasks)} tasks ({', '.join(tasks)}), size {args.size}, {args.images} images at {args.resolution}px "
          f"(train on {args.train_images or 'all'} of the first 80%, val and test 10% each), "
          f"max {args.epochs} epochs, batch {args.batch_size}, {args.init} init; {len(subsets)} candidates; exhaustive compute "
          f"{exhaustive:.1f} candidate-epochs; lookahead CPU-time overhead {overhead:.2f}x "
          f"({measurements} measurements); {time.perf_counter() - started:.0f} s\n")
    print(_summary(table, budgets))
    print()
    print(_target(table, args.compute_cap))
    if args.replicate_seed is not None:
        seeds = ", ".join(str(seed) for seed in [args.seed, *args.replicate_seed])
        print(f"\nTest regret (%) on the mean of the runs with training seeds {seeds} of every network, "
              "against the exact optimum of that mean table (most of one run's luck averaged out):\n")
        print(_mean_summary(table, budgets))
        print(f"\nPer task, over every network that has it, validation losses of the runs with training seeds {seeds} "
              "(benchmarks/seed_noise.py):\n")
        print(noise)
    print("\nDo the affinities point the right way? Per task, over the multi-task networks (benchmarks/affinity_fit.py):\n")
    print(fit_table(truth, affinity, tasks))
    print()
    print(_markdown(table, budgets))
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    if args.plot:
        _plot(table, args.plot, f"Search quality, {len(tasks)} synthetic tasks (seed {args.seed}, "
                                f"{args.train_images} training images, {args.epochs} epochs)")


def _train_tables(tasks, size, config, args):
    """Exhaustive full and early tables, epochs per candidate, and the lookahead run with its overhead."""
    splits = _splits(tasks, args)
    per_epoch = steps_per_epoch(splits["train"], config.batch_size)
    subsets = [list(g) for k in range(1, len(tasks) + 1) for g in combinations(tasks, k)]
    full = train_lockstep([(g, size) for g in subsets], splits, "cpu", config, stage="full")
    early = train_lockstep([(g, size) for g in subsets], splits, "cpu", config, stage="early")
    epochs = {("+".join(o.tasks), size.label): o.steps / per_epoch for o in full}
    affinity, overhead, measurements = _lookahead(tasks, size, config, args, splits, None)
    return (_rows(full, size.cost, "full"), _rows(early, size.cost, "early"), epochs,
            sum(o.steps / per_epoch for o in early), affinity, overhead, measurements)


def _replicates(tasks, size, config, args) -> dict[int, pd.DataFrame]:
    """The table of every --replicate-seed run, each read from or written to its cache next to --cache."""
    return {seed: _cached(args.cache and args.cache.with_suffix(f".seed{seed}.pkl"), _study(args),
                          lambda seed=seed: _replicate(tasks, size, config, args, seed))
            for seed in args.replicate_seed}


def _replicate(tasks, size, config, args, seed: int) -> pd.DataFrame:
    """The exhaustive full-stage table again, trained with another seed on the same data."""
    subsets = [list(g) for k in range(1, len(tasks) + 1) for g in combinations(tasks, k)]
    other = replace(config, seed=seed)
    return _rows(train_lockstep([(g, size) for g in subsets], _splits(tasks, args), "cpu", other, stage="full"), size.cost, "full")


def _splits(tasks, args):
    options = {"images": args.images, "resolution": args.resolution, "seed": args.seed, "cache_dir": tempfile.mkdtemp()}
    splits = load_splits(DatasetSpec("synthetic", options=options), tasks)
    if args.train_images is not None:
        train = splits["train"]
        splits["train"] = SyntheticDataset(train.arrays, train.indices[: args.train_images], train.tasks)
    return splits


def _lookahead(tasks, size, config, args, splits, every):
    """The affinity matrix of one all-task run, and that run's CPU-time ratio to the same run without it."""
    cpu = time.process_time()
    train_candidate(tasks, size, splits, "cpu", config)
    plain_cpu = time.process_time() - cpu
    cpu = time.process_time()
    measured = measure_affinity(tasks, size, splits, "cpu", config, every=every)
    overhead = (time.process_time() - cpu) / plain_cpu
    return measured.affinity, overhead, measured.measurements


def _study(args) -> dict:
    """What a cached table depends on, so a cache from another study is refused, not silently reused."""
    keys = ("tasks", "size", "images", "train_images", "resolution", "epochs", "batch_size", "seed", "init")
    return {key: getattr(args, key) for key in keys} | {"tasks": sorted(args.tasks.split(","))}


def _cached(path, study, compute):
    if path and path.exists():
        stored, value = pickle.loads(path.read_bytes())
        if stored != study:
            raise SystemExit(f"error: {path} holds another study ({stored}); pass another --cache")
        return value
    value = compute()
    if path:
        path.write_bytes(pickle.dumps((study, value)))
    return value


def replayed_rows(truth: pd.DataFrame, keys, exploration=None) -> pd.DataFrame:
    """The rows of `truth` of the networks `keys` ((tasks, size label) pairs): "training" them, replayed
    (a `finalize_actively` trainer; what they explore for does not change a replay)."""
    wanted = set(keys)
    return truth[[key in wanted for key in zip(truth["tasks"], truth["size"])]]


def _head_start(name: str, tasks, size: str, epochs, overhead: float) -> tuple[list[tuple[str, str]], float]:
    """What `hoa` or `lookahead` trains before its first selection, and that compute (candidate-epochs):
    the singles and pairs; the singles and the all-task lookahead run (`overhead` x a plain run)."""
    singles = [(task, size) for task in tasks]
    if name == "hoa":
        known = singles + [("+".join(pair), size) for pair in combinations(tasks, 2)]
        return known, sum(epochs[key] for key in known)
    everything = ("+".join(tasks), size)
    return singles + [everything], sum(epochs[key] for key in singles) + epochs[everything] * overhead


@dataclass(frozen=True)
class CachedStudy:
    """The tables of a `--cache` file, as the replay scripts read them (benchmarks/cap_sweep.py,
    explore_order.py, cap_oracle.py, rank_agreement.py, early_singles.py); `early_epochs` is what
    the early-stage runs of every network cost together."""

    tasks: list[str]
    size: str
    truth: pd.DataFrame
    early: pd.DataFrame
    epochs: dict[tuple[str, str], float]
    early_epochs: float
    affinity: pd.DataFrame
    overhead: float

    def head_start(self, name: str) -> tuple[list[tuple[str, str]], float]:
        return _head_start(name, self.tasks, self.size, self.epochs, self.overhead)

    def optimum(self, budgets) -> dict:
        exact = Selector(self.truth, "exact")
        return {budget: exact.select(budget) for budget in budgets}


def read_cache(path: Path) -> CachedStudy:
    study, (truth, early, epochs, early_epochs, affinity, overhead, _) = pickle.loads(path.read_bytes())
    return CachedStudy(sorted(study["tasks"]), next(iter(epochs))[1], truth, early, epochs, early_epochs, affinity,
                       overhead)


def worst_explored(path: Path, name: str, cap_pcts, budgets) -> dict[float, tuple[float, float, float]]:
    """`name` (`hoa` or `lookahead`) + finalization with exploration at each of `cap_pcts`, replayed
    from a `--cache` file (nothing is trained): per cap, the worst test and validation regret (%)
    over the budgets and the most compute (%) any budget's choice needs."""
    cached = read_cache(path)
    known, spent = cached.head_start(name)
    estimator, extras = (LookaheadEstimator(), {"affinity": cached.affinity}) if name == "lookahead" else ("hoa", {})
    truth, epochs = cached.truth, cached.epochs
    records = capped_search(name, estimator, replayed_rows(truth, known), extras, cached.tasks, list(budgets),
                            partial(replayed_rows, truth), epochs, spent, set(known), truth, cached.optimum(budgets),
                            sum(epochs.values()), cap_pcts, per_budget=False, explore=True)
    worst = {}
    for cap in cap_pcts:
        mine = [r for r in records if r["method"] == f"{name} + fin@{cap:g}% explore"]
        worst[cap] = (max(r["regret_pct"] for r in mine), max(r["val_regret_pct"] for r in mine),
                      max(r["compute_pct"] for r in mine))
    return worst


class _CapReached(Exception):
    """Raised by the replayed training once finalization has passed the compute cap."""


def capped_search(name, estimator, evidence, extras, tasks, budgets, rows_of, epochs, spent, trained, truth, optimum,
            exhaustive, cap_pcts, per_budget, explore=False) -> list[dict]:
    """Finalization under a compute cap (each of `cap_pcts`, % of exhaustive, everything counted):
    the longest run of finalization (in networks trained) that stays within the cap; a budget whose
    final choice would still need untrained networks beyond the cap deploys the best choice among the
    networks trained so far. Only compute is looked at, never the ground truth. `per_budget`: each
    budget is a separate search (its own finalization and its own compute), as for a user with one
    budget; else one search serves every budget at once and its compute is shared. `explore`: a
    stable choice does not stop the search; the rest of the cap goes to the untrained networks
    closest to being chosen."""
    top = exhaustive * max(cap_pcts) / 100
    groups = [[b] for b in budgets] if per_budget else [budgets]
    records = []
    for group in groups:
        # Finalization with a limit k trains a prefix of what an unlimited run trains (only the last
        # round is cut), so one run, stopped as soon as it passes the largest cap, gives every prefix;
        # the outcome at the longest prefix within a cap is the choice with those networks known.
        order: list[tuple[str, str]] = []

        def train(keys, exploration):
            order.extend(keys)
            if spent + sum(epochs[key] for key in set(order) - trained) > top:
                raise _CapReached
            return rows_of(keys)

        try:
            finalize_actively(evidence, estimator, group, train, extras=extras, tasks=tasks,
                              max_trained=len(epochs), explore=explore)
        except _CapReached:
            pass
        for cap_pct in cap_pcts:
            records.extend(_within_cap(f"{name} + fin@{cap_pct:g}%" + (" explore" if explore else "")
                                       + (" per budget" if per_budget else ""), exhaustive * cap_pct / 100, order,
                                       estimator, evidence, extras, tasks, group, rows_of, epochs, spent, trained,
                                       truth, optimum, exhaustive))
    return records


def _within_cap(label, cap, order, estimator, evidence, extras, tasks, budgets, rows_of, epochs, spent, trained,
                truth, optimum, exhaustive) -> list[dict]:
    """The scored choices at every budget with the longest prefix of `order` trained whose compute fits `cap`."""
    count = len(order)
    while count and spent + sum(epochs[key] for key in set(order[:count]) - trained) > cap:
        count -= 1
    known = pd.concat([evidence, rows_of(order[:count])], ignore_index=True)
    selections = choose_with_known(known, estimator, budgets, extras=extras, tasks=tasks)
    deployable = deployable_choices(known, budgets, tasks=tasks)
    have = trained | set(order[:count])
    extra = sum(epochs[key] for key in have - trained)
    records = []
    for budget in budgets:
        keys = {(n.name, n.size) for n in selections[budget].networks}
        deploy = sum(epochs[key] for key in keys - have)
        fallback = deployable[budget]
        if deploy and spent + extra + deploy > cap and fallback is not None:
            keys, deploy = {(n.name, n.size) for n in fallback.networks}, 0.0
        records.append(score_choice(label, budget, keys, truth, optimum[budget], spent + extra + deploy, exhaustive))
    return records


def _rows(outcomes, cost: float, stage: str) -> pd.DataFrame:
    return pd.DataFrame(
        [("+".join(o.tasks), o.size, cost, stage, split, task, loss)
         for o in outcomes for split, losses in (("val", o.val_losses), ("test", o.test_losses))
         for task, loss in losses.items()],
        columns=COLUMNS,
    )


def _totals(keys, truth) -> tuple[float, float]:
    """Validation and test total of the networks `keys`, each task served by its lowest validation loss."""
    val = truth[truth["split"] == "val"].set_index(["tasks", "size", "task"])["loss"]
    test = truth[truth["split"] == "test"].set_index(["tasks", "size", "task"])["loss"]
    tasks = sorted({t for g, _ in keys for t in g.split("+")})
    val_total = test_total = 0.0
    for task in tasks:
        serving = min((k for k in keys if task in k[0].split("+")), key=lambda k: val[(k[0], k[1], task)])
        val_total += val[(serving[0], serving[1], task)]
        test_total += test[(serving[0], serving[1], task)]
    return val_total, test_total


def scored_selections(method, selections, truth, optimum, epochs, spent, trained, exhaustive, also_trained=()):
    """`score_choice` of each budget's selection; its compute is the head start `spent` plus the
    training of every network it deploys or `also_trained` (by finalization) beyond `trained`."""
    records = []
    for budget, selection in selections.items():
        keys = {(n.name, n.size) for n in selection.networks}
        compute = spent + sum(epochs[key] for key in (keys | set(also_trained)) - trained)
        records.append(score_choice(method, budget, keys, truth, optimum[budget], compute, exhaustive))
    return records


def score_choice(method, budget, keys, truth, optimum, epochs, exhaustive, mean_truth=None, mean_optimum=None) -> dict:
    """Real losses of the chosen networks: each task served by its lowest real validation loss; with a
    two-run mean table, also the test regret on it against its own exact optimum."""
    val_total, test_total = _totals(keys, truth)
    extra = {}
    if mean_truth is not None:
        extra["mean_regret_pct"] = 100 * (_totals(keys, mean_truth)[1] / mean_optimum.test_loss - 1)
    return {
        "method": method, "budget": budget, "networks": " ".join(sorted(g for g, _ in keys)),
        "test_loss": test_total, "regret_pct": 100 * (test_total / optimum.test_loss - 1),
        "val_regret_pct": 100 * (val_total / optimum.val_loss - 1),
        "epochs": epochs, "compute_pct": 100 * epochs / exhaustive, **extra,
    }


def val_losses_by_network(table: pd.DataFrame) -> pd.Series:
    """Validation losses indexed by (network, task), as `seed_noise.noise_table` takes them."""
    val = table[table["split"] == "val"]
    return val.set_index(["tasks", "task"])["loss"].rename_axis(["network", "task"])


def _random_grouping(tasks, budget, rng) -> list[str]:
    labels = [rng.randrange(min(budget, len(tasks))) for _ in tasks]
    return ["+".join(t for t, l in zip(tasks, labels) if l == g) for g in sorted(set(labels))]


def _markdown(table: pd.DataFrame, budgets) -> str:
    lines = ["| method | budget | test loss | regret (test) | regret (val) | compute (cand.-epochs) | % of exhaustive | networks |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.method} | {row.budget:g} | {row.test_loss:.4f} | {row.regret_pct:+.2f}% | "
                     f"{row.val_regret_pct:+.2f}% | {row.epochs:.1f} | {row.compute_pct:.1f}% | {row.networks} |")
    return "\n".join(lines)


def _summary(table: pd.DataFrame, budgets) -> str:
    """One row per method: regret (val / test, %) at each budget and the most compute any budget took."""
    return per_budget_table(table, budgets, " val / test", lambda row: f"{row.val_regret_pct:+.2f} / {row.regret_pct:+.2f}")


def _mean_summary(table: pd.DataFrame, budgets) -> str:
    """One row per method: test regret on the two-run mean table at each budget, and its compute."""
    return per_budget_table(table, budgets, "", lambda row: f"{row.mean_regret_pct:+.2f}")


def per_budget_table(table: pd.DataFrame, budgets, suffix: str, cell) -> str:
    """A markdown table, one row per method, a column per budget (`cell(record)`), then the compute."""
    head = "| method | " + " | ".join(f"B={b:g}{suffix}" for b in budgets) + " | compute (% of exhaustive) |"
    lines = [head, "| --- |" + " ---: |" * (len(budgets) + 1)]
    for method, rows in table.groupby("method", sort=False):
        by_budget = rows.set_index("budget")
        cells = [cell(by_budget.loc[b]) for b in budgets]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {rows['compute_pct'].max():.1f} |")
    return "\n".join(lines)


def _mean_table(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Every network's losses averaged over several training runs (the rows of the first, mean `loss`)."""
    keys = ["tasks", "size", "cost", "stage", "split", "task"]
    stacked = pd.concat(runs, ignore_index=True)
    mean = stacked.groupby(keys, sort=False, as_index=False)["loss"].mean()
    if len(mean) != len(runs[0]) or (stacked.groupby(keys, sort=False).size() != len(runs)).any():
        raise SystemExit("error: the training runs do not hold the same networks")
    return mean[COLUMNS]


def _target(table: pd.DataFrame, cap_pct: float) -> str:
    """Which methods have regret <= 1% at every budget (test, and validation) within `cap_pct` compute."""
    finalized = table[table["method"].str.contains("fin")]
    cheap = finalized.groupby("method", sort=False).filter(lambda rows: rows["compute_pct"].max() <= cap_pct)
    worst = cheap.groupby("method", sort=False)[["regret_pct", "val_regret_pct"]].max()
    test = [m for m, row in worst.iterrows() if row["regret_pct"] <= 1.0]
    val = [m for m, row in worst.iterrows() if row["val_regret_pct"] <= 1.0]
    return (f"Target (a method with finalization within 1% of the exact optimum at every budget, at <= {cap_pct:g}% "
            f"of the exhaustive compute): on test losses {'met by ' + ', '.join(test) if test else 'not met'}; "
            f"on validation losses {'met by ' + ', '.join(val) if val else 'not met'}.")


def _plot(table: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4))
    methods = table["method"]
    shown = ~methods.str.contains("<=") & ~methods.str.endswith("per budget") & ~methods.isin(["exact"])
    shown &= ~(methods.str.contains("fin@") & ~methods.str.startswith("lookahead"))
    replicas = methods[methods.str.startswith("exact, seed")].unique()
    shown &= ~methods.isin(replicas[1:])  # one noise-floor line is enough
    palette = iter(color for i, color in enumerate(plt.get_cmap("tab10").colors) if i != 7)  # grey is the noise floor's
    for method, rows in table[shown].groupby("method", sort=False):
        style = {"color": "grey", "linestyle": "--"} if method.startswith("exact") else {"color": next(palette)}
        axis.plot(rows["budget"], rows["regret_pct"], marker="o", **style,
                  label=f"{method} ({rows['compute_pct'].max():.0f}% compute)")
    axis.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("budget (full-size single-task networks)")
    axis.set_ylabel("regret vs exact optimum, test loss (%)")
    axis.set_title(title)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
