"""Caption metrics: hand-worked examples, agreement with pycocoevalcap's own code, errors.

pycocoevalcap is never installed (it pulls in pycocotools): scripts/setup-env downloads
its wheel to .cache/reference/ and extracts it (without SPICE) to
.cache/reference/pycocoevalcap/. Its BLEU, ROUGE-L and CIDEr modules are pure Python
and are read from the wheel; its PTBTokenizer and METEOR need Java and the extracted jars.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import random
import shutil
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terrasight.errors import InvalidOptionError, MissingDependencyError, exit_code
from terrasight.eval.captions import (
    METEOR_JAR_ENV,
    CaptionScores,
    bleu,
    cider_d,
    meteor,
    rouge_l,
    score_captions,
    tokenize,
)

REFERENCE = Path(__file__).resolve().parents[2] / ".cache" / "reference"
EXTRACTED = REFERENCE / "pycocoevalcap" / "pycocoevalcap"
JAR = EXTRACTED / "meteor" / "meteor-1.5.jar"
TOL = 1e-9


# --- hand-worked examples -----------------------------------------------------------------


def test_bleu_by_hand_one_candidate_two_references():
    cand = {"a": "The cat sat on the mat."}
    refs = {"a": ["the cat is on the mat", "there is a cat on the mat"]}
    # Candidate: 6 words. Closest reference length: 6 (|6-6| = 0), so no brevity penalty.
    # Unigrams clipped by the most a reference holds: the 2 (ref 1 has two), cat 1, sat 0,
    # on 1, mat 1 -> 5 of 6. Bigrams: "the cat", "on the", "the mat" of the candidate's 5
    # ("cat sat", "sat on" are in no reference) -> 3 of 5.
    # BLEU-1 = 5/6; BLEU-2 = sqrt(5/6 * 3/5) = sqrt(1/2).
    b1, b2 = bleu(cand, refs, n=2)
    assert b1 == pytest.approx(5 / 6, abs=TOL)
    assert b2 == pytest.approx(math.sqrt(0.5), abs=TOL)


def test_bleu_brevity_penalty_by_hand():
    refs = {"a": ["the cat is on the mat", "there is a cat on the mat"]}
    # "the cat": 2 words; closest reference length 6 (|6-2| = 4 < |7-2| = 5).
    # Both unigrams and the bigram match: precisions 1, BP = exp(1 - 6/2) = e^-2.
    b1, b2 = bleu({"a": "the cat"}, refs, n=2)
    assert b1 == pytest.approx(math.exp(-2), abs=TOL)
    assert b2 == pytest.approx(math.exp(-2), abs=TOL)


def test_bleu_closest_length_takes_the_shorter_on_a_tie():
    # 5 candidate words, references of 4 and 6 words: both 1 away; "closest" takes 4,
    # so the candidate is longer than its reference and there is no penalty. (Taking 6
    # would give exp(1 - 6/5).) Unigrams: a b c d match, e does not -> 4/5.
    (b1,) = bleu({"x": "a b c d e"}, {"x": ["a b c d", "a b c d f g"]}, n=1)
    assert b1 == pytest.approx(4 / 5, abs=TOL)


def test_bleu_pools_counts_over_the_corpus():
    # Corpus BLEU, not a mean: image 1 "a b" vs "a b" (2/2 unigrams), image 2 "c d" vs
    # "c e" (1/2). Pooled: 3/4; lengths 4 = 4, no penalty.
    (b1,) = bleu({"1": "a b", "2": "c d"}, {"1": ["a b"], "2": ["c e"]}, n=1)
    assert b1 == pytest.approx(3 / 4, abs=TOL)


def test_rouge_l_by_hand():
    cand = "the river crosses the old town"  # 6 words
    # Ref 1 "the old bridge crosses the river": LCS "the crosses the" = 3
    #   -> precision 3/6, recall 3/6.
    # Ref 2 "the river": LCS 2 -> precision 2/6, recall 2/2.
    # pycocoevalcap takes the best precision (1/2) and the best recall (1) on their own:
    # F = (1 + 1.2^2) * 0.5 * 1 / (1 + 1.2^2 * 0.5) = 1.22 / 1.72.
    score = rouge_l({"a": cand}, {"a": ["the old bridge crosses the river", "the river"]})
    assert score == pytest.approx(1.22 / 1.72, abs=TOL)
    # Mean over images: a second image with no common word scores 0.
    two = rouge_l({"a": cand, "b": "x"}, {"a": ["the river"], "b": ["y"]})
    # Image a alone against "the river": P = 2/6, R = 1 -> 2.44 * (1/3) / (1 + 1.44 / 3).
    assert two == pytest.approx((2.44 / 3) / (1 + 1.44 / 3) / 2, abs=TOL)


def test_cider_d_by_hand_two_images():
    cand = {"1": "red roof", "2": "green field"}
    refs = {"1": ["red roof"], "2": ["green park"]}
    # N = 2 images, so idf = log 2 - log(max(1, df)). Every reference n-gram is in one
    # image's references (df 1): weight log 2. "field", "green field" are in none
    # (df 0 -> max(1, 0) = 1): weight log 2 as well.
    # Image 1: candidate = reference: cosine 1 for 1- and 2-grams, 0 for 3-, 4-grams
    # (no such n-grams: the norm is 0 and the cosine stays 0); equal lengths, penalty 1.
    #   mean(1, 1, 0, 0) / 1 reference * 10 = 5.
    # Image 2: unigrams green, field vs green, park: (log2)^2 / (sqrt2 log2)^2 = 1/2;
    #   bigrams "green field" vs "green park": 0.  mean(1/2, 0, 0, 0) * 10 = 1.25.
    # Corpus: (5 + 1.25) / 2 = 3.125.
    assert cider_d(cand, refs) == pytest.approx(3.125, abs=TOL)


def test_cider_d_by_hand_clipping_and_length_penalty():
    cand = {"1": "roof roof", "2": "green park"}
    refs = {"1": ["a red roof"], "2": ["green park"]}
    # df 1 for all reference n-grams, N = 2: every weight is tf * log 2.
    # Image 1, unigrams: candidate roof: 2 log2 (norm 2 log2); reference a, red, roof: log2
    #   each (norm sqrt3 log2). Clipped: min(2 log2, log2) * log2 = (log2)^2
    #   -> cosine (log2)^2 / (2 log2 * sqrt3 log2) = 1 / (2 sqrt3)  (1/sqrt3 unclipped).
    #   Bigrams "roof roof" vs "a red", "red roof": 0. Length difference 2 - 3 = -1:
    #   penalty exp(-1 / (2 * 6^2)). Score: 1/(2 sqrt3) * exp(-1/72) / 4 * 10.
    # Image 2: identical, 5 (as above). Corpus: the mean.
    one = 1 / (2 * math.sqrt(3)) * math.exp(-1 / 72) / 4 * 10
    assert cider_d(cand, refs) == pytest.approx((one + 5) / 2, abs=TOL)


def test_cider_d_of_one_image_is_zero_and_said_so():
    # The idf comes from the evaluated set: log 1 - log 1 = 0 for every n-gram.
    scores = score_captions({"a": "red roof"}, {"a": ["red roof"]}, meteor=False)
    assert scores.cider_d == 0.0 and scores.bleu1 == pytest.approx(1.0, abs=TOL)
    assert any("single image" in n for n in scores.notes)


def test_tokenize_drops_punctuation_and_lowercases():
    assert tokenize("  Two BOATS, on a river... ") == ["two", "boats", "on", "a", "river"]
    assert tokenize('"Well-known" 1,000 cars; 3.5 km: 10:30!') == [
        "well-known", "1,000", "cars", "3.5", "km", "10:30",
    ]  # fmt: skip
    assert tokenize("It's 5% -- the U.S. isn't") == [
        "it",
        "'s",
        "5",
        "%",
        "the",
        "u.s.",
        "is",
        "n't",
    ]
    assert tokenize("") == []


def test_scores_are_plain_data():
    s = score_captions(
        {"1": "red roof", "2": "green park"},
        {"1": ["a red roof"], "2": ["green park"]},
        meteor=False,
    )
    assert isinstance(s, CaptionScores) and s.n == 2 and s.meteor is None
    data = json.loads(json.dumps(s.to_dict()))
    assert set(data) == {
        "bleu1",
        "bleu2",
        "bleu3",
        "bleu4",
        "meteor",
        "rouge_l",
        "cider_d",
        "n",
        "notes",
    }
    assert data["notes"] == ["METEOR not computed (meteor=False)"]
    with pytest.raises(AttributeError):
        s.n = 3  # type: ignore[misc]


def test_references_without_a_candidate_are_left_out_with_a_note():
    cand, refs = {"1": "red roof", "2": "green park"}, {"1": ["red roof"], "2": ["a park"]}
    alone = score_captions(cand, refs, meteor=False)
    more = score_captions(cand, {**refs, "3": ["red roof"], "4": ["x"]}, meteor=False)
    assert more.cider_d == alone.cider_d  # the extra references count in no idf
    assert "2 reference id(s) without a candidate were left out" in more.notes


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "references", "match"),
    [
        ({}, {"a": ["x"]}, "'candidates' is empty"),
        ({"a": "x", "b": "y"}, {"a": ["x"]}, "image 'b' has no references"),
        ({"a": "x"}, {"a": []}, "image 'a' has no references"),
        ({"a": "x"}, {"a": "x"}, "image 'a' has a single string"),
        ({"a": "x"}, {"a": ["x", " ... "]}, "reference 1 of image 'a' has no words"),
    ],
)
def test_bad_inputs_raise_a_clear_error(candidates, references, match):
    for scorer in (score_captions, bleu, rouge_l, cider_d, meteor):
        with pytest.raises(InvalidOptionError, match=match) as info:
            scorer(candidates, references)
        assert exit_code(info.value) == 2


def test_an_empty_candidate_scores_zero_but_is_not_an_error():
    s = score_captions({"1": "", "2": "..."}, {"1": ["red roof"], "2": ["a park"]}, meteor=False)
    assert s.rouge_l == 0.0 and s.cider_d == 0.0 and s.bleu1 < 1e-6


def test_without_java_meteor_is_none_with_a_note(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    s = score_captions({"a": "red roof"}, {"a": ["red roof"]}, meteor_jar=JAR)
    assert s.meteor is None and any("no 'java' on PATH" in n for n in s.notes)
    with pytest.raises(MissingDependencyError, match="Java"):
        meteor({"a": "red roof"}, {"a": ["red roof"]}, JAR)


def test_without_a_jar_meteor_is_none_with_a_note(monkeypatch, tmp_path):
    if shutil.which("java") is None:
        pytest.skip("no java on PATH: the jar is never looked for")
    monkeypatch.delenv(METEOR_JAR_ENV, raising=False)
    s = score_captions({"a": "red roof"}, {"a": ["red roof"]})
    assert s.meteor is None and any(METEOR_JAR_ENV in n for n in s.notes)
    monkeypatch.setenv(METEOR_JAR_ENV, str(tmp_path / "missing.jar"))
    s = score_captions({"a": "red roof"}, {"a": ["red roof"]})
    assert any("missing.jar" in n and "not found" in n for n in s.notes)
    broken = tmp_path / "meteor-1.5.jar"
    broken.write_bytes(b"not a jar")
    s = score_captions({"a": "red roof"}, {"a": ["red roof"]}, meteor_jar=broken)
    assert s.meteor is None and any("failed" in n for n in s.notes), s.notes
    assert s.bleu1 == pytest.approx(1.0, abs=TOL)  # the other metrics are still there


# --- pycocoevalcap's own code -------------------------------------------------------------


@pytest.fixture(scope="module")
def coco(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """pycocoevalcap's bleu, rouge and cider packages, read from the wheel, never installed."""
    wheels = sorted(REFERENCE.glob("pycocoevalcap-*.whl"))
    if not wheels:
        pytest.skip(f"no pycocoevalcap wheel in {REFERENCE} to compare with (scripts/setup-env)")
    pytest.importorskip("numpy")
    folder = tmp_path_factory.mktemp("coco")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        wanted = ("pycocoevalcap/bleu/", "pycocoevalcap/rouge/", "pycocoevalcap/cider/")
        wheel.extractall(folder, [n for n in wheel.namelist() if n.startswith(wanted)])
    package = types.ModuleType("_coco_ref")
    package.__path__ = [str(folder / "pycocoevalcap")]
    sys.modules["_coco_ref"] = package
    try:
        yield types.SimpleNamespace(
            Bleu=importlib.import_module("_coco_ref.bleu.bleu").Bleu,
            Rouge=importlib.import_module("_coco_ref.rouge.rouge").Rouge,
            Cider=importlib.import_module("_coco_ref.cider.cider").Cider,
        )
    finally:
        for name in [m for m in sys.modules if m == "_coco_ref" or m.startswith("_coco_ref.")]:
            del sys.modules[name]


