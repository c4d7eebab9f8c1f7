"""What the tools of one conversation share: the pair, its change result and facts, made once.

The change is detected lazily, on the first tool call that needs it (or loaded
when ``before`` is a saved result folder); its facts are made without land cover
first and classified only when a question names a class (and PyTorch is there).

Example:
    >>> session = Session("changes/")  # doctest: +SKIP
    >>> session.facts().object_count  # doctest: +SKIP
    6
"""

from __future__ import annotations

import importlib.util
import tempfile
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError, ToolArgumentError
from terrasight.tasks.change.load import is_result_folder
from terrasight.tasks.interpret.ask_select import unknown_ids

if TYPE_CHECKING:
    from terrasight.index.search import Index
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.result import ChangeResult
    from terrasight.tasks.interpret.facts_data import ChangeFacts
    from terrasight.tasks.scene_ask.instances import SceneObjects
    from terrasight.tasks.series.result import SeriesResult


class Session:
    """The inputs of a conversation and what has been computed from them.

    Args:
        before: the before image, a result folder saved by ``terrasight change -o DIR``,
            or the :class:`ChangeFacts` alone (questions only: nothing to export or look at);
            or alone a series folder (``terrasight series -o DIR``): then only questions
            of when things changed are answered; or alone one image (or its land-cover map):
            then questions of what is in it (land cover, counts, areas, places).
        after: the after image (None with a result folder).
        method: the change method for a pair.
        cache: loaded models, owned by the caller.
        outdir: where the detection and exported files go (a temporary folder when None).
        sentence_model: let the sentence-embedding model type questions the rules cannot.
        db: an archive index folder (``terrasight index build``) the archive tool searches.
        series: a series folder (``terrasight series -o DIR``) beside the pair, for the
            ``when_changed`` tool.
        detect_options: more options of ``detect_changes``.

    Raises:
        InvalidOptionError: a result folder with a second image, or an image without one.
    """

    def __init__(
        self,
        before: str | Path | ChangeFacts,
        after: str | Path | None = None,
        method: str = "auto",
        cache: ModelCache | None = None,
        outdir: str | Path | None = None,
        sentence_model: bool = True,
        db: str | Path | None = None,
        series: str | Path | None = None,
        **detect_options: Any,
    ) -> None:
        from terrasight.tasks.interpret.ask_series import is_series_folder
        from terrasight.tasks.interpret.facts_data import ChangeFacts

        self.series = Path(series) if series is not None else None
        if self.series is not None and not is_series_folder(self.series):
            raise InvalidOptionError(
                f"{self.series} is not the folder of a finished 'terrasight series' job."
            )
        self.pair = True
        self.scene: Path | None = None
        if after is None and not isinstance(before, ChangeFacts) and is_series_folder(before):
            self.pair, self.series = False, Path(before)
        elif after is None and not isinstance(before, ChangeFacts) and is_one_image(before):
            self.pair, self.scene = False, Path(before)
        self._facts: dict[bool, ChangeFacts] = {}
        self.facts_only = isinstance(before, ChangeFacts)
        if isinstance(before, ChangeFacts):
            self._facts = {False: before, True: before}
            before = Path(before.before)
        self.before, self.after = Path(before), (Path(after) if after is not None else None)
        self.saved = (
            self.facts_only or is_result_folder(before) or (not self.pair and self.scene is None)
        )
        if self.saved and after is not None:
            raise InvalidOptionError(
                f"{before} is a saved result folder: give it alone, without a second image."
            )
        if not self.saved and after is None and self.scene is None:
            raise InvalidOptionError(
                f"{before} is neither a saved change result folder nor an image file: give "
                "an image (a conversation about one date), two images, or a result folder."
            )
        self.method = method
        self.cache = cache
        self.sentence_model = sentence_model
        self.detect_options = detect_options
        self._outdir = Path(outdir) if outdir is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._result: ChangeResult | None = None
        self.exports: list[Path] = []
        self.detections = 0
        self.db = Path(db) if db is not None else None
        self._archive: Index | None = None
        self._series: SeriesResult | None = None
        self._scene: SceneObjects | None = None
        self._measured: bool | None = None
        self.class_note: str | None = None

    @property
    def outdir(self) -> Path:
        """Where files of this conversation are written (created on first use)."""
        if self._outdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="terrasight-chat-")
            weakref.finalize(self, self._tmp.cleanup)
            self._outdir = Path(self._tmp.name)
        self._outdir.mkdir(parents=True, exist_ok=True)
        return self._outdir

    @property
    def detected(self) -> bool:
        """Whether the change result is at hand (detected or loaded)."""
        return self._result is not None or (self.saved and bool(self._facts))

    def result(self) -> ChangeResult:
        """The change result: loaded from the folder, or detected on first use."""
        if self._result is None:
            self._need_pair()
            if self.facts_only:
                raise ToolArgumentError(
                    "only the change facts are at hand: no geometry or raster to read; "
                    "start from the result folder to export or look at the images."
                )
            if self.saved:
                from terrasight.tasks.change.load import load_result

                self._result = load_result(self.before)
            else:
                self._result = self._detect()
        return self._result

    def _detect(self) -> ChangeResult:
        from terrasight.tasks.change.pipeline.detect import detect_changes

        assert self.after is not None
        out = self.outdir / "changes"
        options = {"overwrite": True, **self.detect_options}
        self.detections += 1
        return detect_changes(
            self.before, self.after, self.method, outdir=out, cache=self.cache, **options
        )

    def redetect(self, method: str) -> ChangeResult:
        """Detect again with another method (a result folder cannot be: it has no images)."""
        if self.saved:
            raise ToolArgumentError(
                f"{self.before} is a saved result (method {self.result().method}); it has no "
                "images to detect again. Start a conversation on the two images instead."
            )
        from terrasight.tasks.change.methods.registry import get_method

        get_method(method)  # UnknownMethodError names the installed ones
        self.method, self._result, self._facts = method, None, {}
        self._measured, self.class_note = None, None
        return self.result()

    def scene_objects(self) -> SceneObjects:
        """The land-cover objects of the one image of the conversation, made on first use
        (the land cover goes into ``outdir/landcover/``).

        Raises:
            ToolArgumentError: the conversation is about two dates or a series, not one image.
        """
        if self.scene is None:
            raise ToolArgumentError(
                "this conversation is about a change (two dates or a series), not one image: "
                "ask what changed, or start a conversation on one image (Agent(IMAGE), "
                "terrasight chat IMAGE)."
            )
        if self._scene is None:
            from terrasight.tasks.scene_ask.ask import land_cover_of
            from terrasight.tasks.scene_ask.instances import find_objects

            self._scene = find_objects(land_cover_of(self.scene, None, self.outdir))
        return self._scene

    def _need_pair(self) -> None:
        if self.scene is not None:
            raise ToolArgumentError(
                f"this conversation is about one image ({self.scene.name}): one date shows "
                "no change. Ask what is in it (land cover, counts, areas, where things are), "
                "or start a conversation on two images of the place."
            )
        if not self.pair:
            raise ToolArgumentError(
                f"this conversation is about the series of dates in {self.before}: ask when "
                "things changed (when_changed); for what a place became, start a conversation "
                "on two of its images."
            )

    def series_result(self) -> SeriesResult:
        """The series of dates this conversation is about, read from its folder.

        Raises:
            ToolArgumentError: the conversation has no series.
        """
        if self.series is None:
            raise ToolArgumentError(
                "this conversation has two dates, not a series: when a change happened between "
                "them cannot be told. Start one on a series folder (terrasight series -o DIR, "
                "then terrasight chat DIR, or Agent(..., series=DIR))."
            )
        if self._series is None:
            from terrasight.tasks.series.result import load_series

            self._series = load_series(self.series)
        return self._series

    def archive(self) -> Index:
        """The archive index, opened on first use.

        Raises:
            ToolArgumentError: no index was given, or ``db`` holds none.
        """
        if self._archive is None:
            if self.db is None:
                raise ToolArgumentError(
                    "no archive index was given to this conversation; start it with an "
                    "index (Agent(..., db=PATH) or terrasight chat ... --db PATH), built with "
                    "`terrasight index build SOURCES... --db PATH`."
                )
            from terrasight import index
            from terrasight.errors import IndexNotFoundError

            try:
                self._archive = index.open(self.db)
            except IndexNotFoundError as exc:
                raise ToolArgumentError(str(exc)) from None
        return self._archive

    def facts(self, classes: bool = False) -> ChangeFacts:
        """The change facts; with land cover when ``classes``: measured per pixel by the
        land-cover network where the images allow (:meth:`measure_classes`), else from the
        image-text model when PyTorch is installed."""
        self._need_pair()
        if classes and self.measure_classes():
            self._facts = {}  # made before the objects were cut by class
        classes = classes and importlib.util.find_spec("torch") is not None
        if classes in self._facts:
            return self._facts[classes]
        if not classes and True in self._facts:
            return self._facts[True]
        from terrasight.tasks.interpret.describe import facts_of
        from terrasight.tasks.interpret.facts import FactsOptions

        if self.saved and self._result is None:
            made = facts_of(self.before, FactsOptions(classify=classes), self.cache, reuse=True)
            if classes and made.model is None:
                made = facts_of(self.before, FactsOptions(classify=True), self.cache, reuse=False)
        else:
            made = facts_of(self.result(), FactsOptions(classify=classes), self.cache)
        self._facts[classes] = made
        return made

    def measure_classes(self) -> bool:
        """Cut a detected pair's changes by land cover before and after, once
        (:func:`~terrasight.tasks.semantic.run.classify_changes`, every window: the question
        asked for them); True when that was done now. A saved result keeps what it has;
        images without RGB keep the plain result."""
        if self.saved or self._measured is not None:
            return False
        result = self.result()
        if len(result.objects) and result.objects[0].parent_id is not None:
            self._measured = True
            return False
        from terrasight.errors import BandSelectionError, MissingDependencyError, ModelWeightsError
        from terrasight.tasks.semantic.run import classify_changes

        try:
            self._result = classify_changes(result, cache=self.cache)
        except (BandSelectionError, MissingDependencyError, ModelWeightsError) as exc:
            self._measured = False
            self.class_note = f"land cover of the changes not measured: {exc}"
            return False
        self._measured = True
        return True

    def class_changes(self) -> dict[str, Any]:
        """What the changes were and became (:func:`~terrasight.tasks.semantic.table.class_changes`),
        measured first where a detected pair has no classes yet."""
        from terrasight.tasks.semantic.table import class_changes

        self._need_pair()
        if self.facts_only:
            raise ToolArgumentError(
                "only the change facts are at hand: the land-cover table of the changes is "
                "in the result folder; start from it."
            )
        self.measure_classes()
        folder = self.before if self.saved else Path(self.result().mask_path).parent
        data = class_changes(folder)
        if self.class_note:
            data["notes"] = [*data.get("notes", []), self.class_note]
        return data

    def subset(self, ids: list[int] | None, classes: bool = False) -> ChangeFacts:
        """The facts limited to the objects ``ids`` (all of them when None).

        Raises:
            ToolArgumentError: an id names no object; the message gives the valid ones.
        """
        facts = self.facts(classes)
        if ids is None:
            return facts
        known = {f.id for f in facts.objects}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ToolArgumentError(unknown_ids(unknown, known))
        kept = tuple(f for f in facts.objects if f.id in set(ids))
        return replace(facts, objects=kept, changed_area=float(sum(f.area for f in kept)))

    def close(self) -> None:
        """Remove the temporary folder, if one was made."""
        if self._tmp is not None:
            self._tmp.cleanup()


def is_one_image(path: str | Path) -> bool:
    """Whether ``path`` is one image (a raster file, or a land-cover map or its folder), for a
    conversation about one date.

    Example:
        >>> is_one_image("no/such/file.tif")
        False
    """
    from terrasight.tasks.scene_ask.landcover_map import is_landcover_file

    path = Path(path)
    return (path.is_file() and not is_result_folder(path)) or is_landcover_file(path)
