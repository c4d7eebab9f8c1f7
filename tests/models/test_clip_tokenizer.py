"""The pure-Python CLIP tokenizer: a tiny vocabulary worked by hand, finding the vocabulary,
malformed files, and token-for-token agreement with open_clip's own tokenizer."""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.util
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("regex")

from terrasight.models.clip_tokenizer import (  # noqa: E402
    MAX_MERGES,
    VOCAB_FILE,
    ClipTokenizer,
    find_vocab,
)
from terrasight.models.weights import ModelWeightsError  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / ".cache" / "reference"

# Ids in the tiny vocabulary, worked out from open_clip's order: the 188 printable bytes by
# code point ('!' is 0, so an ASCII character c is ord(c) - 33), then the 68 other bytes,
# then the same 256 with '</w>' (+256), then one id per merge from 512, then sot and eot.
MERGES = [("t", "h"), ("th", "e</w>"), ("r", "i"), ("ri", "v"), ("riv", "e"), ("rive", "r</w>")]
TH, THE, RI, RIV, RIVE, RIVER, SOT, EOT = range(512, 520)


def ascii_id(char: str, word_end: bool = False) -> int:
    """Id of a printable ASCII byte symbol in open_clip's vocabulary order."""
    return ord(char) - 33 + (256 if word_end else 0)


def write_gz(path: Path, merges: list[tuple[str, str]], header: str = "#version: 0.2") -> Path:
    lines = [header, *(f"{a} {b}" for a, b in merges)]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


