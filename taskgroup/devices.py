"""Device names users give (`--device`, `--devices`): one check for every command, before any work starts."""

from __future__ import annotations

import torch

from taskgroup.errors import InvalidInputError


def resolve_device(device: str | torch.device) -> torch.device:
    """`device` as a torch device this machine has; `auto` is CUDA where present, else the CPU.

    Refuses malformed names, a CUDA or MPS device the machine lacks, an index on the CPU (there is
    one; `--per-device` runs several workers on it) and device types taskgroup cannot train on.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"device {device!r} is not a torch device (e.g. cpu, cuda, cuda:0)") from None
    if resolved.type == "cpu" and resolved.index not in (None, 0):
        raise InvalidInputError(f"device {device!r}: there is one CPU device, `cpu` (--per-device runs several workers on it)")
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InvalidInputError(f"device {device!r}: CUDA is not available on this machine")
        if resolved.index is not None and resolved.index >= count:
            raise InvalidInputError(f"device {device!r}: only {count} CUDA device(s) are present")
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise InvalidInputError(f"device {device!r}: MPS (Apple's GPU) is not available on this machine")
    elif resolved.type != "cpu":
        raise InvalidInputError(f"device {device!r}: taskgroup runs on cpu, cuda and mps devices only")
    return resolved
