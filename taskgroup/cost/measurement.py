"""One network's measured inference cost, as stored and converted into budget units (no torch:
commands that only read costs do not load it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
