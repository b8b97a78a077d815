"""Random-number streams that can be swapped in and out and saved in a `weights_only` checkpoint.

Each candidate owns one stream and the data loader another, so a candidate consumes exactly the
same random numbers whether it is trained alone, in lockstep with others, or resumed from a
checkpoint. A stream holds the torch (CPU and, when used, CUDA), NumPy and Python generator states.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy and Python's generators (what `RngStream.from_seed` starts from)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class RngStream:
    """One saved set of generator states, made current by `active()`."""

    def __init__(self, state: dict[str, Any], cuda: bool) -> None:
        self._state = state
        self._cuda = cuda

    @classmethod
    def from_seed(cls, seed: int, cuda: bool = False) -> RngStream:
        """A stream positioned where a freshly seeded process would be."""
        seed_everything(seed)
        return cls(_capture(cuda), cuda)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this stream the global generators' state for the block, then store where it got to."""
        _restore(self._state, self._cuda)
        try:
            yield
        finally:
            self._state = _capture(self._cuda)

    def to_checkpoint(self) -> dict[str, Any]:
        """The states as tensors and primitives only, so `torch.load(weights_only=True)` accepts them."""
        np_kind, np_keys, np_pos, np_has_gauss, np_cached = self._state["numpy"]
        py_version, py_internal, py_gauss = self._state["python"]
        saved: dict[str, Any] = {
            "torch": self._state["torch"].clone(),
            "numpy": {
                "kind": np_kind,
                "keys": torch.from_numpy(np_keys.astype(np.int64)),
                "pos": int(np_pos),
                "has_gauss": int(np_has_gauss),
                "cached": float(np_cached),
            },
            "python": {
                "version": int(py_version),
                "internal": torch.tensor(py_internal, dtype=torch.int64),
                "gauss": py_gauss,
            },
        }
        if self._cuda:
            saved["cuda"] = [state.clone() for state in self._state["cuda"]]
        return saved

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any], cuda: bool) -> RngStream:
        """The inverse of `to_checkpoint`."""
        numpy_saved, python_saved = saved["numpy"], saved["python"]
        state: dict[str, Any] = {
            "torch": saved["torch"],
            "numpy": (
                numpy_saved["kind"],
                numpy_saved["keys"].numpy().astype(np.uint32),
                numpy_saved["pos"],
                numpy_saved["has_gauss"],
                numpy_saved["cached"],
            ),
            "python": (
                python_saved["version"],
                tuple(int(value) for value in python_saved["internal"].tolist()),
                python_saved["gauss"],
            ),
        }
        if cuda:
            state["cuda"] = saved.get("cuda") or _capture(True)["cuda"]
        return cls(state, cuda)


def _capture(cuda: bool) -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if cuda:
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore(state: dict[str, Any], cuda: bool) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if cuda:
        torch.cuda.set_rng_state_all(state["cuda"])
