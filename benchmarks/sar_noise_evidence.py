"""Can a one-band pair tell radar from optical by its noise? Pair-level statistics, measured.

``method="auto"`` gives one band with no SAR polarisation name to ``cva``. This
measures whether statistics of the *pair* (both dates) separate radar speckle
from optical noise and seasonal differences, on every one-band pair that the
shared data gives (central 512 x 512 px window, the size a probe read would take):

- radar: Bern, Sulzberger (8-bit BMP amplitude, ``terrasight.eval.sensors.sar_pair``);
- optical: each band of the Nanjing Landsat TM pair, the OSCD bands B02, B03,
  B04, B08, B11, B12 of the 9 cities, AirChange bands (R of every pair, G and B
  of Szada/1 and Archieve), LEVIR-CC example pairs and Dubai semantic pairs
  (``terrasight.training.semantic_pairs``) in grey, the demo pair's six bands;
- simulated radar: Gamma speckle of 1, 2 and 4 looks multiplied into optical
  bands (each date its own speckle, the two dates' own reflectivity), stored as
  8-bit amplitude, 8-bit intensity, float amplitude with 1 look against 4,
  1-look filtered with a 3 x 3 mean, 2 x 2 multilooked, and in dB stretched to
  8 bits (1 look; 1 and 4 looks after a 3 x 3 mean and a 1.6 x oversampling,
  which is what the Bern and Sulzberger files look like).

Statistics (``d = after - before``, brightness the 5 x 5 mean of both dates):

- ``slope``: slope of log(MAD of ``d``) against log(brightness), 12 quantile
  bins between the 5th and 95th percentile. Multiplicative noise ~1, additive ~0;
- ``lr_mad``: MAD of ``ln((after + c) / (before + c))`` (``c``: 1 % of the median);
- ``lr_lag1``: lag-1 autocorrelation of that log-ratio (white speckle ~0);
- ``fine_xcorr``: correlation of the two dates' finest detail (``x - gauss(x, 1)``),
  best over shifts of up to 2 px (independent speckle ~0, shared texture ~1);
- ``noise_floor``: 10th percentile of the 5 x 5 local spread of the high-passed
  ``d``, over the MAD of the before image (speckle is everywhere);
- ``tail``: ``(q90 - q10) / (q75 - q25)`` of the high-passed ``d`` (Gaussian 1.90,
  the log-ratio of two 1-look intensities 2.0, Laplace 2.32).

For each statistic the summary gives the range over the real and the simulated
radar pairs, and how many optical pairs lie as far on the radar side as the
least radar-like real pair (the false alarms of any threshold that catches both).

Usage::

    nice -n 10 .venv/bin/python benchmarks/sar_noise_evidence.py [--out JSON]

Writes ``benchmarks/results/sar_noise_evidence.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sar_noise_evidence.json"
PROBE = 512
KEYS = ("slope", "lr_mad", "lr_lag1", "fine_xcorr", "noise_floor", "tail")
MODEL_SLOPE = 0.5
"""The slope rule the noise model suggests: above it, noise grows with brightness (radar)."""
FAMILIES = (
    ("Bern (SAR)", "sar", "bern"),
    ("Sulzberger (SAR)", "sar", "sulzberger"),
    ("Nanjing TM, 6 bands", "optical", "nanjing"),
    ("OSCD B02-B08, 9 cities", "optical", "oscd .* B0"),
    ("OSCD B11-B12, 9 cities", "optical", "oscd .* B1"),
    ("AirChange, 13 pairs", "optical", "airchange"),
    ("LEVIR-CC examples, grey", "optical", "levir"),
    ("Dubai semantic pairs, grey", "optical", "dubai"),
    ("demo pair, 6 bands", "optical", "demo"),
    ("simulated, linear (amplitude, intensity)", "simulated", "^L[^(]* (amp|int)"),
    ("simulated, dB 8-bit, 1 look", "simulated", "^L1 dB8"),
    ("simulated, dB 8-bit, mean 3x3, x1.6", "simulated", "mean3 x1.6 dB8"),
)
"""Rows of the per-family table: (label, group, regular expression on the pair's name)."""
RADAR_SIDE = {"slope": +1, "lr_mad": +1, "lr_lag1": -1, "fine_xcorr": -1, "noise_floor": +1}
"""Which way each statistic points for radar (+1: larger); ``tail`` has no side."""
SIM_BASES = (
    "nanjing band3",
    "nanjing band4",
    "oscd paris B08",
    "oscd beirut B04",
    "airchange Szada/1 R",
    "levir train_000016",
    "demo nir",
    "dubai tile3/image_part_001",
)
Pair = tuple[str, str, np.ndarray, np.ndarray]
"""``(name, group, before, after)``, float64 ``(h, w)`` twice."""


def _centre(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = min(b.shape[0], a.shape[0]), min(b.shape[1], a.shape[1])
    r, c = max(0, (h - PROBE) // 2), max(0, (w - PROBE) // 2)
    cut = (slice(r, r + min(h, PROBE)), slice(c, c + min(w, PROBE)))
    return b[cut].astype(np.float64), a[cut].astype(np.float64)


def _tif(path: Path) -> tuple[np.ndarray, list[str | None]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as ds:
            return ds.read().astype(np.float64), list(ds.descriptions)


def _grey(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), np.float64)


def sensor_pairs(data: Path, work: Path) -> Iterator[Pair]:
    """Bern, Sulzberger, Nanjing bands and OSCD bands, through ``terrasight.eval.sensors``."""
    from terrasight.eval.sensors import nanjing_pair, oscd_cities, oscd_pair, sar_pair

    for name in ("bern", "sulzberger"):
        p = sar_pair(data / "change" / "sar", name, work / name)
        yield (f"sar {name}", "sar", *_centre(_tif(p.before)[0][0], _tif(p.after)[0][0]))
    p = nanjing_pair(data / "change" / "landsat" / "nanjing", work / "nanjing")
    (b, _), (a, _) = _tif(p.before), _tif(p.after)
    for i in range(b.shape[0]):
        yield (f"nanjing band{i + 1}", "optical", *_centre(b[i], a[i]))
    root = data / "change" / "oscd"
    for city in oscd_cities(root):
        p = oscd_pair(root, city, work / city)
        (b, names), (a, _) = _tif(p.before), _tif(p.after)
        for i, band in enumerate(names):
            yield (f"oscd {city} {band}", "optical", *_centre(b[i], a[i]))
        for band in ("B11", "B12"):  # 20 m, off the label's grid: read as they are
            dates = (
                sorted((root / city / d).glob(f"*_{band}.tif"))[0] for d in ("imgs_1", "imgs_2")
            )
            b, a = (_tif(path)[0][0] for path in dates)
            yield (f"oscd {city} {band}", "optical", *_centre(b, a))


def image_pairs(data: Path) -> Iterator[Pair]:
    """AirChange bands, LEVIR-CC examples in grey."""
    root = data / "change" / "airchange"
    folders = sorted(root.glob("*/[0-9]*")) + [root / "Archieve"]
    for folder in folders:
        if not (folder / "im1.png").is_file():
            continue
        tag = folder.name if folder.name == "Archieve" else f"{folder.parent.name}/{folder.name}"
        with Image.open(folder / "im1.png") as i1, Image.open(folder / "im2.png") as i2:
            b, a = (np.asarray(i.convert("RGB"), np.float64) for i in (i1, i2))
        colours = "RGB" if tag in ("Szada/1", "Archieve") else "R"
        for i, colour in enumerate(colours):
            yield (f"airchange {tag} {colour}", "optical", *_centre(b[..., i], a[..., i]))
    levir = data / "levir-cc" / "examples"
    for path in sorted((levir / "A").glob("*.png")):
        yield (
            f"levir {path.stem}",
            "optical",
            *_centre(_grey(path), _grey(levir / "B" / path.name)),
        )


def made_pairs(data: Path, work: Path) -> Iterator[Pair]:
    """Dubai semantic pairs in grey (two images of each tile) and the demo pair's bands."""
    from terrasight.samples.demo import make_demo_pair
    from terrasight.training.landcover_data import load_tiles
    from terrasight.training.semantic_pairs import semantic_pair

    weights = np.array([0.299, 0.587, 0.114])
    for tile in (1, 3, 4, 6, 7, 8):
        for sample in load_tiles(data, (tile,))[:2]:
            h, w = sample.labels.shape
            r, c, n = max(0, (h - PROBE) // 2), max(0, (w - PROBE) // 2), PROBE
            cut = (slice(r, r + n), slice(c, c + n))
            pair = semantic_pair(sample.image[cut], sample.labels[cut], "built", seed=tile)
            b, a = (
                np.tensordot(weights, x.astype(np.float64), 1) for x in (pair.before, pair.after)
            )
            yield (f"dubai {sample.name}", "optical", b, a)
    demo = make_demo_pair(work / "demo", size=PROBE)
    (b, names), (a, _) = _tif(demo.before), _tif(demo.after)
    for i, name in enumerate(names):
        yield (f"demo {name}", "optical", *_centre(b[i], a[i]))


def _to8(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.rint((x - lo) / (hi - lo) * 255), 0, 255)


def _speckle(refl: np.ndarray, looks: int, rng: np.random.Generator) -> np.ndarray:
    return refl * rng.gamma(looks, 1 / looks, refl.shape)


def _stored(ib: np.ndarray, ia: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """Two intensity images stored as an 8-bit product (one stretch for both dates)."""
    if scale == "amp8":
        ib, ia, top = np.sqrt(ib), np.sqrt(ia), 99.5
    elif scale == "db8":
        ib, ia = (10 * np.log10(np.maximum(x, 1e-12)) for x in (ib, ia))
        top = 99.5
    else:
        top = 99.0
    lo = np.percentile(ib, 0.5) if scale == "db8" else 0.0
    hi = float(np.percentile(ib, top))
    return _to8(ib, lo, hi), _to8(ia, lo, hi)


def simulated(name: str, b: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> list[Pair]:
    """Radar-like pairs made from one optical pair (its two dates as reflectivity)."""
    rb, ra = (np.maximum(x, np.percentile(x, 1)) + 1e-3 for x in (b, a))
    out: list[Pair] = []
    for looks in (1, 2, 4):
        ib, ia = _speckle(rb, looks, rng), _speckle(ra, looks, rng)
        out.append((f"L{looks} amp8 ({name})", "simulated", *_stored(ib, ia, "amp8")))
        if looks != 2:
            out.append((f"L{looks} int8 ({name})", "simulated", *_stored(ib, ia, "int8")))
    ib, ia = _speckle(rb, 1, rng), _speckle(ra, 4, rng)
    out.append((f"L1/L4 float amp ({name})", "simulated", np.sqrt(ib), np.sqrt(ia)))
    ib, ia = (ndimage.uniform_filter(_speckle(r, 1, rng), 3) for r in (rb, ra))
    out.append((f"L1 mean3 amp8 ({name})", "simulated", *_stored(ib, ia, "amp8")))
    h, w = rb.shape[0] // 2 * 2, rb.shape[1] // 2 * 2
    ib, ia = (
        _speckle(r, 1, rng)[:h, :w].reshape(h // 2, 2, w // 2, 2).mean((1, 3)) for r in (rb, ra)
    )
    out.append((f"L1 2x2 multilook amp8 ({name})", "simulated", *_stored(ib, ia, "amp8")))
    ib, ia = _speckle(rb, 1, rng), _speckle(ra, 1, rng)
    out.append((f"L1 dB8 ({name})", "simulated", *_stored(ib, ia, "db8")))
    for looks in (1, 4):
        ib, ia = (ndimage.uniform_filter(_speckle(r, looks, rng), 3) for r in (rb, ra))
        ib, ia = (ndimage.zoom(x, 1.6, order=1)[:PROBE, :PROBE] for x in (ib, ia))
        out.append((f"L{looks} mean3 x1.6 dB8 ({name})", "simulated", *_stored(ib, ia, "db8")))
    return out


def _mad(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _local_std(x: np.ndarray, k: int = 5) -> np.ndarray:
    mean, sq = ndimage.uniform_filter(x, k), ndimage.uniform_filter(x * x, k)
    return np.sqrt(np.maximum(sq - mean * mean, 0))[k:-k, k:-k]


def brightness_slope(m: np.ndarray, d: np.ndarray, bins: int = 12) -> float:
    """Slope of log(MAD of ``d``) against log(median ``m``) over quantile bins of ``m``."""
    edges = np.percentile(m, np.linspace(5, 95, bins + 1))
    xs, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (m >= lo) & (m < hi)
        if hi > lo and sel.sum() >= 200:
            xs.append(np.median(m[sel]))
            ys.append(_mad(d[sel]))
    x, y = np.array(xs), np.array(ys)
    ok = (x > 0) & (y > 0)
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 3 else np.nan


def _lag1(r: np.ndarray) -> float:
    r = r - np.median(r)
    h = np.corrcoef(r[:, :-1].ravel(), r[:, 1:].ravel())[0, 1]
    v = np.corrcoef(r[:-1].ravel(), r[1:].ravel())[0, 1]
    return float((h + v) / 2)


def fine_xcorr(b: np.ndarray, a: np.ndarray, shift: int = 2) -> float:
    """Correlation of the dates' finest detail, best over shifts up to ``shift`` px."""
    x, y = (z - ndimage.gaussian_filter(z, 1) for z in (b, a))
    s = shift
    core = x[s:-s, s:-s].ravel()
    best = -1.0
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            moved = y[s + dy : y.shape[0] - s + dy, s + dx : y.shape[1] - s + dx].ravel()
            best = max(best, float(np.corrcoef(core, moved)[0, 1]))
    return best


def statistics(b: np.ndarray, a: np.ndarray) -> dict[str, float]:
    """Every statistic of :data:`KEYS` for one pair."""
    d = a - b
    m = ndimage.uniform_filter((a + b) / 2, 5)
    c = max(0.01 * float(np.median((a + b) / 2)), 1e-6)
    ratio = np.log((a + c) / (b + c))
    high = d - ndimage.uniform_filter(d, 3)
    q10, q25, q75, q90 = np.percentile(high, [10, 25, 75, 90])
    return {
        "slope": brightness_slope(m, d),
        "lr_mad": _mad(ratio),
        "lr_lag1": _lag1(ratio),
        "fine_xcorr": fine_xcorr(b, a),
        "noise_floor": float(np.percentile(_local_std(high), 10)) / max(_mad(b), 1e-9),
        "tail": float((q90 - q10) / max(q75 - q25, 1e-9)),
    }


def separation(rows: list[dict], key: str) -> dict:
    """Ranges per group and the optical pairs as far on the radar side as both real ones."""
    values = {g: [r[key] for r in rows if r["group"] == g] for g in ("sar", "simulated", "optical")}
    out: dict = {g: [float(np.nanmin(v)), float(np.nanmax(v))] for g, v in values.items()}
    side = RADAR_SIDE.get(key)
    if side is None:
        return out
    edge = min(side * v for v in values["sar"])
    alarms = [r["name"] for r in rows if r["group"] == "optical" and side * r[key] >= edge]
    missed = [r["name"] for r in rows if r["group"] == "simulated" and side * r[key] < edge]
    out.update(radar_side=side, optical_alarms=len(alarms), alarm_pairs=alarms[:8])
    out.update(simulated_missed=len(missed), of=len(values["simulated"]))
    if key == "slope":
        rule = {g: sum(v >= MODEL_SLOPE for v in vs) for g, vs in values.items()}
        out["model_rule"] = {"slope_at_least": MODEL_SLOPE, "radar_calls": rule}
    return out


def families(rows: list[dict]) -> dict[str, dict]:
    """Range of each statistic per family of pairs (:data:`FAMILIES`)."""
    out = {}
    for label, group, pattern in FAMILIES:
        found = [r for r in rows if r["group"] == group and re.search(pattern, r["name"])]
        out[label] = {"pairs": len(found)}
        for key in KEYS:
            values = [r[key] for r in found]
            out[label][key] = [float(np.nanmin(values)), float(np.nanmax(values))]
    return out


def _print_tables(summary: dict, table: dict) -> None:
    print(f"\n{'family':42s} {'n':>3s} " + " ".join(f"{k:>13s}" for k in KEYS))
    for label, row in table.items():
        cells = " ".join(f"{row[k][0]:6.2f}-{row[k][1]:<6.2f}" for k in KEYS)
        print(f"{label:42s} {row['pairs']:3d} {cells}")
    print("\nstatistic    real SAR        simulated        optical          alarms  sim missed")
    for key, s in summary.items():
        ranges = " ".join(
            f"{s[g][0]:7.3f}-{s[g][1]:<7.3f}" for g in ("sar", "simulated", "optical")
        )
        extra = f"{s['optical_alarms']:6d}  {s['simulated_missed']}/{s['of']}" if "of" in s else ""
        print(f"{key:12s} {ranges} {extra}")
    rule = summary["slope"]["model_rule"]
    print(f"slope >= {MODEL_SLOPE}: radar calls per group {rule['radar_calls']}")


def collect(data: Path) -> list[dict]:
    rows: list[dict] = []
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = [sensor_pairs(data, work), image_pairs(data), made_pairs(data, work)]
        pairs = [p for source in sources for p in source]
    bases = {name: (b, a) for name, _, b, a in pairs if name in SIM_BASES}
    for name in SIM_BASES:
        pairs += simulated(name, *bases[name], rng)
    for name, group, b, a in pairs:
        rows.append({"name": name, "group": group, **statistics(b, a)})
        print(f"{group:9s} {name:46s} " + " ".join(f"{rows[-1][k]:7.3f}" for k in KEYS))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="shared data folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON to write")
    args = parser.parse_args(argv)
    print(f"{'group':9s} {'pair':46s} " + " ".join(f"{k[:7]:>7s}" for k in KEYS))
    rows = collect(args.data)
    summary = {key: separation(rows, key) for key in KEYS}
    table = families(rows)
    _print_tables(summary, table)
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/sar_noise_evidence.py",
        "probe_px": PROBE,
        "summary": summary,
        "families": table,
        "pairs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
