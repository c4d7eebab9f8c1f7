"""CLIP's byte-level BPE tokenizer in pure Python, without importing open_clip.

Gives the token ids of open_clip's default ``SimpleTokenizer`` (OpenAI CLIP, RemoteCLIP,
GeoRSCLIP, SkyCLIP): same text cleaning, pre-tokenization pattern and merges, read from
open_clip's ``bpe_simple_vocab_16e6.txt.gz`` or a Hugging Face CLIP tokenizer folder
(see :func:`find_vocab`). Needs the ``regex`` package: ``pip install terrasight[learned]``.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import json
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import MissingDependencyError, ModelWeightsError

_fix_text: Callable[[str], str] | None
try:  # optional: without ftfy only broken-unicode ("mojibake") repair is skipped
    from ftfy import fix_text as _fix_text
except ImportError:  # pragma: no cover - ftfy is installed with terrasight[learned]
    _fix_text = None

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
HF_FILES = ("vocab.json", "merges.txt")
HF_REPO = "openai/clip-vit-base-patch32"
MAX_MERGES = 49152 - 256 - 2
WORD_END = "</w>"
SOT_TEXT, EOT_TEXT = "<start_of_text>", "<end_of_text>"  # open_clip's spelling, kept whole in text
HF_SPECIALS = {SOT_TEXT: "<|startoftext|>", EOT_TEXT: "<|endoftext|>"}  # vocab.json's spelling


def byte_symbols() -> tuple[str, ...]:
    """The printable character standing for each byte value (index = byte), as in GPT-2 and CLIP.

    Example:
        >>> byte_symbols()[ord("a")], byte_symbols()[ord(" ")]
        ('a', 'Ġ')
    """
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    kept += range(ord("®"), ord("ÿ") + 1)
    moved = iter(range(256, 512))
    return tuple(chr(b) if b in kept else chr(next(moved)) for b in range(256))


def _word_pattern() -> Any:
    """open_clip's pre-tokenization pattern: special tokens, contractions, letters, digits, rest."""
    try:
        import regex
    except ImportError as exc:
        raise MissingDependencyError(
            "the CLIP tokenizer needs the 'regex' package: pip install terrasight[learned]"
        ) from exc
    words = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
    return regex.compile(f"{SOT_TEXT}|{EOT_TEXT}|{words}", regex.IGNORECASE)


def clean_text(text: str) -> str:
    """open_clip's default ("lower") cleaning: fix unicode, unescape HTML twice, collapse spaces.

    Example:
        >>> clean_text("  Two&amp;amp;THREE \\n Ships ")
        'two&three ships'
    """
    if _fix_text is not None:
        text = _fix_text(text)
    text = html.unescape(html.unescape(text))
    return " ".join(text.split()).lower()


def _merge_pair(word: list[str], first: str, second: str) -> list[str]:
    """``word`` with every (first, second) neighbour pair, from the left, joined into one symbol."""
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == first and word[i + 1] == second:
            out.append(first + second)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


