"""Numbers given as text by users and files: one rule and one wording for every parser."""

from __future__ import annotations

import math

from taskgroup.errors import InvalidInputError


def finite_number(text: str, what: str) -> float:
    """`text` as a float, or InvalidInputError naming `what` (e.g. "line 3: loss of depth") when it
    is not a number or not finite (nan, inf: they would poison every sum they enter)."""
    stripped = text.strip()
    try:
        if "_" in stripped:  # Python reads 1_000 as 1000; a file's "1_0" is a typo, not ten
            raise ValueError
        value = float(stripped)
    except ValueError:
        raise InvalidInputError(f"{what} {stripped!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {stripped!r}")
    return value
