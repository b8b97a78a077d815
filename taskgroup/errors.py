"""Errors a user can act on. The CLI prints their message as one line and exits non-zero."""


WORKER_TRACEBACK = "\nOriginal Traceback (most recent call last):"
"""How torch's DataLoader re-raises an error of one of its worker processes: the same class, with
"Caught <class> in DataLoader worker process N." and the worker's traceback as the message."""


class TaskgroupError(Exception):
    """Base class of every error that is the user's to fix (bad input, unknown names, ...)."""

    def __str__(self) -> str:
        text = str(self.args[0]) if len(self.args) == 1 else super().__str__()  # KeyError would quote it
        if text.startswith("Caught ") and WORKER_TRACEBACK in text:  # the message the worker raised, one line
            last = text.rstrip().splitlines()[-1]
            return last.split(": ", 1)[1] if ": " in last else last
        return text


class UnknownNameError(TaskgroupError, KeyError):
    """A name (task, dataset, method, estimator, ...) that is not registered."""


class InvalidInputError(TaskgroupError, ValueError):
    """Input that cannot be used: malformed files, out-of-range numbers, conflicting options."""


class InfeasibleError(TaskgroupError):
    """No choice of networks satisfies the budget and constraints."""


class DivergenceError(TaskgroupError):
    """Training produced a NaN or infinite loss."""
