"""Another package adds an architecture, a backbone and registry entries through entry points.

The package is a real (tiny) distribution written into tmp_path: a ``*.dist-info``
folder with ``METADATA`` and ``entry_points.txt`` beside its module, put on ``sys.path``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from terrasight.errors import MissingDependencyError, TerrasightError, UnknownModelError
from terrasight.models import get_config, list_architectures, list_models
from terrasight.models.plugins import find_architecture, model_configs

PLUGIN = "tinyplug"

INIT = """
from collections.abc import Iterator
from pathlib import Path

from terrasight.models.config import Architecture

CONFIG_DIR = Path(__file__).parent / "configs"
TINY_CONV = Architecture("tiny-conv", "tinyplug.nets:build_backbone", requires=("torch",))
TINY_SIAMESE = Architecture(
    "tiny-siamese", "tinyplug.nets:build_head", requires=("torch",), needs_backbone=True
)
NEEDS_ABSENT = Architecture("tiny-needs-absent", "tinyplug.absent:build", requires=())
NO_BUILDER = Architecture("tiny-no-builder", "tinyplug.nets:no_such_function", requires=())


def more_configs():
    return [
        {"name": "tiny-encoder", "kind": "backbone", "arch": "tiny-conv",
         "description": "a one-convolution encoder", "params": {"channels": [6]}},
        {"name": "tiny-unbuildable", "kind": "change", "arch": "no-such-arch",
         "backbone": "tiny-encoder"},
    ]
"""

NETS = """
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)

    def forward(self, x):
        return [torch.relu(self.conv(x))]


class Head(nn.Module):
    def __init__(self, encoder, channels):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, before, after):
        return self.head((self.encoder(before)[-1] - self.encoder(after)[-1]).abs())


def build_backbone(config, pretrained=True):
    return Encoder(config.params["channels"][-1])


def build_head(config, pretrained=True, *, backbone):
    return Head(backbone.build(pretrained), backbone.config.params["channels"][-1])
"""


def write_distribution(
    root: Path, name: str, entry_points: dict[str, dict[str, str]], files: dict[str, str]
) -> Path:
    """A distribution as an installer leaves it: its files and ``<name>-0.1.dist-info``."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
            for group, items in entry_points.items()
        )
    )
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tinyplug distribution, not yet on sys.path (the test puts it there)."""
    entry = {
        "name": "tiny-change",
        "kind": "change",
        "arch": "tiny-siamese",
        "backbone": "tiny-encoder",
        "description": "a tiny change head on a tiny encoder",
    }
    root = write_distribution(
        tmp_path / "site",
        PLUGIN,
        {
            "terrasight.architectures": {
                "tiny-siamese": "tinyplug:TINY_SIAMESE",
                "tiny-needs-absent": "tinyplug:NEEDS_ABSENT",
                "tiny-no-builder": "tinyplug:NO_BUILDER",
                "tiny-not-an-architecture": "tinyplug:more_configs",
            },
            "terrasight.backbones": {"tiny-conv": "tinyplug:TINY_CONV"},
            "terrasight.model_configs": {
                "tinyplug": "tinyplug:CONFIG_DIR",
                "tinyplug-more": "tinyplug:more_configs",
            },
        },
        {
            "tinyplug/__init__.py": INIT,
            "tinyplug/nets.py": NETS,
            "tinyplug/absent.py": "import terrasight_absent_dependency\n",
            "tinyplug/configs/tiny-change.json": json.dumps(entry),
        },
    )
    for module in [m for m in sys.modules if m.split(".")[0] == PLUGIN]:
        monkeypatch.delitem(sys.modules, module)
    yield root
    for module in [m for m in sys.modules if m.split(".")[0] == PLUGIN]:
        del sys.modules[module]


def test_a_third_party_package_is_listed_once_installed(plugin, monkeypatch) -> None:
    assert "tiny-change" not in list_models()
    monkeypatch.syspath_prepend(str(plugin))
    assert {"tiny-change", "tiny-unbuildable"} <= set(list_models("change"))
    assert "tiny-encoder" in list_models("backbone") and "siamese-effnet-lite0" in list_models()
    assert "tiny-siamese" in list_architectures() and "siamese-fpn" in list_architectures()
    assert list_architectures("backbone") == ["efficientnet-lite", "tiny-conv"]
    assert get_config("tiny-change").backbone == "tiny-encoder"
    assert find_architecture("tiny-siamese").needs_backbone
    assert "tinyplug.nets" not in sys.modules  # listing never imports a builder's module


def test_unknown_architecture_lists_the_installed_ones(plugin, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(plugin))
    from terrasight.models import create_model

    with pytest.raises(UnknownModelError) as err:
        create_model("tiny-unbuildable")
    message = str(err.value)
    assert "'no-such-arch'" in message and "'tiny-siamese'" in message
    assert "'siamese-fpn'" in message
    with pytest.raises(UnknownModelError, match="Available: .*tiny-conv"):
        find_architecture("no-such-backbone", "terrasight.backbones")


def test_a_name_registered_twice_is_refused(plugin, tmp_path, monkeypatch) -> None:
    twin = write_distribution(
        tmp_path / "twin",
        "twinplug",
        {
            "terrasight.architectures": {"tiny-siamese": "tinyplug:TINY_SIAMESE"},
            "terrasight.model_configs": {"twinplug": "tinyplug:CONFIG_DIR"},
        },
        {},
    )
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.syspath_prepend(str(twin))
    with pytest.raises(TerrasightError, match="'tiny-siamese' is registered twice"):
        find_architecture("tiny-siamese")
    with pytest.raises(TerrasightError, match="'tiny-change' is registered twice.*twinplug"):
        model_configs()


def test_a_third_party_model_is_built_on_its_backbone(plugin, monkeypatch, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(plugin))
    from terrasight.models import create_model, require_torch

    assert require_torch("tiny-conv") is torch
    model = create_model("tiny-change", pretrained=False)
    nets = sys.modules["tinyplug.nets"]
    assert isinstance(model, nets.Head) and isinstance(model.encoder, nets.Encoder)
    assert model.encoder.conv.out_channels == 6  # the backbone entry's params reached it
    assert not model.training
    x, y = torch.randn(2, 3, 16, 20), torch.randn(2, 3, 16, 20)
    with torch.no_grad():
        assert model(x, y).shape == (2, 1, 16, 20)
        for p in model.parameters():
            p.add_(1.0)
    # a user's checkpoint loads over a third-party model too
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    loaded = create_model("tiny-change", pretrained=False, checkpoint=tmp_path / "mine.pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, y), model(x, y))
    assert isinstance(create_model("tiny-encoder", pretrained=False), nets.Encoder)


def test_a_broken_plugin_fails_with_a_clear_error(plugin, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(plugin))
    with pytest.raises(MissingDependencyError, match="needs terrasight_absent_dependency"):
        find_architecture("tiny-needs-absent").load_builder()
    with pytest.raises(TerrasightError, match="no_such_function.*cannot be loaded"):
        find_architecture("tiny-no-builder").load_builder()
    with pytest.raises(TerrasightError, match="must give a terrasight.models.config.Architecture"):
        find_architecture("tiny-not-an-architecture")
