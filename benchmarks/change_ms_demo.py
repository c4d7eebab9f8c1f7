"""``ms-unet`` against ``cva`` (what ``auto`` ran before) on the demo pair's planted changes.

The demo pair (``terrasight demo``: a real Sentinel-2 cut, 6 bands, with a
planted flood, clearing and new roofs; :func:`terrasight.samples.demo.make_demo_pair`)
is not urban construction: it checks that a network trained on OSCD's urban
change still finds other kinds of change. Each method runs through
``detect_changes`` with its defaults (4 and 6 bands), scored against the
planted truth.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_ms_demo.py [--methods ms-unet cva:tolerance=0]

Writes ``benchmarks/results/change_ms_demo.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from change_multispectral import _parse  # noqa: E402

from terrasight.samples.demo import DEMO_SIZE, make_demo_pair  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402
from terrasight.training.change_ms import scores  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "change_ms_demo.json"


def _four_bands(path: Path, out: Path) -> Path:
    """The first four bands (B02, B03, B04, B08) of ``path``, names kept."""
    with rasterio.open(path) as ds:
        profile = {**ds.profile, "count": 4}
        data, names = ds.read([1, 2, 3, 4]), ds.descriptions[:4]
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name or "")
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["ms-unet", "cva:tolerance=0"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ms-demo-"))
    pair = make_demo_pair(work, size=DEMO_SIZE)
    with rasterio.open(pair.truth) as ds:
        truth = ds.read(1) == 1
    inputs = {
        "6": (pair.before, pair.after),
        "4": (_four_bands(pair.before, work / "b4.tif"), _four_bands(pair.after, work / "a4.tif")),
    }
    rows: dict = {}
    for bands, (before, after) in inputs.items():
        for method in args.methods:
            base, options = _parse(method)
            result = detect_changes(before, after, method=base, method_options=options)
            row = scores(result.mask() == 1, truth)
            rows.setdefault(method, {})[f"{bands}_bands"] = row
            print(f"{bands} bands {method:16s} F1 {row['f1']:.3f} "
                  f"({row['precision']:.2f}/{row['recall']:.2f})")  # fmt: skip
    report = {"what": __doc__.split("\n")[0], "truth_share": float(np.mean(truth)), "rows": rows}
    args.out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
