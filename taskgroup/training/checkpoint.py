"""Atomic checkpoint files that `torch.load(weights_only=True)` can read back.

A checkpoint is written to a temporary file in the same directory, flushed to disk and renamed over
the previous one, so a crash at any moment leaves either the old or the new checkpoint, never a
torn file. Payloads hold only tensors and primitive containers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from taskgroup.errors import InvalidInputError

CHECKPOINT_FILE = "last.pt"


def checkpoint_path(directory: Path) -> Path:
    """Where the run checkpointed in `directory` keeps its latest checkpoint."""
    return Path(directory) / CHECKPOINT_FILE


def save_checkpoint(directory: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` atomically as the latest checkpoint in `directory` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory)
    temporary = directory / f".{CHECKPOINT_FILE}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        torch.save(_own_storage(payload), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def _own_storage(value: Any) -> Any:
    """`value` with every tensor that views a larger storage copied out: `torch.save` writes a view's
    whole storage, and a candidate trained in a stacked group holds views of storage shared by K."""
    if isinstance(value, torch.Tensor):
        owned = value.untyped_storage().nbytes() == value.numel() * value.element_size()
        return value if owned else value.clone()
    if isinstance(value, dict):
        return {key: _own_storage(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_own_storage(item) for item in value)
    return value


def load_checkpoint(directory: Path) -> dict[str, Any] | None:
    """The latest checkpoint in `directory`, or None when there is none yet."""
    path = checkpoint_path(directory)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable files
        raise InvalidInputError(f"checkpoint {path} cannot be read ({exc}); delete it to start over") from exc
