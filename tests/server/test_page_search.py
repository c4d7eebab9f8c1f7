"""The page's archive search in a real browser: a list without a map, boxes on a georeferenced one."""

from __future__ import annotations

import pytest

from .conftest import CHROMIUM, TOKEN, running

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
)


def test_search_results_as_a_list_then_as_boxes_on_the_map(config_for, tiny_archive, browser):
    db, _ = tiny_archive
    with running(config_for(db=db)) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{server.url}/?token={TOKEN}")
        page.wait_for_selector("#archive:not([hidden])")

        page.fill("#search-text", "an airport")
        page.click("#search-form button")
        page.wait_for_selector("#search-results li.hit")
        items = page.locator("#search-results li.hit")
        assert items.count() == 6 and items.first.inner_text().startswith("airport.tif tile 0")
        assert "shown as a list" in page.locator("#search-note").inner_text()
        assert page.locator("#search-results li.on-map").count() == 0

        page.select_option("#method", "cva")
        page.click("#run-sample")
        page.wait_for_selector("#result:not([hidden])", timeout=120_000)
        page.click("#search-form button")
        page.wait_for_selector("path.hit-box.hit-1", state="attached")
        assert page.locator("path.hit-box").count() == 1  # the one tile with a CRS
        assert "1 on the map" in page.locator("#search-note").inner_text()
        page.locator("#search-results li.on-map").first.click()
        page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        assert "airport.tif" in page.locator(".leaflet-popup-content").inner_text()

        page.fill("#search-text", "a beach")
        page.click("#search-form button")
        page.wait_for_function(
            "() => document.querySelector('#search-results li.hit').textContent.startsWith('beach')"
        )
        assert problems == []
