"""One network's measured inference cost, as stored and converted into budget units (no torch:
commands that only read costs do not load it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MEASURED_COLUMNS = ("params", "macs", "latency_ms", "latency_spread_ms")
"""A stored candidate has been measured when these are set (`taskgroup cost` sets them together)."""


@dataclass(frozen=True)
class CostMeasurement:
    """One network's measured cost.

    `latency_ms` is the median wall time of one forward pass over a batch of `batch_size` images;
    `latency_spread_ms` is the interquartile range (75th minus 25th percentile) of the timed runs.
    `peak_memory_bytes` is the device allocator's peak during a forward pass (weights, input and
    activations); None on CPU, which has no per-tensor allocator statistics.
    """

    params: int
    macs: int
    latency_ms: float
    latency_spread_ms: float
    peak_memory_bytes: int | None
    device: str
    batch_size: int = 1

    def as_dict(self) -> dict[str, int | float | str | None]:
        """Plain values, for JSON output and storage."""
        return asdict(self)

    @classmethod
    def from_stored(cls, record: Any) -> CostMeasurement:
        """The measurement a candidate row holds (its `params`, `macs`, `latency_ms`, `latency_spread_ms`,
        `peak_memory_bytes` and `cost_device`), from the database or a frame of candidates."""
        memory = record.peak_memory_bytes
        return cls(params=int(record.params), macs=int(record.macs), latency_ms=float(record.latency_ms),
                   latency_spread_ms=float(record.latency_spread_ms),
                   peak_memory_bytes=None if memory is None or math.isnan(memory) else int(memory),
                   device=str(record.cost_device))
