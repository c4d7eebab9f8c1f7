"""The contract every change method follows: samples, fitted methods, typed options, specs.

A method is fitted once on a sample of windows spread over the scene (global
statistics, thresholds), then applied window by window. Applying it is a pure
function of the window, so windows can run in any order, on any thread, and a
job interrupted half way can resume with the same fitted parameters.

Each method declares its options as a frozen dataclass derived from
:class:`MethodOptions`, one field per option with its allowed values
(:func:`option`). :meth:`MethodOptions.from_mapping` builds it from plain
values (strings from the command line included) and refuses unknown names and
values out of range with :class:`~terrasight.errors.InvalidOptionError`.

A method is published as a :class:`MethodSpec` under the entry point group
``terrasight.change_methods`` (see :mod:`terrasight.tasks.change.methods.registry`).
"""

from __future__ import annotations

import difflib
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import numpy as np

from terrasight.errors import InvalidOptionError

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(before, after, valid)``: float32 ``(bands, h, w)`` twice and a bool ``(h, w)`` mask."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class FittedChange(Protocol):
    """A change method fitted to one pair of images."""

    @property
    def name(self) -> str:
        """The method's registry name."""

    @property
    def threshold(self) -> float:
        """Probability at or above which a pixel counts as changed."""

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Change probability in [0, 1], float32 ``(h, w)``; invalid pixels may hold anything."""

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters: enough to rebuild the fitted method (see ``restore``)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close.

    Example:
        >>> did_you_mean("tolerence", ["tolerance", "threshold"])
        " Did you mean 'tolerance'?"
        >>> did_you_mean("zzz", ["tolerance"])
        ''
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def option(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[str] = (),
    doc: str = "",
) -> Any:
    """A field of an options dataclass with its allowed values.

    Args:
        default: the value when the option is not given.
        low, high: inclusive bounds of a numeric value.
        choices: the allowed strings of a text value.
        doc: what a text value without ``choices`` is (e.g. ``"a path or URL"``).

    Example:
        >>> @dataclass(frozen=True)
        ... class Opts(MethodOptions):
        ...     method: ClassVar[str] = "demo"
        ...     size: int = option(3, low=1, high=9)
        >>> Opts.from_mapping({"size": "4"}).size
        4
    """
    meta = {"low": low, "high": high, "choices": tuple(choices), "doc": doc}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class MethodOptions:
    """Base of a change method's options: a frozen dataclass with checked fields.

    Subclasses set the class variable ``method`` (the method's name, used in
    messages) and declare each option with :func:`option`. Values are checked
    on construction; :meth:`from_mapping` also converts strings to each field's
    type and refuses unknown names.

    Example:
        >>> @dataclass(frozen=True)
        ... class Opts(MethodOptions):
        ...     method: ClassVar[str] = "demo"
        ...     tolerance: int = option(1, low=0, high=2)
        >>> Opts.from_mapping({"tolerance": "2"}).to_dict()
        {'tolerance': 2}
        >>> Opts.from_mapping({"tolerence": 1})
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: unknown option 'tolerence' for change method 'demo'. Did you mean 'tolerance'? Options of demo: tolerance (an integer from 0 to 2).
    """

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if not _allowed(value, _arms(hints[f.name]), f.metadata):
                raise InvalidOptionError(self._bad_value(f.name, value))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None) -> Self:
        """Build the options from ``{name: value}``; strings are converted to each field's type.

        Raises:
            InvalidOptionError: an unknown name (with the closest known one), or a
                value of the wrong type or out of its allowed range.
        """
        values = dict(values or {})
        hints = typing.get_type_hints(cls)
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                raise InvalidOptionError(cls._unknown(str(key)))
        meta = {f.name: f.metadata for f in fields(cls)}
        kwargs = {}
        for key, value in values.items():
            arms = _arms(hints[key])
            try:
                kwargs[key] = _convert(value, arms)
            except (TypeError, ValueError):
                raise InvalidOptionError(cls._bad_value(key, value)) from None
            if not _allowed(kwargs[key], arms, meta[key]):
                raise InvalidOptionError(cls._bad_value(key, kwargs[key]))
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values (what a job's signature stores)."""
        return asdict(self)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Each option's allowed values in words.

        Example:
            >>> MethodOptions.describe()
            {}
        """
        hints = typing.get_type_hints(cls)
        return {f.name: _allowed_words(_arms(hints[f.name]), f.metadata) for f in fields(cls)}

    @classmethod
    def _who(cls) -> str:
        return f"change method {cls.method!r}" if cls.method else cls.__name__

    @classmethod
    def _unknown(cls, key: str) -> str:
        names = [f.name for f in fields(cls)]
        if not names:
            return f"unknown option {key!r}: {cls._who()} takes no options."
        listing = "; ".join(f"{k} ({v})" for k, v in cls.describe().items())
        return (
            f"unknown option {key!r} for {cls._who()}.{did_you_mean(key, names)} "
            f"Options of {cls.method or cls.__name__}: {listing}."
        )

    @classmethod
    def _bad_value(cls, key: str, value: Any) -> str:
        return f"option {key!r} of {cls._who()} must be {cls.describe()[key]}, not {value!r}."


def _arms(hint: Any) -> tuple[Any, ...]:
    """The types a field accepts: the members of a union, or the type itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _convert(value: Any, arms: tuple[Any, ...]) -> Any:
    """``value`` as one of ``arms``; strings are parsed (bool, int, float) before staying text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike) and str in arms:
        value = os.fspath(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and int not in arms and float in arms:
        return float(value)
    if not isinstance(value, str) or str in arms and not _numeric(arms):
        return value
    text = value.strip()
    if bool in arms and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    for kind in (int, float):
        if kind in arms:
            try:
                return kind(text)
            except ValueError:
                pass
    if str in arms:
        return value
    raise ValueError(value)


def _numeric(arms: tuple[Any, ...]) -> bool:
    return any(kind in arms for kind in (bool, int, float))


def _allowed(value: Any, arms: tuple[Any, ...], meta: Mapping[str, Any]) -> bool:
    """Whether ``value`` has one of the types ``arms`` and lies in the field's range."""
    if value is None:
        return type(None) in arms
    if isinstance(value, bool):
        return bool in arms
    if isinstance(value, int | float) and (int in arms and isinstance(value, int) or float in arms):
        low, high = meta.get("low"), meta.get("high")
        within = (low is None or value >= low) and (high is None or value <= high)
        return within and math.isfinite(value)
    if isinstance(value, str) and str in arms:
        return not meta.get("choices") or value in meta["choices"]
    return False


