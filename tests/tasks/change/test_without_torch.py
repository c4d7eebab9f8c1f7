"""A base install without PyTorch: the learned default runs on its shipped 8-bit network in
ONNX Runtime; without ONNX Runtime too, it says how to install them, and cva still runs.

Each case runs in a fresh interpreter where ``import torch`` fails
(``sys.modules["torch"] = None``), with its own temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

NO_ENGINE = ("torch", "onnxruntime")
"""Neither engine of the learned method can be imported."""


def _python(
    code: str, tmp: Path, *args: object, block: tuple[str, ...] = ("torch",)
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing the ``block`` modules fails."""
    header = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in block)
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    return subprocess.run(
        [sys.executable, "-c", header + textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_default_method_runs_without_pytorch(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "out"
    code = """
        from terrasight.cli import main
        try:
            main(sys.argv[1:], prog_name="terrasight", standalone_mode=False)
        finally:
            print("torch loaded:", sys.modules["torch"] is not None)
    """
    run = _python(code, tmp_path, "change", before, after, "-o", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "torch loaded: False"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "learned" and summary["params"]["engine"] == "int8"
    assert (out / "change_mask.tif").is_file() and (out / "report.html").is_file()


def test_command_line_default_method_is_one_line_and_exit_6(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "out"
    code = """
        from terrasight.cli import main
        main(sys.argv[1:], prog_name="terrasight")
    """
    run = _python(code, tmp_path, "change", before, after, "-o", out, block=NO_ENGINE)
    assert run.returncode == 6, run.stderr  # MissingDependencyError in ERROR_TABLE
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: change method 'learned'")
    assert "pip install 'terrasight[learned]'" in lines[0] and "--method cva" in lines[0]
    assert run.stdout == "" and not out.exists()


def test_api_refuses_before_any_work_and_cva_runs(planted_pair, tmp_path):
    before, after, _ = planted_pair
    code = """
        import os
        import terrasight
        from terrasight.errors import MissingDependencyError

        before, after = sys.argv[1:3]
        try:
            terrasight.detect_changes(before, after)
        except MissingDependencyError as exc:
            print("refused:", exc)
        print("scratch after refusal:", os.listdir(os.environ["TMPDIR"]))
        result = terrasight.detect_changes(before, after, method="cva")
        print("cva objects:", len(result.objects))
        print("torch loaded:", sys.modules["torch"] is not None)
    """
    run = _python(code, tmp_path, before, after, block=NO_ENGINE)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("refused: change method 'learned' (the default) needs PyTorch")
    assert lines[1:] == ["scratch after refusal: []", "cva objects: 1", "torch loaded: False"]
