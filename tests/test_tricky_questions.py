"""Tricky questions through every door: the API, the CLI, the agent and the server's ask route.

Each case is one question about one of four pairs, and what a right answer holds (or that
it is refused, ``answerable`` false, "I can't tell ... because ..."). The pairs are made
and detected once per module (CVA, saved with their facts), so each door answers from a
saved result:

* ``utm``: 3 bands, EPSG:32633, 10 m pixels, dated in the file names (2019, 2024);
* ``geo``: 3 bands, EPSG:4326, 0.0001 degree pixels at 45 N (7.9 m by 11.1 m), dated
  in the TIFF tags (2020, 2023);
* ``nocrs``: 3 bands, no CRS, no dates;
* ``oneband``: one band (an NDVI-like product), EPSG:32633, dated in the names;
* ``mercator``: 3 bands, Web Mercator (EPSG:3857) at 60 N, where a 10 m grid pixel is
  5 m on the ground.

The planted changes (rows x columns of 150 x 150 pixels): a 30 x 30 square in the
north-west (object 1), a 4 x 70 strip in the south (object 2), an 8 x 8 square in the
east (object 3).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from pyproj import Geod
from rasterio.transform import from_origin

import terrasight
from terrasight.cli import main
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions

GEOD = Geod(ellps="WGS84")
MERCATOR_60N = 8399737.89
"""Web Mercator northing of 60 N, where its scale is 2: a 10 m grid pixel is 5 m."""
DEG = 0.0001
"""Pixel size of the geographic pair, in degrees."""
PLANTED = ((slice(10, 40), slice(10, 40)), (slice(130, 134), slice(40, 110)), (slice(70, 78), slice(130, 138)))  # fmt: skip
PAIRS = {
    "utm": dict(bands=3, crs="EPSG:32633", names=("site_2019-06-01.tif", "site_2024-06-01.tif")),
    "geo": dict(bands=3, crs="EPSG:4326", names=("geo_a.tif", "geo_b.tif"),
                tags=("2020:07:15 10:00:00", "2023:07:15 10:00:00")),  # fmt: skip
    "nocrs": dict(bands=3, crs=None, names=("before.tif", "after.tif")),
    "oneband": dict(bands=1, crs="EPSG:32633", names=("ndvi_2019-06-01.tif", "ndvi_2020-06-01.tif")),
    "mercator": dict(bands=3, crs="EPSG:3857", names=("m_a.tif", "m_b.tif")),
}  # fmt: skip


def _geo_side(cols: int = 0, rows: int = 0, row: int = 0) -> float:
    """Geodesic metres of ``cols`` pixels along row ``row`` (or ``rows`` down a column)."""
    lat = 45.0 - row * DEG
    return GEOD.inv(15.0, lat, 15.0 + cols * DEG, lat - rows * DEG)[2]


GEO_SQUARE = (_geo_side(rows=30, row=10), _geo_side(cols=30, row=25))  # long, short side
GEO_STRIP = _geo_side(cols=70, row=132)
UTM_HA = (900 + 280 + 64) * 100 / 1e4
NEEDS_RGBN = "not checked (needs blue, green, red and NIR)"
HAS_MODEL = all(importlib.util.find_spec(m) for m in ("torch", "sentence_transformers"))


@dataclass(frozen=True)
class Case:
    """A question about one pair and what every door's answer must hold."""

    pair: str
    question: str
    answerable: bool = True
    unit: str | None = None
    value: Any = None  # a number (approximate), or a list / string (exact)
    words: tuple[str, ...] = ()  # in the answer's text
    rel: float = 0.05
    model: bool = False  # needs the sentence model
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.pair}: {self.question}"


