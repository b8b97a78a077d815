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
                                                "test": ["beechwood"], "resolution": 8})  # fmt: skip
    with pytest.raises(InvalidInputError, match="building 'beechwood' is in both train and test"):
        load_splits(spec, ["segment", "depth"])  # its views would leak into evaluation
    spec = DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos", "beechwood"], "val": ["allensville"],
                                                "test": ["allensville"], "resolution": 8})  # fmt: skip
    with pytest.raises(InvalidInputError, match="building 'allensville' is in both val and test"):
        load_splits(spec, ["segment", "depth"])
    spec = DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos"], "val": ["beechwood"],
                                                "test": ["allensville"], "resolution": 8})  # fmt: skip
    splits = load_splits(spec, ["segment", "depth"])
    assert all("cosmos" in str(f) for f in splits["train"].files)
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
    message = ("missing file: .*cosmos/keypoints2d/point_1_view_0_domain_keypoints2d.png \\(label of task 'keypoint' "
               "for point_1_view_0_domain_rgb.png; 1 of the 2 views in .*cosmos/rgb have none\\)")
    with pytest.raises(InvalidInputError, match=message):  # found when opened, not when read mid-training
        load_splits(DatasetSpec("taskonomy", tmp_path), ["keypoint"])
    assert len(load_splits(DatasetSpec("taskonomy", tmp_path), ["depth"])["test"]) == 2  # only the tasks asked for
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
    with pytest.raises(InvalidInputError, match="missing file: .*val/label/0.npy"):  # found by listing, at once
        load_splits(DatasetSpec("nyuv2", tmp_path), ["segment"])
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
    with pytest.raises(InvalidInputError, match="corrupt CelebA text file: .*list_attr_celeba.txt .*'yes'"):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    (tmp_path / "celeba" / "list_bbox_celeba.txt").unlink()
    with pytest.raises(InvalidInputError, match="missing file: .*list_bbox_celeba.txt"):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    with pytest.raises(UnknownNameError, match="'depth'.*available: attr_5_o_clock_shadow"):
        load_splits(DatasetSpec("celeba", tmp_path), ["depth"])


def test_nyuv2_refuses_non_finite_or_non_numeric_arrays_naming_the_file(tmp_path: Path) -> None:
    """A NaN used to pass the masks (NaN > 0 is False, but max(NaN, 0) is NaN) and make training
    report divergence; a string label used to raise a numpy traceback."""
    write_nyuv2(tmp_path)
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["segment", "depth", "normal"])
    for folder, index, value in [("depth", 1, np.nan), ("normal", 2, np.inf), ("image", 3, np.nan)]:
        path = tmp_path / "train" / folder / f"{index}.npy"
        array = np.load(path)
        array[0, 0, 0] = value
        np.save(path, array)
        with pytest.raises(InvalidInputError, match=f"corrupt numpy file: .*train/{folder}/{index}.npy .*NaN or infinite"):
            splits["train"][index]
    np.save(tmp_path / "val" / "label" / "0.npy", np.full((6, 8), "a"))
    with pytest.raises(InvalidInputError, match="corrupt numpy file: .*val/label/0.npy .*real numbers, found dtype <U1"):
        splits["test"][0]


def test_nyuv2_refuses_fractional_classes_and_normals_outside_minus_1_1_instead_of_rounding_or_clipping(tmp_path: Path) -> None:
    """A bilinearly resized label map (class 2.5 between 2 and 3) used to be rounded into classes no
    pixel had, and a 0..255 normal map clipped to (1, 1, 1) everywhere: both trained silently."""
    write_nyuv2(tmp_path)
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["segment", "normal"])
    label = tmp_path / "train" / "label" / "1.npy"
    classes = np.load(label)
    classes[2, 3] = 2.5
    np.save(label, classes)
    with pytest.raises(InvalidInputError, match="corrupt numpy file: .*train/label/1.npy \\(classes must be whole numbers -1..12, found 2.5\\)"):
        splits["train"][1]
    np.save(label, np.rint(classes) + 1e-5)  # float rounding of whole numbers is no resize
    assert splits["train"][1]["segment"].dtype == torch.int64
    normal = tmp_path / "val" / "normal" / "0.npy"
    np.save(normal, ((np.load(normal) + 1) * 127.5).astype(np.float32))
    with pytest.raises(InvalidInputError, match="corrupt numpy file: .*val/normal/0.npy \\(normals must be in \\[-1,1\\], found \\[.*value/127.5 - 1"):
        splits["test"][0]


