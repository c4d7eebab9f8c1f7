"""One-image question answering on the RSVQA subsets in ``../shared/data/rsvqa/{LR,HR}``.

Each question is asked of ``terrasight.tasks.scene_ask.ask_image_many`` (the image's
land cover computed once), and scored as RSVQA scores: yes/no and rural/urban
exact; counts and areas (m2) right when they fall in the same bin as the truth
(0, 1-10, 11-100, 101-1000, more). "I can't tell" counts as wrong.

Split by image: in each subset the images are sorted by id; the first ceil(n/2)
(LR 72, 102; HR 753, 2904) are the tuning half, on which every rule and setting
was chosen (the ground pixel size the land cover is made at, the best-guess
readings of unseen kinds); the others (LR 465; HR 3674, 9234) are the reporting
half, which ``--half reporting`` (the default) scores and the JSON holds. No
component is trained on the question-answer pairs.

Two scores: ``accuracy`` (the answers as a user gets them) and, kept apart,
``accuracy_with_guesses``, where an "I can't tell" about a kind the classes cannot
see is replaced by its best guess (``SceneAnswer.guess``: the kind read as the class
it looks most like). Beside them, two floors on the same questions: the most common
answer per question text with the image's own answers left out of the vote (LOIO,
``floors``), and the most common answer per question text among the tuning half's
questions (``floor_tuned``; the type's most common answer where the text is not
asked there).

The land cover comes from real model output only:

``--metres LR=2,HR=1``
    the shipped land-cover network run on each image resampled to that ground pixel
    size (``terrasight.tasks.scene_ask.scale.landcover_at``).
``--landcover-dir DIR``
    a folder of maps made beforehand by a land-cover model: ``DIR/LR/72/landcover.tif``
    (the folder ``terrasight landcover IMAGE -o DIR/LR/72`` writes) or
    ``DIR/LR/72.tif``; ``--made-by`` names the model, recorded in the JSON.
``--model MODULE:FUNCTION``
    a callable ``fn(image, outdir)`` that writes ``outdir/landcover.tif``, e.g.
    ``terrasight.tasks.landcover:landcover``.

Without any, only the floors and the share of questions the parser itself
declines are printed. The JSON (``benchmarks/results/vqa_accuracy.json``) is
written only when a model ran.

Usage::

    nice .venv/bin/python benchmarks/vqa_accuracy.py --metres LR=2,HR=1
    nice .venv/bin/python benchmarks/vqa_accuracy.py --metres LR=2,HR=1 --half tuning --out t.json
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA  # noqa: E402

from terrasight.tasks.scene_ask import ask_image_many, parse, read_landcover  # noqa: E402
from terrasight.tasks.scene_ask.answer import answer_query  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUBSETS = {"LR": ("LR_split_train", "Images_LR"), "HR": ("USGS_split_train", "Images/Data")}
TYPES = ("presence", "comp", "count", "area", "rural_urban")


def halves(rows: list[dict[str, Any]]) -> tuple[set[int], set[int]]:
    """The tuning half and the reporting half of a subset's images: sorted by id, the first
    ceil(n / 2) images tune every rule and setting, the others are only reported.

    Example:
        >>> halves([{"img_id": i} for i in (465, 72, 102)])
        ({72, 102}, {465})
    """
    ids = sorted({int(r["img_id"]) for r in rows})
    cut = (len(ids) + 1) // 2
    return set(ids[:cut]), set(ids[cut:])


def tuned_floor(rows: list[dict[str, Any]], tune: set[int]) -> dict[str, float]:
    """The most common answer per question text among the tuning half's questions (the most
    common answer of its type where the text is not asked there), scored on the other rows;
    each row's result is kept in ``row["floor_tuned"]``."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r["img_id"] in tune:
            votes[r["question"]][r["answer"]] += 1
            by_type[r["type"]][r["answer"]] += 1
    out: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        if r["img_id"] in tune:
            continue
        pool = votes.get(r["question"]) or by_type.get(r["type"]) or Counter()
        guess = pool.most_common(1)[0][0] if pool else ""
        r["floor_tuned"] = correct(guess, r["answer"], r["type"])
        out[r["type"]].append(r["floor_tuned"])
        out["overall"].append(r["floor_tuned"])
    return {t: 100 * sum(v) / len(v) for t, v in out.items()}


def load_subset(name: str, root: Path) -> list[dict[str, Any]]:
    """Questions of one subset: ``{"image", "img_id", "type", "question", "answer"}``."""
    prefix, images = SUBSETS[name]
    folder = root / "rsvqa" / name
    questions = json.loads((folder / f"{prefix}_questions.json").read_text())["questions"]
    answers = {
        a["id"]: a["answer"]
        for a in json.loads((folder / f"{prefix}_answers.json").read_text())["answers"]
    }
    rows = []
    for q in questions:
        if not q.get("active", True):
            continue
        rows.append(
            {
                "image": folder / images / f"{q['img_id']}.tif",
                "img_id": q["img_id"],
                "type": q["type"],
                "question": q["question"],
                "answer": str(answers[q["answers_ids"][0]]),
            }
        )
    return rows


