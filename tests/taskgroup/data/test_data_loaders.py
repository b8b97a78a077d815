"""Taskonomy, NYUv2 and CelebA loaders on tiny fixtures written in each dataset's real on-disk layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from taskgroup.data import DatasetSpec, available_tasks, load_splits
from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.tasks.attribute import CELEBA_ATTRIBUTES

BUILDINGS = ("allensville", "beechwood", "cosmos")
TASKONOMY_TASKS = ["depth", "normal", "segment", "edge", "occlusion", "keypoint", "reshade"]
SIZE = 16


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_taskonomy(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Two views per building; returns the raw arrays of the first view of `allensville`."""
    rng = np.random.default_rng(seed)
    first: dict[str, np.ndarray] = {}
    for building in BUILDINGS:
        for view in range(2):
            stem = f"point_{view}_view_0_domain_"
            depth = rng.integers(0, 20000, (SIZE, SIZE)).astype(np.uint16)
            depth[:3] = 65535  # no range: invalid
            raw = {
                "rgb": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
                "depth_zbuffer": depth,
                "normal": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
                "segment_semantic": rng.integers(0, 18, (SIZE, SIZE), dtype=np.uint8),
                "edge_texture": rng.integers(0, 9000, (SIZE, SIZE)).astype(np.uint16),
                "edge_occlusion": rng.integers(0, 2000, (SIZE, SIZE)).astype(np.uint16),
                "keypoints2d": rng.integers(0, 900, (SIZE, SIZE)).astype(np.uint16),
                "reshading": np.repeat(rng.integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8), 3, axis=2),
            }
            for domain, array in raw.items():
                _png(root / building / domain / f"{stem}{domain}.png", array)
            if building == BUILDINGS[0] and view == 0:
                first = raw
    return first


def test_taskonomy_labels_follow_taskonomy_encodings(tmp_path: Path) -> None:
    raw = write_taskonomy(tmp_path)
    splits = load_splits(DatasetSpec("taskonomy", tmp_path), TASKONOMY_TASKS)
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "val": 2, "test": 2}
    item = splits["train"][0]
    assert item["rgb"].dtype == torch.float32 and item["rgb"].shape == (3, SIZE, SIZE)
    np.testing.assert_allclose(item["rgb"].numpy(), raw["rgb"].transpose(2, 0, 1) / 255.0, atol=1e-6)

    depth_raw = raw["depth_zbuffer"].astype(np.float64)
    valid = depth_raw != 65535
    assert item["depth_mask"].dtype == torch.bool and item["depth_mask"].shape == (1, SIZE, SIZE)
    np.testing.assert_array_equal(item["depth_mask"][0].numpy(), valid)
    np.testing.assert_allclose(item["depth"][0].numpy()[valid], depth_raw[valid] / 512.0, rtol=1e-6)
    assert torch.all(item["depth"][~item["depth_mask"]] == 0)

    normal = item["normal"].numpy()
    assert normal.shape == (3, SIZE, SIZE) and normal.min() >= -1 and normal.max() <= 1
    np.testing.assert_allclose(normal, raw["normal"].transpose(2, 0, 1) / 255.0 * 2 - 1, atol=1e-6)
    assert torch.equal(item["normal_mask"], item["depth_mask"])  # normals borrow depth's validity

    assert item["segment"].dtype == torch.int64 and item["segment"].shape == (SIZE, SIZE)
    np.testing.assert_array_equal(item["segment"].numpy(), raw["segment_semantic"])
    np.testing.assert_array_equal(item["segment_mask"][0].numpy(), raw["segment_semantic"] != 0)

    for task, domain, scale in [("edge", "edge_texture", 0.08 * 65535), ("occlusion", "edge_occlusion", 1012),
                                ("keypoint", "keypoints2d", 450)]:  # fmt: skip
        expected = np.clip(raw[domain] / scale, 0, 1)
        assert item[task].shape == (1, SIZE, SIZE) and item[task].dtype == torch.float32
        np.testing.assert_allclose(item[task][0].numpy(), expected, rtol=1e-5)
    assert "edge_mask" not in item and "keypoint_mask" not in item
    np.testing.assert_allclose(item["reshade"][0].numpy(), raw["reshading"][..., 0] / 255.0, atol=1e-6)

    batch = next(iter(DataLoader(splits["val"], batch_size=2)))
    assert batch["segment"].shape == (2, SIZE, SIZE) and batch["depth_mask"].shape == (2, 1, SIZE, SIZE)


