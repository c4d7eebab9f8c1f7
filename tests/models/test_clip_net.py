"""The pure-PyTorch open_clip ViT CLIP: tiny checkpoints through the registry and the embed API,
checkpoint layouts and errors, and a cross-check against open_clip's own transformer code."""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("regex")

from terrasight.models import create_model, get_config, list_models  # noqa: E402
from terrasight.models import hub as model_hub  # noqa: E402
from terrasight.models.clip_load import fit_arch, infer_arch, read_state  # noqa: E402
from terrasight.models.clip_net import (  # noqa: E402
    OPENAI_MEAN,
    OPENAI_STD,
    ClipArch,
    ClipNet,
    preprocess,
)
from terrasight.models.registry import build_model  # noqa: E402
from terrasight.models.weights import ModelWeightsError  # noqa: E402
from terrasight.tasks import embed  # noqa: E402

MERGES = [("r", "i"), ("ri", "v"), ("riv", "e"), ("e", "r</w>"), ("f", "o"), ("s", "e")]
VOCAB = 256 * 2 + len(MERGES) + 2  # byte symbols, the same with </w>, merges, sot and eot
TINY = ClipArch(
    embed_dim=16,
    image_size=32,
    patch_size=8,
    vision_width=64,
    vision_layers=2,
    context_length=16,
    vocab_size=VOCAB,
    text_width=64,
    text_heads=1,
    text_layers=2,
)
REFERENCE_WHEELS = Path(__file__).resolve().parents[2] / ".cache" / "reference"


