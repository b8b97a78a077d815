"""Exploration for active finalization: which untrained networks to try once the choice is stable.

Finalization corrects only optimism: a network predicted too good is chosen, trained and dropped,
but one predicted too bad is never chosen, so never trained. When a user allows more compute than
the stable choice needed, the rest is best spent on the untrained networks closest to being chosen.

"Closest" is measured by optimism: shrink every untrained network's predicted losses by a factor
``1 - k`` and find, for a budget, the smallest ``k`` at which the optimal choice includes an untrained
network; the untrained networks of its choice at that ``k`` are the ones to train. The trained
networks keep their real losses throughout, so the comparison is always against what can be
deployed now. The objective at a fixed choice falls linearly in ``k`` and the best all-trained
choice does not move, so ``k`` is found by bisection.

The budgets take turns (the one after the budget explored last, in the order given). Picking the
budget with the smallest ``k`` instead spent most of a limit on whichever budget had the closest
calls and left others unexplored; users read every budget they asked about, so each gets its share
(docs/benchmarks.md, "Exploration: the budgets take turns": the worst budget's test regret fell in
5 of 21 search-quality studies, rose in 1, and stayed in 15).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from taskgroup.errors import InfeasibleError
from taskgroup.selection.build import CandidateSpec, build_problem
from taskgroup.selection.select import Selector, choose_engine

NetworkKey = tuple[str, str]
"""(tasks joined by `+`, size label)"""

BISECTION_STEPS = 14
"""Halvings of the optimism interval [0, 1]: resolves ``k`` to about 6e-5, far below loss noise."""


@dataclass(frozen=True)
class Exploration:
    """The untrained networks to train next, the budget they serve and the optimism they needed."""

    networks: tuple[NetworkKey, ...]
    budget: float
    optimism: float


def next_to_explore(
    selector: Selector, trained: set[NetworkKey], budgets: Sequence[float], after: float | None = None,
    forbid: Iterable[CandidateSpec] = (),
) -> Exploration | None:
    """The untrained networks closest to being chosen at the first budget after `after` (in turn,
    wrapping around; from the first budget when `after` is None or not among them) that has any, or
    None when no untrained network can be chosen at any budget, even predicted perfect. The `forbid`
    candidates are never chosen."""
    start = budgets.index(after) + 1 if after in budgets else 0
    forbid = tuple(forbid)
    for budget in [*budgets[start:], *budgets[:start]]:
        found = _least_optimism(selector, trained, budget, forbid)
        if found is not None:
            return found
    return None


def _least_optimism(
    selector: Selector, trained: set[NetworkKey], budget: float, forbid: tuple[CandidateSpec, ...]
) -> Exploration | None:
    base = build_problem(selector.estimates, selector.costs, selector.tasks, budget, forbid=forbid)
    is_untrained = [(c.name, c.size) not in trained for c in base.candidates]
    if not any(is_untrained):
        return None

    def untrained_choice(optimism: float) -> tuple[NetworkKey, ...]:
        # Built once per budget; only the untrained candidates' (integer) losses shrink with `optimism`.
        losses = tuple({t: round(v * (1.0 - optimism)) for t, v in served.items()} if untrained else served
                       for served, untrained in zip(base.losses, is_untrained, strict=True))
        problem = replace(base, losses=losses)
        solution = choose_engine("auto", problem).solve(problem)
        if solution is None:
            raise InfeasibleError(f"no choice fits budget {budget:g}")
        chosen = [(problem.candidates[c].name, problem.candidates[c].size) for c in solution.chosen]
        return tuple(sorted((key for key in chosen if key not in trained), key=lambda key: (key[0].count("+"), key)))

    try:
        now = untrained_choice(0.0)
        if now:
            return Exploration(now, budget, 0.0)
        networks = untrained_choice(1.0)
    except InfeasibleError:
        return None
    if not networks:
        return None
    low, high = 0.0, 1.0
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        found = untrained_choice(middle)
        if found:
            high, networks = middle, found
        else:
            low = middle
    return Exploration(networks, budget, high)
