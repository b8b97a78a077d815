"""Changing a study's training options and saying what changed, for configure, plan and run."""

from __future__ import annotations

from typing import Any

from db.models import Study
from taskgroup.cli.common import option_value


def set_training(session: Any, study: Study, options: dict[str, Any], *, candidate: tuple[str, str] | None = None,
                 reset: bool = False) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Store `options` (see `configure_training`); return the stored options and, for each option whose
    effective value changed, its value `before` and `after` (a `reset` can change options not given)."""
    from jobs.manage import configure_training, stored_training
    from jobs.training_options import effective_training

    before = effective_training(stored_training(session, study, candidate))
    stored = configure_training(session, study, options, candidate=candidate, reset=reset)
    after = effective_training(stored)
    return stored, {option: {"before": before.get(option), "after": value}
                    for option, value in after.items() if before.get(option) != value}


def changes_note(changed: dict[str, dict[str, Any]]) -> str:
    if not changed:
        return "training options unchanged: every option already had that value"
    return "training options changed: " + ", ".join(
        f"{option} {option_value(change['before'])} -> {option_value(change['after'])}"
        for option, change in changed.items())
