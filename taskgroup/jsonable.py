"""Values as JSON shows them: one rule for every `--json` output and for report.json."""

from __future__ import annotations

import math
from typing import Any

SIGNIFICANT_DIGITS = 12
"""Digits a float keeps in JSON: more than any loss or cost is known to, and few enough that a sum
prints as its terms add up (0.1 + 0.2 as 0.3, not 0.30000000000000004). Selection itself works on
the full floats; only what is shown is rounded."""


def plain_json(value: Any) -> Any:
    """`value` in JSON's own types: numpy scalars as Python numbers, a float that is not finite as
    None (JSON has no NaN or Infinity; a strict parser refuses them), every float rounded to
    SIGNIFICANT_DIGITS."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalars
        return plain_json(value.item())
    return value