def _allowed_words(arms: tuple[Any, ...], meta: Mapping[str, Any]) -> str:
    """The allowed values of a field in words, e.g. ``"an integer from 0 to 2"``."""
    words = []
    if str in arms:
        choices = meta.get("choices")
        words.append(", ".join(map(repr, choices)) if choices else meta.get("doc") or "text")
    for kind, noun in ((int, "an integer"), (float, "a number")):
        if kind in arms and not (kind is int and float in arms):
            words.append(noun + _range_words(meta.get("low"), meta.get("high")))
    if bool in arms:
        words.append("true or false")
    if type(None) in arms:
        words.append("unset (None)")
    return " or ".join(words)


def _range_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    if high is not None:
        return f" of at most {high:g}"
    return ""


@dataclass(frozen=True)
class NoOptions(MethodOptions):
    """The options of a method that takes none."""


@dataclass(frozen=True)
class MethodSpec:
    """A change method as the pipeline sees it.

    Attributes:
        name: the method's name (also its entry point's name).
        fit: ``fit(samples, band_names, options)`` returns a :class:`FittedChange`;
            ``options`` is an instance of :attr:`options`.
        restore: ``restore(params, cache)`` rebuilds a fitted method from
            :meth:`FittedChange.params`; ``cache`` is the caller's
            :class:`~terrasight.models.runtime.ModelCache` or None.
        description: one line for listings.
        options: the method's options dataclass.
        overlap: context in pixels each window needs on every side.
        min_bands: fewest bands the method works on.
        tile_size: default window size in pixels (a multiple of 256).
        requires: checks the method's optional dependencies and raises
            :class:`~terrasight.errors.MissingDependencyError` when one is
            missing; called before any work starts.

    Example:
        >>> from terrasight.tasks.change.methods.registry import get_method
        >>> spec = get_method("cva")
        >>> opts = spec.parse_options({"tolerance": "0"})
        >>> type(opts).__name__, opts.tolerance
        ('CVAOptions', 0)
    """

    name: str
    fit: Callable[[Sequence[Sample], Sequence[str], Any], FittedChange]
    restore: Callable[[dict[str, Any], ModelCache | None], FittedChange]
    description: str
    options: type[MethodOptions] = NoOptions
    overlap: int = 0
    min_bands: int = 1
    tile_size: int = 1024
    requires: Callable[[], object] | None = None

    def __post_init__(self) -> None:
        if self.options.method not in ("", self.name):
            raise TypeError(
                f"{self.options.__name__}.method is {self.options.method!r}, "
                f"but the spec is named {self.name!r}"
            )

    def parse_options(self, values: Mapping[str, Any] | None = None) -> MethodOptions:
        """This method's typed options from plain values (see :meth:`MethodOptions.from_mapping`)."""
        return self.options.from_mapping(values)

    def check_requirements(self) -> None:
        """Raise :class:`~terrasight.errors.MissingDependencyError` when the method cannot run."""
        if self.requires is not None:
            self.requires()


def pooled(
    samples: Sequence[Sample], max_pixels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the valid pixels of all samples: two float64 ``(n, bands)`` arrays.

    With ``max_pixels``, an evenly strided subset of about that many pixels
    (deterministic), to bound the memory and time of fitting statistics.

    Example:
        >>> ones = np.ones((2, 3, 3), np.float32)
        >>> b, a = pooled([(ones, 2 * ones, np.eye(3, dtype=bool))])
        >>> b.shape, float(a.sum())
        ((3, 2), 12.0)
    """
    total = sum(int(v.sum()) for _, _, v in samples)
    step = max(1, -(-total // max_pixels)) if max_pixels else 1
    bs, as_ = [], []
    for b, a, v in samples:
        nb = b.shape[0]
        flat_b, flat_a = b.reshape(nb, -1)[:, ::step], a.reshape(nb, -1)[:, ::step]
        keep = v.reshape(-1)[::step]
        bs.append(flat_b[:, keep].T)
        as_.append(flat_a[:, keep].T)
    nb = samples[0][0].shape[0] if samples else 0
    if not bs:
        return np.empty((0, nb)), np.empty((0, nb))
    return np.concatenate(bs).astype(np.float64), np.concatenate(as_).astype(np.float64)


@dataclass(frozen=True)
class MethodChoice:
    """How a method was chosen: what was asked, what was picked, the input's kind and why.

    Example:
        >>> MethodChoice("auto", "sar", "sar", "one band named VV").to_dict()["chosen"]
        'sar'
    """

    requested: str
    chosen: str
    kind: str
    reason: str
    options: dict[str, Any] = field(default_factory=dict)
    """Method options the choice comes with (the caller's own override them)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)
