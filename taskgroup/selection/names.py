"""Canonical names of candidates: tasks sorted and joined by ``+``, plus a size label."""

from __future__ import annotations

from collections.abc import Iterable

from taskgroup.errors import InvalidInputError
from taskgroup.wording import counted

SIZE_SEPARATOR = "@"


def canonical_tasks(tasks: str | Iterable[str]) -> str:
    """``"normal+depth"`` or ``["normal", "depth"]`` -> ``"depth+normal"``."""
    parts = tasks.split("+") if isinstance(tasks, str) else [str(task) for task in tasks]
    parts = [part.strip() for part in parts]
    if not parts or any(not part for part in parts):
        raise InvalidInputError(f"invalid task list {tasks!r}: tasks are joined by '+' and none may be empty")
    if len(set(parts)) != len(parts):
        raise InvalidInputError(f"invalid task list {tasks!r}: a task appears twice")
    return "+".join(sorted(parts))


def exhaustive_count(task_count: int, size_count: int) -> int:
    """How many networks an exhaustive search trains: every non-empty subset of the tasks at every size."""
    return (2**task_count - 1) * size_count


def searched_among(trained: int, possible: int) -> str:
    """What exact chose among where not every network is trained: its choice is the best trained one,
    not the exhaustive optimum (said by `select`, `sweep` and the report)."""
    return f"among the {counted(trained, 'fully trained network')} of the {possible} possible (every subset of the tasks at every size)"


def candidate_label(tasks: str, size: str) -> str:
    """How a candidate is written in messages and options: ``depth+normal@half``."""
    return f"{tasks}{SIZE_SEPARATOR}{size}"


def parse_candidate(text: str) -> tuple[str, str | None]:
    """``"normal+depth@half"`` -> ``("depth+normal", "half")``; without ``@size`` the size is None."""
    text = text.strip()
    tasks, separator, size = text.partition(SIZE_SEPARATOR)
    if separator and not size.strip():
        raise InvalidInputError(f"invalid candidate {text!r}: nothing after '{SIZE_SEPARATOR}' (write TASKS@SIZE)")
    return canonical_tasks(tasks), (size.strip() if separator else None)
