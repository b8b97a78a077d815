"""The built-in synthetic dataset: rendered scenes with ten dense labels, generated once and cached.

A generated dataset is a directory of memory-mapped `.npy` arrays (one per label, first axis the
image) and a `meta.json` with the parameters and the split boundaries. Image `i` depends only on
`(seed, i, resolution)`, so the same parameters give byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from taskgroup.data.arrays import load_npy, read_error
from taskgroup.data.render import MAX_KEYPOINTS, SEGMENT_CLASSES, Rendering, render
from taskgroup.data.scenes import sample_scene
from taskgroup.data.source import DATASETS, SPLITS, DatasetSource, Progress, check_resolution, reject_unknown_options
from taskgroup.data.spec import DatasetSpec
from taskgroup.errors import InvalidInputError

FORMAT = "taskgroup-synthetic"
VERSION = 2  # bump when the renderer changes, so stale caches are not reused
DEFAULTS: dict[str, int] = {"images": 400, "resolution": 64, "seed": 0}
OPTIONS: tuple[str, ...] = ("images", "resolution", "seed", "cache_dir")  # all about data to generate
META_FILE = "meta.json"

# Stored arrays: file stem -> (dtype, channels or None for [N,H,W]).
ARRAYS: dict[str, tuple[type, int | None]] = {
    "rgb": (np.uint8, 3),
    "depth": (np.float32, 1),
    "valid": (np.bool_, 1),
    "normal": (np.float16, 3),
    "segment": (np.uint8, None),
    "edge": (np.float16, 1),
    "occlusion": (np.float16, 1),
    "keypoint": (np.float16, 1),
    "reshade": (np.float16, 1),
    "albedo": (np.float16, 3),
    "shadow": (np.float16, 1),
    "height": (np.float32, 1),
}
DATASET_FILES = frozenset({META_FILE, "keypoints_xy.npy", *(f"{stem}.npy" for stem in ARRAYS)})
"""Every file `generate` writes into a dataset folder."""

# Task name -> whether its label has invalid (sky) pixels, given by the `valid` array.
TASK_MASKED: dict[str, bool] = {
    "segment": False,
    "depth": True,
    "normal": True,
    "edge": False,
    "occlusion": False,
    "keypoint": False,
    "reshade": True,
    "albedo": True,
    "shadow": False,
    "height": True,
}


@dataclass(frozen=True)
class SyntheticParams:
    images: int
    resolution: int
    seed: int

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SyntheticParams:
        values = {**DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS}}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"synthetic option {key} must be an integer, got {value!r}")
        params = cls(**values)
        if params.images < 3:
            raise InvalidInputError(f"synthetic option images must be at least 3 (one per split), got {params.images}")
        check_resolution("synthetic", params.resolution)
        if params.seed < 0:
            raise InvalidInputError(f"synthetic option seed must be >= 0, got {params.seed}")
        return params

    @property
    def cache_key(self) -> str:
        return f"synthetic-v{VERSION}-n{self.images}-r{self.resolution}-s{self.seed}"

    def split_ranges(self) -> dict[str, tuple[int, int]]:
        """Fixed splits by index: the last 10% (at least one image) is test, the 10% before it val."""
        held = max(1, round(self.images / 10))
        train = self.images - 2 * held
        return {"train": (0, train), "val": (train, train + held), "test": (train + held, self.images)}

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "images": self.images,
            "resolution": self.resolution,
            "seed": self.seed,
            "splits": {k: list(v) for k, v in self.split_ranges().items()},
            "segment_classes": list(SEGMENT_CLASSES),
        }


def render_image(params: SyntheticParams, index: int) -> Rendering:
    """Image `index` of a dataset; depends only on the seed, the index and the resolution."""
    rng = np.random.default_rng([params.seed, index])
    return render(sample_scene(rng), params.resolution, rng)


def generate(out: Path, params: SyntheticParams, progress: Progress | None = None, *, replace: bool = False) -> Path:
    """Render every image into `out` (written to a temporary sibling first, then renamed, so a
    crash never leaves a half-written dataset behind).

    Safe when several processes (or machines sharing the cache) generate the same `out` at once:
    the data is deterministic, so the first rename wins and the others discard their copy; a
    leftover `out` without metadata is moved aside before the rename, never deleted in place.
    With `replace`, a dataset already at `out` (of other parameters) is moved aside and replaced."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex}")
    try:  # from its mkdir to its rename: a Ctrl-C just after the mkdir must not leave it either
        tmp.mkdir(parents=True)
        _render_into(tmp, params, progress)
        if replace:
            _move_aside(out)
        _publish(tmp, out)
    except BaseException:  # Ctrl-C, SIGTERM (`data generate`) or an error: no hidden folder of gigabytes left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _render_into(tmp: Path, params: SyntheticParams, progress: Progress | None) -> None:
    """Every image's arrays and the metadata, written into the folder `tmp`."""
    n, r = params.images, params.resolution
    files = {}
    for stem, (dtype, channels) in ARRAYS.items():
        shape = (n, r, r) if channels is None else (n, channels, r, r)
        files[stem] = np.lib.format.open_memmap(tmp / f"{stem}.npy", mode="w+", dtype=dtype, shape=shape)
    keypoints = np.lib.format.open_memmap(
        tmp / "keypoints_xy.npy", mode="w+", dtype=np.float32, shape=(n, MAX_KEYPOINTS, 2)
    )
    for i in range(n):
        rendering = render_image(params, i)
        for stem, array in files.items():
            array[i] = getattr(rendering, stem)
        keypoints[i] = rendering.keypoints_xy
        if progress is not None:
            progress(i + 1, n)
    for array in [*files.values(), keypoints]:
        array.flush()
    (tmp / META_FILE).write_text(json.dumps(params.meta(), indent=2) + "\n")