def write_hf(folder: Path, merges: list[tuple[str, str]], vocab: dict[str, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def hf_vocab_of(tok_merges: list[tuple[str, str]]) -> dict[str, int]:
    """A vocab.json in open_clip's order, with the Hugging Face names of the special tokens."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    symbols = [chr(b) for b in printable] + [chr(256 + n) for n in range(68)]
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in tok_merges)]
    return {t: i for i, t in enumerate([*tokens, "<|startoftext|>", "<|endoftext|>"])}


@pytest.fixture
def tiny(tmp_path: Path) -> ClipTokenizer:
    return ClipTokenizer.from_file(write_gz(tmp_path / VOCAB_FILE, MERGES))


# --- the tiny vocabulary, by hand ---------------------------------------------------------


def test_ids_of_a_short_text(tiny: ClipTokenizer) -> None:
    assert (tiny.sot_token, tiny.eot_token, tiny.vocab_size) == (SOT, EOT, 520)
    assert tiny.encode("the river") == [THE, RIVER]
    # 'rivers': r i v e r s</w> -> ri v ... -> rive r s</w>; 'rive r</w>' does not apply.
    assert tiny.encode("a river, rivers.") == [
        *(ascii_id("a", True), RIVER, ascii_id(",", True)),
        *(RIVE, ascii_id("r"), ascii_id("s", True), ascii_id(".", True)),
    ]
    # 'th' alone ends a word: t h</w>, and ('t', 'h') does not match 'h</w>'.
    assert tiny.encode("th") == [ascii_id("t"), ascii_id("h", True)]
    # é is the bytes c3 a9: symbols 'Ã' (id 127) and '©' (id 102) -> '©</w>' is 358.
    assert tiny.encode("é") == [127, 358]


def test_padding_and_truncation_end_with_eot(tiny: ClipTokenizer) -> None:
    out = tiny(["The river", ""], context_length=6)
    assert out.dtype == np.int64 and out.shape == (2, 6)
    assert out.tolist() == [[SOT, THE, RIVER, EOT, 0, 0], [SOT, EOT, 0, 0, 0, 0]]
    assert tiny("the the", context_length=4).tolist() == [[SOT, THE, THE, EOT]]
    assert tiny("the the the the", context_length=4).tolist() == [[SOT, THE, THE, EOT]]
    assert tiny("the river", context_length=3).tolist() == [[SOT, THE, EOT]]
    assert tiny("the", context_length=77).shape == (1, 77)
    assert tiny([], context_length=5).shape == (0, 5)
    with pytest.raises(ValueError, match="context_length"):
        tiny("the", context_length=0)


def test_cleaning_collapses_whitespace_lowercases_and_unescapes(tiny: ClipTokenizer) -> None:
    assert tiny.encode("  THE \n\t River  ") == tiny.encode("the river") == [THE, RIVER]
    assert tiny.encode("&amp;amp;") == [ascii_id("&", True)]  # unescaped twice
    # ftfy leaves entities alone in text with '<': html.unescape, twice, still applies.
    assert tiny.encode("<&amp;amp;") == [ascii_id("<"), ascii_id("&", True)]
    assert tiny.encode("") == tiny.encode(" \n ") == []


def test_special_tokens_in_text(tiny: ClipTokenizer) -> None:
    # open_clip spells them <start_of_text> / <end_of_text> and keeps them whole...
    assert tiny.encode("the<end_of_text>river") == [THE, EOT, RIVER]
    assert tiny.encode("<START_OF_TEXT> the") == [SOT, THE]
    # ...while OpenAI's spelling is plain punctuation and letters.
    ids = tiny.encode("<|endoftext|>")
    assert EOT not in ids and ids[:2] == [ascii_id("<"), ascii_id("|", True)]


def test_decode_round_trip(tiny: ClipTokenizer) -> None:
    assert tiny.decode(tiny.encode("The Rivers, é!")) == "the rivers , é ! "
    assert tiny.decode(np.array([THE, RIVER])) == "the river "
    assert tiny.decode([127]) == "\ufffd"  # half of a UTF-8 character
    with pytest.raises(ValueError, match="99999"):
        tiny.decode([99999])


def test_hugging_face_folder_gives_the_same_ids(tmp_path: Path, tiny: ClipTokenizer) -> None:
    folder = write_hf(tmp_path / "hf", MERGES, hf_vocab_of(MERGES))
    texts = ["The river", "rivers, é! 12", "the<end_of_text>", "x" * 200]
    for source in (folder, folder / "vocab.json", folder / "merges.txt"):
        hf = ClipTokenizer.from_file(source)
        assert (hf.sot_token, hf.eot_token, hf.vocab_size) == (SOT, EOT, 520)
        np.testing.assert_array_equal(hf(texts), tiny(texts))
    assert hf.decode([SOT, THE]) == "<|startoftext|>the "


def test_vocab_json_ids_are_used(tmp_path: Path) -> None:
    vocab = {t: 1000 - i for t, i in hf_vocab_of(MERGES).items()}  # ids reversed
    hf = ClipTokenizer.from_file(write_hf(tmp_path, MERGES, vocab))
    assert hf.encode("the river") == [vocab["the</w>"], vocab["river</w>"]]
    assert (hf.sot_token, hf.eot_token) == (vocab["<|startoftext|>"], vocab["<|endoftext|>"])


def test_uncompressed_text_and_folder_forms(tmp_path: Path, tiny: ClipTokenizer) -> None:
    txt = tmp_path / "merges.bpe.txt"
    txt.write_text("#version: 0.2\nt h\n\nth e</w>\r\nr i\nri v\nriv e\nrive r</w>", "utf-8")
    assert ClipTokenizer.from_file(txt).encode("the river") == tiny.encode("the river")
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_gz(folder / VOCAB_FILE, MERGES)
    assert ClipTokenizer.from_file(str(folder)).encode("the") == [THE]


def test_only_the_first_merges_are_used(tmp_path: Path) -> None:
    merges = [(f"a{i}", f"b{i}") for i in range(MAX_MERGES + 5)]
    tok = ClipTokenizer.from_file(write_gz(tmp_path / "big.txt.gz", merges))
    assert tok.vocab_size == 49408 and (tok.sot_token, tok.eot_token) == (49406, 49407)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no BPE merges"),
        (b"#version: 0.2\n", "no BPE merges"),
        (b"#version: 0.2\nt h\nth e r\n", "line 3 is not a merge"),
        (b"\x1f\x8b\x08 not really gzip", "cannot read"),
        (b"#version: 0.2\n\xff\xfe t h\n", "cannot read"),
    ],
)
def test_malformed_vocab_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad_vocab.txt"
    path.write_bytes(content)
    with pytest.raises(ModelWeightsError, match=message) as info:
        ClipTokenizer.from_file(path)
    assert "bad_vocab.txt" in str(info.value)


def test_malformed_hugging_face_files(tmp_path: Path) -> None:
    with pytest.raises(ModelWeightsError, match="merges.txt"):
        ClipTokenizer.from_file(tmp_path)  # an empty folder
    vocab = hf_vocab_of(MERGES)
    del vocab["river</w>"]
    write_hf(tmp_path, MERGES, vocab)
    with pytest.raises(ModelWeightsError, match=r"vocab.json .*lacks 1 tokens.*river</w>"):
        ClipTokenizer.from_file(tmp_path)
    (tmp_path / "vocab.json").write_text("{not json", "utf-8")
    with pytest.raises(ModelWeightsError, match="vocab.json is not a CLIP vocabulary"):
        ClipTokenizer.from_file(tmp_path)
    (tmp_path / "vocab.json").write_text('["a list"]', "utf-8")
    with pytest.raises(ModelWeightsError, match="must map token strings"):
        ClipTokenizer.from_file(tmp_path)
    with pytest.raises(ModelWeightsError, match="no_such.gz"):
        ClipTokenizer.from_file(tmp_path / "no_such.gz")


# --- find_vocab ---------------------------------------------------------------------------


def fake_open_clip(monkeypatch: pytest.MonkeyPatch, folder: Path | None) -> None:
    """Make ``importlib.util.find_spec`` see open_clip installed in ``folder``, or not at all."""
    real_find_spec = importlib.util.find_spec
    spec = None
    if folder is not None:
        spec = importlib.machinery.ModuleSpec("open_clip", None, is_package=True)
        spec.submodule_search_locations = [str(folder)]

    def find_spec(name: str, *args: Any) -> Any:
        return spec if name == "open_clip" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture
def no_installed_vocab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither an installed open_clip nor huggingface_hub, whatever this machine has."""
    fake_open_clip(monkeypatch, None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import raises ImportError


def test_explicit_wins_over_near(tmp_path: Path) -> None:
    near = tmp_path / "ckpt"
    near.mkdir()
    write_gz(near / VOCAB_FILE, MERGES)
    explicit = write_gz(tmp_path / "mine.txt.gz", MERGES)
    assert find_vocab(explicit, near=near) == explicit
    hf = write_hf(tmp_path / "hf", MERGES, hf_vocab_of(MERGES))
    assert find_vocab(str(hf), near=near) == hf
    with pytest.raises(ModelWeightsError, match=f"nowhere.gz: expected {VOCAB_FILE}"):
        find_vocab(tmp_path / "nowhere.gz", near=near)  # an explicit path is never skipped


def test_near_folder_or_checkpoint_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "site-packages" / "open_clip"
    installed.mkdir(parents=True)
    write_gz(installed / VOCAB_FILE, MERGES)
    fake_open_clip(monkeypatch, installed)
    near = tmp_path / "ckpt"
    near.mkdir()
    assert find_vocab(near=near) == installed / VOCAB_FILE  # nothing near: the package's
    write_hf(near, MERGES, hf_vocab_of(MERGES))
    assert find_vocab(near=near) == near
    write_gz(near / VOCAB_FILE, MERGES)
    assert find_vocab(near=near) == near / VOCAB_FILE  # the gz before vocab.json
    assert find_vocab(near=near / "RemoteCLIP-ViT-B-32.pt") == near / VOCAB_FILE


def test_installed_open_clip_is_found_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_gz(tmp_path / VOCAB_FILE, MERGES)
    fake_open_clip(monkeypatch, tmp_path)
    monkeypatch.delitem(sys.modules, "open_clip", raising=False)
    assert find_vocab() == tmp_path / VOCAB_FILE
    assert "open_clip" not in sys.modules


def test_hugging_face_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_open_clip(monkeypatch, None)
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelWeightsError):
        find_vocab()  # an empty cache
    repo = tmp_path / "models--openai--clip-vit-base-patch32"
    write_hf(repo / "snapshots" / "abc123", MERGES, hf_vocab_of(MERGES))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    found = find_vocab()
    assert found == repo / "snapshots" / "abc123"
    assert ClipTokenizer.from_file(found).encode("the") == [THE]


def test_nothing_found_says_where_it_looked_and_what_to_do(
    tmp_path: Path, no_installed_vocab: None
) -> None:
    with pytest.raises(ModelWeightsError) as info:
        find_vocab(near=tmp_path / "model.pt")
    message = str(info.value)
    assert VOCAB_FILE in message and str(tmp_path) in message
    assert "open_clip" in message and "openai/clip-vit-base-patch32" in message
    assert "pip download --no-deps open_clip_torch" in message and "tokenizer=PATH" in message
    with pytest.raises(ModelWeightsError, match=VOCAB_FILE):
        find_vocab()


# --- agreement with open_clip's SimpleTokenizer -------------------------------------------

REFERENCE_TEXTS = [
    "a satellite image of a river",
    "An aerial photograph of a dense residential area with many buildings.",
    "Many planes are parked next to a long runway at the airport.",
    "several storage tanks, a parking lot and some green trees",
    "SENTINEL-2 L2A tile T33UUP, 2023-06-14; cloud cover < 5%",
    "The bridge crosses the river (see fig. 3b) -- 1.25 km long!!!",
    "don't it's we'll they've I'm you'd she's",
    "1234567890 3.14159 1e-3 #42 @user",
    "café, Zürich, São Paulo, Kraków, İstanbul, Ærøskøbing",
    "北京的卫星图像 and 東京の航空写真",
    "Οδός Αθηνών, Москва-река, नदी",
    "emoji 🛰️🌊🏙️ 👩‍🌾 flags 🇩🇪🇧🇷",
    "farms &amp; fields &lt;b&gt;bold&lt;/b&gt; &amp;amp; &#39;quoted&#39;",
    "<b>tags</b> stop ftfy unescaping &amp;amp; &lt;i&gt;",
    "schÃ¶n mojibake and â€œsmart quotesâ€\x9d",
    "  lots   of\t\twhitespace \n and\r\nnewlines  ",
    "",
    "   ",
    "<|startoftext|> openai spelling <|endoftext|>",
    "x<end_of_text>y <start_of_text> z",
    "a!<end_of_text>",
    "ALL CAPS HARBOUR WITH SHIPS",
    "ﬁne ligatures ½ ² ℃ № ™",
    "tabs\tand\u00a0non-breaking\u2003spaces",
    "zero\u200bwidth joiner\u200d and combining e\u0301",
    "http://example.com/path?x=1&y=2",
    "snake_case_words and kebab-case-words",
    "river " * 100,
    "the quick brown fox jumps over the lazy dog " * 20,
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 300,
    "solar panels on rooftops",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ClipTokenizer]]:
    """open_clip's SimpleTokenizer from the reference wheel, and ours from its vocabulary."""
    wheels = sorted(REFERENCE.glob("open_clip_torch-*.whl"))
    if not wheels:
        pytest.skip(f"no open_clip_torch wheel in {REFERENCE} to compare with")
    for module in ("ftfy", "regex", "torch"):
        pytest.importorskip(module, reason=f"open_clip's tokenizer.py needs {module}")
    folder = tmp_path_factory.mktemp("open_clip")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for name in ("tokenizer.py", VOCAB_FILE):
            (folder / name).write_bytes(wheel.read(f"open_clip/{name}"))
    spec = importlib.util.spec_from_file_location(
        "_open_clip_tokenizer_ref", folder / "tokenizer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = os.environ.get("TOKENIZERS_PARALLELISM")
    spec.loader.exec_module(module)  # it sets TOKENIZERS_PARALLELISM; put it back
    if saved is None:
        os.environ.pop("TOKENIZERS_PARALLELISM", None)
    else:
        os.environ["TOKENIZERS_PARALLELISM"] = saved
    yield (
        module.SimpleTokenizer(str(folder / VOCAB_FILE)),
        ClipTokenizer.from_file(folder / VOCAB_FILE),
    )


def test_reference_vocabulary_size_and_special_ids(reference: tuple[Any, ClipTokenizer]) -> None:
    ref, ours = reference
    assert (ours.vocab_size, ours.sot_token, ours.eot_token) == (49408, 49406, 49407)
    assert (ref.vocab_size, ref.sot_token_id, ref.eot_token_id) == (49408, 49406, 49407)


@pytest.mark.parametrize("text", REFERENCE_TEXTS, ids=range(len(REFERENCE_TEXTS)))
def test_same_tokens_as_open_clip(reference: tuple[Any, ClipTokenizer], text: str) -> None:
    ref, ours = reference
    expected = ref([text], context_length=77).numpy()
    np.testing.assert_array_equal(ours(text), expected)
    np.testing.assert_array_equal(ours([text], context_length=12), ref([text], 12).numpy())
    assert ours.decode(ours.encode(text)) == ref.decode(ref.encode(text))


def test_batch_matches_open_clip(reference: tuple[Any, ClipTokenizer]) -> None:
    ref, ours = reference
    np.testing.assert_array_equal(ours(REFERENCE_TEXTS), ref(REFERENCE_TEXTS).numpy())
    assert ours("river " * 100)[0, -1] == ours.eot_token  # truncated: ends with eot
