"""The HTML report in a real headless Chromium: no console errors, and a page that is not blank."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.taskgroup.report.browser import assert_not_blank, open_in_chromium


def test_reference_report_opens_without_console_errors(reference_report, tmp_path):
    page = open_in_chromium(reference_report["out"] / "report.html")
    assert page.console == []
    (tmp_path / "screenshot.png").write_bytes(page.screenshot)
    assert_not_blank(page.screenshot)


def test_the_check_sees_errors_and_blank_pages(tmp_path: Path):
    """The browser check is not vacuous: a broken page reports its errors, an empty page is blank."""
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><script>console.error("boom"); missing();</script><img src="gone.png"></body></html>')
    page = open_in_chromium(broken)
    assert any("boom" in line for line in page.console)
    assert any("missing is not defined" in line for line in page.console)
    assert any("gone.png" in line for line in page.console)
    with pytest.raises(AssertionError):
        assert_not_blank(page.screenshot)
