"""``terrasight change`` through click's runner: outputs, and bad input as one clear line."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rasterio.transform import from_origin

from terrasight.cli import main


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_change_writes_six_outputs(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "out"
    res = _run("change", before, after, "-o", out, "-q", "-m", "cva")
    assert res.exit_code == 0, res.output
    assert "1 change objects" in res.output
    for name in (
        "change_mask.tif",
        "change_probability.tif",
        "changes.geojson",
        "changes.gpkg",
        "summary.json",
        "report.html",
    ):
        assert (out / name).is_file()
        assert name in res.output
    assert json.loads((out / "summary.json").read_text())["method"] == "cva"


def test_rerun_same_job_resumes_and_other_job_is_refused(planted_pair, make_raster, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "out"
    assert _run("change", before, after, "-o", out, "-q", "-m", "cva").exit_code == 0
    again = _run("change", before, after, "-o", out, "-q", "-m", "cva")
    assert again.exit_code == 0 and "1 change objects" in again.output
    other = make_raster("other.tif", np.full((3, 96, 128), 9, np.uint8))
    res = _run("change", before, other, "-o", out, "-q", "-m", "cva")
    assert res.exit_code != 0
    assert "different change job" in res.output and "--overwrite" in res.output


def _bad_inputs(tmp_path, make_raster, before):
    text = tmp_path / "notes.tif"
    text.write_text("hello, not an image")
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(before.read_bytes()[:300])
    far = make_raster(
        "far.tif", np.ones((3, 96, 128), np.uint8), transform=from_origin(900000, 5000000, 10, 10)
    )
    four = make_raster("four.tif", np.ones((2, 96, 128), np.uint8))
    empty = make_raster("empty.tif", np.zeros((3, 96, 128), np.uint8), nodata=0)
    tiny = make_raster("tiny.tif", np.ones((3, 1, 1), np.uint8))
    return {  # (input, words of the message, exit code from terrasight.errors.ERROR_TABLE)
        "text": (text, "notes.tif: not a raster", 4),
        "corrupt": (corrupt, "corrupt.tif", 3),
        "no overlap": (far, "do not overlap", 3),
        "band count": (four, "four.tif has 2; choose the same bands in both, e.g. --bands 1,2", 3),
        "all nodata": (empty, "no valid pixels", 3),
        "1x1": (tiny, "1x1 pixels", 3),
        "missing": (tmp_path / "missing.tif", "file not found", 4),
    }


@pytest.mark.parametrize(
    "case", ["text", "corrupt", "no overlap", "band count", "all nodata", "1x1", "missing"]
)
def test_bad_input_gets_one_clear_line(case, planted_pair, make_raster, tmp_path):
    before, _, _ = planted_pair
    path, expected, code = _bad_inputs(tmp_path, make_raster, before)[case]
    res = _run("change", before, path, "-o", tmp_path / f"out-{case}", "-q")
    assert res.exit_code == code
    assert expected in res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: ")


def test_unknown_band_name(planted_pair, tmp_path):
    before, after, _ = planted_pair
    res = _run("change", before, after, "-o", tmp_path / "o", "--bands", "red,swir22", "-q")
    assert res.exit_code == 3 and "no band named 'swir22'" in res.output


def test_method_options_reach_the_method(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "o"
    res = _run(
        "change", before, after, "-o", out, "-O", "tolerance=0", "-q", "--no-report", "-m", "cva"
    )
    assert res.exit_code == 0, res.output
    assert json.loads((out / "summary.json").read_text())["params"]["tolerance"] == 0
    bad = _run("change", before, after, "-o", tmp_path / "p", "-O", "tolerance", "-q", "-m", "cva")
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["-O", "tolerance=5"],
            "Error: option 'tolerance' of change method 'cva' must be an integer from 0 to 2, not 5.",
        ),
        (
            ["-O", "tolerence=1"],
            "Error: unknown option 'tolerence' for change method 'cva'. Did you mean 'tolerance'?",
        ),
        (["-O", "max_iter=5"], "Error: unknown option 'max_iter' for change method 'cva'."),
        (
            ["-O", "threshold=0.5"],
            "Error: option 'threshold' of change method 'cva' must be 'otsu', 'two-step', 'ki',",
        ),
        (
            ["--tile-size", "300"],
            "Error: option 'tile_size' of detect_changes must be None or a multiple of 256",
        ),
        (
            ["-m", "cvx"],
            "Error: unknown change method 'cvx'. Did you mean 'cva'? Available: cva, filtered-cva, irmad, learned, learned-ms, ms-unet, sar",
        ),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, words, planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "o"
    res = _run("change", before, after, "-o", out, "-q", "-m", "cva", *args)
    assert res.exit_code == 2, res.output
    assert res.output.startswith(words) and len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output and not out.exists()


def test_learned_options_reach_the_method(planted_pair, tmp_path):
    before, after, _ = planted_pair
    res = _run("change", before, after, "-o", tmp_path / "o", "-q", "-O", "threshold=2")
    assert res.exit_code == 2
    assert "'threshold' of change method 'learned' must be a number from 0 to 1" in res.output


def test_json_summary_on_stdout_and_warnings_on_stderr(make_raster, tmp_path):
    rng = np.random.default_rng(3)
    base = rng.normal(100, 10, (3, 64, 64)).clip(0, 255)
    after = base.copy()
    after[:, 10:30, 10:30] = 250
    b = make_raster("b.tif", base.astype(np.uint8), crs=None)
    a = make_raster("a.tif", after.astype(np.uint8), crs=None)
    out = tmp_path / "o"
    res = _run("change", b, a, "-o", out, "-m", "cva", "--json", "--no-report")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["method"] == "cva" and summary["object_count"] == 1
    assert summary == {
        **json.loads((out / "summary.json").read_text()),
        "outputs": summary["outputs"],
    }
    assert set(summary["outputs"]) == {
        "mask",
        "probability",
        "geojson",
        "geopackage",
        "summary",
        "facts",
        "classes",
        "transitions",
    }
    assert all(Path(p).is_file() for p in summary["outputs"].values())
    assert "warning:" in res.stderr and "no CRS" in res.stderr
    assert "warning:" not in res.stdout and "no CRS" in summary["warnings"][0]


def test_output_folder_that_is_a_file_or_unwritable(planted_pair, tmp_path):
    before, after, _ = planted_pair
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = _run("change", before, after, "-o", afile, "-q", "-m", "cva")
    assert res.exit_code == 5 and "is a file" in res.output and "Traceback" not in res.output
    res = _run("change", before, after, "-o", afile / "out", "-q", "-m", "cva")
    assert res.exit_code == 5 and "cannot write into the output folder" in res.output


def test_interrupting_says_what_is_kept_only_where_it_is(planted_pair, tmp_path, monkeypatch):
    import terrasight.cli.change as change_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(change_cli, "detect_changes", interrupted)
    b, a, _ = planted_pair
    result = CliRunner().invoke(main, ["change", str(b), str(a), "-o", str(tmp_path / "o")])
    assert result.exit_code == 130 and "interrupted. Finished windows are kept" in result.output
    monkeypatch.setattr("terrasight.tasks.embed.search", interrupted)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "x.png").write_bytes(b"")
    result = CliRunner().invoke(main, ["search", "roads", str(tmp_path / "imgs")])
    assert result.exit_code == 130 and "interrupted." in result.output
    assert "resume" not in result.output and "Traceback" not in result.output


def test_a_second_run_into_a_busy_folder_gets_one_line(planted_pair, tmp_path):
    import subprocess
    import sys

    before, after, _ = planted_pair
    out = tmp_path / "busy"
    hold = (
        "import sys, time\nfrom pathlib import Path\n"
        "from terrasight.tasks.change.pipeline.job import job_lock\n"
        "with job_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        res = _run("change", before, after, "-o", out, "-q", "-m", "cva")
        assert res.exit_code == 5 and "Traceback" not in res.output
        assert f"a job is already running in {out} (pid {proc.pid})" in res.output
        assert not (out / "change_mask.tif").exists()
    finally:
        proc.kill()
        proc.wait()
    res = _run("change", before, after, "-o", out, "-q", "-m", "cva")
    assert res.exit_code == 0, res.output


def test_a_run_that_failed_on_a_damaged_file_reruns_once_the_file_is_fixed(planted_pair, tmp_path):
    import shutil

    import rasterio

    before, after, _ = planted_pair
    good = tmp_path / "good-after.tif"
    damaged = tmp_path / "after.tif"
    with rasterio.open(after) as src:
        profile = src.profile | dict(tiled=True, blockxsize=16, blockysize=16, compress="deflate")
        with rasterio.open(good, "w", **profile) as dst:
            dst.write(src.read())
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 2000] = bytes(2000)
    damaged.write_bytes(raw)
    out = tmp_path / "o"
    res = _run("change", before, damaged, "-o", out, "-q", "-m", "cva", "--no-report")
    assert res.exit_code == 4 and "after.tif: cannot read the window of columns" in res.output
    shutil.copyfile(good, damaged)  # the user fixes the file and runs the same command
    res = _run("change", before, damaged, "-o", out, "-q", "-m", "cva", "--no-report")
    assert res.exit_code == 0, res.output
