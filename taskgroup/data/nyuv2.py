"""NYUv2 in the widely used preprocessed layout (Liu et al.'s MTAN release, 13 classes, 288x384):

    ROOT/<split>/image/<i>.npy   float [H,W,3] in [0,1]
    ROOT/<split>/label/<i>.npy   float [H,W], class 0..12, -1 = unlabelled
    ROOT/<split>/depth/<i>.npy   float [H,W,1] metres, 0 = no reading
    ROOT/<split>/normal/<i>.npy  float [H,W,3] in [-1,1], 0 = unknown

The release has `train/` (795 images) and `val/` (the 654 standard test images). With only those
two, `test` is `val/` and our `val` is the last 10% of `train/`; a `test/` folder, if present, is
used as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from taskgroup.data.arrays import load_npy
from taskgroup.data.source import DATASETS, DatasetSource, Progress, reject_unknown_options, require_root
from taskgroup.data.spec import DatasetSpec
from taskgroup.errors import InvalidInputError

FOLDERS = {"segment": "label", "depth": "depth", "normal": "normal"}
CLASSES = 13


def _hwc(array: np.ndarray, channels: int, path: Path) -> np.ndarray:
    """[C,H,W] float32 from a [H,W] or [H,W,C] array with C == channels."""
    if array.ndim == 2 and channels == 1:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] != channels:
        raise InvalidInputError(f"corrupt numpy file: {path} (expected [H,W,{channels}], found {array.shape})")
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


IMAGE_SLACK = 1e-3
"""Rounding a preprocessing step may leave outside [0,1] (clipped); anything further is another scale."""
LABEL_SLACK = 1e-3
"""How far a stored class index may be from a whole number (float rounding) before it is refused."""


def _finite(path: Path) -> np.ndarray:
    """The array at `path`, refused unless it holds real, finite numbers: a NaN would otherwise pass
    the masks and turn the loss NaN, which training reports as divergence, not as a bad file."""
    array = load_npy(path, mmap=False)
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"corrupt numpy file: {path} (expected real numbers, found dtype {array.dtype})")
    if not np.isfinite(array).all():
        raise InvalidInputError(f"corrupt numpy file: {path} (holds NaN or infinite values)")
    return array


def _image(path: Path) -> np.ndarray:
    """The [3,H,W] image at `path`, which must be float in [0,1] (a 0..255 image is refused rather
    than clipped to near white)."""
    array = _finite(path)
    if array.dtype.kind != "f":
        raise InvalidInputError(
            f"corrupt numpy file: {path} (images must be float in [0,1], found {array.dtype}; divide 0..255 images by 255)"
        )
    if array.size and (array.min() < -IMAGE_SLACK or array.max() > 1.0 + IMAGE_SLACK):
        raise InvalidInputError(
            f"corrupt numpy file: {path} (image values must be in [0,1], found [{array.min():g}, {array.max():g}])"
        )
    return np.clip(_hwc(array, 3, path), 0.0, 1.0)


class NYUv2Dataset(Dataset):
    def __init__(self, folder: Path, indices: list[int], tasks: Sequence[str]) -> None:
        self.folder = folder
        self.indices = indices
        self.tasks = tuple(tasks)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        k = self.indices[i]
        rgb = _image(self.folder / "image" / f"{k}.npy")
        item = {"rgb": torch.from_numpy(rgb)}
        for task in self.tasks:
            path = self.folder / FOLDERS[task] / f"{k}.npy"
            array = _finite(path)
            if array.shape[:2] != rgb.shape[1:]:
                raise InvalidInputError(f"corrupt numpy file: {path} (size {array.shape[:2]}, image is {rgb.shape[1:]})")
            if task == "segment":
                classes = _hwc(array, 1, path)[0]
                labels = np.rint(classes).astype(np.int64)
                if labels.max(initial=-1) >= CLASSES or labels.min(initial=0) < -1:
                    raise InvalidInputError(f"corrupt numpy file: {path} (classes must be -1..{CLASSES - 1})")
                if np.abs(classes - labels).max(initial=0.0) > LABEL_SLACK:  # a resized or blended label map
                    raise InvalidInputError(f"corrupt numpy file: {path} (classes must be whole numbers -1..{CLASSES - 1}, "
                                            f"found {classes.flat[np.argmax(np.abs(classes - labels))]:g})")
                item["segment_mask"] = torch.from_numpy(labels >= 0)[None]
                item["segment"] = torch.from_numpy(np.maximum(labels, 0))
            elif task == "depth":
                depth = _hwc(array, 1, path)
                item["depth_mask"] = torch.from_numpy(depth > 0)
                item["depth"] = torch.from_numpy(np.maximum(depth, 0.0))
            else:
                normal = _hwc(array, 3, path)
                if normal.size and np.abs(normal).max() > 1.0 + IMAGE_SLACK:
                    raise InvalidInputError(
                        f"corrupt numpy file: {path} (normals must be in [-1,1], found [{normal.min():g}, "
                        f"{normal.max():g}]; map a 0..255 normal map with value/127.5 - 1)"
                    )
                item["normal_mask"] = torch.from_numpy(np.linalg.norm(normal, axis=0, keepdims=True) > 0.5)
                item["normal"] = torch.from_numpy(np.clip(normal, -1.0, 1.0))
        return item


def _npy_names(folder: Path) -> set[str]:
    """Names of the `.npy` files in `folder` (listing only: no file is read)."""
    if not folder.is_dir():
        raise InvalidInputError(f"missing directory: {folder}")
    return {path.name for path in folder.glob("*.npy")}


def _by_index(name: str) -> tuple[int, str]:
    """Sort key putting 10.npy after 9.npy."""
    return len(name), name


def _require_indexed(folder: Path, names: set[str], count: int, why: str) -> None:
    """Items are read by index: refuse unless `names` are exactly `0.npy` .. `<count-1>.npy`."""
    expected = {f"{i}.npy" for i in range(count)}
    if missing := sorted(expected - names, key=_by_index):
        raise InvalidInputError(f"missing file: {folder / missing[0]} ({why}: 0.npy to {count - 1}.npy)")
    if extra := sorted(names - expected, key=_by_index):
        raise InvalidInputError(f"unexpected file: {folder / extra[0]} ({why}: 0.npy to {count - 1}.npy)")


def _count(split: str, folder: Path, tasks: Sequence[str]) -> int:
    """Images in a split's folder, refused when empty or when a label folder does not hold exactly
    one file per image (found now, not when a missing label is read mid-training)."""
    image = folder / "image"
    names = _npy_names(image)
    if not names:
        raise InvalidInputError(f"split {split} is empty: no images (*.npy) in {image}")
    _require_indexed(image, names, len(names), f"the {len(names)} images must be named by index")
    for task in tasks:
        labels = folder / FOLDERS[task]
        _require_indexed(labels, _npy_names(labels), len(names), f"one label file per image of {image}")
    return len(names)


@DATASETS.register("nyuv2")
class NYUv2Source(DatasetSource):
    """NYUv2 (Silberman et al., 2012), preprocessed numpy layout."""

    name = "nyuv2"

    def tasks(self, spec: DatasetSpec) -> list[str]:
        return sorted(FOLDERS)

    def check_options(self, spec: DatasetSpec) -> None:
        reject_unknown_options(spec, ())

    def splits(self, spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None) -> dict[str, Dataset]:
        root = require_root(spec)
        if (root / "test").is_dir():
            return {
                split: NYUv2Dataset(root / split, list(range(_count(split, root / split, tasks))), tasks)
                for split in ("train", "val", "test")
            }
        train_count = _count("train", root / "train", tasks)
        test_count = _count("test", root / "val", tasks)
        if train_count < 2:
            raise InvalidInputError(f"{root / 'train'} needs at least 2 images to hold out a validation split")
        held = max(1, round(train_count / 10))
        return {
            "train": NYUv2Dataset(root / "train", list(range(train_count - held)), tasks),
            "val": NYUv2Dataset(root / "train", list(range(train_count - held, train_count)), tasks),
            "test": NYUv2Dataset(root / "val", list(range(test_count)), tasks),
        }
