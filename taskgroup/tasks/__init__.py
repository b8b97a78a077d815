"""Task registry. Importing this package registers every built-in task."""

from taskgroup.tasks.base import TASKS, Task

# Each module registers its task(s) with @TASKS.register when imported.
from taskgroup.tasks import (  # noqa: F401  (imported for registration)
    albedo,
    attribute,
    depth,
    edge,
    height,
    keypoint,
    normal,
    occlusion,
    reshade,
    segment,
    shadow,
)

__all__ = ["TASKS", "Task", "get_task"]


def get_task(name: str) -> Task:
    """An instance of the task registered as `name`."""
    return TASKS.get(name)()
