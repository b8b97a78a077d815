"""The exact estimator: every candidate was fully trained, so its validation losses are the answer."""

from __future__ import annotations

import pandas as pd

from taskgroup.estimators.base import ESTIMATORS, Estimator, Evidence


@ESTIMATORS.register("exact")
class ExactEstimator(Estimator):
    """Full-stage validation losses, as measured (the paper's optimal row)."""

    name = "exact"
    needs = "fully trained (full-stage) validation losses"

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        return evidence.losses("full", "val")