def test_nyuv2_refuses_images_outside_0_1_instead_of_clipping_them(tmp_path: Path) -> None:
    write_nyuv2(tmp_path)
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["depth"])
    path = tmp_path / "train" / "image" / "0.npy"
    np.save(path, (np.load(path) * 255).astype(np.uint8))
    message = "corrupt numpy file: .*train/image/0.npy .*must be float in \\[0,1\\], found uint8"
    with pytest.raises(InvalidInputError, match=message):
        splits["train"][0]
    np.save(path, np.load(path).astype(np.float32))  # 0..255 as float
    with pytest.raises(InvalidInputError, match="image values must be in \\[0,1\\], found \\[0, 2"):
        splits["train"][0]


def test_nyuv2_checks_every_split_folder_and_file_count_when_opened(tmp_path: Path) -> None:
    write_nyuv2(tmp_path)
    spec = DatasetSpec("nyuv2", tmp_path)
    np.save(tmp_path / "train" / "depth" / "5.npy", np.ones((6, 8, 1), np.float32))  # 6 depth maps, 5 images
    message = "unexpected file: .*train/depth/5.npy \\(one label file per image of .*train/image: 0.npy to 4.npy"
    with pytest.raises(InvalidInputError, match=message):
        load_splits(spec, ["depth"])
    assert len(load_splits(spec, ["normal"])["train"]) == 4  # only the requested tasks' folders count
    (tmp_path / "train" / "depth" / "5.npy").unlink()
    (tmp_path / "train" / "image" / "4.npy").rename(tmp_path / "train" / "image" / "7.npy")
    with pytest.raises(InvalidInputError, match="missing file: .*train/image/4.npy \\(the 5 images must be named by index"):
        load_splits(spec, ["depth"])
    (tmp_path / "train" / "image" / "7.npy").rename(tmp_path / "train" / "image" / "4.npy")

    for folder in ("image", "label"):  # a test/ folder is used as is, so it is checked like train/ and val/
        (tmp_path / "test" / folder).mkdir(parents=True)
        for i in range(2):
            (tmp_path / "test" / folder / f"{i}.npy").write_bytes((tmp_path / "val" / folder / f"{i}.npy").read_bytes())
    with pytest.raises(InvalidInputError, match="missing directory: .*test/depth"):
        load_splits(spec, ["depth"])
    assert {k: len(v) for k, v in load_splits(spec, ["segment"]).items()} == {"train": 5, "val": 2, "test": 2}
    for path in (tmp_path / "test" / "image").iterdir():
        path.unlink()
    with pytest.raises(InvalidInputError, match="split test is empty: no images .*test/image"):
        load_splits(spec, ["segment"])


