"""Totals as JSON shows them: one rule for the select objects, baseline rows and finalize budgets."""

from __future__ import annotations

SIGNIFICANT_DIGITS = 12
"""Digits a total keeps in JSON: more than any loss or cost is known to, and few enough that a sum
prints as its terms add up (0.1 + 0.2 as 0.3, not 0.30000000000000004). Selection itself works on
the full floats; only what is shown is rounded. Measured values (costs, affinities) are not totals
and keep every digit."""


def json_total(value: float | None) -> float | None:
    """`value` (a sum of losses or costs) to SIGNIFICANT_DIGITS; None stays None."""
    return None if value is None else float(f"{value:.{SIGNIFICANT_DIGITS}g}")