class ClipTokenizer:
    """CLIP's byte-level BPE tokenizer: text to the int64 token arrays CLIP text towers take.

    ``merges`` are the BPE merges in priority order; ``vocab`` maps tokens to ids and
    defaults to open_clip's order (256 byte symbols, the same with ``</w>``, each merge
    joined, then start- and end-of-text). ``<start_of_text>`` / ``<end_of_text>`` in a
    text are kept whole and map to :attr:`sot_token` / :attr:`eot_token`, as in open_clip.

    Example:
        >>> tok = ClipTokenizer([("t", "h"), ("th", "e</w>")])
        >>> tok.encode("The"), tok.sot_token, tok.eot_token, tok.vocab_size
        ([513], 514, 515, 516)
        >>> tok(["the", ""], context_length=4).tolist()
        [[514, 513, 515, 0], [514, 515, 0, 0]]
    """

    def __init__(self, merges: list[tuple[str, str]], vocab: dict[str, int] | None = None) -> None:
        symbols = byte_symbols()
        if vocab is None:
            ordered = sorted(symbols)  # open_clip's order: printable bytes first, by code point
            tokens = [*ordered, *(s + WORD_END for s in ordered), *map("".join, merges)]
            vocab = {t: i for i, t in enumerate([*tokens, SOT_TEXT, EOT_TEXT])}
        self._encoder = _checked_vocab(vocab, merges)
        self._decoder = {i: t for t, i in self._encoder.items()}
        self._special_ids = {
            s: self._encoder.get(s, vocab.get(HF_SPECIALS[s], -1)) for s in HF_SPECIALS
        }
        self._ranks = {tuple(m): rank for rank, m in enumerate(merges)}
        self._no_rank = len(merges)
        self._symbols = symbols
        self._byte_decoder = {s: b for b, s in enumerate(symbols)}
        self._pattern = _word_pattern()
        # BPE of the words seen, kept by this tokenizer (and freed with it)
        self._bpe: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=1 << 16)(self._bpe_word)
        self.sot_token: int = self._special_ids[SOT_TEXT]
        self.eot_token: int = self._special_ids[EOT_TEXT]
        self.vocab_size: int = len(self._encoder)

    @classmethod
    def from_file(cls, path: str | Path) -> ClipTokenizer:
        """Read open_clip's ``bpe_simple_vocab_16e6.txt.gz`` or a Hugging Face tokenizer folder.

        ``path`` is the gz file (or an uncompressed .txt of the same format: a header line,
        then one merge ``a b`` a line; the first 49152-256-2 merges are used, as open_clip
        does), a folder holding it, or a folder holding ``vocab.json`` and ``merges.txt``
        (or one of those two files).

        Raises:
            ModelWeightsError: the file is missing, unreadable or malformed.

        Example:
            >>> tok = ClipTokenizer.from_file("bpe_simple_vocab_16e6.txt.gz")  # doctest: +SKIP
            >>> tok.sot_token, tok.eot_token, tok.vocab_size  # doctest: +SKIP
            (49406, 49407, 49408)
        """
        path = Path(path)
        if path.is_dir() and not (path / VOCAB_FILE).is_file():
            return cls._from_hf(path)
        if path.is_dir():
            path = path / VOCAB_FILE
        if path.name in HF_FILES:
            return cls._from_hf(path.parent)
        return cls(_parse_merges(_read_text(path), path))

    @classmethod
    def _from_hf(cls, folder: Path) -> ClipTokenizer:
        """Read a Hugging Face CLIP tokenizer folder's ``vocab.json`` and ``merges.txt``."""
        vocab_path, merges_path = (folder / name for name in HF_FILES)
        merges, text = _parse_merges(_read_text(merges_path), merges_path), _read_text(vocab_path)
        try:
            return cls(merges, json.loads(text))
        except (ValueError, ModelWeightsError) as exc:
            raise ModelWeightsError(f"{vocab_path} is not a CLIP vocabulary: {exc}") from None

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``, without start- and end-of-text.

        Example:
            >>> ClipTokenizer([("t", "h"), ("th", "e</w>")]).encode("The  THE")
            [513, 513]
        """
        ids: list[int] = []
        symbols = self._symbols
        for piece in self._pattern.findall(clean_text(text)):
            if piece in self._special_ids:
                ids.append(self._special_ids[piece])
                continue
            word = "".join(symbols[b] for b in piece.encode("utf-8"))
            ids.extend(self._encoder[t] for t in self._bpe(word))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids: words end with a space; bad UTF-8 becomes U+FFFD.

        Example:
            >>> tok = ClipTokenizer([("t", "h")])
            >>> tok.decode(tok.encode("Thin ice"))
            'thin ice '
        """
        try:
            text = "".join(self._decoder[int(i)] for i in ids)
        except KeyError as exc:
            raise ValueError(f"token id {exc.args[0]} is not in the vocabulary") from None
        data = bytes(self._byte_decoder.get(c, ord("?")) for c in text)
        return data.decode("utf-8", errors="replace").replace(WORD_END, " ")

    def __call__(self, texts: str | Sequence[str], context_length: int = 77) -> np.ndarray:
        """int64 array (N, context_length): start, tokens, end, zero padded.

        A text too long is cut to ``context_length`` tokens, the last replaced by end-of-text.

        Example:
            >>> ClipTokenizer([])("a b c", context_length=3).tolist()
            [[512, 320, 513]]
        """
        if context_length < 1:
            raise ValueError(f"context_length must be at least 1, not {context_length}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = np.zeros((len(texts), context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot_token, *self.encode(text), self.eot_token]
            if len(ids) > context_length:
                ids = [*ids[: context_length - 1], self.eot_token]
            out[row, : len(ids)] = ids
        return out

    def _bpe_word(self, word: str) -> tuple[str, ...]:
        """The BPE symbols of one byte-encoded word; the last one ends with ``</w>``."""
        parts = [*word[:-1], word[-1] + WORD_END]
        while len(parts) > 1:
            pair = min(pairwise(parts), key=lambda p: self._ranks.get(p, self._no_rank))
            if pair not in self._ranks:
                break
            parts = _merge_pair(parts, *pair)
        return tuple(parts)


def _read_text(path: Path) -> str:
    """The UTF-8 text of a file, gunzipped when it is gzip data."""
    try:
        data = path.read_bytes()
        return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise ModelWeightsError(f"cannot read the CLIP vocabulary {path}: {exc}") from None


def _parse_merges(text: str, path: Path) -> list[tuple[str, str]]:
    """The merges after the header line: the first ``MAX_MERGES`` non-blank ``a b`` lines."""
    merges: list[tuple[str, str]] = []
    for number, line in enumerate(text.split("\n")[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ModelWeightsError(f"{path}: line {number} is not a merge 'a b': {line[:80]!r}")
        merges.append((parts[0], parts[1]))
        if len(merges) == MAX_MERGES:
            break
    if not merges:
        raise ModelWeightsError(f"{path}: no BPE merges after the header line")
    return merges


def _checked_vocab(vocab: Any, merges: list[tuple[str, str]]) -> dict[str, int]:
    """``vocab`` as a dict once the merges and it are known to be well formed and to fit."""
    bad = [m for m in merges if len(m) != 2 or not all(isinstance(s, str) and s for s in m)]
    if bad:
        raise ModelWeightsError(f"a BPE merge must be two non-empty strings, not {bad[0]!r}")
    if not isinstance(vocab, dict) or not all(
        isinstance(t, str) and isinstance(i, int) for t, i in vocab.items()
    ):
        raise ModelWeightsError("the vocabulary must map token strings to integer ids")
    symbols = byte_symbols()
    needed = [*symbols, *(s + WORD_END for s in symbols), *map("".join, merges)]
    missing = [t for t in needed if t not in vocab]
    missing += [s for s, hf in HF_SPECIALS.items() if s not in vocab and hf not in vocab]
    if missing:
        raise ModelWeightsError(f"the vocabulary lacks {len(missing)} tokens, e.g. {missing[:3]}")
    return dict(vocab)


def find_vocab(explicit: str | Path | None = None, near: str | Path | None = None) -> Path:
    """Where the CLIP BPE vocabulary is, for :meth:`ClipTokenizer.from_file`; never downloads.

    Looks, in this order: at ``explicit`` (a vocabulary file or a Hugging Face tokenizer
    folder); for ``bpe_simple_vocab_16e6.txt.gz``, or ``vocab.json`` + ``merges.txt``, in the
    folder ``near`` (a checkpoint's folder, or the checkpoint file itself); in an installed
    ``open_clip`` package (found, not imported); in the Hugging Face hub cache of
    ``openai/clip-vit-base-patch32``.

    Raises:
        ModelWeightsError: none of these has it; the message says where it looked.

    Example:
        >>> find_vocab(near="checkpoints/RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
        PosixPath('checkpoints/bpe_simple_vocab_16e6.txt.gz')
    """
    if explicit is not None:
        path = Path(explicit)
        found = path if path.is_file() else _vocab_in_folder(path)
        if found is None:
            raise ModelWeightsError(
                f"no CLIP tokenizer vocabulary at {explicit}: expected {VOCAB_FILE}, a .txt of "
                "its merges, or a Hugging Face tokenizer folder with vocab.json and merges.txt"
            )
        return found
    looked = []
    if near is not None:
        folder = Path(near) if Path(near).is_dir() else Path(near).parent
        found = _vocab_in_folder(folder)
        if found is not None:
            return found
        looked.append(f"{VOCAB_FILE} or vocab.json + merges.txt in {folder}")
    found = _installed_open_clip_vocab() or _hf_cache_vocab()
    if found is not None:
        return found
    looked += ["an installed open_clip package", f"the Hugging Face cache of {HF_REPO}"]
    raise ModelWeightsError(
        f"the CLIP tokenizer vocabulary {VOCAB_FILE} was not found (looked for "
        f"{'; '.join(looked)}): put {VOCAB_FILE} beside the checkpoint, or run "
        f"'pip download --no-deps open_clip_torch' and take open_clip/{VOCAB_FILE} from the "
        "wheel (a zip file), or pass tokenizer=PATH"
    )


def _vocab_in_folder(folder: Path) -> Path | None:
    """The gz vocabulary in ``folder``, or ``folder`` if it is a Hugging Face tokenizer folder."""
    if (folder / VOCAB_FILE).is_file():
        return folder / VOCAB_FILE
    return folder if all((folder / name).is_file() for name in HF_FILES) else None


def _installed_open_clip_vocab() -> Path | None:
    """The vocabulary shipped in an installed open_clip package, located without importing it."""
    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        return None
    files = [Path(f) / VOCAB_FILE for f in (spec.submodule_search_locations or [])] if spec else []
    return next((f for f in files if f.is_file()), None)


def _hf_cache_vocab() -> Path | None:
    """The snapshot folder of the cached ``openai/clip-vit-base-patch32`` tokenizer files, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = [try_to_load_from_cache(HF_REPO, name) for name in HF_FILES]
    if not all(isinstance(f, str) for f in found):
        return None  # not cached, or cached as missing
    folders = {Path(str(f)).parent for f in found}
    return folders.pop() if len(folders) == 1 else None
