"""Task affinity from one training run (lookahead, Fifty et al. NeurIPS 2021): how a step on one
task's loss changes every other task's loss, averaged over the training of a network of all tasks.

Submodules: `lookahead` (one measurement), `recorder` (the training engine's step hook that averages
them), `measure` (the lookahead job), `frame` (the stored table; pandas only). This package imports
only `frame` so that readers of stored matrices do not load torch.
"""

from taskgroup.affinity.frame import (
    AFFINITY_COLUMNS,
    affinity_frame,
    affinity_lookup,
    check_affinity_frame,
    corner_label,
    matrix_table,
)

__all__ = ["AFFINITY_COLUMNS", "affinity_frame", "affinity_lookup", "check_affinity_frame", "corner_label",
           "matrix_table"]
