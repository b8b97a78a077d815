"""Reading numpy and image files with one clear error naming the file when it is missing, unreadable
or corrupt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from taskgroup.errors import InvalidInputError


def read_error(path: Path, error: Exception, kind: str) -> InvalidInputError:
    """'cannot read' when the system refused the file (permissions, I/O: an OSError with an errno),
    'corrupt <kind>' when its content is wrong: the user fixes the two differently."""
    if isinstance(error, OSError) and error.errno is not None:
        return InvalidInputError(f"cannot read {path} ({error.strerror or error})")
    return InvalidInputError(f"corrupt {kind}: {path} ({error})")


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path}")


def load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    """A .npy array, memory-mapped by default so a dataset larger than memory still loads."""
    _require_file(path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise read_error(path, exc, "numpy file") from None


def open_image(path: Path) -> Image.Image:
    """A PNG/JPEG decoded into memory (so a truncated file fails here, naming it)."""
    _require_file(path)
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise read_error(path, exc, "image file") from None


def load_image(path: Path) -> np.ndarray:
    """Pixels of a PNG/JPEG as stored (uint8 for 8-bit, int32/uint16 for 16-bit images)."""
    return np.asarray(open_image(path))
