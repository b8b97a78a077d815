"""Task registry. Importing this package registers every built-in task."""

from taskgroup.tasks.base import TASKS, Task

__all__ = ["TASKS", "Task", "get_task"]


def get_task(name: str) -> Task:
    """An instance of the task registered as `name`."""
    return TASKS.get(name)()
