"""Time the selection engines (branch-and-bound, CP-SAT) and plain exhaustive enumeration.

Instances: N tasks, every non-empty subset at two sizes (full cost 1.0, half cost 0.5), so
2 * (2**N - 1) candidates. Losses have the structure of real multi-task results: a base loss per
task, a pairwise transfer term (some pairs help, some hurt), a small capacity penalty per extra
task, a half-size penalty and noise. Every engine solves each (N, budget) to proven optimality;
exhaustive enumeration (the paper's reference approach) is stopped at a time cap.

    .venv/bin/python benchmarks/selection.py [--tasks 5-12] [--budgets 1,2,3,5] [--cap 5] [--engine-cap 30]

An engine (or the enumeration) that needs more than its cap on one instance is skipped for larger N.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import time

from taskgroup.selection.bip import IntegerProgram
from taskgroup.selection.bnb import BranchAndBound
from taskgroup.selection.problem import Candidate, Problem, scale_digits, to_units


def make_problem(n_tasks: int, budget: float, seed: int = 0) -> Problem:
    """A synthetic instance with realistic loss structure (deterministic per seed)."""
    rng = random.Random(seed * 1000 + n_tasks)
    tasks = tuple(f"task{i:02d}" for i in range(n_tasks))
    base = [rng.uniform(0.05, 1.0) for _ in tasks]
    transfer = [[rng.gauss(0.0, 0.08) for _ in tasks] for _ in tasks]
    candidates, losses = [], []
    for size, cost, penalty in (("full", 1.0, 0.0), ("half", 0.5, 0.08)):
        for k in range(1, n_tasks + 1):
            for subset in itertools.combinations(range(n_tasks), k):
                served = {}
                for t in subset:
                    others = [transfer[t][b] for b in subset if b != t]
                    effect = sum(others) / len(others) if others else 0.0
                    served[t] = base[t] * (1 + effect + 0.02 * (k - 1) + penalty + rng.gauss(0.0, 0.01))
                candidates.append(Candidate(tuple(tasks[t] for t in subset), size, cost))
                losses.append(served)
    order = sorted(range(len(candidates)), key=lambda c: candidates[c].key)
    candidates = [candidates[c] for c in order]
    losses = [losses[c] for c in order]
    loss_digits = scale_digits(sum(max(s.values()) for s in losses))
    cost_digits = scale_digits(sum(c.cost for c in candidates) + budget)
    return Problem(
        tasks=tasks,
        candidates=tuple(candidates),
        costs=tuple(to_units(c.cost, cost_digits) for c in candidates),
        losses=tuple({t: to_units(v, loss_digits) for t, v in s.items()} for s in losses),
        budget=to_units(budget, cost_digits),
        required=frozenset(),
        max_networks=None,
        cost_digits=cost_digits,
        loss_digits=loss_digits,
    )


def exhaustive(problem: Problem, cap: float) -> tuple[int | None, int, bool]:
    """The paper's approach: try every set of networks within budget. (best objective, sets tried, finished)."""
    start = time.perf_counter()
    n_tasks, best, tried = len(problem.tasks), None, 0
    cheapest = min(problem.costs)
    for k in range(1, problem.budget // cheapest + 1):
        for chosen in itertools.combinations(range(len(problem.candidates)), k):
            tried += 1
            if tried % 20000 == 0 and time.perf_counter() - start > cap:
                return best, tried, False
            if sum(problem.costs[c] for c in chosen) > problem.budget:
                continue
            total = 0
            for t in range(n_tasks):
                options = [problem.losses[c][t] for c in chosen if t in problem.losses[c]]
                if not options:
                    break
                total += min(options)
            else:
                best = total if best is None else min(best, total)
    return best, tried, True


def timed(solve, problem: Problem):
    start = time.perf_counter()
    solution = solve(problem)
    return solution, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="5-12", help="range of task counts, e.g. 5-12")
    parser.add_argument("--budgets", default="1,2,3,5", help="comma-separated budgets (full-size network units)")
    parser.add_argument("--cap", type=float, default=5.0, help="seconds before exhaustive enumeration is stopped")
    parser.add_argument("--engine-cap", type=float, default=30.0, help="skip an engine at larger N once one solve took longer")
    args = parser.parse_args()
    low, high = (int(x) for x in args.tasks.split("-"))
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print("| tasks | candidates | budget | bnb s | bnb nodes | bip s | exhaustive | agree |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    slow: set[str] = set()
    for n in range(low, high + 1):
        for budget in budgets:
            problem = make_problem(n, budget)
            results = {}
            for name, engine in (("bnb", BranchAndBound()), ("bip", IntegerProgram(time_limit=args.engine_cap))):
                if name in slow:
                    results[name] = (None, None, None)
                    continue
                try:
                    solution, seconds = timed(engine.solve, problem)
                except RuntimeError:  # CP-SAT hit the time limit before proving optimality
                    solution, seconds = None, float("inf")
                results[name] = (solution, seconds, getattr(engine, "nodes", None))
                if seconds > args.engine_cap:
                    slow.add(name)
            best, tried, finished = exhaustive(problem, args.cap) if "exhaustive" not in slow else (None, 0, False)
            if not finished:
                slow.add("exhaustive")
            found = [r[0] for r in results.values() if r[0] is not None] + ([best] if finished else [])
            objectives = {s if isinstance(s, int) else s.objective for s in found}
            exhaustive_text = f"{tried:,} sets" if finished else (f"> {args.cap:g} s ({tried:,} sets)" if tried else "skipped")
            bnb, bip = results["bnb"], results["bip"]
            print(
                f"| {n} | {len(problem.candidates):,} | {budget:g} "
                f"| {_fmt(bnb[1])} | {bnb[2] if bnb[2] is not None else '-'} | {_fmt(bip[1])} "
                f"| {exhaustive_text} | {_agreement(found, objectives)} |",
                flush=True,
            )


def _agreement(found: list, objectives: set) -> str:
    """Whether every method that finished found the same optimum ('-' when fewer than two finished)."""
    if len(found) < 2:
        return "-"
    return "yes" if len(objectives) == 1 else "NO"


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    return "timeout" if seconds == float("inf") else f"{seconds:.3f}"


if __name__ == "__main__":
    main()