def rsvqa_bin(value: float) -> int:
    """RSVQA's bins for counts and areas: 0, 1-10, 11-100, 101-1000, more.

    Example:
        >>> [rsvqa_bin(v) for v in (0, 1, 10, 11, 1000, 1001)]
        [0, 1, 1, 2, 3, 4]
    """
    v = round(value)
    return 0 if v <= 0 else 1 if v <= 10 else 2 if v <= 100 else 3 if v <= 1000 else 4


def as_text(value: Any, qtype: str) -> str | None:
    """An answer's value as RSVQA writes answers (``yes``, ``12``, ``350m2``, ``rural``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if qtype == "area":
        return f"{round(float(value))}m2"
    return str(round(value)) if isinstance(value, (int, float)) else str(value)


def correct(pred: str | None, truth: str, qtype: str) -> bool:
    """RSVQA scoring: counts and areas by bin, everything else exactly."""
    if pred is None:
        return False
    if qtype in ("count", "area"):
        num = re.compile(r"[-\d.]+")
        p, t = num.match(pred), num.match(truth)
        return bool(p and t) and rsvqa_bin(float(p.group())) == rsvqa_bin(float(t.group()))
    return pred.strip().lower() == truth.strip().lower()


def floors(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Accuracy of the most common answer per question text: in-sample, and leaving each
    image's own answers out of the vote for its questions (each row's guess is kept in
    ``row["floor"]``)."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        votes[r["question"]][r["answer"]] += 1
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_type[r["type"]][r["answer"]] += 1
    out: dict[str, dict[str, list[bool]]] = {
        "in_sample": defaultdict(list),
        "leave_one_image_out": defaultdict(list),
    }
    for r in rows:
        inside = votes[r["question"]].most_common(1)[0][0]
        others = votes[r["question"]].copy()
        for o in rows:
            if o["question"] == r["question"] and o["img_id"] == r["img_id"]:
                others[o["answer"]] -= 1
        others = +others
        if not others:  # the question is asked of this image only: fall back to its type
            others = by_type[r["type"]].copy()
            others[r["answer"]] -= 1
            others = +others
        loo = others.most_common(1)[0][0] if others else ""
        r["floor"] = correct(loo, r["answer"], r["type"])
        for kind, guess in (("in_sample", inside), ("leave_one_image_out", loo)):
            ok = correct(guess, r["answer"], r["type"])
            out[kind][r["type"]].append(ok)
            out[kind]["overall"].append(ok)
    return {k: {t: 100 * sum(v) / len(v) for t, v in d.items()} for k, d in out.items()}


def declined_by_parser(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Share (%) of questions answered "I can't tell" before any map is read."""
    import numpy as np

    from terrasight.tasks.scene_ask.instances import SceneObjects
    from terrasight.tasks.scene_ask.landcover_map import LandCoverMap

    names = ("building", "road", "water", "vegetation", "bare", "unknown")
    lc = LandCoverMap(np.full((4, 4), 4, np.uint8), names, np.ones(4), "m2")
    empty = SceneObjects(lc, (), {n: np.zeros((4, 4), np.int64) for n in names})
    out: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        declined = not answer_query(empty, parse(r["question"])).answerable
        out[r["type"]].append(declined)
        out["overall"].append(declined)
    return {t: 100 * sum(v) / len(v) for t, v in out.items()}


