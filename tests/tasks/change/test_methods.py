"""The method registry: entry points of installed distributions, a third-party method end to end."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import (
    DuplicatePluginError,
    InvalidOptionError,
    PluginLoadError,
    UnknownMethodError,
)
from terrasight.tasks.change.methods import cva, irmad, learned
from terrasight.tasks.change.methods.registry import GROUP, get_method, list_methods, registry
from terrasight.tasks.change.pipeline.detect import detect_changes

PLUGIN = "terrasight_ratio_plugin"

PLUGIN_SOURCE = '''
"""A change method from another package: the ratio of the band means of the two dates."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, option


@dataclass(frozen=True)
class RatioOptions(MethodOptions):
    method: ClassVar[str] = "ratio"
    factor: float = option(1.5, low=1.0)


@dataclass(frozen=True)
class FittedRatio:
    factor: float
    name: str = "ratio"
    threshold: float = 0.5

    def probability(self, before, after, valid):
        ratio = (after.mean(axis=0) + 1.0) / (before.mean(axis=0) + 1.0)
        return ((ratio >= self.factor) | (ratio <= 1.0 / self.factor)).astype(np.float32)

    def params(self):
        return {"factor": self.factor}


def fit(samples, band_names, options):
    return FittedRatio(options.factor)


def restore(params, cache=None):
    return FittedRatio(float(params["factor"]))


SPEC = MethodSpec(
    name="ratio", fit=fit, restore=restore, description="band-mean ratio", options=RatioOptions
)
'''


def _distribution(root: Path, name: str, entry_points: str, module: str | None = None) -> Path:
    """A tiny installed distribution in ``root``: a dist-info folder and, optionally, a module."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    dist_name = name.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{textwrap.dedent(entry_points)}")
    if module is not None:
        (root / f"{name}.py").write_text(module)
    return root


@pytest.fixture
def ratio_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A third-party distribution declaring the change method ``ratio``, on ``sys.path``."""
    root = _distribution(tmp_path / "site", PLUGIN, f"ratio = {PLUGIN}:SPEC\n", PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop(PLUGIN, None)


def test_builtins_come_from_the_same_entry_points():
    assert {"cva", "irmad", "learned"} <= set(list_methods())
    specs = registry()
    assert specs["cva"] is cva.SPEC and specs["irmad"] is irmad.SPEC
    assert specs["learned"] is learned.SPEC
    assert get_method("cva").options is cva.CVAOptions


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(UnknownMethodError) as err:
        get_method("cvaa")
    msg = str(err.value)
    assert "unknown change method 'cvaa'" in msg and "Did you mean 'cva'?" in msg
    assert "Available: cva, filtered-cva, irmad, learned, learned-ms, ms-unet, sar" in msg


def test_third_party_method_runs_end_to_end(ratio_plugin, planted_pair, tmp_path):
    before, after, truth = planted_pair
    assert "ratio" in list_methods()
    result = detect_changes(
        before, after, method="ratio", outdir=tmp_path / "out", method_options={"factor": "1.6"}
    )
    assert result.method == "ratio" and result.params == {"factor": 1.6}
    mask = result.mask()
    hits = ((mask == 1) & (truth == 1)).sum()
    assert hits == truth.sum() and ((mask == 1) & (truth == 0)).sum() == 0
    assert len(result.objects) == 1
    with pytest.raises(InvalidOptionError, match="'factor' of change method 'ratio'"):
        detect_changes(before, after, method="ratio", method_options={"factor": 0.5})


def test_third_party_method_through_the_command_line(ratio_plugin, planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "cli"
    args = ["change", str(before), str(after), "-o", str(out), "-q", "-m", "ratio", "--json"]
    res = CliRunner().invoke(main, [*args, "-O", "factor=2", "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["method"] == "ratio" and summary["params"] == {"factor": 2.0}
    assert summary["object_count"] == 1
    res = CliRunner().invoke(main, [*args, "-O", "facter=2"])
    assert res.exit_code == 2 and "Did you mean 'factor'?" in res.output


def test_a_broken_method_is_named_and_does_not_hide_the_others(tmp_path, monkeypatch, caplog):
    root = _distribution(
        tmp_path / "site",
        "broken_plugin",
        "missing = broken_plugin_module_that_is_absent:SPEC\nnotaspec = json:dumps\n",
    )
    monkeypatch.syspath_prepend(str(root))
    assert {"missing", "notaspec", "cva"} <= set(list_methods())
    with pytest.raises(PluginLoadError, match="cannot load entry point 'missing' .*broken-plugin"):
        get_method("missing")
    with pytest.raises(PluginLoadError, match="must name a MethodSpec called 'notaspec'"):
        get_method("notaspec")
    with caplog.at_level(logging.WARNING):
        specs = registry()
    assert "cva" in specs and "missing" not in specs and "notaspec" not in specs
    assert "cannot load entry point 'missing'" in caplog.text


def test_a_second_package_cannot_take_a_methods_name(tmp_path, monkeypatch):
    root = _distribution(tmp_path / "site", "cva_twin", "cva = json:dumps\n")
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(DuplicatePluginError, match="'cva' is registered twice.*cva-twin"):
        get_method("cva")
    with pytest.raises(DuplicatePluginError):
        list_methods()


def test_spec_and_options_must_agree_on_the_name():
    from terrasight.tasks.change.methods.base import MethodSpec

    with pytest.raises(TypeError, match="CVAOptions.method is 'cva'"):
        MethodSpec("other", cva.fit, cva.restore, "x", options=cva.CVAOptions)


def test_options_default_and_typed_values_round_trip():
    for spec in registry().values():
        defaults = spec.parse_options({})
        again = spec.parse_options({k: str(v) for k, v in defaults.to_dict().items() if v})
        assert again == defaults, spec.name
    assert np.isclose(get_method("learned").parse_options({"threshold": "0.25"}).threshold, 0.25)
