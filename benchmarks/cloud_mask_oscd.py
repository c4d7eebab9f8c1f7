"""How much cloud-free ground the change job's cloud mask removes: the nine OSCD cities.

The OSCD cities are cloud-free or nearly (Paris' after date has two small
cumulus clouds and a shadow, Beirut's before date one small cloud and its shadow).
Each city is written as one uint16 GeoTIFF per date (EPSG:4326, bands named B02
... B08, and B11, B12 with ``--bands 6``), the job's cloud layer is built as
``detect_changes`` builds it (``cloud_mask="auto"``), and the pixels excluded as
cloud or shadow in either date are counted, with those that are true change.

Usage::

    nice -n 10 .venv/bin/python benchmarks/cloud_mask_oscd.py --label after [--bands 4 6]

Adds (or replaces) the ``label`` section of ``benchmarks/results/cloud_mask_oscd.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402
from _oscd_stack import stack_city  # noqa: E402

from terrasight.io.pair import open_pair  # noqa: E402
from terrasight.models.runtime import ModelCache  # noqa: E402
from terrasight.tasks.change.pipeline import clouds  # noqa: E402
from terrasight.tasks.change.pipeline.cloud_rule import MASKED  # noqa: E402
from terrasight.training.oscd import SWIR, TEN_M, city_names, find_root  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "cloud_mask_oscd.json"


def masked_pixels(before: Path, after: Path) -> np.ndarray:
    """The pixels the job's cloud layer excludes (bool), as ``detect_changes`` builds it."""
    pair = open_pair(before, after, None, None, None, "bilinear", None)
    notes: list[str] = []
    config = clouds.cloud_config(pair.before, pair.band_names, "auto")
    plan = clouds.plan_clouds(pair, config, "auto", None, 0.0, notes) if config else None
    if plan is None:
        return np.zeros(pair.shape, bool)
    folder = Path(tempfile.mkdtemp(prefix="clouds-"))
    clouds.build_cloud_layer(pair, plan, folder, 2, True, ModelCache())
    with rasterio.open(folder / clouds.CLOUD_FILE) as src:
        return (src.read(1) & MASKED) > 0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--label", default="current")
    parser.add_argument("--bands", nargs="+", choices=["4", "6"], default=["4", "6"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="rasterio")
    root = find_root(args.data)
    work = Path(tempfile.mkdtemp(prefix="oscd-clouds-"))
    section: dict = {}
    print("| bands | city | masked px | masked share | true change masked |")
    print("|---|---|---|---|---|")
    for nb in args.bands:
        bands = TEN_M if nb == "4" else TEN_M + SWIR
        rows = {}
        for name in city_names(root):
            before, after, truth = stack_city(root / name, bands, work)
            m = masked_pixels(before, after)
            rows[name] = {
                "masked": int(m.sum()),
                "share": float(m.mean()),
                "true_change_masked": int((m & truth).sum()),
            }
            print(
                f"| {nb} | {name} | {rows[name]['masked']} | {100 * rows[name]['share']:.2f}% "
                f"| {rows[name]['true_change_masked']} |"
            )
        rows["total"] = {
            k: sum(r[k] for r in rows.values()) for k in ("masked", "true_change_masked")
        }
        section[f"{nb}_bands"] = rows
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report[args.label] = section
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