CASES = [
    # lengths: metres on every CRS, pixels without one, in the unit asked
    Case("utm", "how long is the largest change?", unit="m", value=300.0, words=("300 m long",)),
    Case("geo", "how long is the largest change?", unit="m", value=GEO_SQUARE[0]),
    Case("nocrs", "how long is the largest change?", unit="px", value=30.0, words=("px",)),
    Case("oneband", "how long is the largest change?", unit="m", value=300.0),
    Case("utm", "how long is the longest change?", unit="m", value=700.0, words=("object 2",)),
    Case("geo", "which change is the longest?", unit="m", value=GEO_STRIP, words=("object 2",)),
    Case("geo", "how wide is the largest change?", unit="m", value=GEO_SQUARE[1], words=("wide",)),
    Case("utm", "how long is the strip in km?", unit="km", value=0.7, words=("km",)),
    Case("geo", "how long is the longest change in miles?", unit="mi", value=GEO_STRIP / 1609.344),
    Case("nocrs", "how long is the largest change in km?", answerable=False, words=("pixels",)),
    Case(
        "geo", "what is the perimeter of the largest change?", unit="m", value=2 * sum(GEO_SQUARE)
    ),  # fmt: skip
    # areas in the unit asked, the unit in the answer's unit field
    Case("utm", "how many hectares changed?", unit="ha", value=UTM_HA, words=(" ha ",)),
    Case("utm", "how much changed in km2?", unit="km2", value=UTM_HA / 100, words=("km2",)),
    Case(
        "utm",
        "how many acres changed?",
        unit="acre",
        value=UTM_HA * 1e4 / 4046.8564224,
        words=("acres",),
    ),  # fmt: skip
    Case("utm", "how much area changed in square metres?", unit="m2", value=UTM_HA * 1e4),
    Case("geo", "how many hectares changed?", unit="ha", value=10.9, words=(" ha ",)),
    Case("geo", "how much changed in acres?", unit="acre", value=10.9e4 / 4046.8564224),
    Case(
        "utm",
        "what is the area of the largest change in hectares?",
        unit="ha",
        value=9.0,
        words=("9 ha",),
    ),  # fmt: skip
    Case(
        "utm",
        "how big is the largest change in square miles?",
        unit="mi2",
        value=9e4 / 2589988.110336,
        words=("square miles",),
    ),  # fmt: skip
    Case("nocrs", "how many hectares changed?", answerable=False, words=("pixels",)),
    Case("oneband", "how many hectares changed?", unit="ha", value=UTM_HA),
    Case("utm", "what percentage of the scene changed?", unit="%", value=100 * 1244 / 22500),
    Case("mercator", "how many hectares changed?", unit="ha", value=UTM_HA / 4, rel=0.02),
    Case("mercator", "how long is the longest change?", unit="m", value=350.0, rel=0.02),
    # dates of a pair: the two dates, from names or tags, or that they are unknown
    Case(
        "utm",
        "when did the change happen?",
        unit="date",
        value=["2019-06-01", "2024-06-01"],
        words=("between",),
    ),  # fmt: skip
    Case(
        "geo", "what are the dates of the images?", unit="date", value=["2020-07-15", "2023-07-15"]
    ),  # fmt: skip
    Case("nocrs", "when did the change happen?", answerable=False, words=("unknown",)),
    Case(
        "oneband", "when were the images taken?", unit="date", value=["2019-06-01", "2020-06-01"]
    ),  # fmt: skip
    Case("utm", "how long ago did it change?", unit="date", value=["2019-06-01", "2024-06-01"]),
    # classes the models do not know: never "Yes" from object counts
    Case("utm", "is there a new airport?", answerable=False, words=("'airport'",)),
    Case("geo", "are there any new stadiums?", answerable=False, words=("'stadiums'",)),
    Case(
        "nocrs",
        "how many new swimming pools are there?",
        answerable=False,
        words=("'swimming pools'",),
    ),  # fmt: skip
    Case("utm", "has a new harbour appeared?", answerable=False, words=("'harbour'",)),
    Case("oneband", "is there a new quarry in the north?", answerable=False, words=("'quarry'",)),
    Case("utm", "did a new mall appear in the south?", answerable=False, words=("'mall'",)),
    Case("geo", "is there a new greenhouse?", answerable=False, words=("'greenhouse'",)),
    # clouds: only where a cloud mask ran
    Case("oneband", "were there clouds?", answerable=False, words=(NEEDS_RGBN,)),
    Case("oneband", "how cloudy was it?", answerable=False, words=(NEEDS_RGBN,)),
    Case("utm", "is the scene cloud-free?", answerable=False, words=(NEEDS_RGBN,)),
    Case("geo", "how much cloud cover was there?", answerable=False, words=(NEEDS_RGBN,)),
    # the sentence model's guess is said in the answer, or refused when it is far
    Case(
        "utm",
        "tell me the amount of land that changed",
        unit="m2",
        value=UTM_HA * 1e4,
        words=("I read this as a question about how much area changed.",),
        model=True,
    ),  # fmt: skip
    Case(
        "utm",
        "explain the picture to me",
        answerable=False,
        words=("too far to trust", "I can answer questions about"),
        model=True,
    ),  # fmt: skip
    # plain questions still answered
    Case("utm", "has anything changed?", value=True, words=("Yes",)),
    Case("utm", "how many changes are there?", unit="objects", value=3),
    Case("geo", "where is the largest change?", value="north-west"),
    Case("utm", "what changed since 2001?", answerable=False, words=("two dates",)),
]
DOORS = ("api", "cli", "agent", "server")


