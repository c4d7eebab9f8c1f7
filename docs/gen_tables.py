"""Benchmark tables for the documentation, made from ``benchmarks/results/*.json`` at build time.

A page asks for a table with a marker on a line of its own::

    <!-- bench: change_airchange -->

and this mkdocs hook (``hooks:`` in ``mkdocs.yml``) puts the table there, so every figure
in the docs comes from a committed result file, never typed by hand. Run it as a script
to print every table (``python docs/gen_tables.py``) or one (``... change_airchange``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
MARKER = re.compile(r"^<!-- bench: ([a-z0-9_]+) -->$", re.MULTILINE)


@cache
def load(name: str) -> dict[str, Any]:
    """One result file by its stem (``change_accuracy``)."""
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def f3(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def source(name: str, extra: str = "") -> str:
    data = load(name)
    when = data.get("date") or "date not recorded"
    command = data.get("command")
    said = f", `{command.strip()}`" if command else ""
    return f"\n\n*From `benchmarks/results/{name}.json` ({str(when)[:10]}{said}){extra}.*"


CHANGE_NAMES = {
    "learned": "`learned` (default: version 2, 8-bit)",
    "learned:engine=onnx": "`learned` version 2, float (`-O engine=onnx`)",
    "learned:v1": "`learned` version 1 (shipped before)",
    "learned+flips": "`learned` v2 float with test-time flips (measured, not shipped)",
    "irmad": "`irmad`",
    "cva": "`cva`",
}


def change_airchange() -> str:
    """The 13 AirChange test crops, pooled over pixels."""
    runs = load("change_accuracy")["airchange"]
    rows = []
    for key, run in runs.items():
        p = run["pooled"]
        rows.append(
            [CHANGE_NAMES.get(key, key), f3(p["precision"]), f3(p["recall"]), f3(p["f1"])]
            + [f3(p["iou"]), f3(p["kappa"]), f3(run["mean_pair_f1"])]
        )
    header = ["method", "precision", "recall", "F1", "IoU", "kappa", "mean per-pair F1"]
    return table(header, rows) + source("change_accuracy", "; AirChange test split")


def change_simulated() -> str:
    """Simulated out-of-domain pairs: validation (used for choices) and held-out test."""
    sim = load("change_accuracy")["simulated"]
    rows = []
    for key in sim["test"]:
        val, test = sim["val"].get(key), sim["test"][key]
        tp = test["pooled"]
        rows.append(
            [CHANGE_NAMES.get(key, key), f3(val["pooled"]["f1"]) if val else "", f3(tp["f1"])]
            + [f"{f3(tp['precision'])} / {f3(tp['recall'])}", f3(test["mean_pair_f1"])]
        )
    header = [
        "method",
        f"validation F1 ({next(iter(sim['val'].values()))['pairs_count']} pairs)",
        f"held-out test F1 ({next(iter(sim['test'].values()))['pairs_count']} pairs)",
        "held-out precision / recall",
        "held-out mean per-pair F1",
    ]
    return table(header, rows) + source("change_accuracy", "; simulated validation and test")


def change_cross_site() -> str:
    """AirChange test crops of one site, learned model trained on the other site only."""
    rows = []
    for split, runs in load("change_accuracy")["cross_site"].items():
        for method, run in runs.items():
            p = run["pooled"]
            rows.append(
                [split, method, run["pairs_count"], f3(p["f1"]), f3(p["precision"])]
                + [f3(p["recall"])]
            )
    header = ["trained on -> tested on", "method", "test crops", "F1", "precision", "recall"]
    return table(header, rows) + source("change_accuracy", "; AirChange test crops")


def change_demo() -> str:
    """The shipped demo pair against its own truth."""
    runs = load("change_accuracy")["demo"]
    rows = [
        [CHANGE_NAMES.get(k, k), f3(r["pooled"]["f1"]), f3(r["pooled"]["precision"])]
        + [f3(r["pooled"]["recall"]), r["objects"]]
        for k, r in runs.items()
    ]
    return table(["method", "F1", "precision", "recall", "objects"], rows) + source(
        "change_accuracy", "; the demo pair"
    )


def change_speed() -> str:
    """End-to-end speed and peak memory, everything written (``--save``)."""
    data = load("change_speed_int8")
    rows = [
        [s["size"], f"`{s['runner']}`", f"{s['best_mpx_s']:.2f}", f"{s['median_mpx_s']:.2f}"]
        + [f"{s['ratio_best']:.2f}", round(s["peak_rss_mib"]), f"{s['best_mpx_per_cpu_s']:.2f}"]
        for s in data["summary"]
    ]
    header = ["size px", "runner", "best Mpx/s", "median Mpx/s", "x naive", "peak MiB"]
    machine = data["machine"]
    extra = f"; {machine['cpus']} CPUs ({machine['cpu']}), source `{data['source']}`"
    return table(header + ["Mpx per CPU-s"], rows) + source("change_speed_int8", extra)


def _series_rows(name: str) -> list[list[Any]]:
    rows = []
    for method, result in load(name)["results"].items():
        for series, r in [*result["series"].items(), ("both", result["all"])]:
            rows.append(
                [f"`{method}`", series, f3(r["dated_right"]), f3(r["f1"]), f3(r["false_dating"])]
                + [f"{100 * r['false_alarm']:.3f} %", r["s_per_date"]]
            )
    return rows


def series_accuracy() -> str:
    """Dating planted changes in two eight-date series (test split)."""
    header = ["method", "series", "dated_right", "F1", "false_dating", "false_alarm", "s / date"]
    first = table(header, _series_rows("series_accuracy")) + source("series_accuracy")
    int8 = load("series_accuracy_learned_int8")
    second = table(header, _series_rows("series_accuracy_learned_int8"))
    note = "; the `learned` default on its 8-bit network, 768 px windows"
    return (
        first
        + "\n\nThe learned default since then ("
        + f"{int8['split']} split):\n\n"
        + second
        + source("series_accuracy_learned_int8", note)
    )


def series_validation() -> str:
    """The validation split the series settings were chosen on."""
    data = load("series_accuracy_validation")
    header = ["method", "series", "dated_right", "F1", "false_dating", "false_alarm", "s / date"]
    return table(header, _series_rows("series_accuracy_validation")) + source(
        "series_accuracy_validation", f"; {data['split']} split"
    )


def qa_accuracy() -> str:
    """Questions on change results, by question type: on detections and on the truth masks."""
    data = load("qa_accuracy")
    detected, oracle = data["accuracy"]["detected"], data["accuracy"]["oracle"]
    rows = [
        [kind, v["n"], f3(v["accuracy"]), f3(oracle[kind]["accuracy"])]
        for kind, v in detected.items()
    ]
    header = ["question type", "questions", "on detections", "on the truth masks' facts"]
    turn = data["multi_turn"]
    multi = turn["accuracy"]
    rows2 = [
        [kind, v["n"], f3(v["accuracy"]), f3(multi["oracle"][kind]["accuracy"])]
        for kind, v in multi["detected"].items()
    ]
    return (
        table(header, rows)
        + source("qa_accuracy", f"; {len(data['scenes'])} scenes")
        + f"\n\nTwo-turn dialogues ({turn['dialogues']}, brain `{turn['brain']}`):\n\n"
        + table(["second turn", "dialogues", "on detections", "on the truth masks' facts"], rows2)
    )


def caption_accuracy() -> str:
    """One-image captions on held-out RSICD images (caption-test)."""
    data = load("caption_accuracy")
    rows = [
        [f"`{k}`", f3(r["bleu4"]), f3(r.get("meteor")), f3(r["rouge_l"]), f3(r["cider_d"])]
        for k, r in data["results"].items()
    ]
    header = ["captioner", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D"]
    extra = f"; {data['split']} split, {data['images']} images"
    return table(header, rows) + source("caption_accuracy", extra)


def land_cover_accuracy() -> str:
    """Zero-shot land cover of the facts, kept answers by confidence (AID validation)."""
    data = load("land_cover_accuracy")["aid_validation"]
    rows = [
        [b["min_confidence"], f"{100 * b['kept']:.1f} %", f3(b["accuracy"])]
        for b in data["by_threshold"]
    ]
    return table(["lowest confidence kept", "answers kept", "accuracy"], rows) + source(
        "land_cover_accuracy", f"; {data['images']} AID validation images"
    )


def semantic_change() -> str:
    """From -> to accuracy and building counts on pairs made from the land-cover test tile."""
    data = load("semantic_change")
    summary = data["accuracy"]["summary"]
    names = {"built": "bare -> building", "removed": "building -> bare", "all": "both"}
    rows = [
        [
            names[k],
            s["pairs"],
            f3(s["from_to_accuracy"]),
            f3(s["from_accuracy"]),
            f3(s["to_accuracy"]),
            f3(s["change_recall"]),
            s["count_within_20pct"],
            f"{s['buildings_counted']} / {s['buildings_truth']}",
        ]
        for k, s in ((k, summary[k]) for k in ("built", "removed", "all"))
    ]
    validation = data.get("validation_tile1", {}).get("summary", {}).get("all")
    if validation:
        s = validation
        rows.append(
            [
                "both, validation tile 1",
                s["pairs"],
                f3(s["from_to_accuracy"]),
                f3(s["from_accuracy"]),
                f3(s["to_accuracy"]),
                f3(s["change_recall"]),
                s["count_within_20pct"],
                f"{s['buildings_counted']} / {s['buildings_truth']}",
            ]
        )
    header = [
        "pairs made",
        "pairs",
        "from -> to right",
        "from right",
        "to right",
        "change found",
        "count within 20%",
        "buildings counted / true",
    ]
    extra = f"; {data['split']}"
    earlier = data.get("before_validation")
    if earlier:
        e = earlier["summary"]["all"]
        extra += (
            f"; with the first merge width (0.6, before it was chosen on the validation tile) "
            f"the same pairs counted {e['buildings_counted']} / {e['buildings_truth']}, "
            f"{e['count_within_20pct']} within 20%"
        )
    speed = data.get("speed")
    if speed:
        best = speed["best"]
        extra += (
            f"; at {speed['side_px']} x {speed['side_px']} px `classify_changes` took "
            f"{best['classify_changes_s']} s after {best['detect_s']} s of `detect_changes`"
        )
        cli = speed.get("cli")
        if cli:
            best_cli = cli["best_s"]
            extra += (
                f"; the whole `terrasight change` (facts and report too) "
                f"{best_cli['classes (default)']} s, with `--no-classes` "
                f"{best_cli['--no-classes']} s (best of {len(cli['runs_s']['--no-classes'])})"
            )
    return table(header, rows) + source("semantic_change", extra)


def index_scale() -> str:
    """Building and searching the archive index."""
    data = load("index_scale")
    build = table(
        ["build", "tiles", "tiles/s", "seconds"],
        [
            [f"{t['workers']} worker ({t['runner']})", t["tiles"], t["tiles_per_second"]]
            + [t["seconds"]]
            for t in data["throughput"]
        ],
    )
    search = table(
        ["vectors", "index", "p50 ms", "p99 ms", "recall@10 vs exact", "build s", "disk MiB"]
        + ["peak RSS MiB"],
        [
            [f"{s['vectors']:,}", s["index"], s["p50_ms"], s["p99_ms"], s["recall_at_10"]]
            + [s["index_build_s"], s["disk_mib"], s["peak_rss_mib"]]
            for s in data["scale"]
        ],
    )
    return build + "\n\n" + search + source("index_scale", f"; {data['cpus']} CPUs")


def batch_scale() -> str:
    """A batch of pairs on one process and on a 2-worker Dask LocalCluster."""
    data = load("batch_scale")
    rows = []
    for mode in ("local", "dask"):
        runs = [r for r in data["runs"] if r["mode"] == mode]
        best = data["best_seconds"][mode]
        peak = max(max(r["peak_mib_per_process"]) for r in runs)
        where = "one process" if mode == "local" else "LocalCluster, 2 workers"
        pairs = runs[0]["pairs"]
        rows.append([where, f"{best:.1f}", f"{60 * pairs / best:.1f}", peak, runs[0]["failed"]])
    header = ["where", "best seconds", "pairs per minute", "peak MiB per process", "failed"]
    same = "identical masks" if data["identical_masks"] else "MASKS DIFFER"
    extra = f"; {data['data']}, method {data['method']}; {same}"
    return table(header, rows) + source("batch_scale", extra)


def remote_bytes() -> str:
    """Bytes fetched for change and series jobs over a 1/16 box of remote images."""
    data = load("remote_bytes")
    rows = []
    files_of = {"tiled": "tiled GeoTIFF (not a COG)", "cog": "COG", "stac": "STAC Items of COGs"}
    for r in data["rows"]:
        cells = [
            f"{100 * r[f'{s}_share']:.1f}% ({r[f'{s}_x_blocks']:.2f}x)"
            if f"{s}_share" in r
            else "-"
            for s in ("detect", "facts", "report")
        ]
        total = r["job_with_facts_report_share"], r["job_with_facts_report_x_blocks"]
        job = r.get("job", "change")
        dates = "series, 3 dates" if job == "series" else "change, 2 dates"
        reads = "local copy of the box" if r["reads"] == "copies" else "direct range reads"
        total_cell = f"{100 * total[0]:.1f}% ({total[1]:.2f}x)"
        rows.append([dates, files_of.get(r["files"], r["files"]), reads, *cells, total_cell])
    header = ["job", "files", "reads", "job run", "+ facts", "+ report", "all"]
    extra = (
        f"; share of the files' bytes, and (x) of the bytes of the blocks the box touches in "
        f"every file read; a series writes its report as it runs; {data['scene']}, box "
        f"{data['box_pixels']} px, method {data['method']}"
    )
    return table(header, rows) + source("remote_bytes", extra)


def change_share() -> str:
    """Pairs whose changed share is within a factor 2 of the truth's, per section and method."""
    data = load("change_share")
    rows = [
        [section, method, f"{s['within_2x']} / {s['pairs']}", f"{100 * s['share_within_2x']:.0f}%"]
        for section, methods in data["sections"].items()
        for method, s in methods.items()
    ]
    header = ["pairs", "method", "within 2x", "share"]
    return table(header, rows) + source("change_share", f"; rule: {data['rule']}")


def results_list() -> str:
    """Every committed result file, with its date and command where it records them."""
    rows = []
    for path in sorted(RESULTS.glob("*.json")):
        data = load(path.stem)
        command = data.get("command") if isinstance(data, dict) else None
        when = data.get("date") if isinstance(data, dict) else None
        rows.append([f"`{path.name}`", str(when or "")[:10], f"`{command}`" if command else ""])
    return table(["file", "date", "command"], rows)


TABLES: dict[str, Callable[[], str]] = {
    f.__name__: f
    for f in (
        change_airchange,
        change_simulated,
        change_cross_site,
        change_demo,
        change_speed,
        series_accuracy,
        series_validation,
        qa_accuracy,
        caption_accuracy,
        land_cover_accuracy,
        semantic_change,
        index_scale,
        batch_scale,
        remote_bytes,
        change_share,
        results_list,
    )
}


def render(markdown: str) -> str:
    """``markdown`` with every ``<!-- bench: NAME -->`` marker replaced by its table."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise KeyError(f"no benchmark table {name!r}; known: {', '.join(TABLES)}")
        return TABLES[name]()

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """The mkdocs hook."""
    return render(markdown)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(TABLES):
        print(f"## {name}\n\n{TABLES[name]()}\n")
