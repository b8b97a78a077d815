"""Parsers for the selection options as users type them (``--budgets 1:5:0.5``, ``--weight depth=2``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from taskgroup.errors import InvalidInputError
from taskgroup.numbers import finite_number

MAX_BUDGETS = 10_000


def parse_budgets(text: str) -> list[float]:
    """``"1:5:0.5"`` -> [1.0, 1.5, ..., 5.0] (end included); ``"1,2.5,4"`` -> a list; ``"3"`` -> [3.0].

    Ranges are computed in decimal arithmetic, so ``0.1:0.3:0.1`` ends at exactly 0.3. The budgets
    come back ascending, each once: a repeated budget would repeat every row of a sweep.
    """
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise InvalidInputError(f"invalid budgets {text!r}: write START:STOP:STEP, e.g. 1:5:0.5")
        start, end, step = (_decimal(part, text) for part in parts)
        if step <= 0:
            raise InvalidInputError(f"invalid budgets {text!r}: the step must be positive")
        if end < start:
            raise InvalidInputError(f"invalid budgets {text!r}: the end is below the start")
        count = int((end - start) / step) + 1
        if count > MAX_BUDGETS:
            raise InvalidInputError(f"invalid budgets {text!r}: {count} budgets is more than {MAX_BUDGETS}")
        values = [start + i * step for i in range(count)]
    else:
        values = [_decimal(part, text) for part in text.split(",")]
    budgets = sorted({float(value) for value in values})
    for budget in budgets:
        if budget <= 0:
            raise InvalidInputError(f"invalid budgets {text!r}: budgets must be positive, got {budget:g}")
    return budgets


def _decimal(part: str, text: str) -> Decimal:
    try:
        value = Decimal(part.strip())
    except InvalidOperation:
        raise InvalidInputError(
            f"invalid budgets {text!r}: {part.strip()!r} is not a number "
            "(write START:STOP:STEP, e.g. 1:5:0.5, or a list, e.g. 1,2.5,4)"
        ) from None
    if not value.is_finite():
        raise InvalidInputError(f"invalid budgets {text!r}: {part.strip()!r} is not a finite number")
    return value


def parse_task_values(items: str | Iterable[str], option: str) -> dict[str, float]:
    """``["depth=2", "normal=0.5"]`` or ``"depth=2,normal=0.5"`` -> {"depth": 2.0, "normal": 0.5}.

    `option` names the flag in error messages (e.g. ``--weight``). Whether the tasks exist is checked
    by `select`, which knows them.
    """
    entries = [items] if isinstance(items, str) else list(items)
    values: dict[str, float] = {}
    for entry in entries:
        for item in entry.split(","):
            task, separator, raw = item.partition("=")
            task, raw = task.strip(), raw.strip()
            if not separator or not task or not raw:
                raise InvalidInputError(f"{option}: expected TASK=VALUE, got {item.strip()!r}")
            value = finite_number(raw, f"{option}: value of {task}")
            if task in values:
                raise InvalidInputError(f"{option}: {task} is given twice")
            values[task] = value
    return values
