"""The minimum-norm point in the convex hull of a few vectors (the MGDA subproblem).

Frank-Wolfe as in Sener & Koltun (2018), with away steps, finished by an exact active-set solve on
the support it found. Works on the Gram matrix only, so once that is formed the cost does not
depend on the vectors' length.
"""

from __future__ import annotations

import torch
from torch import Tensor


def min_norm_pair(v1v1: float, v1v2: float, v2v2: float) -> float:
    """The ``gamma`` in [0, 1] minimising ``|gamma * v1 + (1 - gamma) * v2|^2`` (closed form)."""
    denominator = v1v1 + v2v2 - 2.0 * v1v2
    if denominator <= 0.0:  # v1 == v2: every gamma gives the same point
        return 0.5
    return min(1.0, max(0.0, (v2v2 - v1v2) / denominator))


def min_norm_weights(gram: Tensor, max_iterations: int = 1000, tolerance: float = 1e-12) -> Tensor:
    """Convex weights ``alpha`` (non-negative, summing to 1) minimising ``alpha^T gram alpha``.

    Starts from the best pair (closed form, as in the paper's solver) and runs Frank-Wolfe with
    away steps and exact line search (plain Frank-Wolfe creeps towards a solution on a face of the
    simplex; away steps make it converge linearly), until the duality gap is below ``tolerance``
    times the largest diagonal entry; finally solves exactly on the support it found.
    """
    gram = gram.detach().to(dtype=torch.float64, device="cpu")
    count = gram.shape[0]
    alpha = torch.zeros(count, dtype=torch.float64)
    if count == 1:
        alpha[0] = 1.0
        return alpha
    best = None
    for i in range(count):
        for j in range(i + 1, count):
            gamma = min_norm_pair(float(gram[i, i]), float(gram[i, j]), float(gram[j, j]))
            cost = gamma**2 * gram[i, i] + 2 * gamma * (1 - gamma) * gram[i, j] + (1 - gamma) ** 2 * gram[j, j]
            if best is None or cost < best[0]:
                best = (float(cost), i, j, gamma)
    _, i, j, gamma = best
    alpha[i], alpha[j] = gamma, 1.0 - gamma
    scale = max(float(gram.diagonal().max()), 1e-300)
    for _ in range(max_iterations):
        gradient = gram @ alpha  # half the gradient of alpha^T G alpha
        toward = int(torch.argmin(gradient))
        support = alpha > 0
        away = int(torch.argmax(torch.where(support, gradient, torch.full_like(gradient, -torch.inf))))
        current = float(alpha @ gradient)
        gap = current - float(gradient[toward])
        if gap <= tolerance * scale:
            break
        direction = -alpha.clone()
        if gap >= float(gradient[away]) - current or alpha[away] >= 1.0:
            direction[toward] += 1.0  # Frank-Wolfe step toward a vertex
            longest = 1.0
        else:
            direction = alpha.clone()  # away step: move weight off the worst vertex in the support
            direction[away] -= 1.0
            longest = float(alpha[away] / (1.0 - alpha[away]))
        curvature = float(direction @ gram @ direction)
        slope = float(alpha @ gram @ direction)
        step = longest if curvature <= 0.0 else min(longest, max(0.0, -slope / curvature))
        alpha = (alpha + step * direction).clamp_min(0.0)
        alpha = alpha / alpha.sum()
    return _polished_on_support(gram, alpha)


def _polished_on_support(gram: Tensor, alpha: Tensor) -> Tensor:
    """Finish on the support Frank-Wolfe found, exactly: solve the KKT system there; while its
    solution leaves the simplex, move toward it until a weight reaches zero and drop that vertex
    (a primal active-set step, each lowering the objective). Never returns a worse point."""
    current = alpha.clone()
    for _ in range(alpha.numel()):
        support = torch.nonzero(current > 0).flatten()
        size = int(support.numel())
        system = torch.zeros(size + 1, size + 1, dtype=torch.float64)
        system[:size, :size] = gram[support][:, support]
        system[:size, size] = 1.0
        system[size, :size] = 1.0
        rhs = torch.zeros(size + 1, 1, dtype=torch.float64)
        rhs[size] = 1.0
        solution = torch.linalg.lstsq(system, rhs).solution.flatten()[:size]
        if not torch.isfinite(solution).all():
            break
        solution = solution / solution.sum()
        if float(solution.min()) >= 0.0:
            current = torch.zeros_like(alpha)
            current[support] = solution
            break
        direction = solution - current[support]
        ratios = torch.where(direction < 0, -current[support] / direction, torch.full_like(direction, torch.inf))
        blocking = int(torch.argmin(ratios))
        current[support] = current[support] + float(ratios[blocking]) * direction
        current[support[blocking]] = 0.0
        current = current.clamp_min(0.0) / current.clamp_min(0.0).sum()
    return current if float(current @ gram @ current) <= float(alpha @ gram @ alpha) else alpha
