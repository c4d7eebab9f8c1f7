"""Question-answering accuracy of ``terrasight ask`` per question type, detected and oracle.

Scenes: the 13 AirChange test crops (the top-left 784 x 448 px of each pair,
pixel units: the images have no CRS) and the demo pair (``make_demo_pair``,
1024 px at 10 m; its simulated changes give land cover: flood -> water,
cleared_vegetation -> bare land, built_up -> built-up, vegetation before the
last two). Questions come from templates with paraphrases (``_qa_questions.py``)
and their right answers from the truth masks alone (numpy/scipy, ``_qa_truth.py``).

Two rows:

``detected``
    facts of the shipped default method's detections (``learned``; on the demo pair
    the land cover is classified by the shipped image-text model).
``oracle``
    facts of the truth mask itself (its objects traced by the package, land cover
    from the simulated changes): what is left is question understanding.

A multi-turn section asks two-turn dialogues through ``terrasight.Agent`` with the
offline brain (``_qa_dialogues.py``): a question, then a follow-up whose answer
depends on it ("and in the north?", "how large is the biggest of those?", "how
large is it?"); the follow-up is scored, on the same facts and tolerances.

Scoring: presence yes/no; counts and listings within +-max(1, 20%); areas within
+-25% relative (or 0.25% of the scene); locations the same 3 x 3 cell;
comparisons the same place; classes the same class; unanswerable questions must
get "I can't tell". Detections and facts are cached under ``.cache/qa``.

Usage::

    nice .venv/bin/python benchmarks/qa_accuracy.py            # about 2-3 minutes cold
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import random
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA  # noqa: E402
from _qa_dialogues import dialogues_for  # noqa: E402
from _qa_questions import questions_for  # noqa: E402
from _qa_truth import AFTER_CLASS, BEFORE_CLASS, Truth, box_kind, truth_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "qa"
METHOD = "learned"
TYPES = ("presence", "count", "area", "location", "class", "comparison", "listing", "unanswerable")


def scenes(data: Path) -> list[dict[str, Any]]:
    """Every scene: name, before, after, truth mask, pixel area, unit, demo kinds."""
    from terrasight.eval.change import prepare_inputs
    from terrasight.eval.datasets import list_pairs
    from terrasight.samples.demo import DEMO_SIZE, make_demo_pair

    out = []
    for pair in list_pairs(data / "change" / "airchange", "airchange", crop="test"):
        work = CACHE / "inputs" / pair.name.replace("/", "-")
        before, after = (work / "before.tif", work / "after.tif")
        if not after.is_file():
            before, after = prepare_inputs(pair, work)
        with warnings.catch_warnings(), rasterio.open(pair.truth) as ds:
            col, row, w, h = pair.window
            mask = ds.read(1)[row : row + h, col : col + w] > 0
        out.append(
            {
                "name": pair.name,
                "before": before,
                "after": after,
                "mask": mask,
                "pixel_area": 1.0,
                "unit": "px",
                "kinds": None,
            }
        )
    folder = CACHE / "inputs" / "demo"
    if not (folder / "demo_changes.json").is_file():
        make_demo_pair(folder, size=DEMO_SIZE)
    with rasterio.open(folder / "truth.tif") as ds:
        mask, res = ds.read(1) > 0, ds.res
    kinds = json.loads((folder / "demo_changes.json").read_text())["changes"]
    out.append(
        {
            "name": "demo",
            "before": folder / "before.tif",
            "after": folder / "after.tif",
            "mask": mask,
            "pixel_area": abs(res[0] * res[1]),
            "unit": "m2",
            "kinds": kinds,
        }
    )
    return out


def detected_facts(scene: dict[str, Any], cache: Any) -> Any:
    """Facts of the default method's detections (cached with the result)."""
    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.interpret.facts import FactsOptions, change_facts
    from terrasight.tasks.interpret.facts_data import read_facts, write_facts

    folder = CACHE / METHOD / scene["name"].replace("/", "-")
    if (folder / "facts.json").is_file():
        return read_facts(folder / "facts.json")
    result = detect_changes(
        scene["before"], scene["after"], METHOD, outdir=folder, overwrite=True, cache=cache
    )
    facts = change_facts(result, FactsOptions(classify=scene["kinds"] is not None), cache)
    write_facts(facts, folder / "facts.json")
    return facts


