"""Budget units: measured costs as per-candidate costs for the selection engine."""

from __future__ import annotations

import pytest

from taskgroup.cost import UNITS, CostMeasurement, candidate_costs, reference_size
from taskgroup.errors import InvalidInputError, UnknownNameError


def _m(latency_ms: float, macs: int = 1000, params: int = 100) -> CostMeasurement:
    return CostMeasurement(
        params=params, macs=macs, latency_ms=latency_ms, latency_spread_ms=0.1, peak_memory_bytes=None, device="cpu"
    )


MEASURED = {
    ("a", "full"): _m(10.0, macs=4000, params=400),
    ("b", "full"): _m(12.0, macs=4100, params=410),
    ("a+b", "full"): _m(16.5, macs=5000, params=500),
    ("a", "half"): _m(4.0, macs=1100, params=110),
}


def test_absolute_units_are_the_measured_quantities() -> None:
    assert candidate_costs(MEASURED, "ms") == {key: m.latency_ms for key, m in MEASURED.items()}
    assert candidate_costs(MEASURED, "macs") == {key: float(m.macs) for key, m in MEASURED.items()}
    assert candidate_costs(MEASURED, "params") == {key: float(m.params) for key, m in MEASURED.items()}


def test_relative_unit_divides_by_the_mean_full_size_single_task_latency() -> None:
    costs = candidate_costs(MEASURED, "relative")
    reference = (10.0 + 12.0) / 2  # the half-size single-task network is not a reference
    assert costs[("a+b", "full")] == pytest.approx(16.5 / reference)
    assert costs[("a", "half")] == pytest.approx(4.0 / reference)
    assert costs[("a", "full")] + costs[("b", "full")] == pytest.approx(2.0)


def test_relative_unit_accepts_task_tuples_and_another_reference_size() -> None:
    measured = {(("a",), "half"): _m(4.0), (("a", "b"), "half"): _m(6.0)}
    assert candidate_costs(measured, "relative", reference_size="half") == {
        (("a",), "half"): 1.0,
        (("a", "b"), "half"): 1.5,
    }


def test_the_reference_size_is_full_else_the_costliest_declared_one_whose_cost_scales_the_ratio() -> None:
    assert reference_size([{"label": "half", "cost": 0.5}, {"label": "full", "cost": 1.0}]) == ("full", 1.0)
    assert reference_size([{"label": "small", "cost": 0.5}, {"label": "big", "cost": 2.0}]) == ("big", 2.0)
    measured = {("a", "big"): _m(4.0), ("a+b", "small"): _m(3.0)}
    assert candidate_costs(measured, "relative", reference_size="big", reference_cost=2.0) == {
        ("a", "big"): 2.0, ("a+b", "small"): 1.5}


def test_relative_unit_without_a_reference_network_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="single-task network at size 'full'"):
        candidate_costs({("a+b", "full"): _m(5.0), ("a", "half"): _m(2.0)}, "relative")


def test_unknown_unit_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as error:
        candidate_costs(MEASURED, "seconds")
    assert all(unit in str(error.value) for unit in ("relative", "ms", "macs", "params"))
    assert UNITS.names() == ["macs", "ms", "params", "relative"]


def test_relative_unit_can_be_based_on_macs_or_params() -> None:
    assert candidate_costs(MEASURED, "relative", basis="macs")[("a+b", "full")] == pytest.approx(5000 / 4050)
    assert candidate_costs(MEASURED, "relative", basis="params")[("a", "half")] == pytest.approx(110 / 405)
    with pytest.raises(InvalidInputError, match="basis"):
        candidate_costs(MEASURED, "relative", basis="relative")
