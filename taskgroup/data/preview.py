"""A picture of one synthetic image with all its labels side by side, for a person to check at a glance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from taskgroup.data.synthetic import SyntheticArrays  # noqa: E402
from taskgroup.errors import InvalidInputError  # noqa: E402


def split_of(arrays: SyntheticArrays, index: int) -> str:
    return next(s for s, (a, b) in arrays.meta["splits"].items() if a <= index < b)


def save_preview(root: Path, index: int, out: Path) -> Path:
    """Write a PNG of image `index` of the generated dataset at `root`: RGB, then each label with
    its name, encoding range and a legend or colour bar; invalid pixels are shown hatched grey."""
    arrays = SyntheticArrays(Path(root))
    n = arrays.meta["images"]
    if not 0 <= index < n:
        raise InvalidInputError(f"--index {index} is out of range: {root} holds images 0..{n - 1}")
    a = {k: np.asarray(v[index]) for k, v in arrays.arrays.items()}
    valid = a["valid"][0]
    classes = arrays.meta["segment_classes"]
    keypoints = arrays.keypoints_xy[index]
    keypoints = keypoints[~np.isnan(keypoints[:, 0])]

    fig, axes = plt.subplots(1, 11, figsize=(27, 3.3), constrained_layout=True)
    fig.suptitle(f"{root} - image {index} ({split_of(arrays, index)} split)", fontsize=11)

    axes[0].imshow(a["rgb"].transpose(1, 2, 0), interpolation="nearest")
    axes[0].plot(keypoints[:, 0], keypoints[:, 1], "r+", markersize=6)
    axes[0].set_title("rgb (+ keypoints)")

    depth = np.ma.masked_where(~valid, a["depth"][0])
    im = axes[1].imshow(depth, cmap="viridis_r", interpolation="nearest")
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label="metres")
    axes[1].set_title("depth (grey: invalid)")

    normal = np.where(valid[..., None], (a["normal"].astype(np.float32).transpose(1, 2, 0) + 1) / 2, 0.5)
    axes[2].imshow(np.clip(normal, 0, 1), interpolation="nearest")
    axes[2].set_title("normal (xyz -> rgb)")

    cmap = plt.get_cmap("tab10", len(classes))
    axes[3].imshow(a["segment"], cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5, interpolation="nearest")
    axes[3].legend(
        handles=[Patch(color=cmap(i), label=c) for i, c in enumerate(classes)],
        loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, fontsize=7, frameon=False,
    )  # fmt: skip
    axes[3].set_title("segment")

    for ax, key, title in zip(
        axes[4:9], ("edge", "occlusion", "keypoint", "reshade", "shadow"),
        ("edge (texture) [0,1]", "occlusion [0,1]", "keypoint [0,1]", "reshade [0,1]", "shadow (cast) [0,1]"),
        strict=True,
    ):  # fmt: skip
        image = a[key][0].astype(np.float32)
        if key == "reshade":
            image = np.ma.masked_where(~valid, image)
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)

    grey = 0xB0 / 255  # the invalid-pixel background of the other panels
    albedo = np.where(valid[..., None], a["albedo"].astype(np.float32).transpose(1, 2, 0), grey)
    axes[9].imshow(np.clip(albedo, 0, 1), interpolation="nearest")
    axes[9].set_title("albedo (no light)")

    height = np.ma.masked_where(~valid, a["height"][0])
    im = axes[10].imshow(height, cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=axes[10], fraction=0.046, pad=0.02, label="metres")
    axes[10].set_title("height above ground")

    for ax in axes:
        ax.set_facecolor("#b0b0b0")
        ax.set_xticks([])
        ax.set_yticks([])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
