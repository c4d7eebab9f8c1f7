"""The shipped caption style is what LEVIR-CC's training captions give."""

from __future__ import annotations

import json

from click.testing import CliRunner

from terrasight.cli import main
from terrasight.tasks.interpret.caption import load_style
from terrasight.training.caption_style import learn_style, phrase_counts


def test_shipped_style_is_learned_again_from_the_data(shared_data, tmp_path):
    out = tmp_path / "style.json"
    res = CliRunner().invoke(
        main, ["train", "caption-style", "--data", str(shared_data), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == load_style()


def test_the_most_used_candidate_wins():
    sets = [["some trees are removed", "many villas appear"], ["a villa", "some villas appear"]]
    style = learn_style(sets)
    assert style["noun"]["built-up"] == "villas"  # 2 sentences, against 0 for houses
    assert style["noun"]["vegetation"] == "trees"
    assert style["quantity"]["few"] == "some" and style["verb"]["disappear"] == "are removed"
    assert style["no_change"] == ""  # no no-change sentence in these sets
    assert phrase_counts(["a villa"], ["villas"]) == {}  # whole words only