def oracle_facts(scene: dict[str, Any]) -> Any:
    """Facts of the truth mask: traced by the package, land cover from the simulated changes."""
    from terrasight.tasks.change.objects.extract import extract_objects
    from terrasight.tasks.change.result import ChangeResult
    from terrasight.tasks.interpret.facts import FactsOptions, change_facts

    folder = CACHE / "truth" / scene["name"].replace("/", "-")
    folder.mkdir(parents=True, exist_ok=True)
    mask = scene["mask"]
    with warnings.catch_warnings(), rasterio.open(scene["before"]) as ds:
        warnings.simplefilter("ignore")
        crs, transform = ds.crs, ds.transform
    profile = {
        "driver": "GTiff",
        "width": mask.shape[1],
        "height": mask.shape[0],
        "count": 1,
        "crs": crs,
        "transform": transform,
    }
    paths = {"mask": folder / "change_mask.tif", "probability": folder / "change_probability.tif"}
    with rasterio.open(paths["mask"], "w", dtype="uint8", **profile) as ds:
        ds.write(mask.astype(np.uint8)[None])
    with rasterio.open(paths["probability"], "w", dtype="float32", **profile) as ds:
        ds.write(mask.astype(np.float32)[None])
    wkt = crs.to_wkt() if crs else None
    objects, changed = extract_objects(paths["mask"], paths["probability"], 20, wkt, transform)
    result = ChangeResult(
        method="truth",
        before=str(scene["before"]),
        after=str(scene["after"]),
        crs=wkt,
        transform=tuple(transform)[:6],
        width=mask.shape[1],
        height=mask.shape[0],
        mask_path=paths["mask"],
        probability_path=paths["probability"],
        objects=objects,
        valid_pixels=mask.size,
        changed_pixels=changed,
        cloud_pixels=0,
        pixel_area=scene["pixel_area"],
        area_unit=scene["unit"],
    )
    facts = change_facts(result, FactsOptions(classify=False))
    if scene["kinds"] is None:
        return facts
    return _with_truth_classes(facts, scene["kinds"])


def _with_truth_classes(facts: Any, kinds: list[dict]) -> Any:
    """Each traced object gets the land cover of the simulated change its box overlaps most."""
    objects = []
    for f in facts.objects:
        kind = box_kind(f.pixel_bbox, kinds)
        before = BEFORE_CLASS[kind] or "unknown"
        objects.append(
            replace(
                f,
                before_class=before,
                after_class=AFTER_CLASS[kind],
                before_confidence=1.0 if before != "unknown" else None,
                after_confidence=1.0,
            )
        )
    return replace(facts, objects=tuple(objects), model="truth")


def correct(q: dict[str, Any], answer: Any, scene_area: float) -> bool:
    """Whether an answer is right within the stated tolerances."""
    kind, truth, value = q["type"], q["truth"], answer.value
    if kind == "unanswerable":
        return not answer.answerable
    if not answer.answerable or value is None and kind not in ("location",):
        return False
    if kind == "presence":
        return value is truth
    if kind in ("count", "listing"):
        n = len(value) if isinstance(value, list) else value
        return abs(n - truth) <= max(1.0, 0.2 * truth)
    if kind == "area":
        if answer.unit != q["unit"]:
            return False
        floor = 0.25 if q["unit"] == "%" else 0.0025 * scene_area / {"ha": 1e4}.get(q["unit"], 1.0)
        return abs(value - truth) <= max(0.25 * abs(truth), floor)
    if kind == "class":
        return value == truth or str(value).endswith(f"-> {truth}")
    return value == truth


