"""The synthetic dataset: determinism, physical consistency of its labels, loading and caching."""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from taskgroup.data import DatasetSpec, available_tasks, load_splits
from taskgroup.data.render import OCCLUSION_JUMP, SEGMENT_CLASSES
from taskgroup.data.scenes import FOV_DEGREES
from taskgroup.data.synthetic import ARRAYS, SyntheticArrays, SyntheticParams, generate
from taskgroup.errors import InvalidInputError
from taskgroup.tasks import get_task

ALL_TASKS = ["segment", "depth", "normal", "edge", "occlusion", "keypoint", "reshade", "albedo", "shadow", "height"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 images at 32x32: the size the issue asks to be quick."""
    return generate(tmp_path_factory.mktemp("syn") / "small", SyntheticParams(images=24, resolution=32, seed=7))


@pytest.fixture(scope="module")
def sharp(tmp_path_factory: pytest.TempPathFactory) -> SyntheticArrays:
    """A few 64x64 images, enough pixels per surface to check geometry."""
    return SyntheticArrays(generate(tmp_path_factory.mktemp("syn") / "sharp", SyntheticParams(8, 64, seed=1)))


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_same_parameters_give_identical_bytes_and_another_seed_differs(small: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", SyntheticParams(images=24, resolution=32, seed=7))
    assert _files(again) == _files(small)
    other = SyntheticArrays(generate(tmp_path / "other", SyntheticParams(images=24, resolution=32, seed=8)))
    mine = SyntheticArrays(small)
    for k in range(24):
        assert not np.array_equal(other.arrays["rgb"][k], mine.arrays["rgb"][k])


def test_an_image_does_not_depend_on_how_many_images_are_generated(small: Path, tmp_path: Path) -> None:
    fewer = SyntheticArrays(generate(tmp_path / "fewer", SyntheticParams(images=5, resolution=32, seed=7)))
    mine = SyntheticArrays(small)
    for stem in ARRAYS:
        np.testing.assert_array_equal(fewer.arrays[stem][:5], mine.arrays[stem][:5])


def test_generation_reports_progress_for_every_image(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(tmp_path / "p", SyntheticParams(images=4, resolution=16, seed=0), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_an_interrupted_generation_leaves_nothing_behind(tmp_path: Path) -> None:
    """A Ctrl-C in `data generate` left a hidden `.OUT.tmp-<hex>` folder of memory-mapped arrays
    (6.3 GB in one trial) that nothing ever removed."""
    def interrupt(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "p", SyntheticParams(images=4, resolution=16, seed=0), progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_splits_are_fixed_and_disjoint(small: Path) -> None:
    splits = load_splits(DatasetSpec(root=small), ["depth"])
    assert {k: len(v) for k, v in splits.items()} == {"train": 20, "val": 2, "test": 2}
    indices = [list(splits[s].indices) for s in ("train", "val", "test")]
    assert sorted(sum(indices, [])) == list(range(24))


def test_items_have_the_documented_shapes_dtypes_ranges_and_masks(small: Path) -> None:
    splits = load_splits(DatasetSpec(root=small), ALL_TASKS)
    batch = next(iter(DataLoader(splits["train"], batch_size=20)))
    b, r = 20, 32
    assert batch["rgb"].dtype == torch.float32 and batch["rgb"].shape == (b, 3, r, r)
    assert 0.0 <= batch["rgb"].min() and batch["rgb"].max() <= 1.0
    seg = batch["segment"]
    assert seg.dtype == torch.int64 and seg.shape == (b, r, r)
    assert 0 <= seg.min() and seg.max() < len(SEGMENT_CLASSES) <= get_task("segment").channels
    for name in ["depth", "normal", "edge", "occlusion", "keypoint", "reshade", "albedo", "shadow", "height"]:
        assert batch[name].dtype == torch.float32
        assert batch[name].shape == (b, get_task(name).channels, r, r)
    for name in ["edge", "occlusion", "keypoint", "reshade", "albedo", "shadow"]:
        assert 0.0 <= batch[name].min() and batch[name].max() <= 1.0
    assert set(batch["occlusion"].unique().tolist()) <= {0.0, 1.0}
    assert set(batch["shadow"].unique().tolist()) == {0.0, 1.0}
    valid = batch["depth_mask"]
    assert valid.dtype == torch.bool and valid.shape == (b, 1, r, r)
    for name in ["normal", "reshade", "albedo", "height"]:
        assert torch.equal(batch[f"{name}_mask"], valid)
    assert 0 < valid.float().mean() < 1  # the sky is invalid, the rest is not
    sky = seg == SEGMENT_CLASSES.index("sky")
    assert torch.equal(sky, ~valid[:, 0])
    assert torch.all(batch["depth"][valid] > 0) and torch.all(batch["depth"][~valid] == 0)
    norms = batch["normal"].norm(dim=1)
    assert torch.allclose(norms[valid[:, 0]], torch.ones(()), atol=2e-3)
    assert torch.all(batch["normal"].abs() <= 1.0)
    for name in ["reshade", "albedo", "height"]:
        assert torch.all(batch[name][~valid.expand_as(batch[name])] == 0)
    assert torch.all(batch["shadow"][~valid] == 0)  # the sky is never in a shadow
    assert "segment_mask" not in batch and "edge_mask" not in batch and "shadow_mask" not in batch


def test_only_the_requested_labels_are_read(small: Path) -> None:
    item = load_splits(DatasetSpec(root=small), ["edge"])["val"][0]
    assert set(item) == {"rgb", "edge"}


def _camera_points(depth: np.ndarray) -> np.ndarray:
    """Back-project a z-buffer into camera coordinates (x right, y up, z towards the viewer)."""
    r = depth.shape[0]
    tan = np.tan(np.radians(FOV_DEGREES) / 2)
    c = (np.arange(r) + 0.5) / r * 2 - 1
    x, y = np.meshgrid(c, -c)
    return np.stack([x * tan * depth, y * tan * depth, -depth], axis=-1)


def test_normals_agree_with_the_depth_gradient_where_the_surface_is_smooth(sharp: SyntheticArrays) -> None:
    errors = []
    for k in range(sharp.meta["images"]):
        depth = sharp.arrays["depth"][k, 0].astype(np.float64)
        normal = sharp.arrays["normal"][k].astype(np.float64).transpose(1, 2, 0)
        valid, seg = sharp.arrays["valid"][k, 0], sharp.arrays["segment"][k]
        occ = sharp.arrays["occlusion"][k, 0] > 0
        p = _camera_points(depth)
        right = (p[1:-1, 2:] - p[1:-1, :-2]) / 2
        up = (p[:-2, 1:-1] - p[2:, 1:-1]) / 2
        derived = np.cross(right, up)
        derived /= np.linalg.norm(derived, axis=-1, keepdims=True) + 1e-12
        centre = normal[1:-1, 1:-1]
        smooth = valid[1:-1, 1:-1] & ~occ[1:-1, 1:-1]
        for dy, dx in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
            ys, xs = slice(1 + dy, seg.shape[0] - 1 + dy), slice(1 + dx, seg.shape[1] - 1 + dx)
            smooth &= valid[ys, xs] & (seg[ys, xs] == seg[1:-1, 1:-1]) & ~occ[ys, xs]
            smooth &= np.einsum("ijk,ijk->ij", normal[ys, xs], centre) > 0.97  # not across a box crease
        cos = np.clip(np.einsum("ijk,ijk->ij", derived, centre)[smooth], -1, 1)
        errors.append(np.degrees(np.arccos(cos)))
    errors = np.concatenate(errors)
    assert len(errors) > 5000
    assert np.median(errors) < 2.0
    assert np.percentile(errors, 95) < 10.0


def test_occlusion_edges_sit_exactly_on_depth_discontinuities(sharp: SyntheticArrays) -> None:
    for k in range(sharp.meta["images"]):
        valid = sharp.arrays["valid"][k, 0]
        z = np.where(valid, sharp.arrays["depth"][k, 0], np.inf)
        seg = sharp.arrays["segment"][k]
        occ = sharp.arrays["occlusion"][k, 0] > 0
        assert occ.any()
        near_jump = np.zeros_like(occ)
        for a, b in [((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                     ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))]:  # fmt: skip
            za, zb = z[a], z[b]
            with np.errstate(invalid="ignore"):
                jump = np.abs(za - zb) / np.minimum(za, zb)
            disc = (valid[a] != valid[b]) | (np.isfinite(jump) & (jump > OCCLUSION_JUMP))
            near_jump[a] |= disc
            near_jump[b] |= disc
            # Sky meets a surface, or two different surfaces with a large gap: always an edge.
            must = (valid[a] != valid[b]) | ((seg[a] != seg[b]) & valid[a] & valid[b] & (jump > 4 * OCCLUSION_JUMP))
            assert np.all(occ[a][must]) and np.all(occ[b][must])
        assert np.all(near_jump[occ]), "an occlusion edge without a depth discontinuity next to it"


def test_texture_edges_follow_image_gradients_and_segment_boundaries(sharp: SyntheticArrays) -> None:
    on_boundary, inside, corr = [], [], []
    for k in range(sharp.meta["images"]):
        edge = sharp.arrays["edge"][k, 0].astype(np.float64)
        grey = sharp.arrays["rgb"][k].astype(np.float64).mean(axis=0) / 255
        gy, gx = np.gradient(grey)
        corr.append(np.corrcoef(np.hypot(gx, gy).ravel(), edge.ravel())[0, 1])
        seg = sharp.arrays["segment"][k]
        boundary = np.zeros(seg.shape, dtype=bool)
        boundary[:, 1:] |= seg[:, 1:] != seg[:, :-1]
        boundary[1:, :] |= seg[1:, :] != seg[:-1, :]
        on_boundary.append(edge[boundary])
        inside.append(edge[~boundary])
    assert min(corr) > 0.7  # a different gradient estimator, and edges saturate at 1
    assert np.mean(np.concatenate(on_boundary)) > 1.5 * np.mean(np.concatenate(inside))


def test_keypoints_are_visible_box_corners_inside_the_image_and_peak_the_heatmap(sharp: SyntheticArrays) -> None:
    r = sharp.meta["resolution"]
    total = 0
    for k in range(sharp.meta["images"]):
        xy = sharp.keypoints_xy[k]
        xy = xy[~np.isnan(xy[:, 0])]
        total += len(xy)
        heat = sharp.arrays["keypoint"][k, 0].astype(np.float64)
        seg = sharp.arrays["segment"][k]
        assert np.all((xy >= 0) & (xy <= r - 1)), "keypoint outside the image"
        for col, row in np.rint(xy).astype(int):
            assert heat[row, col] >= 0.7
            window = seg[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
            assert (window == SEGMENT_CLASSES.index("box")).any(), "keypoint not on a box"
        rows, cols = np.nonzero(heat > 0.5)
        if len(xy):
            dist = np.hypot(cols[:, None] - xy[None, :, 0], rows[:, None] - xy[None, :, 1]).min(axis=1)
            assert np.all(dist < 3.0)
        else:
            assert len(rows) == 0
    assert total > 0


def test_the_image_is_albedo_times_light_and_cast_shadows_get_the_ambient_light_only(sharp: SyntheticArrays) -> None:
    shadowed_images = 0
    for k in range(sharp.meta["images"]):
        rgb = sharp.arrays["rgb"][k].astype(np.float64) / 255
        albedo = sharp.arrays["albedo"][k].astype(np.float64)
        shadow = sharp.arrays["shadow"][k, 0] > 0
        bright = sharp.arrays["valid"][k, 0] & (albedo.min(axis=0) > 0.25)  # enough signal over the noise
        ratio = (rgb / np.maximum(albedo, 1e-6)).mean(axis=0)
        assert np.all(rgb[:, bright] <= albedo[:, bright] + 0.03)  # light never exceeds 1, plus sensor noise
        in_shadow = ratio[bright & shadow]
        if len(in_shadow) < 10:
            continue
        shadowed_images += 1
        ambient = np.median(in_shadow)
        assert 0.2 - 0.03 <= ambient <= 0.4 + 0.03  # the scenes' ambient level
        assert np.percentile(np.abs(in_shadow - ambient), 90) < 0.06  # one light level in every cast shadow
        assert np.median(ratio[bright & ~shadow]) > ambient  # outside them the direct light adds
    assert shadowed_images >= 3


def test_height_is_zero_on_the_ground_and_positive_on_the_objects(sharp: SyntheticArrays) -> None:
    for k in range(sharp.meta["images"]):
        height = sharp.arrays["height"][k, 0]
        seg = sharp.arrays["segment"][k]
        ground = seg == SEGMENT_CLASSES.index("ground")
        objects = sharp.arrays["valid"][k, 0] & ~ground
        assert np.all(np.abs(height[ground]) < 1e-4)
        assert objects.any() and np.all(height[objects] > 0)
        assert height.max() <= 1.7 + 1e-3  # the tallest primitive: a sphere of radius 0.85
        assert np.all(height[~sharp.arrays["valid"][k, 0]] == 0)


def test_loading_without_a_root_generates_once_into_the_cache(tmp_path: Path) -> None:
    spec = DatasetSpec(options={"images": 6, "resolution": 16, "seed": 3, "cache_dir": str(tmp_path / "c")})
    calls: list[int] = []
    splits = load_splits(spec, ["depth", "segment"], progress=lambda d, t: calls.append(d))
    assert calls == [1, 2, 3, 4, 5, 6]
    cached = list((tmp_path / "c").iterdir())
    assert [p.name for p in cached] == ["synthetic-v2-n6-r16-s3"]
    again = load_splits(spec, ["depth"], progress=lambda d, t: calls.append(d))
    assert calls == [1, 2, 3, 4, 5, 6]  # nothing rendered the second time
    assert torch.equal(again["test"][0]["depth"], splits["test"][0]["depth"])


def test_cache_defaults_to_taskgroup_cache_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASKGROUP_CACHE", str(tmp_path / "env-cache"))
    load_splits(DatasetSpec(options={"images": 3, "resolution": 8}), ["edge"])
    assert (tmp_path / "env-cache" / "synthetic-v2-n3-r8-s0" / "meta.json").is_file()


def test_synthetic_lists_its_ten_tasks() -> None:
    assert available_tasks(DatasetSpec()) == sorted(ALL_TASKS)


def _generate_at(args: tuple[str, int]) -> str:
    """Generate the same small dataset in another process (top level: picklable for spawn)."""
    out, start = args
    while time.time() < start:  # start together
        time.sleep(0.001)
    return str(generate(Path(out), SyntheticParams(images=6, resolution=16, seed=3)))


def test_concurrent_generation_of_the_same_dataset_is_safe(tmp_path) -> None:
    out = tmp_path / "shared"
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.map(_generate_at, [(str(out), time.time() + 3)] * 3)
    assert results == [str(out)] * 3
    arrays = SyntheticArrays(out)
    expected = SyntheticArrays(generate(tmp_path / "alone", SyntheticParams(images=6, resolution=16, seed=3)))
    for stem, array in expected.arrays.items():
        assert np.array_equal(arrays.arrays[stem], array), stem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "shared"]  # no temporary copy left


def test_a_broken_leftover_is_replaced(tmp_path) -> None:
    out = tmp_path / "broken"
    out.mkdir()
    (out / "depth.npy").write_bytes(b"half a file")
    generate(out, SyntheticParams(images=4, resolution=16, seed=3))
    assert SyntheticArrays(out).meta["images"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_generating_again_never_removes_a_published_dataset(tmp_path) -> None:
    """Another worker may be reading it: a second generation discards its own copy instead."""
    params = SyntheticParams(images=4, resolution=16, seed=3)
    out = generate(tmp_path / "published", params)
    files = {path.name: path.stat().st_ino for path in out.iterdir()}
    generate(out, params)
    assert {path.name: path.stat().st_ino for path in out.iterdir()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published"]


def test_a_corrupt_cache_entry_says_to_delete_it_and_then_loads_again(tmp_path) -> None:
    spec = DatasetSpec(options={"images": 3, "resolution": 8, "cache_dir": str(tmp_path / "c")})
    load_splits(spec, ["depth"])
    entry = tmp_path / "c" / "synthetic-v2-n3-r8-s0"
    (entry / "depth.npy").write_bytes((entry / "depth.npy").read_bytes()[:100])
    with pytest.raises(InvalidInputError, match=f"corrupt numpy file: .*depth.npy.*delete {entry} and the next run generates it"):
        load_splits(spec, ["depth"])
    shutil.rmtree(entry)
    assert len(load_splits(spec, ["depth"])["test"]) == 1
    with pytest.raises(InvalidInputError) as own:  # a folder the user gave is theirs: no advice to delete it
        (entry / "depth.npy").write_bytes(b"")
        load_splits(DatasetSpec(root=entry), ["depth"])
    assert "delete" not in str(own.value)


def _edit_image(path: Path, index: int, value: float) -> None:
    """Set one pixel of image `index` in the memory-mapped array at `path`, as a hand edit would."""
    array = np.load(path, mmap_mode="r+")
    array[index].flat[0] = value
    array.flush()


def test_labels_out_of_range_or_not_finite_are_refused_naming_file_and_image(tmp_path: Path) -> None:
    """A class index past the head's classes used to raise an IndexError traceback (30) or train
    silently on a class the data does not have (9); a NaN label was reported as divergence."""
    root = generate(tmp_path / "own", SyntheticParams(images=12, resolution=8, seed=0))
    splits = load_splits(DatasetSpec(root=root), ["segment", "depth", "albedo"])
    for value in (30, 9, len(SEGMENT_CLASSES)):
        _edit_image(root / "segment.npy", 3, value)
        with pytest.raises(InvalidInputError, match=f"corrupt file: .*segment.npy \\(image 3: classes must be 0..4, found {value}\\)"):
            splits["train"][3]
    _edit_image(root / "segment.npy", 3, 0)
    splits["train"][3]
    for stem, value in (("depth", np.nan), ("albedo", np.inf)):
        _edit_image(root / f"{stem}.npy", 11, value)
        with pytest.raises(InvalidInputError, match=f"corrupt file: .*{stem}.npy \\(image 11 holds NaN or infinite values\\)$"):
            splits["test"][0]
        _edit_image(root / f"{stem}.npy", 11, 0.5)
    assert set(load_splits(DatasetSpec(root=root), ["edge"])["test"][0]) == {"rgb", "edge"}  # other labels unread

    spec = DatasetSpec(options={"images": 3, "resolution": 8, "cache_dir": str(tmp_path / "c")})
    load_splits(spec, ["depth"])
    entry = tmp_path / "c" / "synthetic-v2-n3-r8-s0"
    _edit_image(entry / "depth.npy", 0, np.nan)
    with pytest.raises(InvalidInputError, match=f"image 0 holds NaN.*delete {entry} and the next run generates it"):
        load_splits(spec, ["depth"])["train"][0]


def _edit_meta(root: Path, **changes: object) -> None:
    meta = json.loads((root / "meta.json").read_text())
    meta.update(changes)
    (root / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if v is not None}))


def test_meta_json_is_checked_in_full_when_the_folder_is_opened(tmp_path: Path) -> None:
    """A missing `splits` used to raise KeyError, a range past the arrays an IndexError mid-training."""
    root = generate(tmp_path / "syn", SyntheticParams(images=5, resolution=8, seed=0))
    good = (root / "meta.json").read_text()
    cases = {
        "splits must give train, val and test image ranges, got None": {"splits": None},
        "splits end at image 50, but the dataset holds 5 images": {"splits": {"train": [0, 3], "val": [3, 4], "test": [4, 50]}},
        "found val [3, 3]": {"splits": {"train": [0, 3], "val": [3, 3], "test": [3, 5]}},
        "found val [2, 4]": {"splits": {"train": [0, 3], "val": [2, 4], "test": [4, 5]}},
        "splits end at image 4, but the dataset holds 5 images": {"splits": {"train": [0, 2], "val": [2, 3], "test": [3, 4]}},
        "images must be an integer >= 1, got '5'": {"images": "5"},
        "segment_classes must be": {"segment_classes": ["sky"]},
    }
    for message, changes in cases.items():
        (root / "meta.json").write_text(good)
        _edit_meta(root, **changes)
        with pytest.raises(InvalidInputError, match=f"corrupt file: {root / 'meta.json'} .*{re.escape(message)}"):
            load_splits(DatasetSpec(root=root), ["depth"])
    (root / "meta.json").write_text(good)
    np.save(root / "keypoints_xy.npy", np.zeros((5, 2), np.float32))
    with pytest.raises(InvalidInputError, match="corrupt file: .*keypoints_xy.npy \\(expected shape \\(5, 48, 2\\)"):
        load_splits(DatasetSpec(root=root), ["depth"])


def test_options_are_refused_beside_a_generated_folder_and_cache_dir_must_be_a_path(tmp_path: Path) -> None:
    """Generation options beside a root used to be silently ignored; a cache_dir of 5 crashed later."""
    root = generate(tmp_path / "syn", SyntheticParams(images=3, resolution=8, seed=0))
    for options in ({"images": 10}, {"images": "abc"}, {"cache_dir": str(tmp_path)}):
        with pytest.raises(InvalidInputError, match=f"describe data to generate, but the folder {root} is given: its own data"):
            load_splits(DatasetSpec(root=root, options=options), ["depth"])
    for cache_dir in (5, "", None):
        with pytest.raises(InvalidInputError, match="synthetic option cache_dir must be a folder path"):
            load_splits(DatasetSpec(options={"images": 3, "resolution": 8, "cache_dir": cache_dir}), ["depth"])
    with pytest.raises(InvalidInputError, match="synthetic option resolution must be an integer >= 8 and <= 1024, got 2048"):
        load_splits(DatasetSpec(options={"resolution": 2048, "cache_dir": str(tmp_path)}), ["depth"])
