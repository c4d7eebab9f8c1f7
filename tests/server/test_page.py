"""The page in a real browser (Debian's chromium through Playwright): the sample job on a map,
its overlay and polygons, a question whose answer highlights its objects."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import (
    CHROMIUM,
    TOKEN,
)

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
)


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path)
    keep = os.environ.get("TERRASIGHT_SCREENSHOTS")
    if keep:  # a folder to look at the pictures after the run
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def test_the_sample_job_on_the_map_and_a_question_about_it(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else outside.append(r.url))

    page.goto(f"{server.url}/?token={TOKEN}")
    page.select_option("#method", "cva")
    page.click("#run-sample")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    page.wait_for_selector(".tiles-mask img.leaflet-tile-loaded", state="attached")
    page.wait_for_selector(".tiles-after img.leaflet-tile-loaded", state="attached")
    polygons = page.locator("path.obj")
    rows = page.locator("tr.obj-row")
    assert polygons.count() >= 1 and rows.count() == polygons.count()
    assert page.locator("#progress").evaluate("e => e.value") == 1
    assert page.locator("#downloads a", has_text="changes.geojson").count() == 1
    _shot(page, tmp_path, "1-result")

    page.fill("#swipe", "20")
    clip = page.evaluate("() => document.querySelector('.leaflet-after-pane').style.clip")
    assert clip.startswith("rect(")

    page.fill("#question", "how many changes are there?")
    page.click("#ask-form button")
    answer = page.wait_for_selector(".msg.agent")
    assert "change" in answer.inner_text()
    page.wait_for_selector("path.obj.highlighted", state="attached")
    assert page.locator("tr.obj-row.highlighted").count() == rows.count()
    _shot(page, tmp_path, "2-answer")

    rows.first.click()  # the table leads to the map: the object's popup opens
    page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
    assert "area" in page.locator(".leaflet-popup-content").inner_text()
    _shot(page, tmp_path, "3-popup")
    assert problems == [] and outside == []
