"""``terrasight ask IMAGE "QUESTION"`` and ``--questions FILE``, on a planted landcover.tif."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from terrasight.cli import main


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_one_image_one_question_as_json(planted_landcover):
    res = _run("ask", planted_landcover, "how many buildings are there?", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert (data["value"], data["unit"], data["question_type"]) == (5, "objects", "count")
    assert data["answerable"] is True and len(data["evidence"]) == 5
    assert len(data["geojson"]["features"]) == 5  # inline without -o


def test_unquoted_words_and_text_output(planted_landcover):
    res = _run("ask", planted_landcover, "where", "is", "the", "water")
    assert res.exit_code == 0, res.output
    assert "south-west" in res.output


def test_questions_file_as_a_json_list_answers_in_order(planted_landcover, tmp_path):
    asked = ["is there water?", "how many hectares of water?", "are there cars?"]
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps(asked))
    out = tmp_path / "out"
    res = _run("ask", planted_landcover, "--questions", qfile, "--json", "-o", out)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["question"] for r in rows] == asked
    assert [r["value"] for r in rows] == [True, 0.56, None]
    assert [r["unit"] for r in rows] == [None, "ha", None]
    assert rows[2]["answerable"] is False and rows[2]["answer"].startswith("I can't tell")
    evidence = json.loads(open(rows[0]["geojson"]).read())
    assert [f["properties"]["class"] for f in evidence["features"]] == ["water"]


def test_questions_file_one_a_line_and_landcover_option(planted_landcover, tmp_path, make_raster):
    qfile = tmp_path / "q.txt"
    qfile.write_text("is it rural or urban?\n\nwhat is in the north-east?\n")
    image = make_raster("scene.tif", np.zeros((3, 120, 120), np.uint8))
    res = _run("ask", image, "--questions", qfile, "--landcover", planted_landcover)
    assert res.exit_code == 0, res.output
    assert res.output.count("Q: ") == 2 and "Rural" in res.output and "vegetation" in res.output


def test_unanswerable_exits_8_and_the_shipped_model_answers_an_image(
    planted_landcover, make_raster
):
    res = _run("ask", planted_landcover, "is there a commercial building?")
    assert res.exit_code == 8 and "I can't tell" in res.output
    image = make_raster("scene.tif", np.full((3, 96, 96), 90, np.uint8))
    res = _run("ask", image, "is there water?", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["question_type"] == "presence" and isinstance(data["value"], bool)


def test_metres_classifies_the_image_resampled(make_raster, tmp_path):
    import rasterio

    image = make_raster("s2.tif", np.full((3, 64, 64), 90, np.uint8))  # 10 m a pixel
    sizes = {}
    for metres in (None, 5):
        out = tmp_path / f"out{metres}"
        extra = ["--metres", metres] if metres else []
        res = _run("ask", image, "is there water?", "-o", out, *extra)
        assert res.exit_code in (0, 8), res.output
        with rasterio.open(out / "landcover" / "landcover.tif") as ds:
            sizes[metres] = (ds.width, round(ds.transform.a, 3))
    assert sizes == {None: (64, 10.0), 5: (128, 5.0)}
    assert _run("ask", image, "is there water?", "--metres", "0").exit_code == 2