WORDS = "a the red roof green park river boat two of on near large small".split()


def random_set(rng: random.Random) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Up to 8 images; candidates of 0-10 words, 1-5 references of 1-12 words each."""

    def sentence(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    ids = [f"img{i}" for i in range(rng.randint(1, 8))]
    cands = {i: sentence(0, 10) for i in ids}
    refs = {i: [sentence(1, 12) for _ in range(rng.randint(1, 5))] for i in ids}
    return cands, refs


@pytest.mark.parametrize("seed", range(50))
def test_same_numbers_as_pycocoevalcap(coco, seed):
    cands, refs = random_set(random.Random(seed))
    res = {i: [c] for i, c in cands.items()}
    gts = {i: list(r) for i, r in refs.items()}
    expected_bleu, _ = coco.Bleu(4).compute_score(gts, res, verbose=0)
    expected_rouge, _ = coco.Rouge().compute_score(gts, res)
    expected_cider, _ = coco.Cider().compute_score(gts, res)
    assert bleu(cands, refs) == pytest.approx(expected_bleu, abs=TOL, rel=0)
    assert rouge_l(cands, refs) == pytest.approx(float(expected_rouge), abs=TOL, rel=0)
    assert cider_d(cands, refs) == pytest.approx(float(expected_cider), abs=TOL, rel=0)
    s = score_captions(cands, refs, meteor=False)
    assert [s.bleu1, s.bleu2, s.bleu3, s.bleu4] == pytest.approx(expected_bleu, abs=TOL, rel=0)
    assert (s.rouge_l, s.cider_d) == pytest.approx((expected_rouge, expected_cider), abs=TOL)


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _needs_java_and(path: Path) -> None:
    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    if not path.is_file():
        pytest.skip(f"{path} not extracted (scripts/setup-env)")


CAPTIONS = [
    "A red-roofed House, by the river (3.5 km)!",
    "The dog's toy isn't there -- 50% off",
    "Many planes are parked next to a long runway at the airport.",
    "\"Two\" boats; one: big... the other 'small'",
    "A bridge over the U.S. highway, 1,000 cars & trucks/buses.",
    "They're parking cars at the farm's edge; we'll see it's a $5 lot",
    "I cannot see the 2nd building [left] {right} ?! wow!!",
    "it's 10:30 at a 5.5% rate, a 9-year-old well-known co-op",
]


def test_tokens_as_pycocoevalcaps_ptbtokenizer(tmp_path):
    """The Stanford PTBTokenizer jar and pycocoevalcap's punctuation filter, on plain captions."""
    _needs_java_and(EXTRACTED / "tokenizer" / "stanford-corenlp-3.4.1.jar")
    # Its wrapper writes a temporary file beside the jar: run it on a copy.
    shutil.copytree(EXTRACTED / "tokenizer", tmp_path / "tokenizer")
    ptb = _load(tmp_path / "tokenizer" / "ptbtokenizer.py", "_coco_ref_ptb").PTBTokenizer()
    tokens = ptb.tokenize({str(i): [{"caption": c}] for i, c in enumerate(CAPTIONS)})
    for i, caption in enumerate(CAPTIONS):
        assert " ".join(tokenize(caption)) == tokens[str(i)][0], caption


