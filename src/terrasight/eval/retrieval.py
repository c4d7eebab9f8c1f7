"""Text-image retrieval and zero-shot metrics on embeddings (numpy only).

Protocol (as for RSICD): every caption retrieves among all images (text->image,
a hit when its own image is in the top k); every image retrieves among all
captions (image->text, a hit when any of its own captions is in the top k).
``mR`` is the mean of the six recalls, in percent.
"""

from __future__ import annotations

import numpy as np

KS = (1, 5, 10)


def _ranks(sim: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Best (0-based) rank of a correct column in each row of ``sim``."""
    order = np.argsort(-sim, axis=1, kind="stable")
    hits = np.take_along_axis(correct, order, axis=1)
    return hits.argmax(axis=1)


def retrieval_recalls(
    image_emb: np.ndarray, text_emb: np.ndarray, text_image: np.ndarray
) -> dict[str, float]:
    """R@1/5/10 both ways and their mean ``mR`` (percent).

    Args:
        image_emb: ``(n_images, d)`` normalised embeddings.
        text_emb: ``(n_texts, d)`` normalised embeddings.
        text_image: ``(n_texts,)`` index of each text's image.

    Example:
        >>> e = np.eye(3, dtype=np.float32)
        >>> retrieval_recalls(e, e, np.arange(3))["mR"]
        100.0
    """
    text_image = np.asarray(text_image)
    correct = text_image[:, None] == np.arange(len(image_emb))[None, :]
    sim = text_emb @ image_emb.T
    t2i = _ranks(sim, correct)
    i2t = _ranks(sim.T, correct.T)
    out: dict[str, float] = {}
    for k in KS:
        out[f"t2i_R@{k}"] = float(100 * np.mean(t2i < k))
        out[f"i2t_R@{k}"] = float(100 * np.mean(i2t < k))
    out["mR"] = float(np.mean([out[f"{d}_R@{k}"] for d in ("t2i", "i2t") for k in KS]))
    return out


def zero_shot_accuracy(image_emb: np.ndarray, class_emb: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images whose most similar class embedding is their label.

    Example:
        >>> zero_shot_accuracy(np.eye(2), np.eye(2), np.array([0, 1]))
        1.0
    """
    pred = np.argmax(image_emb @ class_emb.T, axis=1)
    return float(np.mean(pred == np.asarray(labels)))
