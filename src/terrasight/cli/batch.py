"""``terrasight batch PAIRS.csv -o OUTDIR``: many pairs, one progress bar, one summary."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from terrasight.cli.options import (
    method_option,
    method_options_option,
    min_pixels_option,
    out_option,
    parse_method_options,
)
from terrasight.tasks.batch import PairOutcome, read_pairs, run_batch


@click.command()
@click.argument("table", type=click.Path(path_type=Path))
@out_option("folder", "Output: one folder per pair and the batch's tables", required=True)
@method_option
@method_options_option
@min_pixels_option
@click.option("--bbox", default=None, help="Area of interest W,S,E,N in WGS84, for every pair.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Pairs at once: more than 1 starts a Dask LocalCluster of that many processes.",
)
@click.option("--scheduler", default=None, help="Run pairs on a Dask cluster: tcp://HOST:PORT.")
@click.option("--no-report", is_flag=True, help="Skip each pair's report.html.")
@click.option("--no-facts", is_flag=True, help="Skip each pair's facts.json.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print batch_summary.json on stdout.")
def batch(
    table: Path,
    outdir: Path,
    method: str,
    method_options: tuple[str, ...],
    min_pixels: int,
    bbox: str | None,
    workers: int,
    scheduler: str | None,
    no_report: bool,
    no_facts: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Find what changed in every pair of TABLE, a CSV with columns before, after, name.

    Each pair's outputs go to OUTDIR/NAME, exactly as `terrasight change` writes them;
    OUTDIR also gets batch_summary.csv and .json (one row per pair, failures with their
    reason) and batch_changes.gpkg (every pair's objects in WGS84, with the pair's name).
    A batch started again skips the pairs it finished and resumes the others. Exit code 1
    when any pair failed.
    """
    pairs = read_pairs(table)
    change: dict[str, object] = {
        "method": method,
        "method_options": parse_method_options(method_options),
        "min_pixels": min_pixels,
    }
    if bbox:
        change["bbox"] = bbox
    bar = tqdm(total=len(pairs), unit="pair", desc="batch", disable=quiet, leave=False)

    def progress(done: int, total: int, outcome: PairOutcome) -> None:
        bar.update(1)
        if outcome.status != "done":
            tqdm.write(f"failed: {outcome.name}: {outcome.error}", file=sys.stderr)

    try:
        result = run_batch(
            pairs,
            outdir,
            change,
            report=not no_report,
            facts=not no_facts,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    finally:
        bar.close()
    if as_json:
        click.echo(result.outputs["summary_json"].read_text())
    else:
        _echo_table(result.pairs)
        for kind, path in result.outputs.items():
            click.echo(f"  {kind:12s} {path}")
    if result.failed:
        raise SystemExit(1)


def _echo_table(pairs: tuple[PairOutcome, ...]) -> None:
    width = max(len("pair"), *(len(p.name) for p in pairs))
    click.echo(f"{'pair':{width}s}  {'status':8s} {'objects':>8s} {'changed':>16s}  note")
    for p in pairs:
        changed = f"{p.changed_area:,.0f} {p.area_unit}" if p.status == "done" else "-"
        note = p.error if p.status != "done" else ("UNRELIABLE" if p.unreliable else "")
        if p.resumed:
            note = (note + " (finished earlier)").strip()
        status = p.status
        click.echo(f"{p.name:{width}s}  {status:8s} {p.objects:8d} {changed:>16s}  {note}")
    failed = sum(p.status != "done" for p in pairs)
    click.echo(f"{len(pairs)} pairs, {len(pairs) - failed} done, {failed} failed.")
