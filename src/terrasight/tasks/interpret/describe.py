"""``describe``: a change, or one scene, in one to three sentences.

Two images: detect the change (or reuse a saved result), make its facts and
caption them (:mod:`~terrasight.tasks.interpret.caption`). One image: a
caption of the scene and its top classes (:mod:`~terrasight.tasks.interpret.scene`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.tasks.change.load import is_result_folder, load_result
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.interpret.caption import as_sentence, caption_change
from terrasight.tasks.interpret.facts import FactsOptions, change_facts
from terrasight.tasks.interpret.facts_data import FACTS_NAME, ChangeFacts, read_facts

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

ChangeSource = ChangeResult | ChangeFacts | str | Path


@dataclass(frozen=True)
class Description:
    """What :func:`describe` returns.

    Attributes:
        text: the caption.
        facts: the change facts it rests on (None for one image).
        scene: the one-image caption with its classes and runner-up captions (None for a pair).
    """

    text: str
    facts: ChangeFacts | None = None
    scene: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``text``, then ``facts`` or ``scene``."""
        out: dict[str, Any] = {"text": self.text}
        if self.facts is not None:
            out["facts"] = self.facts.to_dict()
        if self.scene is not None:
            out["scene"] = self.scene.to_dict()
        return out


def facts_of(
    source: ChangeSource,
    options: FactsOptions | None = None,
    cache: ModelCache | None = None,
    reuse: bool | None = None,
) -> ChangeFacts:
    """The facts of a result, of a saved result folder, or the facts themselves.

    A folder's ``facts.json`` is read as it is when ``reuse`` (by default: when no
    ``options`` are given); otherwise the facts are made with ``options``.

    Example:
        >>> facts_of("changes/").object_count  # doctest: +SKIP
        12
    """
    if isinstance(source, ChangeFacts):
        return source
    if isinstance(source, ChangeResult):
        return change_facts(source, options, cache=cache)
    folder = Path(source)
    if (options is None if reuse is None else reuse) and (folder / FACTS_NAME).is_file():
        return read_facts(folder / FACTS_NAME)
    return change_facts(load_result(folder), options, cache=cache)


def describe(
    before: ChangeSource,
    after: str | Path | None = None,
    *,
    method: str = "auto",
    facts_options: FactsOptions | None = None,
    cache: ModelCache | None = None,
    outdir: str | Path | None = None,
    **change_options: Any,
) -> Description:
    """Describe what changed between two images, or what one image shows.

    Args:
        before: the before image; or, alone, a saved result folder, a
            :class:`ChangeResult` or :class:`ChangeFacts` to caption; or, alone,
            one image to caption as a scene.
        after: the after image (then the change is detected first).
        method, outdir, change_options: passed to ``detect_changes``.
        facts_options: how the change facts are made (see :class:`FactsOptions`).
        cache: keeps the models loaded for later calls.

    Raises:
        TerrasightError: the errors of ``detect_changes`` and of reading the images.

    Example:
        >>> describe("2019.tif", "2024.tif").text  # doctest: +SKIP
        'Many houses are built on the bareland at the top.'
        >>> describe("harbour.jpg").text  # doctest: +SKIP
        'many boats are in a port near a bridge.'
    """
    if after is not None:
        from terrasight.tasks.change.pipeline.detect import detect_changes

        if not isinstance(before, (str, Path)):
            raise TypeError("with an after image, before must be an image path")
        result = detect_changes(
            before, after, method=method, outdir=outdir, cache=cache, **change_options
        )
        facts = change_facts(result, facts_options, cache=cache)
        return Description(caption_change(facts), facts=facts)
    if isinstance(before, (ChangeResult, ChangeFacts)) or is_result_folder(before):
        facts = facts_of(before, facts_options, cache=cache)
        return Description(caption_change(facts), facts=facts)
    from terrasight.tasks.interpret.scene import caption_image

    scene = caption_image(before, cache=cache)
    return Description(as_sentence(scene.text), scene=scene)
