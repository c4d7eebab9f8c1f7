"""A save opens the result's inputs once for the facts' crops and the report's clips."""

from __future__ import annotations

import json

import pytest

import terrasight.tasks.interpret.crops as crops_module
from terrasight.tasks.change.pipeline.detect import detect_changes


def test_facts_and_report_share_one_opening_of_the_inputs(planted_pair, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    before, after, _ = planted_pair
    result = detect_changes(before, after, method="cva", min_pixels=5, outdir=tmp_path / "job")
    assert len(result.objects) >= 1
    opened = []
    real = crops_module.CropReader.__init__

    def counted(self, *args, **kwargs):  # one reader per opening of the inputs for crops
        opened.append(args[:1])
        real(self, *args, **kwargs)

    monkeypatch.setattr(crops_module.CropReader, "__init__", counted)
    paths = result.save(tmp_path / "out", workers=1)
    facts = json.loads(paths["facts"].read_text())
    assert facts["model"] == "terrasight-vl"  # the facts did classify from the crops
    assert 'class="clip"' in paths["report"].read_text()  # and the report drew its clips
    assert len(opened) == 1