def test_taskonomy_splits_by_building_and_resizes(tmp_path: Path) -> None:
    write_taskonomy(tmp_path)
    spec = DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos", "beechwood"], "val": ["allensville"],
                                                "test": ["allensville"], "resolution": 8})  # fmt: skip
    splits = load_splits(spec, ["segment", "depth"])
    assert all("cosmos" in str(f) or "beechwood" in str(f) for f in splits["train"].files)
    item = splits["train"][0]
    assert item["rgb"].shape == (3, 8, 8) and item["segment"].shape == (8, 8) and item["depth"].shape == (1, 8, 8)
    assert int(item["segment"].max()) < 18  # nearest-neighbour: no blended class indices


def test_taskonomy_errors_name_the_path_or_task(tmp_path: Path) -> None:
    write_taskonomy(tmp_path)
    with pytest.raises(InvalidInputError, match="directory not found: .*nowhere"):
        load_splits(DatasetSpec("taskonomy", tmp_path / "nowhere"), ["depth"])
    with pytest.raises(UnknownNameError, match="'attr_smiling'.*available: depth, edge"):
        load_splits(DatasetSpec("taskonomy", tmp_path), ["attr_smiling"])
    (tmp_path / "cosmos" / "keypoints2d" / "point_1_view_0_domain_keypoints2d.png").unlink()
    splits = load_splits(DatasetSpec("taskonomy", tmp_path), ["keypoint"])
    with pytest.raises(InvalidInputError, match="missing file: .*cosmos/keypoints2d/point_1_view_0"):
        splits["test"][1]
    (tmp_path / "beechwood" / "normal" / "point_0_view_0_domain_normal.png").write_bytes(b"not a png")
    splits = load_splits(DatasetSpec("taskonomy", tmp_path), ["normal"])
    with pytest.raises(InvalidInputError, match="corrupt image file: .*beechwood/normal/point_0_view_0"):
        splits["val"][0]
    for path in (tmp_path / "allensville" / "reshading").iterdir():
        path.unlink()
    (tmp_path / "allensville" / "reshading").rmdir()
    with pytest.raises(InvalidInputError, match="missing directory: .*allensville/reshading.*'reshade'"):
        load_splits(DatasetSpec("taskonomy", tmp_path), ["reshade"])
    with pytest.raises(InvalidInputError, match="unknown option.*buildings"):
        load_splits(DatasetSpec("taskonomy", tmp_path, {"buildings": 3}), ["depth"])


def write_nyuv2(root: Path, train: int = 5, val: int = 2, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    h, w = 6, 8
    for split, count in (("train", train), ("val", val)):
        for folder in ("image", "label", "depth", "normal"):
            (root / split / folder).mkdir(parents=True)
        for i in range(count):
            label = rng.integers(-1, 13, (h, w)).astype(np.float32)
            depth = rng.uniform(0.5, 10, (h, w, 1)).astype(np.float32)
            depth[0] = 0.0  # no Kinect reading
            normal = rng.normal(size=(h, w, 3)).astype(np.float32)
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            normal[1] = 0.0
            np.save(root / split / "image" / f"{i}.npy", rng.uniform(0, 1, (h, w, 3)).astype(np.float32))
            np.save(root / split / "label" / f"{i}.npy", label)
            np.save(root / split / "depth" / f"{i}.npy", depth)
            np.save(root / split / "normal" / f"{i}.npy", normal)


def test_nyuv2_preprocessed_layout(tmp_path: Path) -> None:
    write_nyuv2(tmp_path)
    assert available_tasks(DatasetSpec("nyuv2")) == ["depth", "normal", "segment"]
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["segment", "depth", "normal"])
    assert {k: len(v) for k, v in splits.items()} == {"train": 4, "val": 1, "test": 2}
    item = splits["test"][1]
    label = np.load(tmp_path / "val" / "label" / "1.npy")
    depth = np.load(tmp_path / "val" / "depth" / "1.npy")[..., 0]
    image = np.load(tmp_path / "val" / "image" / "1.npy")
    np.testing.assert_allclose(item["rgb"].numpy(), image.transpose(2, 0, 1))
    assert item["segment"].dtype == torch.int64 and item["segment"].shape == (6, 8)
    np.testing.assert_array_equal(item["segment_mask"][0].numpy(), label >= 0)
    np.testing.assert_array_equal(item["segment"].numpy()[label >= 0], label[label >= 0])
    assert item["depth"].shape == (1, 6, 8)
    np.testing.assert_array_equal(item["depth_mask"][0].numpy(), depth > 0)
    assert not item["normal_mask"][0, 1].any() and item["normal_mask"][0, 2:].all()
    assert item["normal"].shape == (3, 6, 8) and item["normal"].abs().max() <= 1
    # val is held out of train/: the last image of train/.
    np.testing.assert_allclose(splits["val"][0]["rgb"].numpy(), np.load(tmp_path / "train" / "image" / "4.npy").transpose(2, 0, 1))