def run_model(
    rows: list[dict[str, Any]], subset: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Ask every question of its image; the map from ``--landcover-dir`` or ``--model``."""
    fn = None
    if args.model:
        module, _, attr = args.model.partition(":")
        fn = getattr(importlib.import_module(module), attr)
    elif args.metres:
        from terrasight.tasks.scene_ask.scale import landcover_at

        fn = landcover_at(float(args.metres))
    by_image: dict[Path, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_image[r["image"]].append(r)
    scored = []
    for image, items in by_image.items():
        qs = [r["question"] for r in items]
        if args.landcover_dir:
            base = Path(args.landcover_dir) / subset
            path = base / image.stem / "landcover.tif"
            source: Any = read_landcover(path if path.exists() else base / f"{image.stem}.tif")
            answers = ask_image_many(source, qs)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                answers = ask_image_many(image, qs, landcover=fn, outdir=tmp)
        for r, a in zip(items, answers, strict=True):
            value = a.value if a.question_type != "area" or a.unit == "m2" else None
            pred = as_text(value, r["type"]) if a.answerable else None
            guess = None if a.answerable else as_text(a.guess, r["type"])
            best = pred if a.answerable else guess
            scored.append({**r, "image": str(r["image"]), "pred": pred, "cant_tell": not a.answerable,
                           "ok": correct(pred, r["answer"], r["type"]), "guess": guess,
                           "ok_with_guess": correct(best, r["answer"], r["type"])})  # fmt: skip
    return scored


def summary(scored: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Accuracy, "I can't tell" share and accuracy on the answered, per type and overall."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in scored:
        groups[s["type"]].append(s)
        groups["overall"].append(s)
    out = {}
    for t, g in groups.items():
        answered = [s for s in g if not s["cant_tell"]]
        out[t] = {
            "n": len(g),
            "accuracy": 100 * sum(s["ok"] for s in g) / len(g),
            "cant_tell": 100 * sum(s["cant_tell"] for s in g) / len(g),
            "accuracy_answered": 100 * sum(s["ok"] for s in answered) / len(answered)
            if answered
            else float("nan"),
            "floor_loio_answered": 100 * sum(s["floor"] for s in answered) / len(answered)
            if answered
            else float("nan"),
            "accuracy_with_guesses": 100 * sum(s["ok_with_guess"] for s in g) / len(g),
            "floor_loio": 100 * sum(s["floor"] for s in g) / len(g),
        }
        if all("floor_tuned" in s for s in g):
            out[t]["floor_tuned"] = 100 * sum(s["floor_tuned"] for s in g) / len(g)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA)
    p.add_argument("--landcover-dir", default=None)
    p.add_argument("--made-by", default=None, help="the model that made --landcover-dir's maps")
    p.add_argument("--model", default=None, help="MODULE:FUNCTION making landcover.tif")
    p.add_argument(
        "--metres",
        default=None,
        help="classify each subset resampled to this ground pixel size: 'LR=10,HR=0.6'",
    )
    p.add_argument("--half", choices=("reporting", "tuning", "all"), default="reporting")
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "vqa_accuracy.json"
    )
    args = p.parse_args()
    if not (args.data / "rsvqa").is_dir():
        sys.exit(f"no RSVQA subsets under {args.data}/rsvqa: set TERRASIGHT_SHARED_DATA")
    if args.landcover_dir and not args.made_by:
        sys.exit(
            "--landcover-dir needs --made-by MODEL: the benchmark reports real model maps only"
        )
    metres = dict(kv.split("=") for kv in args.metres.split(",")) if args.metres else {}
    ran = bool(args.model or args.landcover_dir or metres)
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "split": "RSVQA train subsets shipped in shared/data, split by image: the tuning half "
        "(first ceil(n/2) image ids) chose every rule and setting; the reporting half is "
        "reported",
        "half_reported": args.half,
        "subsets": {},
    }
    for subset in SUBSETS:
        rows = load_subset(subset, args.data)
        tune, held = halves(rows)
        entry: dict[str, Any] = {
            "questions": len(rows),
            "tuning_images": sorted(tune),
            "reporting_images": sorted(held),
            "floors": floors(rows),
            "floor_tuned_on_reporting_half": tuned_floor(rows, tune),
            "declined_by_parser": declined_by_parser(rows),
        }
        if ran:
            chosen = {"tuning": tune, "reporting": held, "all": tune | held}[args.half]
            kept = [r for r in rows if r["img_id"] in chosen]
            sub = argparse.Namespace(**{**vars(args), "metres": metres.get(subset)})
            scored = run_model(kept, subset, sub)
            entry["questions_scored"] = len(kept)
            entry["metres"] = float(metres[subset]) if subset in metres else None
            entry["terrasight"] = summary(scored)
            entry["answers"] = scored
        report["subsets"][subset] = entry
        _print(subset, entry)
    if ran:
        report["land_cover"] = args.model or args.made_by or "terrasight.tasks.landcover:landcover"
        args.out.write_text(json.dumps(report, indent=1, default=str))
        print(f"wrote {args.out}")
    else:
        print("no land-cover model given (--model, --metres or --landcover-dir): floors only")


def _print(subset: str, entry: dict[str, Any]) -> None:
    print(
        f"\nRSVQA {subset} ({entry['questions']} questions; tuning images "
        f"{entry['tuning_images']}, reporting images {entry['reporting_images']})"
    )
    head = f"{'type':<12} {'n':>4} {'floor LOIO':>10} {'floor tuned':>11}"
    print(
        head + ("  terrasight  +guesses  cant_tell  on answered" if "terrasight" in entry else "")
    )
    for t in (*TYPES, "overall"):
        s = entry.get("terrasight", {}).get(t)
        if s is None:
            continue
        line = f"{t:<12} {s['n']:>4} {s['floor_loio']:>9.1f}% {s.get('floor_tuned', float('nan')):>10.1f}%"
        line += f"  {s['accuracy']:>9.1f}%  {s['accuracy_with_guesses']:>7.1f}%  {s['cant_tell']:>8.1f}%"
        line += f"  {s['accuracy_answered']:>10.1f}%"
        print(line)


if __name__ == "__main__":
    main()
