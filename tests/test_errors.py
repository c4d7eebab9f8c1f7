"""The one table that routes errors to exit codes and HTTP statuses."""

from __future__ import annotations

import inspect

import pytest

from terrasight import errors
from terrasight.errors import (
    ERROR_TABLE,
    InvalidOptionError,
    ModelWeightsError,
    TerrasightError,
    UnknownMethodError,
    UnknownModelError,
    exit_code,
    http_status,
)


def _error_classes() -> list[type]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, TerrasightError) and not c.__name__.startswith("_")
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_is_routed_explicitly(cls):
    assert cls in ERROR_TABLE, f"{cls.__name__} has no row in ERROR_TABLE"
    route = ERROR_TABLE[cls]
    assert 1 <= route.exit_code <= 130 and 400 <= route.http_status <= 599


def test_the_most_specific_class_wins():
    class Subclass(InvalidOptionError):
        pass

    assert exit_code(Subclass("x")) == 2 and http_status(Subclass("x")) == 422
    assert exit_code(ModelWeightsError("x")) == 7
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(RuntimeError("a bug")) == 1 and http_status(RuntimeError("x")) == 500


def test_unknown_names_read_as_sentences_and_are_told_apart():
    method, model = UnknownMethodError("unknown change method 'x'"), UnknownModelError("no 'y'")
    assert str(method) == "unknown change method 'x'" and str(model) == "no 'y'"
    assert not isinstance(model, UnknownMethodError) and isinstance(model, KeyError)


def test_no_error_class_lives_outside_errors_py():
    import pathlib

    root = pathlib.Path(errors.__file__).parent
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "errors.py"
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.startswith("class ") and "Error(" in line
    ]
    assert offenders == []
