"""The small public surface: ``import terrasight`` and what it exports."""

import json

import numpy as np
import pytest

import terrasight
from terrasight.io import RasterPair, RasterSource


def test_public_names():
    assert set(terrasight.__all__) >= {"open", "detect_changes", "ChangeResult", "list_methods"}
    assert {"cva", "irmad"} <= set(terrasight.list_methods())
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        terrasight.nope  # noqa: B018


def test_open_one_or_two(planted_pair):
    before, after, _ = planted_pair
    src = terrasight.open(before, bands=[3, 2, 1])
    assert isinstance(src, RasterSource) and src.bands == (3, 2, 1)
    pair = terrasight.open(before, after)
    assert isinstance(pair, RasterPair) and pair.shape == (96, 128)


def test_result_is_plain_data_for_agents_and_servers(planted_pair):
    before, after, truth = planted_pair
    result = terrasight.detect_changes(before, after, method="cva")
    summary = json.loads(json.dumps(result.summary()))
    assert summary["object_count"] == len(result.objects) == 1
    assert summary["changed_pixels"] == int((result.mask() == 1).sum())
    assert summary["changed_area"] == pytest.approx(summary["changed_pixels"] * 100.0)
    gj = json.loads(json.dumps(result.to_geojson()))
    assert gj["features"][0]["properties"]["location"] == summary["objects"][0]["location"]
    assert np.isfinite(result.probability()).all()


def test_default_method_is_the_learned_model(planted_pair):
    pytest.importorskip("torch", reason="the learned default needs terrasight[learned]")
    before, after, truth = planted_pair
    result = terrasight.detect_changes(before, after)
    assert result.method == "learned"
    assert result.summary()["params"]["model"].startswith("siamese")


def test_the_version_is_written_in_one_place_and_the_package_is_typed():
    import importlib.metadata
    import pathlib
    import re

    import terrasight

    assert importlib.metadata.version("terrasight") == terrasight.__version__
    root = pathlib.Path(terrasight.__file__).parent
    assert (root / "py.typed").is_file()
    pyproject = root.parents[1] / "pyproject.toml"
    if pyproject.is_file():  # a source checkout: no second copy of the number
        assert not re.search(r'^version\s*=\s*"', pyproject.read_text(), re.M)
