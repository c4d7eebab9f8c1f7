"""Caption metrics computed as the COCO caption evaluation code (pycocoevalcap) computes them.

BLEU-1..4, ROUGE-L and CIDEr-D are pure Python and give pycocoevalcap's numbers;
METEOR 1.5 runs its Java jar with pycocoevalcap's protocol, when Java and the jar
are at hand (the jar: an argument, else ``$TERRASIGHT_METEOR_JAR``).

Texts are tokenized by :func:`tokenize`, a small stand-in for pycocoevalcap's
PTBTokenizer followed by its punctuation removal; for plain English captions the
tokens are the same.

Example:
    >>> scores = score_captions(
    ...     {"img1": "A red roof.", "img2": "green park"},
    ...     {"img1": ["a red roof", "the red roof"], "img2": ["a green park"]},
    ...     meteor=False,
    ... )
    >>> round(scores.bleu1, 4), round(scores.rouge_l, 4), round(scores.cider_d, 4)
    (0.8187, 0.8861, 4.8023)
    >>> scores.meteor is None, scores.n
    (True, 2)
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from terrasight.errors import InvalidOptionError, MissingDependencyError

METEOR_JAR_ENV = "TERRASIGHT_METEOR_JAR"
"""Environment variable naming ``meteor-1.5.jar`` (its ``data/`` folder beside it)."""

_SMALL = 1e-9  # BleuScorer's guards against zero divisions, used where it uses them
_TINY = 1e-15

_Tokens = list[str]
_Pair = tuple[_Tokens, list[_Tokens]]  # one image: candidate tokens, tokens of each reference
_Ngrams = Counter[tuple[str, ...]]

# PTBTokenizer's splits: "isn't" -> "is n't", "cannot" -> "can not", "gonna" -> "gon na".
_SPLITS = re.compile(r"(?<=\w)(n't)\b|\b(can)(not)\b|\b(gon|wan|got)(na|ta)\b")
_TOKEN = re.compile(
    r"n't\b|'(?:s|re|ve|ll|d|m)\b"  # contractions
    r"|(?:[^\W\d_]\.){2,}"  # u.s., e.g.
    r"|\w+(?:(?:[-/]|(?<=\d)[.,:](?=\d))\w+)*"  # words; red-roofed, and/or, 3.5, 1,000, 10:30
    r"|[!?]{2,}"  # ?!, !!
    r"|[^\s\w.,;:!?\"'`-]"  # any other symbol (%, &, $, brackets...) is a token
)
# Brackets as PTBTokenizer -lowerCase writes them; pycocoevalcap only drops upper-case -LRB-...
_BRACKETS = dict(zip("()[]{}", ("-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"), strict=True))


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into tokens as pycocoevalcap's PTBTokenizer does,
    without the punctuation it drops.

    Dropped: ``. , ; : ! ? ' " `` and dashes between words. Kept whole: words with
    inner hyphens or slashes, numbers such as ``3.5``, ``1,000``, ``10:30``,
    abbreviations such as ``u.s.``, runs such as ``?!``. Split off:
    ``n't 's 're 've 'll 'd 'm``, and ``cannot`` -> ``can not``. Any other symbol is
    a token of its own (``%``, ``&``, ``$``); brackets become ``-lrb-`` ``-rrb-`` and
    so on, which pycocoevalcap keeps (it drops them only in upper case). Rarer rules
    of PTBTokenizer (its list of abbreviations such as ``mr.``, ``@name``, ``<tag>``)
    are not copied.

    >>> tokenize("A red-roofed House, by the river (3.5 km)!")
    ['a', 'red-roofed', 'house', 'by', 'the', 'river', '-lrb-', '3.5', 'km', '-rrb-']
    >>> tokenize("The dog's toy isn't there -- 50% off")
    ['the', 'dog', "'s", 'toy', 'is', "n't", 'there', '50', '%', 'off']
    """
    spaced = _SPLITS.sub(lambda m: " " + " ".join(g for g in m.groups() if g), text.lower())
    return [_BRACKETS.get(t, t) for t in _TOKEN.findall(spaced)]


