"""``terrasight models``: the registry and where each model's weights are."""

from __future__ import annotations

import json

from click.testing import CliRunner

from terrasight.cli import main


def test_models_lists_each_entry_with_its_weights() -> None:
    result = CliRunner().invoke(main, ["models", "--kind", "vl", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {r["kind"] for r in rows.values()} == {"vl"}
    assert rows["terrasight-vl"]["weights"].startswith("shipped (terrasight-vl-v")
    assert "chendelong/RemoteCLIP/RemoteCLIP-ViT-B-32.pt" in rows["remoteclip-vit-b-32"]["weights"]
    assert rows["skyclip-vit-l-14"]["weights"].startswith("--checkpoint PATH (download https://")
    assert "RemoteCLIP" in rows["remoteclip-vit-b-32"]["paper"]
    text = CliRunner().invoke(main, ["models"]).output
    assert "siamese-effnet-lite0  [change]" in text and "georsclip-vit-h-14  [vl]" in text
