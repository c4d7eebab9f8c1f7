"""One-band change detection: every candidate method on radar and optical single bands.

One band with no SAR polarisation name is the ``panchromatic`` row of ``auto``
(``terrasight.tasks.change.pipeline.choose.CHOICES``): it may be 8-bit radar
amplitude or an optical band, and the file does not say which. This runs each
candidate through ``detect_changes`` (defaults otherwise: 20 px smallest
object, two workers) on one-band GeoTIFFs with no band description:

- radar: Bern (ERS-2) and Sulzberger (ENVISAT), 8-bit amplitude;
- Nanjing Landsat-5 TM, each of its 6 bands alone (labelled pixels only);
- AirChange band 1 (red) of the 13 test crops (top-left 784 x 448 px);
- OSCD, each of the 10 m bands B02 B03 B04 B08 alone, 9 cities;
- the demo pair (``terrasight demo``: simulated changes on a real Sentinel-2
  cut, 1024 px at 10 m, season-like shift, noise, a one-pixel shift), each band.

Split (named in the JSON): the settings of ``filtered-cva`` were chosen on the
**validation** pairs (Bern, the six Nanjing bands, the seven AirChange Szada
crops); the **held-out** pairs (Sulzberger, the 36 OSCD city-bands, AirChange
Tiszadob and Archieve, the demo pair's bands) were scored once with those
settings. Scores are pooled per group (confusion matrices summed over its pairs).

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_one_band.py

Writes ``benchmarks/results/change_one_band.json`` (``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sensors import _pooled, run_method  # noqa: E402

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
METHODS = (
    "cva",
    "irmad",
    "sar",
    "sar:threshold=otsu",
    "filtered-cva",
    "filtered-cva:filter=mean",
    "filtered-cva:filter=lee",
    "filtered-cva:tolerance=1",
    "filtered-cva:threshold=ki,tolerance=1",
    "filtered-cva:threshold=ki,filter=none,tolerance=1",
    "auto",
)
OSCD_BANDS = ("B02", "B03", "B04", "B08")
"""The 10 m bands (B11 and B12 are at 20 m, the labels at 10 m)."""
GROUPS = {
    "bern": "validation",
    "nanjing": "validation",
    "airchange_szada": "validation",
    "sulzberger": "held out",
    "oscd": "held out",
    "airchange_tiszadob": "held out",
    "demo": "held out",
}
"""Group -> role: validation chose the settings, held out was scored once with them."""
RESULTS = Path(__file__).parent / "results"


def _write(path: Path, data: np.ndarray, profile: dict[str, Any]) -> Path:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    data = data if data.ndim == 3 else data[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", dtype=data.dtype, **meta, **profile) as ds:
            ds.write(data)
    return path


def _read(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            profile = {"crs": ds.crs, "transform": ds.transform} if ds.crs else {}
            return ds.read(), profile


def _one_band(name: str, before: np.ndarray, after: np.ndarray, truth: np.ndarray, **kw) -> Any:
    """A :class:`LabelledPair` of one-band GeoTIFFs with no band description."""
    from terrasight.eval.sensors import LabelledPair

    work, profile = kw["work"] / name.replace("/", "-"), kw.get("profile", {})
    return LabelledPair(
        name,
        _write(work / "before.tif", before, profile),
        _write(work / "after.tif", after, profile),
        _write(work / "truth.tif", truth.astype(np.uint8), profile),
    )


def group_pairs(data: Path, group: str, work: Path) -> Iterator[Any]:
    """The one-band labelled pairs of a group, written under ``work``."""
    from terrasight.eval.sensors import nanjing_pair, oscd_cities, oscd_pair, sar_pair

    change = data / "change"
    if group in ("bern", "sulzberger"):
        yield sar_pair(change / "sar", group, work / group)
    elif group == "nanjing":
        pair = nanjing_pair(change / "landsat" / "nanjing", work / "nanjing")
        (b, profile), (a, _) = _read(pair.before), _read(pair.after)
        truth = pair.read_truth()
        for i in range(b.shape[0]):
            yield _one_band(f"nanjing/TM{i + 1}", b[i], a[i], truth, work=work, profile=profile)
    elif group.startswith("airchange"):
        yield from _airchange(change / "airchange", group, work)
    elif group == "demo":
        from terrasight.samples.demo import DEMO_SIZE, make_demo_pair

        demo = make_demo_pair(work / "demo", size=DEMO_SIZE)
        (b, profile), (a, _), (t, _) = (_read(p) for p in (demo.before, demo.after, demo.truth))
        for i in range(b.shape[0]):
            name = f"demo/band{i + 1}"
            yield _one_band(name, b[i], a[i], (t[0] > 0), work=work, profile=profile)
    elif group == "oscd":
        root = change / "oscd"
        for city in oscd_cities(root):
            for band in OSCD_BANDS:
                pair = oscd_pair(root, city, work / "src" / city / band, bands=(band,))
                (b, profile), (a, _) = _read(pair.before), _read(pair.after)
                truth = pair.read_truth()
                h, w = (min(x) for x in zip(b.shape[1:], a.shape[1:], truth.shape, strict=True))
                yield _one_band(
                    f"{city}/{band}",
                    b[0, :h, :w],
                    a[0, :h, :w],
                    truth[:h, :w],
                    work=work,
                    profile=profile,
                )
    else:
        raise ValueError(f"unknown group {group!r}; known: {', '.join(GROUPS)}")


def _airchange(root: Path, group: str, work: Path) -> Iterator[Any]:
    """Band 1 of the AirChange test crops: Szada, or Tiszadob and Archieve."""
    from terrasight.eval.datasets import AIRCHANGE_TEST_WINDOW

    x0, y0, w, h = AIRCHANGE_TEST_WINDOW
    if group == "airchange_szada":
        folders = sorted((root / "Szada").iterdir())
    else:
        folders = [*sorted((root / "Tiszadob").iterdir()), root / "Archieve"]
    for folder in folders:
        if not (folder / "im1.png").is_file():
            continue
        b, a, g = (_read(folder / f)[0] for f in ("im1.png", "im2.png", "gt.png"))
        window = (slice(y0, y0 + h), slice(x0, x0 + w))
        name = f"{folder.parent.name}/{folder.name}" if folder.name != "Archieve" else "Archieve"
        truth = (g[0][window] > 127).astype(np.uint8)
        yield _one_band(name, b[0][window], a[0][window], truth, work=work)


def run(data: Path, groups: list[str], methods: list[str]) -> dict[str, Any]:
    """``{group: {"role", "methods": {method: {"pooled", "pairs"}}}}``."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="terrasight-oneband-") as tmp:
        for group in groups:
            rows: dict[str, dict[str, Any]] = {m: {} for m in methods}
            for pair in group_pairs(data, group, Path(tmp) / group):
                for m in methods:
                    work = Path(tmp) / "out" / m.replace(":", "-").replace("=", "-")
                    row = run_method(pair, m, work)
                    row.pop("warnings", None)
                    rows[m][pair.name] = row
                    shutil.rmtree(work, ignore_errors=True)
                print(f"  {group} {pair.name}", file=sys.stderr, flush=True)
            out[group] = {
                "role": GROUPS[group],
                "methods": {
                    m: {"pooled": _pooled(list(r.values())), "pairs": r} for m, r in rows.items()
                },
            }
    return out


