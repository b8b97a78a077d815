"""Choose the best set of networks within an inference budget (exact engines, estimators, sweeps)."""

from taskgroup.selection.baselines import BaselineRow
from taskgroup.selection.build import CandidateSpec, TooFarApartError
from taskgroup.selection.engine import SOLVERS, Engine
from taskgroup.selection.feasibility import BudgetTooSmallError
from taskgroup.selection.names import canonical_tasks, parse_candidate
from taskgroup.selection.problem import Candidate, Problem, Solution
from taskgroup.selection.options import parse_budgets, parse_task_values
from taskgroup.selection.select import Selection, Selector, select
from taskgroup.selection.sweep import InfeasibleRow, Sweep, sweep

__all__ = [
    "SOLVERS",
    "BaselineRow",
    "InfeasibleRow",
    "Sweep",
    "parse_budgets",
    "parse_task_values",
    "sweep",
    "BudgetTooSmallError",
    "Candidate",
    "CandidateSpec",
    "Engine",
    "Problem",
    "Selection",
    "Selector",
    "Solution",
    "TooFarApartError",
    "canonical_tasks",
    "parse_candidate",
    "select",
]
