"""The model registry: entries, errors, lazy PyTorch import, weights and user checkpoints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from terrasight.errors import TerrasightError, UnknownModelError
from terrasight.models import ModelConfig, get_config, list_models
from terrasight.models.registry import config_dir


def test_entries_are_listed_by_kind():
    assert list_models() == sorted(list_models())
    assert "efficientnet-lite0" in list_models("backbone")
    assert "siamese-effnet-lite0" in list_models("change")
    assert "efficientnet-lite0" not in list_models("change")


def test_every_json_file_is_a_valid_entry_named_like_its_file():
    for path in config_dir().glob("*.json"):
        data = json.loads(path.read_text())
        config = ModelConfig.from_dict(data)
        assert config.name == path.stem
        assert config.kind in ("backbone", "change", "vl")
        if config.weights is not None:
            assert re.fullmatch(r"[0-9a-f]{64}", config.weights.sha256)
            assert config.weights.size > 0 and config.weights.version


def test_unknown_model_lists_the_alternatives():
    with pytest.raises(UnknownModelError) as err:
        get_config("resnet-9000")
    message = str(err.value)
    assert "unknown model 'resnet-9000'" in message
    assert "Available: [" in message and "siamese-effnet-lite0" in message
    assert isinstance(err.value, TerrasightError)


def test_listing_models_and_methods_does_not_import_torch():
    code = (
        "import sys\n"
        "from terrasight.models import list_models, get_config\n"
        "from terrasight.tasks.change.methods.registry import list_methods, get_method\n"
        "assert 'learned' in list_methods() and get_method('learned').overlap > 0\n"
        "get_config('siamese-effnet-lite0'); list_models('change')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_torch_gives_the_install_hint():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if PyTorch were not installed\n"
        "from terrasight.models import MissingDependencyError, create_model\n"
        "try:\n"
        "    create_model('siamese-effnet-lite0')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'terrasight[learned]'" in out.stdout


torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from terrasight.models import create_model  # noqa: E402
from terrasight.models.weights import ModelWeightsError  # noqa: E402


def test_backbone_gives_four_scales():
    enc = create_model("efficientnet-lite0")
    with torch.inference_mode():
        feats = enc(torch.zeros(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == get_config("efficientnet-lite0").params["channels"]
    assert [f.shape[-1] for f in feats] == [48, 24, 12, 6]


def test_user_checkpoint_of_the_same_architecture_is_loaded(tmp_path: Path):
    model = create_model("siamese-effnet-lite0", pretrained=False)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / "mine.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    loaded = create_model("siamese-effnet-lite0", checkpoint=path)
    shipped = create_model("siamese-effnet-lite0")
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    y = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = model.eval()(x, y)
        assert torch.allclose(loaded(x, y), expected, atol=1e-5)
        assert not torch.allclose(shipped(x, y), expected, atol=1e-3)


def test_partial_checkpoint_with_only_trained_layers(tmp_path: Path):
    model = create_model("siamese-effnet-lite0", pretrained=False)
    torch.save(model.trained_state(), tmp_path / "head.pt")
    loaded = create_model("siamese-effnet-lite0", checkpoint=tmp_path / "head.pt")
    for key, value in model.trained_state().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_checkpoint_of_another_architecture_is_refused(tmp_path: Path):
    torch.save({"decoder.head.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ModelWeightsError, match="do not fit"):
        create_model("siamese-effnet-lite0", checkpoint=tmp_path / "other.pt")
    with pytest.raises(ModelWeightsError, match="does not exist"):
        create_model("siamese-effnet-lite0", checkpoint=tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelWeightsError, match="cannot read checkpoint"):
        create_model("siamese-effnet-lite0", checkpoint=tmp_path / "junk.pt")


def test_shipped_weights_are_float16_and_only_the_trained_layers():
    from terrasight.models.weights import verified_path

    spec = get_config("siamese-effnet-lite0").weights
    path = verified_path(spec)
    assert path.name.endswith(f"-v{spec.version}.npz")
    model = create_model("siamese-effnet-lite0", pretrained=False)
    with np.load(path) as data:
        assert set(data.files) == model.trained_keys()
        assert {data[k].dtype for k in data.files} == {np.dtype("float16")}