def _write_pair(folder: Path, bands: int, crs: str | None, names, tags=None) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    before = rng.normal(90, 10, size=(bands, 150, 150)).clip(0, 255)
    after = (before + rng.normal(0, 2, size=before.shape)).clip(0, 255)
    for rows, cols in PLANTED:
        after[:, rows, cols] = 235
    if crs == "EPSG:4326":
        transform = from_origin(15.0, 45.0, DEG, DEG)
    elif crs == "EPSG:3857":
        transform = from_origin(0.0, MERCATOR_60N, 10.0, 10.0)
    else:
        transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    paths = []
    for name, data, tag in zip(names, (before, after), tags or (None, None), strict=True):
        profile = dict(driver="GTiff", width=150, height=150, count=bands, dtype="uint8")
        if crs is not None:
            profile.update(crs=crs, transform=transform)
        with rasterio.open(folder / name, "w", **profile) as ds:
            ds.write(data.astype(np.uint8))
            if tag:
                ds.update_tags(TIFFTAG_DATETIME=tag)
        paths.append(folder / name)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each pair detected with CVA once and saved with its facts (land cover not classified)."""
    out = {}
    for name, spec in PAIRS.items():
        folder = tmp_path_factory.mktemp(name)
        before, after = _write_pair(folder, **spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = detect_changes(before, after, method="cva", outdir=folder / "out")
        result.save(folder / "out", report=False, facts=FactsOptions(classify=False))
        out[name] = folder / "out"
    return out


@pytest.fixture(scope="module")
def server(results: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """A server app (FastAPI's test client) and a function making a finished job of a result."""
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")
    from fastapi.testclient import TestClient

    from terrasight.server import ServerConfig, create_app

    app = create_app(ServerConfig(jobs=tmp_path_factory.mktemp("jobs"), classify=False))
    store = app.state.context.store

    def job_of(pair: str) -> str:
        job = store.create("before.tif", "after.tif", "cva", "test")
        shutil.copytree(results[pair], store.result_dir(job.id), dirs_exist_ok=True)
        store.update(job.id, state="done", progress=1.0, stage="finished")
        return job.id

    with TestClient(app) as client:
        yield client, job_of
    app.state.context.close()


def _answer(door: str, case: Case, folder: Path, server) -> dict[str, Any]:
    """The answer of one door as (text, value, unit, answerable)."""
    if door == "api":
        a = terrasight.ask(folder, question=case.question)
        return {"text": a.text, "value": a.value, "unit": a.unit, "answerable": a.answerable}
    if door == "cli":
        res = CliRunner().invoke(
            main, ["ask", "--from-result", str(folder), case.question, "--json"]
        )
        assert res.exit_code == (0 if case.answerable else 8), res.output
        data = json.loads(res.stdout)
        return {**data, "text": data["answer"]}
    if door == "agent":
        agent = terrasight.Agent(folder)
        try:
            return agent.ask(case.question).to_dict()
        finally:
            agent.close()
    client, job_of = server
    reply = client.post(f"/api/jobs/{job_of(case.pair)}/ask", json={"question": case.question})
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tricky_question(case: Case, door: str, results, request) -> None:
    if case.model and not HAS_MODEL:
        pytest.skip("the sentence model needs the learned extra (PyTorch, sentence-transformers)")
    srv = request.getfixturevalue("server") if door == "server" else None
    got = _answer(door, case, results[case.pair], srv)
    text = got["text"]
    assert got["answerable"] is case.answerable, text
    if not case.answerable:
        assert text.startswith("I can't tell that from these images, because"), text
        assert got["value"] is None and not text.startswith("Yes"), text
    for words in case.words:
        assert words in text, text
    if case.unit is not None:
        assert got["unit"] == case.unit, text
    if isinstance(case.value, float):
        assert got["value"] == pytest.approx(case.value, rel=case.rel), text
    elif case.value is not None:
        assert got["value"] == case.value, text


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert {c.pair for c in CASES} == set(PAIRS)


def test_no_brain_answers_yes_to_a_class_nobody_can_see(results) -> None:
    """A brain that would count every change (as a language model might) is never asked."""
    from terrasight.agent.brains.base import BrainReply

    class Counter:
        name = "counter"

        def respond(self, messages, tools, on_text=None):
            return BrainReply(text="Yes: 3 changes.")

    agent = terrasight.Agent(results["utm"], brain=Counter(), grounding="off")
    try:
        reply = agent.ask("is there a new airport?")
        assert reply.answerable is False and "'airport'" in reply.text
        assert agent.ask("how many changes are there?").text == "Yes: 3 changes."
        assert [m["role"] for m in agent.messages[1:3]] == ["user", "assistant"]
    finally:
        agent.close()


def test_follow_ups_about_lengths_and_dates(results) -> None:
    """ "it" and "those" narrow a length to their objects, and never turn a question about
    the images' dates into one about objects."""
    agent = terrasight.Agent(results["geo"])
    try:
        assert agent.ask("where is the largest change?").value == "north-west"
        it = agent.ask("how long is it?")
        assert (it.unit, it.evidence) == ("m", (1,))
        assert it.value == pytest.approx(GEO_SQUARE[0], rel=0.05)
        agent.ask("how many changes are in the south?")
        those = agent.ask("how long is the biggest of those?")
        assert those.evidence == (2,) and those.value == pytest.approx(GEO_STRIP, rel=0.05)
        when = agent.ask("how long ago did it change?")
        assert when.unit == "date" and when.value == ["2020-07-15", "2023-07-15"]
    finally:
        agent.close()