@dataclass(frozen=True)
class CaptionScores:
    """Corpus scores of candidate captions against references, as pycocoevalcap reports them.

    ``meteor`` is ``None`` when it was not computed; ``notes`` then say why, and
    hold any other remark on the numbers. ``n`` is the number of images scored.
    """

    bleu1: float
    bleu2: float
    bleu3: float
    bleu4: float
    meteor: float | None
    rouge_l: float
    cider_d: float
    n: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The scores as plain data (``notes`` as a list), ready for JSON."""
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


def _prepare(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> list[_Pair]:
    """Tokenized (candidate, references) per image, in the order of ``candidates``; raises
    :class:`InvalidOptionError` for no candidates, a candidate without references, or a
    reference with no words."""
    if not candidates:
        raise InvalidOptionError("caption scores: 'candidates' is empty; give one caption an image")
    pairs = []
    for image, candidate in candidates.items():
        refs = references.get(image)
        if refs is None or isinstance(refs, str) or len(refs) == 0:
            found = "a single string" if isinstance(refs, str) else "no references"
            raise InvalidOptionError(
                f"caption scores: image {image!r} has {found}; 'references' must map every "
                "candidate's id to a non-empty list of reference captions"
            )
        ref_tokens = [tokenize(r) for r in refs]
        for i, tokens in enumerate(ref_tokens):
            if not tokens:
                raise InvalidOptionError(
                    f"caption scores: reference {i} of image {image!r} has no words ({refs[i]!r})"
                )
        pairs.append((tokenize(candidate), ref_tokens))
    return pairs


def _ngrams(tokens: _Tokens, n: int = 4) -> _Ngrams:
    """Counts of the 1- to n-grams of ``tokens``."""
    return Counter(
        tuple(tokens[i : i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1)
    )


def _bleu(pairs: Sequence[_Pair], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n of BleuScorer, option "closest" (the reference length nearest the
    candidate's, the shorter on a tie), with its epsilons."""
    testlen = reflen = 0
    guess, correct = [0] * n, [0] * n
    for candidate, refs in pairs:
        most: dict[tuple[str, ...], int] = {}
        for ref in refs:
            for gram, count in _ngrams(ref, n).items():
                most[gram] = max(most.get(gram, 0), count)
        testlen += len(candidate)
        reflen += min((abs(len(r) - len(candidate)), len(r)) for r in refs)[1]
        for k in range(n):
            guess[k] += max(0, len(candidate) - k)
        for gram, count in _ngrams(candidate, n).items():
            correct[len(gram) - 1] += min(most.get(gram, 0), count)
    scores, product = [], 1.0
    for k in range(n):
        product *= float(correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def bleu(
    candidates: Mapping[str, str], references: Mapping[str, Sequence[str]], n: int = 4
) -> list[float]:
    """Corpus BLEU-1..n, as pycocoevalcap's ``Bleu(n)``.

    >>> [round(b, 4) for b in bleu({"a": "the cat sat on the mat"},
    ...                             {"a": ["the cat is on the mat", "a cat on the mat"]}, n=2)]
    [0.8333, 0.7071]
    """
    return _bleu(_prepare(candidates, references), n)


def _lcs(a: _Tokens, b: _Tokens) -> int:
    """Length of the longest common subsequence of two token lists."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def _rouge_one(candidate: _Tokens, refs: list[_Tokens], beta: float = 1.2) -> float:
    """ROUGE-L of one image: best precision and best recall over the references (each on
    its own, as pycocoevalcap takes them), then their F-measure."""
    if not candidate:
        return 0.0
    lcs = [_lcs(ref, candidate) for ref in refs]
    prec = max(m / float(len(candidate)) for m in lcs)
    rec = max(m / float(len(ref)) for m, ref in zip(lcs, refs, strict=True))
    if prec == 0 or rec == 0:
        return 0.0
    return ((1 + beta**2) * prec * rec) / float(rec + beta**2 * prec)


def rouge_l(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> float:
    """Mean over images of ROUGE-L (beta 1.2), as pycocoevalcap's ``Rouge``.

    >>> round(rouge_l({"a": "the river crosses the old town"},
    ...               {"a": ["the old bridge crosses the river", "the river"]}), 4)
    0.7093
    """
    pairs = _prepare(candidates, references)
    return sum(_rouge_one(c, refs) for c, refs in pairs) / len(pairs)


@dataclass(frozen=True)
class _TfIdf:
    """One sentence's tf-idf weights by n-gram order, their norms and its length."""

    weights: list[dict[tuple[str, ...], float]]
    norms: list[float]
    length: int


def _tfidf(tokens: _Tokens, df: Counter[tuple[str, ...]], log_n: float) -> _TfIdf:
    weights: list[dict[tuple[str, ...], float]] = [{} for _ in range(4)]
    squares = [0.0] * 4
    for gram, tf in _ngrams(tokens).items():
        w = float(tf) * (log_n - math.log(max(1.0, df[gram])))
        weights[len(gram) - 1][gram] = w
        squares[len(gram) - 1] += w**2
    return _TfIdf(weights, [math.sqrt(s) for s in squares], len(tokens))


def _similarity(hyp: _TfIdf, ref: _TfIdf, sigma: float) -> list[float]:
    """Per n-gram order: cosine with the candidate's weights clipped by the reference's,
    times the gaussian penalty on the length difference."""
    penalty = math.exp(-(float(hyp.length - ref.length) ** 2) / (2 * sigma**2))
    values = []
    for k in range(4):
        theirs = ref.weights[k]
        value = sum(
            min(w, theirs.get(g, 0.0)) * theirs.get(g, 0.0) for g, w in hyp.weights[k].items()
        )
        if hyp.norms[k] != 0 and ref.norms[k] != 0:
            value /= hyp.norms[k] * ref.norms[k]
        values.append(value * penalty)
    return values


def _cider_d(pairs: Sequence[_Pair], sigma: float = 6.0) -> list[float]:
    """CIDEr-D of each image, as pycocoevalcap's ``CiderScorer`` (n = 4).

    Document frequencies count the images whose references hold an n-gram, over the
    evaluated set only; so a single image always scores 0 (log 1 = 0). The length
    compared is the number of words (cider_scorer counts bigrams: the same difference
    whenever both sentences have a word, and a sentence without words scores 0).
    """
    df: Counter[tuple[str, ...]] = Counter()
    for _, refs in pairs:
        df.update({gram for ref in refs for gram in _ngrams(ref)})
    log_n = math.log(float(len(pairs)))
    scores = []
    for candidate, refs in pairs:
        hyp = _tfidf(candidate, df, log_n)
        total = [0.0] * 4
        for ref in refs:
            sim = _similarity(hyp, _tfidf(ref, df, log_n), sigma)
            total = [t + v for t, v in zip(total, sim, strict=True)]
        scores.append(sum(total) / 4 / len(refs) * 10.0)
    return scores


def cider_d(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> float:
    """Mean over images of CIDEr-D (sigma 6, 1- to 4-grams, x10), as pycocoevalcap's ``Cider``.

    >>> cider_d({"1": "red roof", "2": "green field"}, {"1": ["red roof"], "2": ["green park"]})
    3.125
    """
    scores = _cider_d(_prepare(candidates, references))
    return sum(scores) / len(scores)


def _find_meteor(jar: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """Java and the jar, or :class:`MissingDependencyError` saying which is missing."""
    java = shutil.which("java")
    if java is None:
        raise MissingDependencyError("METEOR needs Java: no 'java' on PATH")
    where = jar if jar is not None else os.environ.get(METEOR_JAR_ENV)
    if not where:
        raise MissingDependencyError(
            f"METEOR needs meteor-1.5.jar: give its path or set ${METEOR_JAR_ENV} "
            "(scripts/setup-env extracts it under .cache/reference/pycocoevalcap/)"
        )
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise MissingDependencyError(f"METEOR jar not found: {path}")
    return java, path


def _ask(proc: subprocess.Popen[str], line: str, answers: int) -> list[str]:
    """Send one line to the jar and read ``answers`` lines back."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    out = [proc.stdout.readline() for _ in range(answers)]
    if not all(o.endswith("\n") for o in out):  # end of file: the jar is gone
        raise EOFError("it stopped answering, or ran past its timeout")
    return [o.strip() for o in out]


def _meteor_session(proc: subprocess.Popen[str], pairs: Sequence[_Pair]) -> float:
    """pycocoevalcap's exchange: a SCORE line per image, then one EVAL line of their stats;
    the jar answers a score per image and then the corpus score, which is returned."""
    stats = []
    for candidate, refs in pairs:
        line = " ||| ".join(["SCORE", *(" ".join(r) for r in refs), " ".join(candidate)])
        stats.append(_ask(proc, line, 1)[0])
    answers = _ask(proc, " ||| ".join(["EVAL", *stats]), len(pairs) + 1)
    return float(answers[-1])


def _meteor(pairs: Sequence[_Pair], jar: str | os.PathLike[str] | None, timeout: float) -> float:
    java, path = _find_meteor(jar)
    cmd = [java, "-jar", "-Xmx2G", path.name, "-", "-", "-stdio", "-l", "en", "-norm"]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stderr:
        try:
            with subprocess.Popen(
                cmd,
                cwd=path.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
            ) as proc:
                watchdog = threading.Timer(timeout, proc.kill)
                watchdog.start()
                try:
                    return _meteor_session(proc, pairs)
                finally:
                    watchdog.cancel()
                    proc.kill()
        except (OSError, EOFError, ValueError) as error:
            stderr.seek(0)
            said = stderr.read()[-500:].strip() or "no message"
            raise MissingDependencyError(f"METEOR jar {path} failed ({error}): {said}") from error


def meteor(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    jar: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 600.0,
) -> float:
    """Corpus METEOR 1.5, as pycocoevalcap's ``Meteor``: the jar's own corpus score.

    Runs ``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`` in the jar's folder
    (its ``data/paraphrase-en.gz`` beside it) for this call only, fed the tokenized
    texts. ``jar`` defaults to ``$TERRASIGHT_METEOR_JAR``; the jar is killed after
    ``timeout`` seconds.

    Raises:
        MissingDependencyError: no Java, no jar, or the jar failed.

    >>> meteor({"a": "a red roof"}, {"a": ["the red roof"]})  # doctest: +SKIP
    0.4...
    """
    return _meteor(_prepare(candidates, references), jar, timeout)


def score_captions(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    meteor: bool = True,
    *,
    meteor_jar: str | os.PathLike[str] | None = None,
) -> CaptionScores:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of one caption an image against its references.

    Args:
        candidates: image id -> the caption to score.
        references: image id -> its reference captions (at least one each); ids
            without a candidate are left out (a note counts them).
        meteor: whether to run the METEOR jar (slow to start: it loads a
            paraphrase table). Without Java or the jar METEOR is ``None`` and a
            note says why.
        meteor_jar: path of ``meteor-1.5.jar``; default ``$TERRASIGHT_METEOR_JAR``.

    Raises:
        InvalidOptionError: no candidates, a candidate without references, or a
            reference with no words.

    >>> s = score_captions({"1": "red roof", "2": "green field"},
    ...                    {"1": ["red roof"], "2": ["green park"]}, meteor=False)
    >>> s.cider_d, s.notes
    (3.125, ('METEOR not computed (meteor=False)',))
    """
    pairs = _prepare(candidates, references)
    notes = []
    extra = len(set(references) - set(candidates))
    if extra:
        notes.append(f"{extra} reference id(s) without a candidate were left out")
    if len(pairs) == 1:
        notes.append("CIDEr-D is 0 for a single image (its idf comes from the evaluated set)")
    meteor_score = None
    if not meteor:
        notes.append("METEOR not computed (meteor=False)")
    else:
        try:
            meteor_score = _meteor(pairs, meteor_jar, timeout=600.0)
        except MissingDependencyError as error:
            notes.append(f"METEOR not computed: {error}")
    b1, b2, b3, b4 = _bleu(pairs)
    rouge = sum(_rouge_one(c, refs) for c, refs in pairs) / len(pairs)
    cider = sum(_cider_d(pairs)) / len(pairs)
    return CaptionScores(b1, b2, b3, b4, meteor_score, rouge, cider, len(pairs), tuple(notes))
