"""What a study says about its data: a dataset name, where it lives, and dataset-specific options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset by registered name. `root` is its directory on disk (required for real datasets;
    for `synthetic` an already generated directory, or None to generate into the cache);
    `options` are the dataset's own settings (e.g. synthetic `images`, `resolution`, `seed`)."""

    name: str = "synthetic"
    root: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
