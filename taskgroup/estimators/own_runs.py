"""An estimator that sees only the results of its own training runs: how reports compare estimators.

The paper's protocol: each estimator chooses on what its own (cheaper) training produced, and its
choice is scored with the fully trained networks' real losses. Lookahead uses every fully trained
network's real losses as they become known (that is what finalization builds on), so in a study
trained exhaustively it would simply repeat the exact choice, at a fraction of exact's compute.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from taskgroup.estimators.base import Estimator, EstimatorWrapper, Evidence

RunKey = tuple[str, str, str]
"""(tasks joined by `+`, size label, stage): one training run."""


class OwnRunsOnly(EstimatorWrapper):
    """`inner`, estimating from the results of `runs` alone (the runs its training plan asks for)."""

    def __init__(self, inner: Estimator, runs: Collection[RunKey]) -> None:
        super().__init__(inner)
        self.runs = frozenset(runs)

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        results = evidence.results
        own = [key in self.runs for key in zip(results["tasks"], results["size"], results["stage"], strict=True)]
        return self.inner.estimate(Evidence(results[own], evidence.extras))
