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
    """The latest checkpoint in `directory`, or None when there is none yet.

    Called before training starts, so a folder that cannot hold checkpoints is refused then, not
    when the first one is saved an epoch later."""
    _check_folder(Path(directory))
    path = checkpoint_path(directory)
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:  # e.g. no permission: the file may be sound, so the system's message says it best
        raise
    except Exception as exc:  # torch raises many types, with paragraphs that do not apply, for a damaged file
        raise _corrupt(path) from exc
    if not isinstance(saved, dict):
        raise _corrupt(path)
    return saved


def _corrupt(path: Path) -> InvalidInputError:
    """The error for a checkpoint file torch cannot read back (truncated, overwritten, not ours):
    without it the run starts from scratch, which is all that is left to do."""
    return InvalidInputError(
        f"checkpoint {path} is corrupt or unreadable (not a checkpoint taskgroup wrote, or cut short); "
        "delete it to train this run again from scratch"
    )


def _check_folder(directory: Path) -> None:
    """Refuse a checkpoint folder that is a file, or lies under one: saving would fail with a bare
    "File exists" or "Not a directory"."""
    for folder in (directory, *directory.parents):
        if folder.exists():
            if folder.is_dir():
                return
            where = "" if folder == directory else f" cannot be created: {folder}"
            raise InvalidInputError(f"checkpoint folder {directory}{where} is a file, not a folder; "
                                    "give the path of a folder (it is created if missing)")