def _move_aside(out: Path) -> None:
    """Move `out` out of the way and delete it (a rename first, so `out` is never half deleted)."""
    stale = out.with_name(f".{out.name}.stale-{uuid.uuid4().hex}")
    try:
        out.rename(stale)
    except FileNotFoundError:  # another process moved it, or there is nothing there
        return
    shutil.rmtree(stale, ignore_errors=True)


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished `tmp` to `out` unless another process already published it."""
    if out.exists() and not (out / META_FILE).is_file():  # a broken leftover: move it aside first
        _move_aside(out)
    try:
        tmp.rename(out)
    except OSError:  # another process published the same data first
        if not (out / META_FILE).is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def read_meta(root: Path) -> dict[str, Any]:
    """The generated dataset's parameters, checked in full (a hand-edited or damaged meta.json is
    refused here, naming it, instead of failing mid-training); a clear error if `root` is not one."""
    path = root / META_FILE
    if not root.is_dir():
        raise InvalidInputError(f"synthetic dataset directory not found: {root}")
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path} (not a generated synthetic dataset)")
    try:
        meta = json.loads(path.read_text())
    except OSError as exc:
        raise read_error(path, exc, "file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"corrupt file: {path} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InvalidInputError(f"{path} does not describe a taskgroup synthetic dataset")
    if meta.get("version") != VERSION:
        raise InvalidInputError(
            f"{path}: generated by renderer version {meta.get('version')}, this is version {VERSION}; regenerate it"
        )
    _check_meta(meta, path)
    return meta


def _check_meta(meta: dict[str, Any], path: Path) -> None:
    """Refuse parameters of the wrong type, other class names or bad split ranges (the arrays are
    checked against `images` and `resolution` when opened)."""
    for key, least in (("images", 1), ("resolution", 1), ("seed", 0)):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"corrupt file: {path} ({key} must be an integer >= {least}, got {value!r})")
    if meta.get("segment_classes") != list(SEGMENT_CLASSES):
        raise InvalidInputError(
            f"corrupt file: {path} (segment_classes must be {list(SEGMENT_CLASSES)}, got {meta.get('segment_classes')!r})"
        )
    _check_split_ranges(meta.get("splits"), meta["images"], path)


def _check_split_ranges(splits: Any, images: int, path: Path) -> None:
    """Refuse ranges that do not divide the images into consecutive non-empty train, val and test
    ranges: an empty split fails only after training, a range past the arrays mid-training."""
    if not isinstance(splits, dict) or sorted(splits) != sorted(SPLITS):
        raise InvalidInputError(f"corrupt file: {path} (splits must give train, val and test image ranges, got {splits!r})")
    start = 0
    for split in SPLITS:
        bounds = splits[split]
        well_formed = isinstance(bounds, list) and len(bounds) == 2 and all(type(b) is int for b in bounds)
        if not well_formed or not bounds[0] == start < bounds[1]:
            raise InvalidInputError(
                f"corrupt file: {path} (splits must divide images 0..{images - 1} into consecutive non-empty "
                f"ranges [start, stop] for train, val, test; found {split} {bounds!r})"
            )
        start = bounds[1]
    if start != images:
        raise InvalidInputError(f"corrupt file: {path} (splits end at image {start}, but the dataset holds {images} images)")


class SyntheticArrays:
    """The memory-mapped arrays of one generated directory, shape-checked against its meta.json.

    A `cached` directory is generated data taskgroup owns, so a damaged one is met with advice to
    delete it (it is generated again); a folder the user gave is theirs to repair."""

    def __init__(self, root: Path, *, cached: bool = False) -> None:
        self.root = root
        self.cached = cached
        try:
            self._open()
        except InvalidInputError as corrupt:
            raise self._with_remedy(corrupt) from None

    def _with_remedy(self, corrupt: InvalidInputError) -> InvalidInputError:
        if not self.cached:
            return corrupt
        return InvalidInputError(f"{corrupt}; the folder is a cache of generated data: delete {self.root} and "
                                 "the next run generates it again")

    def _open(self) -> None:
        root = self.root
        self.meta = read_meta(root)
        n, r = self.meta["images"], self.meta["resolution"]
        self.arrays: dict[str, np.ndarray] = {}
        for stem, (dtype, channels) in ARRAYS.items():
            path = root / f"{stem}.npy"
            array = load_npy(path)
            shape = (n, r, r) if channels is None else (n, channels, r, r)
            if array.shape != shape or array.dtype != dtype:
                raise InvalidInputError(
                    f"corrupt file: {path} (expected {np.dtype(dtype).name} {shape}, found {array.dtype} {array.shape})"
                )
            self.arrays[stem] = array
        self.keypoints_xy = load_npy(root / "keypoints_xy.npy")
        if self.keypoints_xy.shape != (n, MAX_KEYPOINTS, 2):
            raise InvalidInputError(
                f"corrupt file: {root / 'keypoints_xy.npy'} (expected shape {(n, MAX_KEYPOINTS, 2)}, "
                f"found {self.keypoints_xy.shape})"
            )

    def label(self, task: str, index: int) -> np.ndarray:
        """Image `index`'s label of `task`, refused when out of range: generated data never is, so
        an edited or damaged file is named here, not met as an index error or a NaN loss that
        training would report as divergence."""
        label = np.asarray(self.arrays[task][index])
        path = self.root / f"{task}.npy"
        if task == "segment":
            if label.size and label.max() >= len(SEGMENT_CLASSES):
                raise self._with_remedy(InvalidInputError(
                    f"corrupt file: {path} (image {index}: classes must be 0..{len(SEGMENT_CLASSES) - 1}, "
                    f"found {label.max()})"
                ))
        elif not np.isfinite(label).all():
            raise self._with_remedy(
                InvalidInputError(f"corrupt file: {path} (image {index} holds NaN or infinite values)")
            )
        return label

    def split_indices(self, split: str) -> range:
        start, stop = self.meta["splits"][split]
        return range(start, stop)


class SyntheticDataset(Dataset):
    """One split of a generated synthetic dataset; items are dicts of tensors (see DatasetSource)."""

    def __init__(self, arrays: SyntheticArrays, indices: range, tasks: Sequence[str]) -> None:
        self.arrays = arrays
        self.indices = indices
        self.tasks = tuple(tasks)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not 0 <= i < len(self.indices):
            raise IndexError(i)
        k = self.indices[i]
        a = self.arrays.arrays
        item = {"rgb": torch.from_numpy(a["rgb"][k].astype(np.float32) / 255.0)}
        valid = None
        for task in self.tasks:
            label = self.arrays.label(task, k)
            dtype = np.int64 if task == "segment" else np.float32
            item[task] = torch.from_numpy(label.astype(dtype))
            if TASK_MASKED[task]:
                if valid is None:
                    valid = torch.from_numpy(np.array(a["valid"][k]))
                item[f"{task}_mask"] = valid
        return item


def cache_root(options: dict[str, Any]) -> Path:
    """Where generated datasets are kept: option `cache_dir`, else $TASKGROUP_CACHE, else
    `cache` under $TASKGROUP_HOME (default ~/.taskgroup)."""
    if "cache_dir" in options:
        return Path(options["cache_dir"]).expanduser()
    if os.environ.get("TASKGROUP_CACHE"):
        return Path(os.environ["TASKGROUP_CACHE"]).expanduser()
    return Path(os.environ.get("TASKGROUP_HOME", Path.home() / ".taskgroup")).expanduser() / "cache"


def _refuse_options_beside_root(spec: DatasetSpec) -> None:
    """Every option is about generating (how, and where to cache it); a root folder's meta.json
    says how its data was made, so an option beside it would be silently ignored: refused instead."""
    if spec.options:
        raise InvalidInputError(
            f"synthetic option(s) {', '.join(sorted(spec.options))} describe data to generate, but the folder "
            f"{spec.root} is given: its own data (see its meta.json) is used as it is; drop the option(s) or the folder"
        )


def _generation_params(spec: DatasetSpec) -> SyntheticParams:
    """The parameters of the data to generate into the cache, every option checked."""
    if "cache_dir" in spec.options:
        cache_dir = spec.options["cache_dir"]
        if not isinstance(cache_dir, str) or not cache_dir.strip():
            raise InvalidInputError(f"synthetic option cache_dir must be a folder path, got {cache_dir!r}")
    return SyntheticParams.from_options(spec.options)


def ensure_generated(spec: DatasetSpec, progress: Progress | None = None) -> Path:
    """The directory holding the spec's data: `spec.root` as given, or the cache entry for its
    options, generated on first use."""
    reject_unknown_options(spec, OPTIONS)
    if spec.root is not None:
        _refuse_options_beside_root(spec)
        root = Path(spec.root).expanduser()
        read_meta(root)
        return root
    params = _generation_params(spec)
    root = cache_root(spec.options) / params.cache_key
    if not (root / META_FILE).is_file():
        generate(root, params, progress)
    return root


@DATASETS.register("synthetic")
class SyntheticSource(DatasetSource):
    """Rendered scenes (sky, ground, spheres, boxes, cylinders) with ten dense labels."""

    name = "synthetic"
    reads_from_disk = False
    path_options = ("cache_dir",)

    def tasks(self, spec: DatasetSpec) -> list[str]:
        return sorted(TASK_MASKED)

    def check_options(self, spec: DatasetSpec) -> None:
        reject_unknown_options(spec, OPTIONS)
        if spec.root is not None:
            _refuse_options_beside_root(spec)
        else:
            _generation_params(spec)

    def splits(self, spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None) -> dict[str, Dataset]:
        root = ensure_generated(spec, progress)
        arrays = SyntheticArrays(root, cached=spec.root is None)
        return {split: SyntheticDataset(arrays, arrays.split_indices(split), tasks) for split in SPLITS}
