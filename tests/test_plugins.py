"""The one entry point loader: one name one thing, and a broken plugin says which."""

from __future__ import annotations

from pathlib import Path

import pytest

from terrasight.errors import DuplicatePluginError, PluginLoadError, exit_code
from terrasight.plugins import entry_point_table, load_entry_point

GROUP = "terrasight.test_things"


def _dist(root: Path, name: str, lines: str) -> Path:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    return root


def test_one_name_one_thing(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_dist(tmp_path / "a", "pkga", "dumps = json:dumps\n")))
    table = entry_point_table(GROUP)
    assert list(table) == ["dumps"] and load_entry_point(table["dumps"])("x") == '"x"'
    # one package seen twice (on two paths) is one entry
    monkeypatch.syspath_prepend(str(_dist(tmp_path / "b", "pkga", "dumps = json:dumps\n")))
    assert list(entry_point_table(GROUP)) == ["dumps"]
    # another package under the same name is refused, naming both, even for the same object
    monkeypatch.syspath_prepend(str(_dist(tmp_path / "c", "pkgc", "dumps = json:dumps\n")))
    with pytest.raises(DuplicatePluginError, match="'dumps' is registered twice.*of pkg") as err:
        entry_point_table(GROUP)
    assert "pkgc" in str(err.value) and "pkga" in str(err.value)
    assert exit_code(err.value) == 6
    assert entry_point_table(GROUP, "other") == {}


def test_a_broken_plugin_says_which(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(
        str(_dist(tmp_path / "a", "pkgx", "gone = no_such_module_x:THING\n"))
    )
    ep = entry_point_table(GROUP)["gone"]
    with pytest.raises(
        PluginLoadError, match="cannot load entry point 'gone' .*of pkgx.*ModuleNotFound"
    ):
        load_entry_point(ep)
