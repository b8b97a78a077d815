"""Inference cost of candidate networks: measuring it on a device and expressing it in a budget unit.

Measuring needs torch, so `measure`'s functions are imported on first use (lazy_loader): commands
that only read stored costs start without loading it.
"""

import lazy_loader

from taskgroup.cost.measurement import MEASURED_COLUMNS, CostMeasurement
from taskgroup.cost.units import UNITS, candidate_costs, reference_size

__getattr__, _, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "measure": [
            "combine_rounds", "count_macs", "count_params", "measure_candidates", "measure_cost",
        ],
    },
)

__all__ = [
    "MEASURED_COLUMNS",
    "UNITS",
    "CostMeasurement",
    "candidate_costs",
    "combine_rounds",
    "count_macs",
    "count_params",
    "measure_candidates",
    "measure_cost",
    "reference_size",
]