def test_nyuv2_errors_name_the_path(tmp_path: Path) -> None:
    write_nyuv2(tmp_path)
    (tmp_path / "train" / "depth" / "2.npy").write_bytes(b"\x93NUMPY garbage")
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["depth"])
    with pytest.raises(InvalidInputError, match="corrupt numpy file: .*train/depth/2.npy"):
        splits["train"][2]
    (tmp_path / "val" / "label" / "0.npy").unlink()
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["segment"])
    with pytest.raises(InvalidInputError, match="missing file: .*val/label/0.npy"):
        splits["test"][0]
    for path in (tmp_path / "train" / "normal").iterdir():
        path.unlink()
    (tmp_path / "train" / "normal").rmdir()
    with pytest.raises(InvalidInputError, match="missing directory: .*train/normal"):
        load_splits(DatasetSpec("nyuv2", tmp_path), ["normal"])
    with pytest.raises(UnknownNameError, match="'edge'.*available: depth, normal, segment"):
        load_splits(DatasetSpec("nyuv2", tmp_path), ["edge"])


def write_celeba(root: Path, count: int = 8, seed: int = 0) -> np.ndarray:
    """torchvision's layout under ROOT/celeba; returns the {-1,1} attribute table."""
    rng = np.random.default_rng(seed)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(count)]
    attrs = rng.choice([-1, 1], size=(count, 40))
    for name in names:
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(folder / "img_align_celeba" / name)
    partition = [0] * (count - 4) + [1, 1, 2, 2]

    def table(header: str | None, rows: list[str]) -> str:
        lines = ([str(count), header] if header is not None else []) + rows
        return "\n".join(lines) + "\n"

    (folder / "list_attr_celeba.txt").write_text(
        table(" ".join(CELEBA_ATTRIBUTES) + " ", [f"{n} " + " ".join(f"{a:2d}" for a in row) for n, row in zip(names, attrs)])
    )
    (folder / "list_eval_partition.txt").write_text(table(None, [f"{n} {p}" for n, p in zip(names, partition)]))
    (folder / "identity_CelebA.txt").write_text(table(None, [f"{n} {i + 10}" for i, n in enumerate(names)]))
    (folder / "list_bbox_celeba.txt").write_text(
        table("image_id x_1 y_1 width height", [f"{n}    95  71 226 313" for n in names])
    )
    (folder / "list_landmarks_align_celeba.txt").write_text(
        table("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
              [f"{n} 69 109 106 113 77 142 73 152 108 154" for n in names])  # fmt: skip
    )
    return attrs


def test_celeba_attributes_through_torchvision(tmp_path: Path) -> None:
    attrs = write_celeba(tmp_path)
    assert len(available_tasks(DatasetSpec("celeba"))) == 40
    tasks = ["attr_smiling", "attr_male", "attr_5_o_clock_shadow"]
    splits = load_splits(DatasetSpec("celeba", tmp_path, {"resolution": 16}), tasks)
    assert {k: len(v) for k, v in splits.items()} == {"train": 4, "val": 2, "test": 2}
    batch = next(iter(DataLoader(splits["train"], batch_size=4)))
    assert batch["rgb"].shape == (4, 3, 16, 16) and batch["rgb"].dtype == torch.float32
    assert 0 <= batch["rgb"].min() and batch["rgb"].max() <= 1
    for task, attribute in [("attr_smiling", "Smiling"), ("attr_male", "Male"), ("attr_5_o_clock_shadow", "5_o_Clock_Shadow")]:
        column = CELEBA_ATTRIBUTES.index(attribute)
        assert batch[task].dtype == torch.float32 and batch[task].shape == (4, 1)
        np.testing.assert_array_equal(batch[task][:, 0].numpy(), (attrs[:4, column] + 1) / 2)
    # ROOT may also be the celeba folder itself.
    assert len(load_splits(DatasetSpec("celeba", tmp_path / "celeba"), ["attr_young"])["test"]) == 2


def test_celeba_errors_name_the_file(tmp_path: Path) -> None:
    write_celeba(tmp_path)
    (tmp_path / "celeba" / "img_align_celeba" / "000002.jpg").write_bytes(b"garbage")
    splits = load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    with pytest.raises(InvalidInputError, match="corrupt image file: .*000002.jpg"):
        splits["train"][1]
    text = (tmp_path / "celeba" / "list_attr_celeba.txt").read_text().replace(" 1", " yes", 1)
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text(text)
    with pytest.raises(InvalidInputError, match="corrupt CelebA text files"):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    (tmp_path / "celeba" / "list_bbox_celeba.txt").unlink()
    with pytest.raises(InvalidInputError, match="missing file: .*list_bbox_celeba.txt"):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    with pytest.raises(UnknownNameError, match="'depth'.*available: attr_5_o_clock_shadow"):
        load_splits(DatasetSpec("celeba", tmp_path), ["depth"])
