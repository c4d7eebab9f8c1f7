"""Sections ``landsat``, ``sar`` and ``oscd`` of ``change_accuracy.py``: other sensors.

Every method runs with its defaults through ``detect_changes`` (``auto`` too:
the choice is made from the file as a user's would be), on GeoTIFFs written
by :mod:`terrasight.eval.sensors`. Scores are on the labelled pixels only
(Nanjing: the union of ``change.bmp`` and ``unchanged.bmp``; SAR and OSCD: every
pixel); a method that fails on a pair is listed with its error.

- ``landsat``: the Nanjing Landsat-5 TM pair (6 bands, 30 m), kappa, F1, and the
  changed share of the labelled pixels against the truth's.
- ``sar``: Bern (ERS-2 flood) and Sulzberger (ENVISAT ice shelf), one band,
  8-bit amplitude. The ``sar`` method's defaults were chosen on Bern
  (``SELECTION_PAIR``); Sulzberger is scored with them.
- ``oscd``: the 9 OSCD cities in the shared data, the four 10 m bands (B02,
  B03, B04, B08) stacked per date, F1 pooled over the cities' pixels.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

SENSOR_METHODS = ("cva", "irmad", "learned", "sar", "auto")
SELECTION_PAIR = "bern"
"""The SAR pair the ``sar`` method's settings were chosen on (the other is held out)."""


def run_method(pair: Any, method: str, work: Path, **options: Any) -> dict[str, Any]:
    """Scores of one method on one :class:`~terrasight.eval.sensors.LabelledPair`, or its error."""
    from terrasight.errors import TerrasightError
    from terrasight.eval.sensors import score_mask
    from terrasight.tasks.change.pipeline.detect import detect_changes

    start = time.perf_counter()
    name, _, rest = method.partition(":")  # "cva:tolerance=0" runs cva with that option
    given = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
    if given:
        options = {**options, "method_options": given}
    try:
        result = detect_changes(pair.before, pair.after, name, outdir=work, workers=2, **options)
    except TerrasightError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    row = score_mask(result.mask(), pair.read_truth())
    row["seconds"] = round(time.perf_counter() - start, 2)
    row["chosen"] = result.method
    if result.method_choice:
        row["method_choice"] = result.method_choice
    row["warnings"] = list(result.warnings)
    return row


def _pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from terrasight.eval.metrics import ConfusionMatrix, scores

    ok = [r for r in rows if "error" not in r]
    cm = ConfusionMatrix(*(sum(int(r[k]) for r in ok) for k in ("tp", "fp", "fn", "tn")))
    n = max(cm.total, 1)
    return {
        **cm.to_dict(),
        **scores(cm),
        "changed_share": (cm.tp + cm.fp) / n,
        "truth_share": (cm.tp + cm.fn) / n,
        "pairs_scored": len(ok),
        "pairs_failed": len(rows) - len(ok),
    }


def section_landsat(data: Path, methods: list[str]) -> dict[str, Any]:
    """Every method on the Nanjing Landsat TM pair."""
    from terrasight.eval.sensors import nanjing_pair

    with tempfile.TemporaryDirectory(prefix="terrasight-landsat-") as tmp:
        pair = nanjing_pair(data / "change" / "landsat" / "nanjing", Path(tmp) / "pair")
        return {m: {"nanjing": run_method(pair, m, Path(tmp) / m)} for m in methods}


def section_sar(data: Path, methods: list[str]) -> dict[str, Any]:
    """Every method on the Bern and Sulzberger SAR pairs (Bern chose the sar defaults)."""
    from terrasight.eval.sensors import SAR_PAIRS, sar_pair

    out: dict[str, Any] = {m: {} for m in methods}
    with tempfile.TemporaryDirectory(prefix="terrasight-sar-") as tmp:
        for name in SAR_PAIRS:
            pair = sar_pair(data / "change" / "sar", name, Path(tmp) / name)
            for m in methods:
                row = run_method(pair, m, Path(tmp) / f"{name}-{m}")
                row["role"] = "selection" if name == SELECTION_PAIR else "held out"
                out[m][name] = row
            if "auto" in methods:  # the files name no sensor: what a user who says so gets
                row = run_method(pair, "auto", Path(tmp) / f"{name}-auto-sar", sensor="sar")
                row["role"] = "selection" if name == SELECTION_PAIR else "held out"
                out.setdefault("auto --sensor sar", {})[name] = row
    return out


def section_oscd(data: Path, methods: list[str]) -> dict[str, Any]:
    """Every method on the OSCD cities (4 bands at 10 m), F1 pooled over the cities."""
    from terrasight.eval.sensors import oscd_cities, oscd_pair

    root = data / "change" / "oscd"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="terrasight-oscd-") as tmp:
        pairs = [oscd_pair(root, c, Path(tmp) / c) for c in oscd_cities(root)]
        for m in methods:
            rows = {}
            for pair in pairs:
                work = Path(tmp) / f"{pair.name}-{m}"
                rows[pair.name] = run_method(pair, m, work)
                shutil.rmtree(work, ignore_errors=True)
            out[m] = {"pooled": _pooled(list(rows.values())), "cities": rows}
    return out


def table(title: str, section: dict[str, Any]) -> str:
    """Plain text: one row per method and pair (kappa, F1, changed share against the truth's)."""
    head = f"{'method':<17} {'pair':<12} {'kappa':>6} {'F1':>6} {'changed':>8} {'truth':>7}  chosen"
    lines = [title, head, "-" * len(head)]
    for method, pairs in section.items():
        items = pairs.items() if "pooled" not in pairs else [("pooled", pairs["pooled"])]
        for name, r in items:
            if "error" in r:
                lines.append(f"{method:<17} {name:<12} failed: {r['error'][:70]}")
                continue
            lines.append(
                f"{method:<17} {name:<12} {r['kappa']:>6.3f} {r['f1']:>6.3f} "
                f"{r['changed_share']:>8.4f} {r['truth_share']:>7.4f}  {r.get('chosen', '')}"
                + (f" ({r['role']})" if "role" in r else "")
            )
    return "\n".join(lines)