def test_meteor_as_pycocoevalcaps_meteor(monkeypatch):
    """The jar driven by terrasight and by pycocoevalcap's Meteor class: the same score."""
    _needs_java_and(JAR)
    cands = {"a": "A red roof.", "b": "two boats on a river", "c": "a large green park"}
    refs = {
        "a": ["the red roof", "a roof that is red"],
        "b": ["boats on the river", "two small boats near a bridge"],
        "c": ["a park with green trees"],
    }
    import terrasight.eval.captions as captions

    ours = meteor(cands, refs, JAR)
    # score_captions hands the same pairs to the same jar (found through the variable); the
    # jar itself is not started a third time (it loads its paraphrase table for seconds)
    handed: list[tuple[Any, Any]] = []

    def recorded(pairs, jar, timeout):
        handed.append((pairs, captions._find_meteor(jar)[1]))
        return ours

    monkeypatch.setenv(METEOR_JAR_ENV, str(JAR))
    monkeypatch.setattr(captions, "_meteor", recorded)
    assert score_captions(cands, refs).meteor == ours
    assert handed == [(captions._prepare(cands, refs), JAR.resolve())]
    reference = _load(EXTRACTED / "meteor" / "meteor.py", "_coco_ref_meteor").Meteor()
    try:
        gts = {k: [" ".join(tokenize(r)) for r in v] for k, v in refs.items()}
        res = {k: [" ".join(tokenize(v))] for k, v in cands.items()}
        expected, _ = reference.compute_score(gts, res)
    finally:
        reference.__del__()
    assert 0 < ours < 1 and ours == pytest.approx(expected, abs=TOL, rel=0)
