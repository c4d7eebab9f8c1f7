"""Jobs on the page (Debian's chromium through Playwright): finished jobs open on the map
even when the job's map info comes after its result, or not at all, and no page error is
logged; a job's earlier conversation is shown with it; a series and one image started from
uploads."""

from __future__ import annotations

import pytest

from .conftest import CHROMIUM, TOKEN, wait_done

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
)
PAIR = {"before": "site/before.tif", "after": "site/after.tif", "method": "cva"}
MAP_INFO = "**/api/jobs/*/map"


def _finished_jobs(server, n: int) -> list[str]:
    with server.client() as client:
        ids = [client.post("/api/jobs", json=PAIR).json()["id"] for _ in range(n)]
        assert [wait_done(client, i)["state"] for i in ids] == ["done"] * n
        question = {"question": "how many changes are there?"}
        assert client.post(f"/api/jobs/{ids[0]}/ask", json=question).status_code == 200
    return ids


def _map_shows(page, job_id: str) -> None:
    for layer in ("after", "mask"):
        page.wait_for_selector(
            f".tiles-{layer} img.leaflet-tile-loaded[src*='{job_id}']", state="attached"
        )
    assert page.locator("path.obj").count() >= 1


def test_finished_jobs_open_on_the_map_whatever_order_their_requests_end(server, browser):
    first, second = _finished_jobs(server, 2)
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{server.url}/?token={TOKEN}")
    page.wait_for_selector(f"#jobs option[value='{first}']", state="attached")

    # The map info of the first job comes only after its result has been fetched.
    held: list = []
    page.route(MAP_INFO, lambda route: held.append(route))
    with page.expect_response(lambda r: r.url.endswith(f"/{first}/facts")):
        page.select_option("#jobs", first)
    page.wait_for_timeout(300)  # the page has what it needs, but the map info
    assert len(held) == 1
    held[0].continue_()
    page.unroute(MAP_INFO)
    _map_shows(page, first)
    page.wait_for_selector("#result:not([hidden])")
    assert "how many changes" in page.locator("#messages").inner_text()  # kept on the server

    # The second job's map info fails: the error is said, the result still listed.
    page.route(MAP_INFO, lambda r: r.fulfill(status=500, json={"detail": "no map today"}))
    page.select_option("#jobs", second)
    page.wait_for_selector("#error:not([hidden])")
    assert "no map today" in page.locator("#error").inner_text()
    page.wait_for_selector("#result:not([hidden]) tr.obj-row")
    assert page.locator("#messages .msg").count() == 0  # nothing asked about this one
    page.unroute(MAP_INFO)

    # Back to the first job, then at once to the second: the second's map is the one shown.
    page.select_option("#jobs", first)
    page.select_option("#jobs", second)
    _map_shows(page, second)
    page.wait_for_timeout(500)
    assert page.locator(f".tiles-mask img[src*='{first}']").count() == 0
    assert problems == []


def test_a_series_and_one_image_started_on_the_page(server, browser, series_dir, data_dir):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{server.url}/?token={TOKEN}")
    page.wait_for_selector("#method option", state="attached")

    page.select_option("#kind", "series")
    page.set_input_files("#images-form input[type=file]", sorted(series_dir.glob("*.tif")))
    page.click("#images-form button")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    summary = page.locator("#result-summary").inner_text()
    assert "dated over 3 dates (2019-06-01 to 2021-06-01)" in summary
    assert page.locator("#downloads a", has_text="series.json").count() == 1
    page.wait_for_selector(".tiles-after img.leaflet-tile-loaded", state="attached")
    page.fill("#question", "when did it change?")
    page.click("#ask-form button")
    assert "2020" in page.wait_for_selector(".msg.agent").inner_text()

    page.select_option("#kind", "image")
    page.set_input_files("#images-form input[type=file]", [data_dir / "site" / "after.tif"])
    page.click("#images-form button")
    page.wait_for_selector("#chat[hidden]", state="attached")
    page.wait_for_function(
        "() => !document.querySelector('#result').hidden"
        " && !document.querySelector('#result-summary').textContent.includes('dated')",
        timeout=180_000,
    )
    assert len(page.locator("#result-summary").inner_text()) > 10  # the image's description
    assert page.locator("#chat").is_visible()  # one image: ask about its land cover
    page.fill("#question", "is it rural or urban?")
    page.click("#ask-form button")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.msg.agent')]"
        ".some((m) => /^(Rural|Urban): buildings and roads cover/.test(m.textContent))",
        timeout=120_000,
    )
    assert problems == []
