"""Building a weighting method from its registered name and user options (CLI flags, study TOML)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, WeightingMethod


def build_weighting(name: str, tasks: Sequence[str], **options: Any) -> WeightingMethod:
    """The method registered as `name` for `tasks`, configured with `options` (checked first, as by
    `check_weighting`)."""
    method = check_weighting(name, options)
    try:
        return method(tasks, **options)
    except InvalidInputError:
        raise
    except (ValueError, TypeError) as error:  # e.g. float("hot"): a value of the wrong type
        raise InvalidInputError(f"weighting method {name!r}: an option has a value it cannot use ({error})") from None


def check_weighting(name: str, options: Mapping[str, Any]) -> type[WeightingMethod]:
    """The method registered as `name`, if it takes every option in `options`: stored options are
    checked when set, not when a worker first trains with them.

    An unknown name raises `UnknownNameError` listing the known methods; an unknown option raises
    `InvalidInputError` listing the options the method takes.
    """
    method = WEIGHTINGS.get(name)
    accepted = [
        parameter.name
        for parameter in inspect.signature(method.__init__).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        known = ", ".join(accepted) or "none"
        raise InvalidInputError(
            f"weighting method {name!r} has no option {unknown[0]!r} (options: {known})"
        )
    return method
