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


class NYUv2Dataset(Dataset):
    def __init__(self, folder: Path, indices: list[int], tasks: Sequence[str]) -> None:
        self.folder = folder
        self.indices = indices
        self.tasks = tuple(tasks)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        k = self.indices[i]
        path = self.folder / "image" / f"{k}.npy"
        rgb = _hwc(load_npy(path, mmap=False), 3, path)
        item = {"rgb": torch.from_numpy(np.clip(rgb, 0.0, 1.0))}
        for task in self.tasks:
            path = self.folder / FOLDERS[task] / f"{k}.npy"
            array = load_npy(path, mmap=False)
            if array.shape[:2] != rgb.shape[1:]:
                raise InvalidInputError(f"corrupt numpy file: {path} (size {array.shape[:2]}, image is {rgb.shape[1:]})")
            if task == "segment":
                labels = np.rint(array.reshape(array.shape[:2])).astype(np.int64)
                if labels.max(initial=-1) >= CLASSES or labels.min(initial=0) < -1:
                    raise InvalidInputError(f"corrupt numpy file: {path} (classes must be -1..{CLASSES - 1})")
                item["segment_mask"] = torch.from_numpy(labels >= 0)[None]
                item["segment"] = torch.from_numpy(np.maximum(labels, 0))
            elif task == "depth":
                depth = _hwc(array, 1, path)
                item["depth_mask"] = torch.from_numpy(depth > 0)
                item["depth"] = torch.from_numpy(np.maximum(depth, 0.0))
            else:
                normal = _hwc(array, 3, path)
                item["normal_mask"] = torch.from_numpy(np.linalg.norm(normal, axis=0, keepdims=True) > 0.5)
                item["normal"] = torch.from_numpy(np.clip(normal, -1.0, 1.0))
        return item


def _count(folder: Path) -> int:
    image = folder / "image"
    if not image.is_dir():
        raise InvalidInputError(f"missing directory: {image}")
    count = len(list(image.glob("*.npy")))
    if count == 0:
        raise InvalidInputError(f"no images (*.npy) in {image}")
    return count


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
        for split in ("train", "val"):
            for folder in ["image", *(FOLDERS[t] for t in tasks)]:
                if not (root / split / folder).is_dir():
                    raise InvalidInputError(f"missing directory: {root / split / folder}")
        train_count = _count(root / "train")
        if (root / "test").is_dir():
            return {
                "train": NYUv2Dataset(root / "train", list(range(train_count)), tasks),
                "val": NYUv2Dataset(root / "val", list(range(_count(root / "val"))), tasks),
                "test": NYUv2Dataset(root / "test", list(range(_count(root / "test"))), tasks),
            }
        if train_count < 2:
            raise InvalidInputError(f"{root / 'train'} needs at least 2 images to hold out a validation split")
        held = max(1, round(train_count / 10))
        return {
            "train": NYUv2Dataset(root / "train", list(range(train_count - held)), tasks),
            "val": NYUv2Dataset(root / "train", list(range(train_count - held, train_count)), tasks),
            "test": NYUv2Dataset(root / "val", list(range(_count(root / "val"))), tasks),
        }
