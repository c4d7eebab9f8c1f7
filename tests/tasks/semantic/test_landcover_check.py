"""The land-cover check: a change of one land cover on both dates is flagged or dropped.

Small planted scenes (GeoTIFFs with a CRS) and the colour "network" of
``test_building_counts`` (class probabilities from the distance to one colour per class),
so the classes of every planted change are known: a lawn that only turns a lighter green
(vegetation on both dates), a new roof on sand (bare -> building) and a lawn that turns a
colour between the classes (the network is unsure after: unknown).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.tasks.semantic.test_building_counts import LAWN, ROOF, ColourNetwork, _scene, _write

from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.tasks.semantic.detect import detect_changes
from terrasight.tasks.semantic.same_cover import UNCHANGED_NAME

PALER_LAWN = np.array((70, 185, 80), np.float32)
"""Still nearest to vegetation (sure), but far enough from the lawn for CVA to see it."""
MUDDY = np.array((168, 178, 6), np.float32)
"""As far from building, vegetation, water and bare land as can be: unsure (unknown)."""
FIELD = (20, 20, 50)
ROOF_AT = (120, 120, 24)
UNSURE_AT = (120, 20, 40)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lccheck")
    field, roof, unsure = FIELD, ROOF_AT, UNSURE_AT
    before = _scene([(*field, LAWN), (*unsure, LAWN)], 1)
    after = _scene([(*field, PALER_LAWN), (*roof, ROOF), (*unsure, MUDDY)], 2)
    return _write(folder / "before.tif", before), _write(folder / "after.tif", after)


def _run(planted: tuple[Path, Path], out: Path, mode: str):
    return detect_changes(
        *planted,
        "cva",
        outdir=out,
        min_pixels=10,
        classes=True,
        landcover_network=ColourNetwork(),  # type: ignore[arg-type]
        landcover_check=mode,
    )


def _inside(mask: np.ndarray, where: tuple[int, int, int]) -> np.ndarray:
    row, col, side = where
    return mask[row + 3 : row + side - 3, col + 3 : col + side - 3]


def _layer(result) -> dict:
    return json.loads((Path(result.mask_path).parent / UNCHANGED_NAME).read_text())


def test_off_detects_all_three_changes(planted, tmp_path):
    result = _run(planted, tmp_path / "off", "off")
    mask = result.mask()
    for where in (FIELD, ROOF_AT, UNSURE_AT):
        assert (_inside(mask, where) == 1).mean() > 0.9
    assert "landcover_check" not in result.params
    assert not (tmp_path / "off" / UNCHANGED_NAME).exists()
    pairs = {(o.from_class, o.to_class) for o in result.objects}
    assert ("vegetation", "vegetation") in pairs and ("bare", "building") in pairs


def test_drop_removes_the_tonal_field_and_keeps_the_new_roof_and_the_unsure_lawn(planted, tmp_path):
    result = _run(planted, tmp_path / "drop", "drop")
    mask = result.mask()
    assert (_inside(mask, FIELD) == 0).all()
    assert (_inside(mask, ROOF_AT) == 1).mean() > 0.9
    assert (_inside(mask, UNSURE_AT) == 1).mean() > 0.9
    pairs = [(o.from_class, o.to_class) for o in result.objects]
    assert ("vegetation", "vegetation") not in pairs
    assert ("bare", "building") in pairs
    assert any(to == "unknown" for _, to in pairs)
    assert [o.id for o in result.objects] == list(range(1, len(result.objects) + 1))
    assert result.changed_pixels == int((mask == 1).sum())
    check = result.params["landcover_check"]
    assert check["mode"] == "drop" and check["objects"] == 1
    assert check["by_class"] == {"vegetation": 1}
    row, col, side = FIELD
    assert check["pixels"] >= (side - 6) ** 2
    assert check["area"] == pytest.approx(check["pixels"] * 1.0)
    assert any("land cover unchanged" in w and "removed" in w for w in result.warnings)
    layer = _layer(result)
    (feature,) = layer["features"]
    assert feature["properties"]["action"] == "removed"
    assert feature["properties"]["from_class"] == feature["properties"]["to_class"] == "vegetation"
    assert feature["properties"]["sure_share"] >= 0.5


def test_flag_keeps_the_field_and_names_its_object(planted, tmp_path):
    result = _run(planted, tmp_path / "flag", "flag")
    assert (_inside(result.mask(), FIELD) == 1).all()
    check = result.params["landcover_check"]
    assert check["objects"] == 1
    (flagged,) = check["flagged_ids"]
    obj = next(o for o in result.objects if o.id == flagged)
    assert (obj.from_class, obj.to_class) == ("vegetation", "vegetation")
    assert _layer(result)["features"][0]["properties"]["object_id"] == flagged
    assert any("kept in the mask" in w for w in result.warnings)


def test_a_wrong_mode_is_refused_before_any_image_is_read(tmp_path):
    with pytest.raises(InvalidOptionError, match="flag, drop"):
        detect_changes(tmp_path / "no.tif", tmp_path / "no2.tif", classes=True,
                       landcover_check="maybe")  # fmt: skip


def test_cli_drop_reports_what_it_removed(planted, tmp_path, monkeypatch):
    import terrasight.tasks.semantic.run as run

    monkeypatch.setattr(run, "load_landcover_network", lambda threads=2: ColourNetwork())
    out = tmp_path / "cli"
    res = CliRunner().invoke(
        main,
        ["change", str(planted[0]), str(planted[1]), "-o", str(out), "--method", "cva",
         "--min-pixels", "10", "--landcover-check", "drop", "--no-facts", "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["landcover_check"]["objects"] == 1
    assert any("land cover unchanged" in w for w in summary["warnings"])
    assert "land cover unchanged" in res.output
    assert (out / UNCHANGED_NAME).is_file()
    assert "land cover unchanged" in (out / "report.html").read_text()
    geo = json.loads((out / "changes.geojson").read_text())
    pairs = [(f["properties"].get("from_class"), f["properties"].get("to_class"))
             for f in geo["features"]]  # fmt: skip
    assert ("vegetation", "vegetation") not in pairs and ("bare", "building") in pairs


def test_a_piece_mostly_unsure_in_one_date_is_kept_and_buildings_only_when_asked():
    from terrasight.tasks.semantic.same_cover import CoverCheck

    veg = {"from_class": "vegetation", "to_class": "vegetation"}
    sure = np.array([[3] * 10, [3] * 10], np.uint8)
    unsure_after = np.array([[3] * 10, [3] * 3 + [5] * 7], np.uint8)
    check = CoverCheck.of("drop")
    assert check.judge(veg, sure) == 1.0
    assert check.judge(veg, unsure_after) is None
    roofs = {"from_class": "building", "to_class": "building"}
    codes = np.zeros((2, 10), np.uint8)
    assert check.judge(roofs, codes) is None
    assert CoverCheck.of("drop", classes=("building",)).judge(roofs, codes) == 1.0
    assert CoverCheck.of("off").judge(veg, sure) is None


def test_the_check_alone_implies_classes(planted, tmp_path):
    result = detect_changes(
        *planted,
        "cva",
        outdir=tmp_path / "implied",
        min_pixels=10,
        landcover_network=ColourNetwork(),  # type: ignore[arg-type]
        landcover_check="flag",
    )
    assert result.params["landcover_check"]["objects"] == 1
    assert all(o.from_class is not None for o in result.objects)


def test_cli_refuses_the_check_without_classes(planted, tmp_path):
    res = CliRunner().invoke(
        main,
        ["change", str(planted[0]), str(planted[1]), "-o", str(tmp_path / "x"),
         "--no-classes", "--landcover-check", "drop"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "--no-classes" in res.output
    assert not (tmp_path / "x").exists()
