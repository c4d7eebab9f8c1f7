"""Image-text retrieval and zero-shot accuracy of the ``vl`` models on their validation split.

Protocol: the validation images of the training split (a seeded hash of the
file name, ``val_fraction`` of the model's training configuration; training
never saw them), embedded from their JPEG files through the public
``terrasight.tasks.embed`` functions. Retrieval as for RSICD: each of the 5
captions of an image retrieves among all validation images (text->image), each
image retrieves among all their captions (image->text); R@1/5/10 in percent
and mR, their mean. Zero-shot: the 30 AID class names (``BareLand`` -> "bare
land") with the baseline prompt "an aerial image of a {}." and with the model's
own prompt ensemble; accuracy over the validation images.

Note: the training run picked its epoch by validation mR, so these retrieval
figures are slightly optimistic; BASELINES.md figures are on held-out RSICD test
images (a different, larger gallery) and are not directly comparable.

Usage::

    .venv/bin/python benchmarks/vl_accuracy.py                      # needs ../shared/data
    .venv/bin/python benchmarks/vl_accuracy.py --models terrasight-vl --data DIR
    # the variants side by side: registry names and/or the entries of training runs
    .venv/bin/python benchmarks/vl_accuracy.py --models runs/vl-linear/terrasight-vl.json runs/vl-mlp/terrasight-vl.json runs/vl-tune-last/terrasight-vl.json

Writes ``benchmarks/results/vl_accuracy.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
BASELINE_PROMPT = "an aerial image of a {}."


def class_words(folder: str) -> str:
    """AID folder name as words: ``DenseResidential`` -> ``dense residential``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", folder).lower()


def evaluate_model(name: str, data: Path) -> dict[str, Any]:
    """Retrieval and zero-shot scores of one registry model on its validation split."""
    from terrasight.eval.retrieval import retrieval_recalls, zero_shot_accuracy
    from terrasight.models import ModelConfig, get_config
    from terrasight.tasks.embed import embed_images, embed_texts, label_embeddings, load_model
    from terrasight.training.vl_data import load_pairs, split_pairs

    is_file = name.endswith(".json")
    config = (
        ModelConfig.from_dict(json.loads(Path(name).read_text())) if is_file else get_config(name)
    )
    fraction = config.extra["training"]["config"]["val_fraction"]
    _, val = split_pairs(load_pairs(data / "aid", data / "rsicd"), fraction)
    model = load_model(name)
    start = time.perf_counter()
    img = embed_images([p.path for p in val], model)
    caps = [c for p in val for c in p.captions]
    txt = embed_texts(caps, model)
    scores = retrieval_recalls(img, txt, np.repeat(np.arange(len(val)), len(val[0].captions)))
    classes = sorted({p.label for p in val})
    labels = np.array([classes.index(p.label) for p in val])
    words = [class_words(c) for c in classes]
    for key, templates in (
        ("zero_shot_baseline_prompt", [BASELINE_PROMPT]),
        ("zero_shot_ensemble", None),
    ):
        scores[key] = 100 * zero_shot_accuracy(
            img, label_embeddings(words, templates, model), labels
        )
    scores["seconds"] = round(time.perf_counter() - start, 1)
    return {"val_images": len(val), "val_captions": len(caps), "classes": len(classes), **scores}


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """One row per model."""
    cols = [
        "t2i_R@1",
        "t2i_R@5",
        "t2i_R@10",
        "i2t_R@1",
        "i2t_R@5",
        "i2t_R@10",
        "mR",
        "zero_shot_baseline_prompt",
        "zero_shot_ensemble",
    ]
    heads = [
        "model",
        "val",
        *[
            c.replace("zero_shot_baseline_prompt", "ZS@1prompt").replace(
                "zero_shot_ensemble", "ZS@ens"
            )
            for c in cols
        ],
    ]
    print(" | ".join(f"{h:>10}" for h in heads))
    for name, r in results.items():
        cells = [name, str(r["val_images"]), *[f"{r[c]:.1f}" for c in cols]]
        print(" | ".join(f"{c:>10}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="vl registry names or entry .json files of `terrasight train vl` runs "
        "(default: every registry entry trained by terrasight)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "vl_accuracy.json"
    )
    args = parser.parse_args()
    from terrasight.models import get_config, list_models

    names = args.models or [n for n in list_models("vl") if "training" in get_config(n).extra]
    results = {name: evaluate_model(name, args.data) for name in names}
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "data": str(args.data),
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
