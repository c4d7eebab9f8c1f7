"""``detect_changes(..., only=, classes=)``: change detection, then its land cover.

The public door to :func:`~terrasight.tasks.change.pipeline.detect.detect_changes`
(``terrasight.detect_changes``): the change job itself knows nothing of land cover;
this wrapper runs :func:`~terrasight.tasks.semantic.run.classify_changes` on its
result when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.tasks.change.pipeline.detect import detect_changes as detect_only
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.semantic.run import SemanticOptions, check_only, classify_changes
from terrasight.tasks.semantic.same_cover import CoverCheck

if TYPE_CHECKING:
    from terrasight.models.onnx_landcover import LandCoverNetwork


def detect_changes(
    before: str | Path,
    after: str | Path,
    method: str = "auto",
    *,
    only: str | None = None,
    classes: bool = False,
    semantic_options: SemanticOptions | dict[str, Any] | None = None,
    landcover_network: LandCoverNetwork | None = None,
    landcover_check: str = "off",
    **kwargs: Any,
) -> ChangeResult:
    """Find where two images of one place differ; with ``classes`` or ``only``, also what
    each changed place was and became (``change_classes.tif``, objects split by class,
    buildings one by one).

    Args:
        before, after, method, kwargs: as
            :func:`terrasight.tasks.change.pipeline.detect.detect_changes`.
        only: keep only changes from or to this land-cover class (``"building"``,
            ``"road"``, ``"water"``, ``"vegetation"``, ``"bare"``); implies ``classes``.
        classes: measure each change's land cover before and after
            (:func:`~terrasight.tasks.semantic.run.classify_changes`).
        semantic_options: :class:`~terrasight.tasks.semantic.run.SemanticOptions`.
        landcover_network: an opened land-cover network (the shipped one if None).
        landcover_check: ``"off"``, ``"flag"`` or ``"drop"`` the changes whose land cover is
            the same and sure on both dates; implies ``classes`` (see
            :func:`~terrasight.tasks.semantic.run.classify_changes`).

    Raises:
        InvalidOptionError: ``only`` is not a land-cover class, or another option is wrong
            (checked before any image is read).

    Example:
        >>> import terrasight
        >>> result = terrasight.detect_changes("2019.tif", "2024.tif", outdir="out",
        ...                                    only="building")  # doctest: +SKIP
        >>> [(o.from_class, o.to_class) for o in result.objects[:2]]  # doctest: +SKIP
        [('bare', 'building'), ('bare', 'building')]
    """
    name = check_only(only)
    checking = CoverCheck.of(landcover_check).active  # refused before any image is read
    opts = (
        semantic_options
        if isinstance(semantic_options, SemanticOptions)
        else SemanticOptions.from_mapping(semantic_options)
    )
    result = detect_only(before, after, method, **kwargs)
    if not (classes or name or checking):
        return result
    return classify_changes(
        result,
        only=name,
        options=opts,
        network=landcover_network,
        landcover_check=landcover_check,
    )
