"""The minimum-norm point in the convex hull of a few vectors, by Frank-Wolfe (Sener & Koltun 2018).

Works on the Gram matrix only, so its cost does not depend on the vectors' length once the Gram
matrix is formed.
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


def min_norm_weights(gram: Tensor, max_iterations: int = 1000, tolerance: float = 1e-10) -> Tensor:
    """Convex weights ``alpha`` (non-negative, summing to 1) minimising ``alpha^T gram alpha``.

    Starts from the best pair (closed form, as in the paper's solver) and runs Frank-Wolfe with
    exact line search until the duality gap is below ``tolerance`` times the largest diagonal entry.
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
        vertex = int(torch.argmin(gradient))
        gap = float(alpha @ gradient - gradient[vertex])
        if gap <= tolerance * scale:
            break
        step = min_norm_pair(float(alpha @ gradient), float(gradient[vertex]), float(gram[vertex, vertex]))
        alpha = step * alpha
        alpha[vertex] += 1.0 - step
    return alpha
