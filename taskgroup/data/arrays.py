"""Reading numpy and image files with one clear error naming the file when it is missing or corrupt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from taskgroup.errors import InvalidInputError


def load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    """A .npy array, memory-mapped by default so a dataset larger than memory still loads."""
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"corrupt numpy file: {path} ({exc})") from None


def load_image(path: Path) -> np.ndarray:
    """Pixels of a PNG/JPEG as stored (uint8 for 8-bit, int32/uint16 for 16-bit images)."""
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidInputError(f"corrupt image file: {path} ({exc})") from None
