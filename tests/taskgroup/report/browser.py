"""Opening a report in headless Chromium, skipped where Chromium is missing unless CI requires it."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from tests.taskgroup.report.chromium import PageVisit, find_chromium, visit


def open_in_chromium(path: Path) -> PageVisit:
    """Visit `path`; a missing browser skips the test, or fails it when TASKGROUP_REQUIRE_CHROMIUM=1 (CI)."""
    if find_chromium() is None:
        if os.environ.get("TASKGROUP_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium is required (TASKGROUP_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return visit(path)


def assert_not_blank(screenshot: bytes) -> None:
    """A real page: many distinct colours and a visible spread of brightness, not one flat fill."""
    with Image.open(io.BytesIO(screenshot)) as image:
        image.verify()
    with Image.open(io.BytesIO(screenshot)) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 2000)
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50, f"screenshot has only {len(colours)} colours"
        assert max(ImageStat.Stat(rgb.convert("L")).stddev) > 20
