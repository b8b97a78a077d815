"""Do the lookahead affinities point the right way? Checked against a study's real losses.

`search_quality.py` prints `fit_table` for every study: per task, how well the mean normalised
affinity of a group onto the task ranks the task's real loss in that group's network (Spearman,
sign flipped so that + is the right way round: more affinity, lower loss), for the estimator's
normalisation (by the target's own step, A[i -> t] / A[t -> t]) and for one by the source's own
effect (A[i -> t] / A[i -> i], which removes the size of the source's step), and for
`alignment_score` (how well a group's summed gradient points along the task's, recovered from the
matrix); then the scaling the estimator fits on the all-task network and the normalised matrix.
`source_normalised` turns an affinity table into one that the estimator reads as source-normalised
(`search_quality.py --affinity-norm source`); `alignment_score` is a feature the estimator can
scale by instead of the mean affinity (`search_quality.py --lookahead-score alignment`);
`TaskOffsetLookahead` gives each task its own sharing cost (`--lookahead-score task-offset`);
`PairwiseLookahead` lets every measured network update a per-task pair model (`--lookahead-score
pairwise`). All four are prototypes, not kept (docs/benchmarks.md, "Tried and not kept").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from math import sqrt

import numpy as np
import pandas as pd

from taskgroup.affinity.frame import affinity_lookup
from taskgroup.estimators.base import ESTIMATE_COLUMNS, Evidence
from taskgroup.estimators.lookahead import (
    AffinityMatrix,
    GroupScore,
    LookaheadEstimator,
    fit_scaling,
    mean_affinity_onto,
    mean_score,
    normalized_affinity,
)


def source_normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """A table whose target-normalised values A'[i -> t] / A'[t -> t] equal A[i -> t] / A[i -> i]
    (A' = A * A[t -> t] / A[i -> i]; 0 where the source's own effect is not positive)."""
    own = frame[frame["source"] == frame["target"]].set_index(["size", "source"])["affinity"]
    source_own = own.reindex(list(zip(frame["size"], frame["source"]))).to_numpy()
    target_own = own.reindex(list(zip(frame["size"], frame["target"]))).to_numpy()
    scaled = frame["affinity"] * target_own / source_own
    return frame.assign(affinity=scaled.where(source_own > 0, 0.0))


def alignment_score(task: str, group: Sequence[str], matrix: AffinityMatrix, scale: Mapping[str, float]) -> float:
    """cos(g_t, sum of g_j over the group) - 1, from the lookahead matrix: 0 alone, down to -2.

    To first order A[i -> t] = lr * g_i . g_t / L_t, so K[i, t] = (A[i -> t] L_t + A[t -> i] L_i) / 2
    is the tasks' gradient Gram matrix up to the learning rate (the single-task losses stand in for
    the L). Adam fixes the size of an update, so what a task gets from training in a group is how
    well the group's summed gradient points along its own, whatever the partners' gradient sizes.
    """

    def gram(i: str, j: str) -> float:
        return (matrix.get((i, j), 0.0) * scale[j] + matrix.get((j, i), 0.0) * scale[i]) / 2

    own = gram(task, task)
    if own <= 0.0:
        return 0.0
    total = sum(gram(i, j) for i in group for j in group)
    if total <= 0.0:
        return -2.0
    return min(1.0, max(-1.0, sum(gram(task, j) for j in group) / sqrt(own * total))) - 1.0


class TaskOffsetLookahead(LookaheadEstimator):
    """Lookahead with a sharing cost per task: `loss_t(G) = single_t * (1 + offset_t - strength * m_t(G))`.

    `offset_t` is the mean over the measured multi-task networks with t of t's loss ratio to its single
    (after the strength term), so a task the all-task network hurt is predicted hurt in every group;
    `strength >= 0` is fitted on the variation within each task only (needs two measured networks
    with the task), so the between-task differences the all-task network shows do not set it. One size.
    """

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        measured, matrix, singles, points = _ratios(evidence)
        features = {task: [(mean_affinity_onto(task, [task, *others], matrix), ratio) for others, ratio in pts]
                    for task, pts in points.items()}
        centred = [(m - np.mean([p[0] for p in pts]), r - np.mean([p[1] for p in pts]))
                   for pts in features.values() if len(pts) >= 2 for m, r in pts]
        spread = sum(m * m for m, _ in centred)
        strength = max(0.0, -sum(m * r for m, r in centred) / spread) if spread > 1e-12 else 0.0
        offsets = {task: float(np.mean([r + strength * m for m, r in pts])) for task, pts in features.items()}
        common = float(np.mean(list(offsets.values()))) if offsets else 0.0
        return _with_untrained(measured, singles, lambda task, group: max(
            0.0, 1 + offsets.get(task, common) - strength * mean_affinity_onto(task, group, matrix)))


class PairwiseLookahead(LookaheadEstimator):
    """Lookahead as a prior that every measured network updates: per task t, Bayesian linear regression
    of the loss ratio `loss_t(G) / single_t - 1 = c_t + mean over i in G, i != t of w[i -> t]`.

    The prior means are the library's fitted scaling (`c_t = offset`, `w[i -> t] = -strength * r[i -> t]`),
    with standard deviations `tau_c` and `tau_w`; each measured multi-task loss is an observation with
    noise `sigma` (all in loss-ratio units: 0.03 is 3% of the single's loss). The posterior mean
    predicts every untrained network, so finalization's networks teach the pair weights. One size.
    """

    def __init__(self, tau_c: float = 0.05, tau_w: float = 0.05, sigma: float = 0.03) -> None:
        super().__init__()
        self.tau_c, self.tau_w, self.sigma = tau_c, tau_w, sigma

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        measured, matrix, singles, points = _ratios(evidence)
        size = measured["size"].iloc[0]
        width = measured["tasks"].str.count(r"\+") + 1
        scaling = fit_scaling(measured[width >= 2], {(size, t): v for t, v in singles.items()}, {size: matrix})
        tasks = sorted(singles)
        column = {task: 1 + k for k, task in enumerate(tasks)}
        weights = {}
        for task in tasks:
            prior = np.zeros(len(tasks) + 1)
            prior[0] = scaling.offset
            for source in tasks:
                if source != task:
                    prior[column[source]] = -scaling.strength * normalized_affinity(source, task, matrix)
            precision = np.diag([self.tau_c ** -2] + [self.tau_w ** -2] * len(tasks))
            rows, ratios = [], []
            for others, ratio in points.get(task, []):
                row = np.zeros(len(tasks) + 1)
                row[0] = 1.0
                row[[column[o] for o in others]] = 1.0 / len(others)
                rows.append(row)
                ratios.append(ratio)
            design = np.asarray(rows).reshape(-1, len(tasks) + 1)
            weights[task] = np.linalg.solve(design.T @ design / self.sigma ** 2 + precision,
                                            design.T @ np.asarray(ratios) / self.sigma ** 2 + precision @ prior)

        def factor(task: str, group: Sequence[str]) -> float:
            others = [column[o] for o in group if o != task]
            return max(0.0, 1.0 + weights[task][0] + float(np.mean(weights[task][others])))

        return _with_untrained(measured, singles, factor)


def _ratios(
    evidence: Evidence,
) -> tuple[pd.DataFrame, AffinityMatrix, dict[str, float], dict[str, list[tuple[list[str], float]]]]:
    """The measured full-stage validation losses, the one size's matrix, the singles, and per task its
    (other tasks, loss ratio - 1) in each measured multi-task network."""
    [(_, matrix)] = affinity_lookup(evidence.extras["affinity"]).items()
    measured = evidence.losses("full", "val")
    width = measured["tasks"].str.count(r"\+") + 1
    singles = {task: float(loss) for _, _, task, loss in measured[width == 1].itertuples(index=False)
               if (task, task) in matrix}
    points: dict[str, list[tuple[list[str], float]]] = {}
    for tasks, _, task, loss in measured[width >= 2].itertuples(index=False):
        if singles.get(task):
            points.setdefault(task, []).append(([o for o in tasks.split("+") if o != task], loss / singles[task] - 1))
    return measured, matrix, singles, points


def _with_untrained(measured: pd.DataFrame, singles: Mapping[str, float],
                    factor: Callable[[str, Sequence[str]], float]) -> pd.DataFrame:
    """The measured rows, plus every untrained group of two or more tasks at `single_t * factor(t, group)`."""
    size = measured["size"].iloc[0]
    rows = list(measured.itertuples(index=False, name=None))
    known = set(measured["tasks"])
    tasks = sorted(singles)
    for group in (g for k in range(2, len(tasks) + 1) for g in combinations(tasks, k)):
        if "+".join(group) not in known:
            rows.extend(("+".join(group), size, task, singles[task] * factor(task, group)) for task in group)
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def fit_table(truth: pd.DataFrame, affinity: pd.DataFrame, tasks: Sequence[str]) -> str:
    """Markdown: per task the right-way Spearman of both normalisations, the fitted scaling and the matrix."""
    val = truth[(truth["stage"] == "full") & (truth["split"] == "val")]
    width = val["tasks"].str.count(r"\+") + 1
    singles = {(size, task): float(loss) for size, task, loss in val[width == 1][["size", "task", "loss"]].itertuples(index=False)}
    multi = val[width >= 2][["tasks", "size", "task", "loss"]]
    size = multi["size"].iloc[0]
    ratio = pd.Series([loss / singles[(s, task)] - 1 for _, s, task, loss in multi.itertuples(index=False)], index=multi.index)

    scale = {task: singles[(size, task)] for task in tasks}

    def feature(frame: pd.DataFrame, score: GroupScore) -> pd.Series:
        matrix = affinity_lookup(frame)[size]
        return pd.Series([score(task, group.split("+"), matrix, scale) for group, _, task, _ in multi.itertuples(index=False)],
                         index=multi.index)

    def right_way(mean: pd.Series) -> dict[str, float]:
        return {task: -mean[multi["task"] == task].rank().corr(ratio[multi["task"] == task].rank()) for task in tasks}

    by_target, by_source = feature(affinity, mean_score), feature(source_normalised(affinity), mean_score)
    by_alignment = feature(affinity, alignment_score)
    rhos = [right_way(by_target), right_way(by_source), right_way(by_alignment)]
    lines = ["| task | right-way Spearman, / A[t -> t] | right-way Spearman, / A[i -> i] | right-way Spearman, alignment |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {task} | " + " | ".join(f"{rho[task]:+.2f}" for rho in rhos) + " |" for task in tasks]
    lines.append("| mean | " + " | ".join(f"{np.mean(list(rho.values())):+.2f}" for rho in rhos) + " |")
    lookup = affinity_lookup(affinity)
    scaling = fit_scaling(multi[multi["tasks"] == "+".join(sorted(tasks))], singles, lookup)
    matrix = lookup[size]
    lines += [
        "",
        (
            f"Over all {len(multi)} multi-task losses, correlation of the mean normalised affinity with the loss "
            f"ratio to the single-task network: {by_target.corr(ratio):+.2f} (right way: negative; of the alignment: "
            f"{by_alignment.corr(ratio):+.2f}). Scaling fitted "
            f"on the all-task network: strength {scaling.strength:.3f}, offset {scaling.offset:+.3f}."
        ),
        "",
        "Normalised affinity A[source -> target] / A[target -> target], before clipping (rows: source):",
        "",
        "| source | " + " | ".join(tasks) + " |",
        "| --- |" + " ---: |" * len(tasks),
    ]
    lines += [f"| {source} | " + " | ".join(f"{matrix[(source, target)] / matrix[(target, target)]:.2f}" for target in tasks) + " |"
              for source in tasks]
    return "\n".join(lines)