def test_taskonomy_refuses_empty_splits_naming_the_split_and_why(tmp_path: Path) -> None:
    write_taskonomy(tmp_path)
    with pytest.raises(InvalidInputError, match="option val is missing or empty"):
        load_splits(DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos"]}), ["depth"])
    with pytest.raises(InvalidInputError, match="option test is missing or empty"):
        load_splits(DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos"], "val": ["beechwood"], "test": []}), ["depth"])
    with pytest.raises(InvalidInputError, match="building 'cosmos' is listed twice in option train"):
        load_splits(DatasetSpec("taskonomy", tmp_path, {"train": ["cosmos", "cosmos"], "val": ["beechwood"],
                                                         "test": ["allensville"]}), ["depth"])  # fmt: skip
    (tmp_path / "dunmor" / "rgb").mkdir(parents=True)  # a building without images: sorted last, so the test split
    (tmp_path / "dunmor" / "depth_zbuffer").mkdir()
    message = "split test: building dunmor has no images \\(no \\*_domain_rgb.png in .*dunmor/rgb"
    with pytest.raises(InvalidInputError, match=message):
        load_splits(DatasetSpec("taskonomy", tmp_path), ["depth"])


def test_taskonomy_refuses_a_label_of_the_wrong_bit_depth(tmp_path: Path) -> None:
    """An 8-bit depth_zbuffer (the docs say 16-bit) used to decode silently to depths under 0.5 m."""
    raw = write_taskonomy(tmp_path)
    depth = tmp_path / "allensville" / "depth_zbuffer" / "point_0_view_0_domain_depth_zbuffer.png"
    _png(depth, (raw["depth_zbuffer"] // 256).astype(np.uint8))
    splits = load_splits(DatasetSpec("taskonomy", tmp_path), ["depth", "normal"])
    message = "corrupt image file: .*point_0_view_0_domain_depth_zbuffer.png \\(expected 16-bit pixels, found 8-bit"
    with pytest.raises(InvalidInputError, match=message):
        splits["train"][0]
    with pytest.raises(InvalidInputError, match="depth_zbuffer.png \\(expected 16-bit"):  # read only for the mask
        load_splits(DatasetSpec("taskonomy", tmp_path), ["normal"])["train"][0]
    normal = tmp_path / "allensville" / "normal" / "point_1_view_0_domain_normal.png"
    _png(normal, np.zeros((SIZE, SIZE), np.uint16))
    with pytest.raises(InvalidInputError, match="domain_normal.png \\(expected 8-bit pixels, found 16-bit"):
        splits["train"][1]


@pytest.mark.parametrize("dataset", ["taskonomy", "celeba"])
def test_resolution_is_bounded_like_the_synthetic_one(tmp_path: Path, dataset: str) -> None:
    task = "depth" if dataset == "taskonomy" else "attr_bald"
    for value in (100000, 4, True, "64"):
        with pytest.raises(InvalidInputError, match=f"{dataset} option resolution must be an integer >= 8 and <= 1024"):
            load_splits(DatasetSpec(dataset, tmp_path, {"resolution": value}), [task])


def test_celeba_refuses_values_torchvision_would_map_silently(tmp_path: Path) -> None:
    """An attribute 7 used to become a label 4, a partition 3 to drop its image from every split."""
    write_celeba(tmp_path)
    attr_file = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = attr_file.read_text().splitlines()
    lines[4] = lines[4].replace("-1", " 7", 1) if " -1" in lines[4] else lines[4].replace(" 1", " 7", 1)
    attr_file.write_text("\n".join(lines) + "\n")
    message = "list_attr_celeba.txt line 5, column \\w+: attribute values must be -1 or 1, found 7"
    with pytest.raises(InvalidInputError, match=message):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    write_celeba(tmp_path / "b")
    partition = tmp_path / "b" / "celeba" / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace("000002.jpg 0", "000002.jpg 3"))
    message = "list_eval_partition.txt line 2: partitions must be 0 \\(train\\), 1 \\(valid\\) or 2 \\(test\\), found 3"
    with pytest.raises(InvalidInputError, match=message):
        load_splits(DatasetSpec("celeba", tmp_path / "b"), ["attr_bald"])


def test_celeba_refuses_an_empty_split_and_names_files_without_exception_classes(tmp_path: Path) -> None:
    write_celeba(tmp_path)
    partition = tmp_path / "celeba" / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace(" 2\n", " 1\n"))
    with pytest.raises(InvalidInputError, match="split test is empty: no image has partition 2 in .*list_eval_partition.txt"):
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    (tmp_path / "celeba" / "identity_CelebA.txt").unlink()
    with pytest.raises(InvalidInputError) as missing:
        load_splits(DatasetSpec("celeba", tmp_path), ["attr_bald"])
    assert str(missing.value) == f"missing file: {tmp_path / 'celeba' / 'identity_CelebA.txt'}"


def test_an_unreadable_file_is_reported_as_such_not_as_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permissions are simulated: the tests may run as root, who reads any file."""
    write_nyuv2(tmp_path)
    denied = PermissionError(13, "Permission denied")
    splits = load_splits(DatasetSpec("nyuv2", tmp_path), ["depth"])

    def refuse(*args: object, **kwargs: object) -> None:
        raise denied

    monkeypatch.setattr(np, "load", refuse)
    with pytest.raises(InvalidInputError) as error:
        splits["train"][0]
    assert str(error.value) == f"cannot read {tmp_path / 'train' / 'image' / '0.npy'} (Permission denied)"
    write_taskonomy(tmp_path / "tx")
    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(InvalidInputError, match="^cannot read .*point_0_view_0_domain_rgb.png \\(Permission denied\\)$"):
        load_splits(DatasetSpec("taskonomy", tmp_path / "tx"), ["depth"])["train"][0]
