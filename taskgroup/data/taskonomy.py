"""Taskonomy, read from its per-building layout with Taskonomy's own label encodings.

    ROOT/<building>/rgb/point_<p>_view_<v>_domain_rgb.png
    ROOT/<building>/<domain>/point_<p>_view_<v>_domain_<domain>.png

Splits are by building (options `train`, `val`, `test`: lists of building names; by default the
sorted buildings are split 80/10/10 with at least one building each for val and test).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from taskgroup.data.arrays import load_image
from taskgroup.data.source import (
    DATASETS, SPLITS, DatasetSource, Progress, reject_unknown_options, require_root,
)  # fmt: skip
from taskgroup.data.spec import DatasetSpec
from taskgroup.errors import InvalidInputError

DEPTH_UNITS_PER_METRE = 512.0  # depth_zbuffer: uint16 in 1/512 m
DEPTH_INVALID = 65535  # depth_zbuffer: no range
# 16-bit edge and keypoint maps are mapped to [0,1] by a full-scale value and clipped. The values are
# the mean + 4 std of Standley et al.'s training-set statistics (edge_texture 718 +- 1070 also
# matches Omnidata's 0.08 * 65535 clamp; edge_occlusion 56 +- 239; keypoints2d 50 +- 100).
EDGE_TEXTURE_FULL_SCALE = 0.08 * 65535
EDGE_OCCLUSION_FULL_SCALE = 56 + 4 * 239
KEYPOINTS2D_FULL_SCALE = 50 + 4 * 100
SEGMENT_CLASSES = 18  # segment_semantic: 0 = unlabelled, 1..17 classes
OPTIONS = ("train", "val", "test", "resolution")


def _gray(raw: np.ndarray) -> np.ndarray:
    return raw if raw.ndim == 2 else raw[..., :3].mean(axis=-1)


def _depth(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = _gray(raw).astype(np.float32)
    valid = raw < DEPTH_INVALID
    return np.where(valid, raw / DEPTH_UNITS_PER_METRE, 0.0)[None], valid[None]


def _normal(raw: np.ndarray) -> np.ndarray:
    if raw.ndim != 3 or raw.shape[-1] < 3:
        raise ValueError("expected an RGB image")
    return (raw[..., :3].astype(np.float32) / 255.0 * 2.0 - 1.0).transpose(2, 0, 1)


def _segment(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = _gray(raw).astype(np.int64)
    if labels.max(initial=0) >= SEGMENT_CLASSES or labels.min(initial=0) < 0:
        raise ValueError(f"class index {labels.max()} outside [0, {SEGMENT_CLASSES})")
    return labels, (labels != 0)[None]


def _scaled(full_scale: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda raw: np.clip(_gray(raw).astype(np.float32) / full_scale, 0.0, 1.0)[None]


def _reshade(raw: np.ndarray) -> np.ndarray:
    return (_gray(raw).astype(np.float32) / 255.0)[None]


@dataclass(frozen=True)
class Domain:
    """How one task's label is stored: the folder/domain name, a decoder, and whether the label
    has its own mask (`own_mask`) or borrows depth's validity (`depth_mask`) when available.
    Labels are resized with nearest-neighbour sampling, the RGB bilinearly."""

    folder: str
    decode: Callable[[np.ndarray], Any]
    own_mask: bool = False
    depth_mask: bool = False


DOMAINS: dict[str, Domain] = {
    "depth": Domain("depth_zbuffer", _depth, own_mask=True),
    "normal": Domain("normal", _normal, depth_mask=True),
    "segment": Domain("segment_semantic", _segment, own_mask=True),
    "edge": Domain("edge_texture", _scaled(EDGE_TEXTURE_FULL_SCALE)),
    "occlusion": Domain("edge_occlusion", _scaled(EDGE_OCCLUSION_FULL_SCALE), depth_mask=True),
    "keypoint": Domain("keypoints2d", _scaled(KEYPOINTS2D_FULL_SCALE)),
    "reshade": Domain("reshading", _reshade, depth_mask=True),
}


def label_path(rgb: Path, folder: str) -> Path:
    """The label file of `folder` for an RGB file (same point and view)."""
    stem = rgb.name.replace("_domain_rgb", f"_domain_{folder}")
    return rgb.parent.parent / folder / stem


def _resize(raw: np.ndarray, resolution: int | None, nearest: bool) -> np.ndarray:
    if resolution is None or raw.shape[:2] == (resolution, resolution):
        return raw
    image = Image.fromarray(raw)
    return np.asarray(image.resize((resolution, resolution), Image.NEAREST if nearest else Image.BILINEAR))


class TaskonomyDataset(Dataset):
    """Views of some buildings; items are dicts of tensors in the tasks' canonical encodings."""

    def __init__(self, files: list[Path], tasks: Sequence[str], resolution: int | None) -> None:
        self.files = files
        self.tasks = tuple(tasks)
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, path: Path, nearest: bool) -> np.ndarray:
        return _resize(load_image(path), self.resolution, nearest)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        rgb_path = self.files[i]
        rgb = self._read(rgb_path, nearest=False)
        if rgb.ndim != 3 or rgb.shape[-1] < 3:
            raise InvalidInputError(f"corrupt image file: {rgb_path} (expected RGB, found shape {rgb.shape})")
        item = {"rgb": torch.from_numpy(rgb[..., :3].transpose(2, 0, 1).astype(np.float32) / 255.0)}
        depth_valid: np.ndarray | None = None
        depth_file = label_path(rgb_path, DOMAINS["depth"].folder)
        for task in self.tasks:
            domain = DOMAINS[task]
            path = label_path(rgb_path, domain.folder)
            raw = self._read(path, nearest=True)  # never blend labels or invalid markers
            if raw.shape[:2] != rgb.shape[:2]:
                raise InvalidInputError(f"corrupt image file: {path} (size {raw.shape[:2]}, rgb is {rgb.shape[:2]})")
            try:
                decoded = domain.decode(raw)
            except ValueError as exc:
                raise InvalidInputError(f"corrupt image file: {path} ({exc})") from None
            if domain.own_mask:
                label, mask = decoded
                item[f"{task}_mask"] = torch.from_numpy(mask)
            else:
                label = decoded
            item[task] = torch.from_numpy(np.ascontiguousarray(label))
            if domain.depth_mask and depth_file.is_file():
                if depth_valid is None:
                    depth_valid = _depth(self._read(depth_file, True))[1]
                item[f"{task}_mask"] = torch.from_numpy(depth_valid)
        return item


