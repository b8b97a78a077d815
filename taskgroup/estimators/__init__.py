"""Estimators of fully trained losses; importing this package registers every built-in one."""

from taskgroup.estimators import esa, exact, hoa, lookahead  # noqa: F401  (registration side effect)
from taskgroup.estimators.base import ESTIMATE_COLUMNS, ESTIMATORS, Estimator, Evidence, get_estimator

__all__ = ["ESTIMATE_COLUMNS", "ESTIMATORS", "Estimator", "Evidence", "get_estimator"]
