"""Errors a user can act on. The CLI prints their message as one line and exits non-zero."""


class TaskgroupError(Exception):
    """Base class of every error that is the user's to fix (bad input, unknown names, ...)."""


class UnknownNameError(TaskgroupError, KeyError):
    """A name (task, dataset, method, estimator, ...) that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidInputError(TaskgroupError, ValueError):
    """Input that cannot be used: malformed files, out-of-range numbers, conflicting options."""


class InfeasibleError(TaskgroupError):
    """No choice of networks satisfies the budget and constraints."""


class DivergenceError(TaskgroupError):
    """Training produced a NaN or infinite loss."""
