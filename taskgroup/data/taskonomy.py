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
    DATASETS, SPLITS, DatasetSource, Progress, check_resolution, reject_unknown_options, require_root,
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
PIXEL_BITS = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16, np.dtype(np.int32): 16}  # PIL: 16-bit grey is I;16 or I


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
    """How one task's label is stored: the folder/domain name, a decoder, whether the label has its
    own mask (`own_mask`) or borrows depth's validity (`depth_mask`) when available, and the bit
    depth the decoder's scale assumes (`bits`, checked: an 8-bit depth map would decode silently
    to near zero). Labels are resized with nearest-neighbour sampling, the RGB bilinearly."""

    folder: str
    decode: Callable[[np.ndarray], Any]
    own_mask: bool = False
    depth_mask: bool = False
    bits: int | None = None


DOMAINS: dict[str, Domain] = {
    "depth": Domain("depth_zbuffer", _depth, own_mask=True, bits=16),
    "normal": Domain("normal", _normal, depth_mask=True, bits=8),
    "segment": Domain("segment_semantic", _segment, own_mask=True),
    "edge": Domain("edge_texture", _scaled(EDGE_TEXTURE_FULL_SCALE), bits=16),
    "occlusion": Domain("edge_occlusion", _scaled(EDGE_OCCLUSION_FULL_SCALE), depth_mask=True, bits=16),
    "keypoint": Domain("keypoints2d", _scaled(KEYPOINTS2D_FULL_SCALE), bits=16),
    "reshade": Domain("reshading", _reshade, depth_mask=True, bits=8),
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

    def _label(self, rgb_path: Path, domain: Domain, size: tuple[int, ...]) -> Any:
        """The decoded label of `domain` for the view of `rgb_path`; any problem names the file."""
        path = label_path(rgb_path, domain.folder)
        raw = load_image(path)
        bits = PIXEL_BITS.get(raw.dtype)
        if domain.bits is not None and bits != domain.bits:
            found = f"{bits}-bit" if bits else str(raw.dtype)
            raise InvalidInputError(f"corrupt image file: {path} (expected {domain.bits}-bit pixels, found {found})")
        raw = _resize(raw, self.resolution, nearest=True)  # never blend labels or invalid markers
        if raw.shape[:2] != size:
            raise InvalidInputError(f"corrupt image file: {path} (size {raw.shape[:2]}, rgb is {size})")
        try:
            return domain.decode(raw)
        except ValueError as exc:
            raise InvalidInputError(f"corrupt image file: {path} ({exc})") from None

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        rgb_path = self.files[i]
        rgb = _resize(load_image(rgb_path), self.resolution, nearest=False)
        if rgb.ndim != 3 or rgb.shape[-1] < 3:
            raise InvalidInputError(f"corrupt image file: {rgb_path} (expected RGB, found shape {rgb.shape})")
        size = rgb.shape[:2]
        item = {"rgb": torch.from_numpy(rgb[..., :3].transpose(2, 0, 1).astype(np.float32) / 255.0)}
        depth_valid: np.ndarray | None = None
        has_depth = label_path(rgb_path, DOMAINS["depth"].folder).is_file()
        for task in self.tasks:
            domain = DOMAINS[task]
            decoded = self._label(rgb_path, domain, size)
            if domain.own_mask:
                label, mask = decoded
                item[f"{task}_mask"] = torch.from_numpy(mask)
            else:
                label = decoded
            item[task] = torch.from_numpy(np.ascontiguousarray(label))
            if domain.depth_mask and has_depth:
                if depth_valid is None:
                    depth_valid = self._label(rgb_path, DOMAINS["depth"], size)[1]
                item[f"{task}_mask"] = torch.from_numpy(depth_valid)
        return item


def _building_splits(root: Path, options: dict[str, Any]) -> dict[str, list[str]]:
    buildings = sorted(p.name for p in root.iterdir() if (p / "rgb").is_dir())
    if not buildings:
        raise InvalidInputError(f"no Taskonomy buildings (folders with an rgb/ subfolder) in {root}")
    if any(s in options for s in SPLITS):  # check_options made sure all three are given
        chosen = {s: list(options[s]) for s in SPLITS}
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


def _check_split_options(options: dict[str, Any]) -> None:
    """Refuse building lists that are malformed, leave a split empty (it would only fail after
    training) or share a building between splits (its views would leak into evaluation)."""
    if not any(s in options for s in SPLITS):
        return
    seen: dict[str, str] = {}
    for split in SPLITS:
        names = options.get(split, [])
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise InvalidInputError(
                f"taskonomy option {split} must be a list of building names, e.g. {split}='[\"b1\", \"b2\"]', "
                f"got {names!r}"
            )
        if not names:
            raise InvalidInputError(
                f"taskonomy option {split} is missing or empty: when any of train, val, test is given, each "
                "must name at least one building (an empty split would fail only after training)"
            )
        for name in names:
            if seen.get(name) == split:
                raise InvalidInputError(f"taskonomy building {name!r} is listed twice in option {split}")
            if name in seen:
                raise InvalidInputError(
                    f"taskonomy building {name!r} is in both {seen[name]} and {split}: splits must not share "
                    "buildings (its views would leak from one split into the other)"
                )
            seen[name] = split


def _require_labels(views: list[Path], task: str) -> None:
    """Refuse a building unless each view has its label of `task` (one folder listing, no file
    read): a missing label is found now, not when it is read mid-training."""
    folder = views[0].parent.parent / DOMAINS[task].folder
    if not folder.is_dir():
        raise InvalidInputError(f"missing directory: {folder} (labels of task {task!r})")
    present = {path.name for path in folder.iterdir()}
    for view in views:
        label = label_path(view, DOMAINS[task].folder)
        if label.name not in present:
            lacking = sum(label_path(v, DOMAINS[task].folder).name not in present for v in views)
            raise InvalidInputError(
                f"missing file: {label} (label of task {task!r} for {view.name}; {lacking} of the "
                f"{len(views)} views in {view.parent} have none)"
            )


@DATASETS.register("taskonomy")
class TaskonomySource(DatasetSource):
    """Taskonomy (Zamir et al., 2018) in its per-building folder layout."""

    name = "taskonomy"

    def tasks(self, spec: DatasetSpec) -> list[str]:
        return sorted(DOMAINS)

    def check_options(self, spec: DatasetSpec) -> None:
        reject_unknown_options(spec, OPTIONS)
        if spec.options.get("resolution") is not None:
            check_resolution(spec.name, spec.options["resolution"])
        _check_split_options(spec.options)

    def splits(self, spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None) -> dict[str, Dataset]:
        root = require_root(spec)
        resolution = spec.options.get("resolution")
        result: dict[str, Dataset] = {}
        for split, buildings in _building_splits(root, spec.options).items():
            files: list[Path] = []
            for building in buildings:
                views = sorted((root / building / "rgb").glob("*_domain_rgb.png"))
                if not views:
                    raise InvalidInputError(
                        f"split {split}: building {building} has no images (no *_domain_rgb.png in {root / building / 'rgb'})"
                    )
                for task in tasks:
                    _require_labels(views, task)
                files += views
            result[split] = TaskonomyDataset(files, tasks, resolution)
        return result
