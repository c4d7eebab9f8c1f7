"""The RSVQA benchmark's scoring: bins, exact answers, and the leave-one-image-out floor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("vqa_accuracy", BENCH / "vqa_accuracy.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


vqa = _load()


def test_counts_and_areas_are_scored_by_rsvqa_bins():
    assert vqa.correct("7", "10", "count") and not vqa.correct("0", "1", "count")
    assert vqa.correct("150m2", "999m2", "area") and not vqa.correct("1001m2", "999m2", "area")
    assert vqa.correct("Yes", "yes", "presence") and not vqa.correct(None, "no", "comp")
    assert vqa.as_text(True, "comp") == "yes" and vqa.as_text(412.6, "area") == "413m2"


def test_the_floor_leaves_each_image_out_of_its_own_vote():
    rows = [
        {"img_id": i, "type": "presence", "question": "is there water?", "answer": a}
        for i, a in enumerate(["yes", "yes", "no"])
    ]
    f = vqa.floors(rows)
    assert f["in_sample"]["overall"] == 100 * 2 / 3
    # image 0 sees yes, no (tie -> first seen: yes); image 1 the same; image 2 sees yes, yes
    assert f["leave_one_image_out"]["overall"] == 100 * 2 / 3
    assert [r["floor"] for r in rows] == [True, True, False]


def test_the_parser_declines_what_the_classes_cannot_see():
    rows = [
        {"img_id": 1, "type": "count", "question": "How many commercial buildings are there?", "answer": "0"},
        {"img_id": 1, "type": "count", "question": "How many buildings are there?", "answer": "3"},
    ]  # fmt: skip
    assert vqa.declined_by_parser(rows)["overall"] == 50.0


def test_the_images_are_split_in_a_tuning_and_a_reporting_half():
    rows = [
        {"img_id": i, "type": "presence", "question": q, "answer": a}
        for i, q, a in [
            (9, "is there water?", "yes"),
            (3, "is there water?", "no"),
            (5, "is there water?", "no"),
            (5, "is there a road?", "yes"),
            (12, "is there a road?", "no"),
        ]
    ]
    tune, held = vqa.halves(rows)
    assert (tune, held) == ({3, 5}, {9, 12})
    floor = vqa.tuned_floor(rows, tune)
    # image 9: the tuning half says "no" (wrong); image 12: "yes" (wrong)
    assert floor["overall"] == 0.0 and all(
        "floor_tuned" not in r for r in rows if r["img_id"] in tune
    )
