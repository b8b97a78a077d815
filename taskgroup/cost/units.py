"""Budget units: turning measured costs into the per-candidate costs the selection engine adds up.

Units (the `--unit` of `select` and `sweep`), registered in `UNITS`:

- ``ms``: median latency of one forward pass, in milliseconds;
- ``macs``: multiply-accumulates per image;
- ``params``: number of parameters;
- ``relative`` (the paper's unit): a measured quantity (the `basis`: latency by default, or MACs
  or parameters) divided by that of a full-size single-task network, so budgets read as "how
  many single-task networks". The reference is the **mean** over every single-task network at
  the reference size (``full``, else the study's size of the highest declared cost, whose
  declared cost then scales the ratio): those networks differ only in the last layer of their
  decoder, so they cost the same up to timing noise, and the mean of several timings is
  steadier than any one of them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from taskgroup.cost.measurement import CostMeasurement
from taskgroup.errors import InvalidInputError
from taskgroup.registry import Registry

Key = TypeVar("Key", bound=Hashable)

@dataclass(frozen=True)
class MeasuredQuantity:
    """An absolute unit: one field of a CostMeasurement."""

    field: str

    def of(self, measurement: CostMeasurement) -> float:
        return float(getattr(measurement, self.field))


UNITS: Registry[MeasuredQuantity | None] = Registry("cost unit")
"""Every `--unit`; `relative` has no quantity of its own (it is a ratio of its basis unit)."""
UNITS.register("ms")(MeasuredQuantity("latency_ms"))
UNITS.register("macs")(MeasuredQuantity("macs"))
UNITS.register("params")(MeasuredQuantity("params"))
UNITS.register("relative")(None)


def reference_size(sizes: Sequence[Mapping[str, object]]) -> tuple[str, float]:
    """The size `relative` costs are scaled by, and its declared cost: ``full`` when the study has
    it, else its size of the highest declared cost (a study of sizes `big=2,small=0.5` has no
    ``full``, and its budgets still count in the declared units)."""
    declared = {str(size["label"]): float(size["cost"]) for size in sizes}  # type: ignore[arg-type]
    if not declared:
        raise InvalidInputError("the study declares no sizes")
    label = "full" if "full" in declared else max(declared, key=lambda name: declared[name])
    return label, declared[label]


def candidate_costs(
    measurements: Mapping[tuple[Key, str], CostMeasurement],
    unit: str,
    reference_size: str = "full",
    basis: str = "ms",
    reference_cost: float = 1.0,
) -> dict[tuple[Key, str], float]:
    """Cost of every `(tasks, size)` candidate in `unit`, ready to pass as the selection's `costs`.

    `tasks` is the canonical ``+``-joined name (``"depth+normal"``) or a sequence of task names;
    keys are returned as given. ``relative`` divides the `basis` unit (``ms``, ``macs`` or
    ``params``; MACs are exact where latency is noisy) by the mean of the single-task networks at
    `reference_size` (there must be one) and multiplies by that size's declared `reference_cost`.
    """
    quantity = UNITS.get(unit)
    if quantity is not None:
        return {key: quantity.of(measurement) for key, measurement in measurements.items()}
    basis_quantity = UNITS.get(basis)
    if basis_quantity is None:
        raise InvalidInputError("the relative unit's basis must be an absolute unit: ms, macs or params")
    costs = {key: basis_quantity.of(measurement) for key, measurement in measurements.items()}
    reference = [cost for (tasks, size), cost in costs.items() if size == reference_size and _task_count(tasks) == 1]
    if not reference:
        raise InvalidInputError(
            f"the relative unit needs a measured single-task network at size {reference_size!r}; "
            f"measure one (`taskgroup cost`) or choose another unit (ms, macs, params, declared)"
        )
    scale = sum(reference) / len(reference)
    if scale <= 0:
        raise InvalidInputError(f"the measured cost of the {reference_size!r} single-task networks is zero")
    return {key: cost / scale * reference_cost for key, cost in costs.items()}


def _task_count(tasks: object) -> int:
    if isinstance(tasks, str):
        return len(tasks.split("+"))
    if isinstance(tasks, Sequence | frozenset | set):
        return len(tasks)
    raise InvalidInputError(f"candidate tasks {tasks!r} are neither a '+'-joined name nor a sequence of names")