def run(args: argparse.Namespace) -> dict[str, Any]:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.ask import ask_result

    cache = ModelCache()
    rows: dict[str, dict[str, list[bool]]] = {"detected": {}, "oracle": {}}
    typed: dict[str, int] = {"rules": 0, "sentence model": 0}
    type_ok = 0
    records = []
    multi: dict[str, dict[str, list[bool]]] = {"detected": {}, "oracle": {}}
    dialogue_records: list[dict[str, Any]] = []
    all_scenes = scenes(args.data)[: args.limit or None]
    start = time.perf_counter()
    for scene in all_scenes:
        truth: Truth = truth_of(
            scene["name"], scene["mask"], scene["pixel_area"], scene["unit"], scene["kinds"]
        )
        facts = {"detected": detected_facts(scene, cache), "oracle": oracle_facts(scene)}
        for q in questions_for(truth, random.Random(f"qa-{scene['name']}")):
            record = {**q}
            for row, f in facts.items():
                answer = ask_result(f, q["question"], cache)
                ok = correct(q, answer, truth.scene_area)
                rows[row].setdefault(q["type"], []).append(ok)
                record[row] = {"value": answer.value, "unit": answer.unit, "ok": ok}
            if q["type"] == "unanswerable":
                type_ok += not answer.answerable
            else:
                type_ok += answer.question_type == q["type"]
            typed[
                "sentence model" if any("sentence model" in n for n in answer.notes) else "rules"
            ] += 1
            records.append(record)
        for d in dialogues_for(truth, random.Random(f"qa-dialogue-{scene['name']}")):
            record = {**d}
            for row, f in facts.items():
                reply = _converse(f, d["turns"], cache)
                ok = correct(d, reply, truth.scene_area)
                multi[row].setdefault(d["type"], []).append(ok)
                record[row] = {"value": reply.value, "unit": reply.unit, "ok": ok}
            dialogue_records.append(record)
    table = {
        row: {
            t: {"n": len(v), "correct": int(sum(v)), "accuracy": round(float(np.mean(v)), 3)}
            for t, v in sorted(r.items(), key=lambda kv: TYPES.index(kv[0]))
        }
        for row, r in rows.items()
    }
    for row, r in rows.items():
        every = [x for v in r.values() for x in v]
        table[row]["all"] = {
            "n": len(every),
            "correct": int(sum(every)),
            "accuracy": round(float(np.mean(every)), 3),
        }
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "command": " ".join(sys.argv),
        "method": METHOD,
        "scenes": [s["name"] for s in all_scenes],
        "questions": len(records),
        "question_type_read_right": round(type_ok / max(1, len(records)), 3),
        "typed_by": typed,
        "seconds": round(time.perf_counter() - start, 1),
        "tolerances": "counts and listings +-max(1, 20%); areas +-max(25% relative, 0.25% of the "
        "scene, 0.25 percentage points); locations: same 3x3 cell; comparisons: same place",
        "accuracy": table,
        "multi_turn": {
            "brain": "offline",
            "dialogues": len(dialogue_records),
            "accuracy": _table(multi),
            "records": dialogue_records,
        },
        "records": records,
    }


def _converse(facts: Any, turns: list[str], cache: Any) -> Any:
    """The reply to the last of ``turns``, asked in order of one agent over ``facts``,
    as the answer to score (``value``, ``unit``, ``answerable``)."""
    from types import SimpleNamespace

    from terrasight.agent import Agent

    agent = Agent(facts, cache=cache)
    for text in turns:
        reply = agent.ask(text)
    answerable = not reply.text.startswith(("I can't tell", "I could not"))
    return SimpleNamespace(value=reply.value, unit=reply.unit, answerable=answerable)


def _table(rows: dict[str, dict[str, list[bool]]]) -> dict[str, Any]:
    """Accuracy per question type and in all, for each row."""
    out: dict[str, Any] = {}
    for row, r in rows.items():
        out[row] = {
            t: {"n": len(v), "correct": int(sum(v)), "accuracy": round(float(np.mean(v)), 3)}
            for t, v in sorted(r.items(), key=lambda kv: TYPES.index(kv[0]))
        }
        every = [x for v in r.values() for x in v]
        out[row]["all"] = {
            "n": len(every),
            "correct": int(sum(every)),
            "accuracy": round(float(np.mean(every)), 3) if every else 0.0,
        }
    return out


def format_table(out: dict[str, Any]) -> str:
    """A text table: one line per question type, detected and oracle accuracy."""
    acc = out["accuracy"]
    lines = [f"{'type':<13} {'n':>4}  {'detected':>9}  {'oracle':>7}"]
    for t in [*TYPES, "all"]:
        if t in acc["oracle"]:
            d, o = acc["detected"][t], acc["oracle"][t]
            lines.append(f"{t:<13} {o['n']:>4}  {d['accuracy']:>9.3f}  {o['accuracy']:>7.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="The shared data folder.")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N scenes (0: all).")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "qa_accuracy.json"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")
    from rasterio.errors import NotGeoreferencedWarning

    warnings.simplefilter("ignore", NotGeoreferencedWarning)
    out = run(args)
    print(format_table(out))
    print("multi-turn (offline brain, follow-ups scored):")
    print(format_table({"accuracy": out["multi_turn"]["accuracy"]}))
    print(
        f"{out['questions']} questions; type read right {out['question_type_read_right']:.1%}; "
        f"typed by {out['typed_by']}; {out['seconds']} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