def write_vocab(folder: Path) -> Path:
    """A tiny BPE vocabulary in open_clip's format: a header line, then one merge a line."""
    path = folder / "bpe_simple_vocab_16e6.txt.gz"
    text = "#version: tiny\n" + "".join(f"{a} {b}\n" for a, b in MERGES)
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def random_state(arch: ClipArch, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for every parameter of ``arch`` (norm scales near 1, the rest small)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in ClipNet(arch).state_dict().items():
        noise = torch.randn(value.shape, generator=g)
        state[key] = 1 + 0.1 * noise if ".ln_" in f".{key}" else 0.2 * noise
    state["logit_scale"] = torch.tensor(np.log(50.0), dtype=torch.float32)
    return state


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A tiny open_clip-format checkpoint (plain state dict) with its vocabulary beside it."""
    state = random_state(TINY)
    torch.save(state, tmp_path / "tiny.pt")
    write_vocab(tmp_path)
    return tmp_path / "tiny.pt", state


def test_tiny_checkpoint_through_the_registry_and_the_embed_api(tiny) -> None:
    path, state = tiny
    model = create_model("open-clip-vit", checkpoint=path)
    assert model.arch == TINY  # inferred from the shapes; heads: width // 64 = 1
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert model.logit_scale == pytest.approx(50.0, rel=1e-5)
    assert model.params["templates"] == get_config("open-clip-vit").params["templates"]

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(40, 50), (32, 32)]]
    images.append(images[0].copy())
    emb = embed.embed_images(images, model=model)
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(emb[0], emb[2])
    assert float(emb[0] @ emb[1]) < 0.999

    texts = embed.embed_texts(["a river", "the forest", "a river"], model=model)
    assert texts.shape == (3, 16) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(texts[0], texts[2])
    assert float(texts[0] @ texts[1]) < 0.999

    ranked = embed.classify(images[0], ["river", "forest", "sea"], model=model)
    assert sorted(label for label, _ in ranked) == ["forest", "river", "sea"]
    labels = embed.label_embeddings(["river", "forest", "sea"], model=model)
    logits = model.logit_scale * (emb[0] @ labels.T)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert dict(ranked) == pytest.approx(
        dict(zip(["river", "forest", "sea"], expected, strict=True)), abs=1e-5
    )

    hits = embed.search("a river", images, k=2, model=model)
    sims = emb @ texts[0]
    assert [i for i, _ in hits] == list(np.argsort(-sims, kind="stable")[:2])
    assert [s for _, s in hits] == pytest.approx(sorted(sims, reverse=True)[:2], abs=1e-5)

    # the same weights in a plain ClipNet give the same features
    net = ClipNet(model.arch)
    net.load_state_dict(state)
    with torch.no_grad():
        batch = preprocess(images[:1], 32)
        direct = torch.nn.functional.normalize(net.encode_image(batch), dim=-1).numpy()
    np.testing.assert_allclose(direct[0], emb[0], atol=1e-6)


def test_wrapped_prefixed_safetensors_and_folder_layouts_give_identical_embeddings(
    tiny, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    path, state = tiny
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    torch.save(wrapped, tmp_path / "wrapped.pt")
    save_file(state, tmp_path / "tiny.safetensors")
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    save_file(state, snapshot / "open_clip_model.safetensors")
    (snapshot / "open_clip_config.json").write_text("{}")

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (36, 36, 3), dtype=np.uint8) for _ in range(2)]
    texts = ["a river", "forest"]
    reference = create_model("open-clip-vit", checkpoint=path)
    ref_i, ref_t = reference.embed_images(images), reference.embed_texts(texts)
    for source, vocab in [
        (tmp_path / "wrapped.pt", None),
        (tmp_path / "tiny.safetensors", None),
        (snapshot, tmp_path / "bpe_simple_vocab_16e6.txt.gz"),  # no vocabulary in the snapshot
    ]:
        model = create_model("open-clip-vit", checkpoint=source, tokenizer=vocab)
        np.testing.assert_array_equal(model.embed_images(images), ref_i)
        np.testing.assert_array_equal(model.embed_texts(texts), ref_t)
    assert Path(model.params["checkpoint"]).name == "open_clip_model.safetensors"

    torch.save({k: v.half() for k, v in state.items()}, tmp_path / "half.pt")  # as OpenAI's
    half = create_model("open-clip-vit", checkpoint=tmp_path / "half.pt")
    assert {p.dtype for p in half.parameters()} == {torch.float32}
    np.testing.assert_allclose(half.embed_images(images), ref_i, atol=2e-2)


def test_a_checkpoint_of_another_architecture_fails_naming_the_tensor(tiny) -> None:
    path, _ = tiny
    with pytest.raises(ModelWeightsError) as err:
        create_model("remoteclip-vit-b-32", checkpoint=path)
    message = str(err.value)
    assert f"checkpoint {path} is a ViT-w64-8-32 (vision width 64)" in message
    assert "model remoteclip-vit-b-32 expects vision width 768 (a ViT-B-32)" in message

    large = ClipArch(768, 224, 14, 1024, 24, context_length=77, text_width=768, text_heads=12)
    params = get_config("remoteclip-vit-b-32").params
    with pytest.raises(ModelWeightsError, match=r"x\.pt is a ViT-L-14 \(vision width 1024\) but "):
        fit_arch(large, params, "x.pt", "remoteclip-vit-b-32")
    assert fit_arch(large, get_config("remoteclip-vit-l-14").params, "x.pt", "l").quick_gelu


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit, to write one
def test_missing_corrupt_and_unsupported_files_name_the_file(tiny, tmp_path: Path) -> None:
    path, state = tiny
    absent = tmp_path / "absent.pt"
    with pytest.raises(ModelWeightsError, match=f"checkpoint {absent} does not exist"):
        create_model("open-clip-vit", checkpoint=absent)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:5000])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    for bad in (cut, junk):
        with pytest.raises(ModelWeightsError, match=f"cannot read checkpoint {bad}"):
            read_state(bad)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint at all")
    with pytest.raises(ModelWeightsError) as err:
        read_state(text)
    assert str(err.value).startswith(f"cannot read checkpoint {text}: ")
    assert "\n" not in str(err.value) and "weights_only` set to `False" not in str(err.value)
    archive = tmp_path / "SkyCLIP.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("SkyCLIP/epoch_20.pt", b"...")
    with pytest.raises(ModelWeightsError, match="is a zip archive.*unzip it"):
        read_state(archive)
    scripted = tmp_path / "ViT-B-32.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), scripted)
    with pytest.raises(ModelWeightsError, match="TorchScript archive.*isn't supported"):
        read_state(scripted)
    torch.save({"visual.layer1.0.conv1.weight": torch.zeros(1), **state}, tmp_path / "rn50.pt")
    with pytest.raises(ModelWeightsError, match="ResNet image tower.*isn't supported"):
        read_state(tmp_path / "rn50.pt")
    torch.save({**state, "visual.transformer.resblocks.0.ls_1.gamma": torch.ones(64)}, cut)
    with pytest.raises(ModelWeightsError, match=r"cut\.pt does not fit .* 1 unknown keys"):
        create_model("open-clip-vit", checkpoint=cut)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelWeightsError, match="empty holds no checkpoint files"):
        read_state(tmp_path / "empty")


def test_the_vocabulary_must_match_the_checkpoint(tiny, tmp_path: Path) -> None:
    path, state = tiny
    other = tmp_path / "other"
    other.mkdir()
    text = "#version: tiny\n" + "".join(f"{a} {b}\n" for a, b in MERGES[:-1])
    (other / "bpe_simple_vocab_16e6.txt.gz").write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ModelWeightsError, match=f"has {VOCAB - 1} tokens but .* has {VOCAB}"):
        create_model("open-clip-vit", checkpoint=path, tokenizer=other)


def test_without_checkpoint_or_network_the_error_names_the_hub_file(monkeypatch, tiny) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def offline(repo_id: str, filename: str, **kwargs) -> str:
        calls.append((repo_id, filename))
        raise LocalEntryNotFoundError("offline and not in the cache")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    monkeypatch.setattr(model_hub, "hub_unreachable", lambda: None)  # a hub that answers "no"
    with pytest.raises(ModelWeightsError) as err:
        create_model("remoteclip-vit-b-32")
    message = str(err.value)
    assert calls == [("chendelong/RemoteCLIP", "RemoteCLIP-ViT-B-32.pt")]
    assert "'remoteclip-vit-b-32'" in message and "chendelong/RemoteCLIP" in message
    assert "RemoteCLIP-ViT-B-32.pt" in message
    assert "checkpoint=PATH" in message and "--checkpoint PATH" in message
    with pytest.raises(ModelWeightsError, match=r"SkyCLIP_ViT_L14_top30pct\.zip.*unzip"):
        create_model("skyclip-vit-l-14")
    with pytest.raises(ModelWeightsError, match="'open-clip-vit'.*checkpoint=PATH"):
        create_model("open-clip-vit")
    assert len(calls) == 1  # entries without a hub file never call the hub

    # a hub file in the cache is used
    path, _ = tiny
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, file: str(path))
    config = dataclasses.replace(
        get_config("open-clip-vit"), extra={"checkpoint": {"hub": "me/tiny", "file": "tiny.pt"}}
    )
    assert build_model(config).embed_texts(["river"]).shape == (1, 16)


def test_without_a_vocabulary_the_hub_tokenizer_files_are_used(monkeypatch, tiny, tmp_path):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    from terrasight.models.clip_tokenizer import byte_symbols

    path, _ = tiny
    alone = tmp_path / "alone"
    alone.mkdir()
    path.rename(alone / "tiny.pt")
    hub = tmp_path / "hub"  # a Hugging Face CLIP tokenizer folder of the same vocabulary
    hub.mkdir()
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]  # CLIP's vocab order
    symbols = [byte_symbols()[b] for b in printable + sorted(set(range(256)) - set(printable))]
    tokens = [*symbols, *(s + "</w>" for s in symbols), *map("".join, MERGES)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (hub / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (hub / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    asked = []

    def cached(repo_id: str, filename: str) -> str:
        asked.append((repo_id, filename))
        return str(hub / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", cached)
    monkeypatch.setattr(model_hub, "hub_unreachable", lambda: None)
    model = create_model("open-clip-vit", checkpoint=alone / "tiny.pt")
    assert asked == [("openai/clip-vit-base-patch32", "vocab.json"), (asked[1][0], "merges.txt")]
    with_gz = create_model("open-clip-vit", checkpoint=alone / "tiny.pt", tokenizer=tmp_path)
    texts = ["a river", "forests and rivers"]
    np.testing.assert_array_equal(model.embed_texts(texts), with_gz.embed_texts(texts))

    def offline(repo_id: str, filename: str) -> str:
        raise LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    from terrasight.models import clip_tokenizer

    # and no vocabulary in an installed open_clip or in this machine's hub cache
    monkeypatch.setattr(clip_tokenizer, "_installed_open_clip_vocab", lambda: None, raising=False)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(ModelWeightsError, match="bpe_simple_vocab_16e6.txt.gz was not found"):
        create_model("open-clip-vit", checkpoint=alone / "tiny.pt")


def test_an_unreachable_hub_fails_at_once_without_trying_to_download(monkeypatch) -> None:
    import huggingface_hub

    def never(*args, **kwargs):
        raise AssertionError("no download may be tried when the hub cannot be reached")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", never)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, file: None)
    monkeypatch.setattr(model_hub, "hub_unreachable", lambda: "hub.example cannot be resolved")
    with pytest.raises(ModelWeightsError, match="not in the local Hugging Face cache, and hub"):
        create_model("georsclip-vit-b-32")


def test_a_hub_name_is_a_checkpoint_too(monkeypatch, tiny) -> None:
    import huggingface_hub

    path, _ = tiny
    asked = []

    def cache(repo: str, file: str):
        asked.append((repo, file))
        return str(path) if file == "open_clip_pytorch_model.bin" else None

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", cache)
    monkeypatch.setattr(model_hub, "hub_unreachable", lambda: "offline")
    via_hub = create_model("open-clip-vit", checkpoint="hf-hub:me/tiny-clip")
    local = create_model("open-clip-vit", checkpoint=path)
    assert asked == [("me/tiny-clip", f) for f in model_hub.HUB_DEFAULT_FILES]
    np.testing.assert_array_equal(via_hub.embed_texts(["river"]), local.embed_texts(["river"]))
    with pytest.raises(ModelWeightsError, match=r"model\.pt of the Hugging Face repo me/other"):
        create_model("open-clip-vit", checkpoint="hf-hub:me/other/ckpt/model.pt")
    with pytest.raises(ModelWeightsError, match="write hf-hub:ORG/REPO"):
        create_model("open-clip-vit", checkpoint="hf-hub:just-a-name")


def test_clip_entries_are_complete() -> None:
    names = [n for n in list_models("vl") if get_config(n).arch == "open-clip-vit"]
    assert {"open-clip-vit", "remoteclip-vit-b-32", "georsclip-vit-h-14"} <= set(names)
    for name in names:
        config = get_config(name)
        assert config.description and config.extra["paper"] and config.extra["license"]
        assert "{}" in config.params["templates"][0]
        if name.startswith("open-clip-vit"):  # the architecture comes from the checkpoint
            continue
        arch = ClipArch.from_params(config.params).validate()
        size, patch = name.split("-vit-")[1].split("-")
        assert arch.label == f"ViT-{size.upper()}-{patch}"
        source = config.extra["checkpoint"]
        assert (source.get("hub") and source.get("file")) or source["url"].startswith("https://")
    assert get_config("georsclip-vit-h-14").params["vision_head_width"] == 80


def test_preprocess_resizes_the_short_side_crops_the_centre_and_normalises() -> None:
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 200  # the centre 40x40 square; the sides are cropped away
    batch = preprocess([image], 16)
    assert batch.shape == (1, 3, 16, 16)
    expected = (200 / 255 - np.array(OPENAI_MEAN)) / np.array(OPENAI_STD)
    centre = batch[0, :, :, 2:-2].reshape(3, -1).numpy()
    np.testing.assert_allclose(centre, np.repeat(expected[:, None], centre.shape[1], 1), atol=1e-4)
    black = -np.array(OPENAI_MEAN) / np.array(OPENAI_STD)
    assert (batch[0, :, :, [0, -1]].numpy() > black[:, None, None] + 1).all()  # sides cropped


# --- the cross-check against open_clip's own code -------------------------------------------


@pytest.fixture
def open_clip_ref(tmp_path: Path, monkeypatch) -> types.SimpleNamespace:
    """open_clip's ``transformer`` and ``model`` modules, imported from the reference wheel
    without the package ``__init__`` (which needs torchvision), with stubs for
    ``torchvision.ops.misc`` and for the Hugging Face and timm towers (unused here)."""
    wheels = sorted(REFERENCE_WHEELS.glob("open_clip_torch-*.whl"))
    if not wheels:
        pytest.skip(f"the reference wheel open_clip_torch-*.whl is not in {REFERENCE_WHEELS}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        zf.extractall(tmp_path, [n for n in zf.namelist() if n.startswith("open_clip/")])
    stubs = {
        "torchvision": {},
        "torchvision.ops": {},
        "torchvision.ops.misc": {"FrozenBatchNorm2d": type("FrozenBatchNorm2d", (), {})},
        "open_clip.hf_model": {"HFTextEncoder": type("HFTextEncoder", (), {})},
        "open_clip.timm_model": {"TimmModel": type("TimmModel", (), {})},
    }
    for name, attributes in stubs.items():
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        for key, value in attributes.items():
            setattr(sys.modules[name], key, value)
    package = types.ModuleType("open_clip")
    package.__path__ = [str(tmp_path / "open_clip")]
    monkeypatch.setitem(sys.modules, "open_clip", package)
    before = set(sys.modules)
    yield types.SimpleNamespace(
        transformer=importlib.import_module("open_clip.transformer"),
        model=importlib.import_module("open_clip.model"),
    )
    for name in set(sys.modules) - before:
        if name.startswith("open_clip."):
            del sys.modules[name]


def _randomise(*modules: torch.nn.Module, seed: int = 1) -> None:
    """Every parameter random: width-64 vectors (norm scales, biases) near 1, the rest near 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in [p for m in modules for p in m.parameters()]:
            base = 1.0 if p.ndim == 1 and p.shape[0] == 64 else 0.0
            p.copy_(base + 0.2 * torch.randn(p.shape, generator=g))


def _inputs(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Three images and three token rows: start, random tokens, end (the highest id), padding."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(3, 3, 32, 32, generator=g)
    tokens = torch.zeros(3, 16, dtype=torch.int64)
    for row, length in enumerate([3, 9, 16]):
        tokens[row, :length] = torch.randint(1, VOCAB - 2, (length,), generator=g)
        tokens[row, 0], tokens[row, length - 1] = VOCAB - 2, VOCAB - 1
    return images, tokens


@pytest.mark.parametrize("quick_gelu", [False, True])
def test_features_match_open_clip_towers(open_clip_ref, quick_gelu: bool) -> None:
    oc = open_clip_ref.transformer
    act = oc.QuickGELU if quick_gelu else torch.nn.GELU
    arch = dataclasses.replace(TINY, vision_head_width=16, text_heads=4, quick_gelu=quick_gelu)
    visual = oc.VisionTransformer(
        image_size=32, patch_size=8, width=64, layers=2, heads=4, mlp_ratio=4.0, output_dim=16,
        act_layer=act,
    )  # fmt: skip
    text = oc.TextTransformer(
        context_length=16, vocab_size=VOCAB, width=64, heads=4, layers=2, output_dim=16,
        act_layer=act,
    )  # fmt: skip
    assert isinstance(text.text_projection, torch.nn.Parameter)  # not a Linear by default
    _randomise(visual, text)
    # open_clip's CLIP keeps the text tower's parameters at the top level of its state dict
    state = {f"visual.{k}": v for k, v in visual.state_dict().items()}
    state.update(text.state_dict())
    state["logit_scale"] = torch.tensor(4.6)
    net = ClipNet(arch).eval()
    net.load_state_dict(state, strict=True)
    assert infer_arch(state, quick_gelu) == dataclasses.replace(TINY, quick_gelu=quick_gelu)

    images, tokens = _inputs()
    visual.eval(), text.eval()
    with torch.no_grad():
        mine_i, ref_i = net.encode_image(images), visual(images)
        mine_t, ref_t = net.encode_text(tokens), text(tokens)
        other = ClipNet(dataclasses.replace(arch, quick_gelu=not quick_gelu)).eval()
        other.load_state_dict(state)
        wrong_i = other.encode_image(images)
    assert mine_i.shape == (3, 16) and mine_t.shape == (3, 16)
    torch.testing.assert_close(mine_i, ref_i, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mine_t, ref_t, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(wrong_i, ref_i, atol=1e-3)  # the activation matters


@pytest.mark.parametrize("quick_gelu", [False, True])
def test_open_clip_clip_state_dicts_load_and_match(open_clip_ref, quick_gelu, tmp_path) -> None:
    vision_cfg = {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "head_width": 16}
    text_cfg = {"context_length": 16, "vocab_size": VOCAB, "width": 64, "heads": 4, "layers": 2}
    ref = open_clip_ref.model.CLIP(16, vision_cfg, text_cfg, quick_gelu=quick_gelu).eval()
    _randomise(ref, seed=3)
    torch.save(ref.state_dict(), tmp_path / "ref.pt")
    write_vocab(tmp_path)
    params = {"vision_head_width": 16, "text_heads": 4, "quick_gelu": quick_gelu}
    config = dataclasses.replace(get_config("open-clip-vit"), params=params)
    model = build_model(config, checkpoint=tmp_path / "ref.pt")
    assert set(model.net.state_dict()) == set(ref.state_dict())
    images, tokens = _inputs(4)
    with torch.no_grad():
        torch.testing.assert_close(
            model.net.encode_image(images), ref.encode_image(images), atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(
            model.net.encode_text(tokens), ref.encode_text(tokens), atol=1e-5, rtol=1e-5
        )
    assert model.logit_scale == pytest.approx(float(ref.logit_scale.detach().exp()))


def test_entries_load_without_efficientnet(tiny) -> None:
    import subprocess

    path, _ = tiny
    code = (
        "import sys\n"
        "sys.modules['efficientnet_lite_pytorch'] = None  # as if it were not installed\n"
        "from terrasight.models import MissingDependencyError, create_model, require_torch\n"
        f"print(create_model('open-clip-vit', checkpoint={str(path)!r}).arch.embed_dim)\n"
        "try:\n"
        "    require_torch()\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "16" and "efficientnet_lite_pytorch is not installed" in lines[1]


def test_tokenizer_option_is_only_for_clip_models() -> None:
    with pytest.raises(ValueError, match="tokenizer= is for CLIP models"):
        create_model("siamese-effnet-lite0", tokenizer="vocab.txt.gz")


def test_entries_json_are_plain_data() -> None:
    from terrasight.models.registry import config_dir

    data = json.loads((config_dir() / "remoteclip-vit-l-14.json").read_text())
    assert data["checkpoint"] == {"hub": "chendelong/RemoteCLIP", "file": "RemoteCLIP-ViT-L-14.pt"}
