"""Inference cost of candidate networks: measuring it on a device and expressing it in a budget unit."""

from taskgroup.cost.measure import (
    CostMeasurement,
    combine_rounds,
    count_macs,
    count_params,
    measure_candidates,
    measure_cost,
    resolve_device,
)
from taskgroup.cost.units import UNITS, candidate_costs

__all__ = [
    "UNITS",
    "CostMeasurement",
    "candidate_costs",
    "combine_rounds",
    "count_macs",
    "count_params",
    "measure_candidates",
    "measure_cost",
    "resolve_device",
]