def _building_splits(root: Path, options: dict[str, Any]) -> dict[str, list[str]]:
    buildings = sorted(p.name for p in root.iterdir() if (p / "rgb").is_dir())
    if not buildings:
        raise InvalidInputError(f"no Taskonomy buildings (folders with an rgb/ subfolder) in {root}")
    if any(options.get(s) for s in SPLITS):
        chosen = {s: list(options.get(s) or []) for s in SPLITS}
        for split, names in chosen.items():
            for name in names:
                if name not in buildings:
                    raise InvalidInputError(f"taskonomy {split} building {name!r} not found in {root}")
        return chosen
    if len(buildings) < 3:
        raise InvalidInputError(
            f"{root} holds {len(buildings)} building(s); splitting by building needs at least 3 "
            "(or name them with the train/val/test options)"
        )
    held = max(1, round(len(buildings) / 10))
    return {"train": buildings[: -2 * held], "val": buildings[-2 * held : -held], "test": buildings[-held:]}


@DATASETS.register("taskonomy")
class TaskonomySource(DatasetSource):
    """Taskonomy (Zamir et al., 2018) in its per-building folder layout."""

    name = "taskonomy"

    def tasks(self, spec: DatasetSpec) -> list[str]:
        return sorted(DOMAINS)

    def check_options(self, spec: DatasetSpec) -> None:
        reject_unknown_options(spec, OPTIONS)
        resolution = spec.options.get("resolution")
        if resolution is not None and (not isinstance(resolution, int) or resolution < 8):
            raise InvalidInputError(f"taskonomy option resolution must be an integer >= 8, got {resolution!r}")
        for split in SPLITS:
            if not isinstance(spec.options.get(split, []), list):
                raise InvalidInputError(
                    f"taskonomy option {split} must be a list of building names, e.g. {split}='[\"b1\", \"b2\"]', "
                    f"got {spec.options[split]!r}"
                )

    def splits(self, spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None) -> dict[str, Dataset]:
        root = require_root(spec)
        resolution = spec.options.get("resolution")
        result: dict[str, Dataset] = {}
        for split, buildings in _building_splits(root, spec.options).items():
            files: list[Path] = []
            for building in buildings:
                for task in tasks:
                    folder = root / building / DOMAINS[task].folder
                    if not folder.is_dir():
                        raise InvalidInputError(f"missing directory: {folder} (labels of task {task!r})")
                files += sorted((root / building / "rgb").glob("*_domain_rgb.png"))
            result[split] = TaskonomyDataset(files, tasks, resolution)
        return result