def table(results: dict[str, Any], methods: list[str]) -> str:
    """Kappa per group (pooled), one row per method; the role under each group's name."""
    groups = list(results)
    head = f"{'method':<26}" + "".join(f"{g[:18]:>20}" for g in groups)
    roles = f"{'':<26}" + "".join(f"{results[g]['role']:>20}" for g in groups)
    lines = [head, roles, "-" * len(head)]
    for m in methods:
        cells = []
        for g in groups:
            p = results[g]["methods"][m]["pooled"]
            cells.append(f"{p['kappa']:>11.3f} F1 {p['f1']:.3f}")
        lines.append(f"{m:<26}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--out", type=Path, default=RESULTS / "change_one_band.json")
    args = parser.parse_args(argv)
    if not (args.data / "change").is_dir():
        print(f"no shared data at {args.data} (set TERRASIGHT_SHARED_DATA)", file=sys.stderr)
        return 2
    results = run(args.data, args.groups, args.methods)
    print(table(results, args.methods))
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "split": {
            "validation": "Bern SAR; Nanjing Landsat TM bands 1-5, 7 each alone; AirChange "
            "band 1 of the 7 Szada test crops (filtered-cva's settings chosen here)",
            "held_out": "Sulzberger SAR; OSCD B02 B03 B04 B08 each alone, 9 cities; "
            "AirChange band 1 of the 5 Tiszadob test crops and Archieve; the demo pair's "
            "bands each alone (scored once)",
        },
        "history": (
            "filtered-cva (median 5 px, tolerance 0, Otsu) was chosen on the validation "
            "groups (highest Bern kappa among the candidates that did not lose to cva on "
            "Nanjing or Szada) and then scored on the held-out groups: it failed on "
            "Sulzberger (0.378 against cva 0.688: its noise floor on the filtered dates lay "
            "above most of the large change; Otsu's cut was lower still) "
            "and AirChange Tiszadob. The two threshold=ki candidates were added after that "
            "look at the held-out groups (their validation scores chose nothing); their "
            "held-out scores are a second look, not an unseen test. The panchromatic row "
            "of auto was left as cva."
        ),
        "scores": "kappa and F1 on labelled pixels, confusion matrices pooled over a group",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
