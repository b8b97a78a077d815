"""Early-stopping approximation (ESA): judge each candidate by its loss after a short training run."""

from __future__ import annotations

import pandas as pd

from taskgroup.estimators.base import ESTIMATORS, Estimator, Evidence


@ESTIMATORS.register("esa")
class EarlyStoppingEstimator(Estimator):
    """Early-stage validation losses stand in for fully trained ones (cheaper to obtain)."""

    name = "esa"
    needs = "early-stage (ESA) validation losses"

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        return evidence.losses("early", "val")
