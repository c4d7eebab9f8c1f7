"""open_clip-format CLIP checkpoints: reading them, inferring their architecture, finding them.

A checkpoint is a local ``.pt``/``.pth``/``.bin`` (read with ``weights_only=True``:
a state dict, or a dict holding one under ``state_dict`` or ``model``), a
``.safetensors`` file, or a folder holding one such file (a Hugging Face
snapshot with ``open_clip_model.safetensors``...). Where a registry entry's
checkpoint and tokenizer come from is :mod:`terrasight.models.hub`.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from terrasight.errors import ModelWeightsError
from terrasight.models.checkpoints import state_mismatch, unreadable_checkpoint, unwrap_state
from terrasight.models.clip_net import HEAD_WIDTHS, ClipArch, ClipModel, ClipNet
from terrasight.models.clip_tokenizer import ClipTokenizer
from terrasight.models.config import ModelConfig
from terrasight.models.hub import resolve_checkpoint, resolve_vocab

SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
PREFERRED = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
DROPPED = ("input_resolution", "context_length", "vocab_size", "attn_mask")  # not weights
TEXT_KEYS: tuple[str, ...] = (
    "transformer.",
    "token_embedding.",
    "positional_embedding",
    "ln_final.",
)
TEXT_KEYS += ("text_projection",)
FIRST_MLP = "transformer.resblocks.0.mlp.c_fc.weight"
INFERABLE = (
    "vision_width",
    "vision_layers",
    "patch_size",
    "image_size",
    "embed_dim",
    "text_width",
    "text_layers",
    "context_length",
    "vocab_size",
    "vision_mlp_ratio",
    "text_mlp_ratio",
)
DESCRIBE = {
    "embed_dim": "embedding size",
    "image_size": "image size",
    "patch_size": "patch size",
    "vision_width": "vision width",
    "vision_layers": "vision layers",
    "vision_mlp_ratio": "vision MLP ratio",
    "context_length": "text context length",
    "vocab_size": "vocabulary size",
    "text_width": "text width",
    "text_layers": "text layers",
    "text_mlp_ratio": "text MLP ratio",
}


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file at ``path``: the file itself, or the one checkpoint in a folder.

    Raises:
        ModelWeightsError: nothing there, or a folder with none or several checkpoints.

    Example:
        >>> checkpoint_file("hf-snapshot/")  # doctest: +SKIP
        PosixPath('hf-snapshot/open_clip_model.safetensors')
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ModelWeightsError(f"checkpoint {path} does not exist.")
    for name in PREFERRED:
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    if len(found) == 1:
        return found[0]
    what = "no" if not found else f"{len(found)}"
    raise ModelWeightsError(
        f"the folder {path} holds {what} checkpoint files ({', '.join(SUFFIXES)})"
        + (f": {[str(p) for p in found[:5]]}" if found else "")
        + ". Pass the path of the checkpoint file itself."
    )


def _torch_zip_kind(path: Path) -> str | None:
    """``"torchscript"``, ``"torch"`` or ``"zip"`` for zip files, None for anything else."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    return "torch" if any(n.endswith("/data.pkl") for n in names) else "zip"


def read_state(path: str | Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The open_clip-layout state dict of a checkpoint, and the file it came from.

    A ``module.`` prefix (DataParallel) is removed and the ``text.`` layout of
    open_clip's ``CustomTextCLIP`` moved to the top level.

    Raises:
        ModelWeightsError: missing, unreadable, a zip or TorchScript archive, or not a
            ViT CLIP state dict (the message names the file).

    Example:
        >>> state, file = read_state("RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
        >>> state["visual.conv1.weight"].shape  # doctest: +SKIP
        torch.Size([768, 3, 32, 32])
    """
    file = checkpoint_file(path)
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(file), device="cpu")
        else:
            kind = _torch_zip_kind(file)
            if kind == "torchscript":
                raise ModelWeightsError(
                    f"checkpoint {file} is a TorchScript archive (OpenAI's original CLIP "
                    "release): this architecture isn't supported. Use a state-dict checkpoint "
                    "in open_clip format (e.g. torch.save(torch.jit.load(path).state_dict(), "
                    "'clip.pt'))."
                )
            if kind == "zip":
                raise ModelWeightsError(
                    f"checkpoint {file} is a zip archive, not a PyTorch file: unzip it and "
                    "pass the .pt file (or the folder) inside it."
                )
            # zip-format files are memory-mapped: big checkpoints are not read twice
            mmap = kind == "torch"
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
    except ModelWeightsError:
        raise
    except ImportError as exc:
        raise ModelWeightsError(f"cannot read {file}: {exc} (pip install safetensors)") from exc
    except Exception as exc:  # torch and safetensors raise many types for unreadable files
        raise unreadable_checkpoint(file, exc) from exc
    return _clip_layout(state, file), file


def _clip_layout(state: Any, file: Path) -> dict[str, torch.Tensor]:
    """Unwrap, strip prefixes, drop non-weights and check it is an open_clip ViT CLIP."""
    state = unwrap_state(state, file)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = str(key).removeprefix("module.")
        if key.startswith("text.") and key[5:].startswith(TEXT_KEYS):
            key = key[5:]
        if key not in DROPPED and isinstance(value, torch.Tensor):
            out[key] = value
    keys = set(out)
    if any(k.startswith(("visual.layer1.", "visual.attnpool.")) for k in keys):
        raise ModelWeightsError(
            f"checkpoint {file} is a CLIP with a ResNet image tower (e.g. RN50): this "
            "architecture isn't supported; terrasight loads ViT CLIP checkpoints only."
        )
    if any(k.startswith(("vision_model.", "text_model.")) for k in keys):
        raise ModelWeightsError(
            f"checkpoint {file} is in Hugging Face transformers' CLIPModel layout, which isn't "
            "supported: use the open_clip-format file (open_clip_model.safetensors)."
        )
    needed = [f"visual.{k}" for k in ("conv1.weight", "positional_embedding", "proj")]
    needed += ["token_embedding.weight", "positional_embedding", "ln_final.weight"]
    needed += ["text_projection", f"visual.{FIRST_MLP}", FIRST_MLP]
    missing = [k for k in needed if k not in keys]
    if missing:
        other = "timm image tower" if any(k.startswith("visual.trunk.") for k in keys) else ""
        raise ModelWeightsError(
            f"checkpoint {file} is not an open_clip ViT CLIP state dict "
            f"({other + ': ' if other else ''}no {missing}); this architecture isn't supported."
        )
    return out


def _count_layers(keys: set[str], prefix: str) -> int:
    return len({k[len(prefix) :].split(".")[0] for k in keys if k.startswith(prefix)})


def infer_arch(state: Mapping[str, torch.Tensor], quick_gelu: bool = False) -> ClipArch:
    """The architecture of an open_clip ViT state dict, from its tensor shapes and keys.

    Head counts are not in the shapes: text heads are ``width // 64``, vision heads
    ``width // 64`` except for open_clip's ViT-H/g/bigG widths (head width 80/88/104).

    Example:
        >>> arch = infer_arch(read_state("RemoteCLIP-ViT-L-14.pt")[0])  # doctest: +SKIP
        >>> arch.label, arch.vision_width  # doctest: +SKIP
        ('ViT-L-14', 1024)
    """
    keys = set(state)
    conv = state["visual.conv1.weight"]
    vision_width, patch = int(conv.shape[0]), int(conv.shape[-1])
    grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    text_width = int(state["ln_final.weight"].shape[0])
    vision_fc, text_fc = state[f"visual.{FIRST_MLP}"].shape[0], state[FIRST_MLP].shape[0]
    return ClipArch(
        embed_dim=int(state["text_projection"].shape[1]),
        image_size=grid * patch,
        patch_size=patch,
        vision_width=vision_width,
        vision_layers=_count_layers(keys, "visual.transformer.resblocks."),
        vision_head_width=HEAD_WIDTHS.get(vision_width, 64),
        vision_mlp_ratio=vision_fc / vision_width,
        context_length=int(state["positional_embedding"].shape[0]),
        vocab_size=int(state["token_embedding.weight"].shape[0]),
        text_width=text_width,
        text_heads=max(text_width // 64, 1),
        text_layers=_count_layers(keys, "transformer.resblocks."),
        text_mlp_ratio=text_fc / text_width,
        quick_gelu=quick_gelu,
    )


def fit_arch(found: ClipArch, params: Mapping[str, Any], file: Path | str, name: str) -> ClipArch:
    """The checkpoint's architecture ``found`` with an entry's ``params`` applied, checked:
    every shape-derived value the entry gives must match the checkpoint's.

    Raises:
        ModelWeightsError: which value does not fit, and what each side is.

    Example:
        >>> fit_arch(infer_arch(state), {"vision_width": 768}, "x.pt", "m")  # doctest: +SKIP
    """
    given = {k: v for k, v in params.items() if k in ClipArch.field_names()}
    expected = dataclasses.replace(found, **given)
    for key in INFERABLE:
        if key in given and getattr(found, key) != getattr(expected, key):
            what = DESCRIBE[key]
            raise ModelWeightsError(
                f"checkpoint {file} is a {found.label} ({what} {getattr(found, key)}) but model "
                f"{name} expects {what} {getattr(expected, key)}{_label_of(params)}. Pass a "
                "checkpoint of that architecture, or load this one with 'open-clip-vit'."
            )
    try:
        return expected.validate()
    except ValueError as exc:
        raise ModelWeightsError(f"model {name} cannot use checkpoint {file}: {exc}") from exc


def _label_of(params: Mapping[str, Any]) -> str:
    """`` (a ViT-B-32)`` when ``params`` give a whole architecture, else ``""``."""
    try:
        return f" (a {ClipArch.from_params(params).label})"
    except TypeError:
        return ""


def load_net(state: Mapping[str, torch.Tensor], arch: ClipArch, file: Path | str) -> ClipNet:
    """A :class:`ClipNet` of ``arch`` holding ``state`` (strict: every key, every shape).

    The network is built without memory (on the meta device) and takes the checkpoint's
    tensors, as float32, as its parameters: no random initialisation, no second copy.

    Raises:
        ModelWeightsError: missing or unknown keys, or shapes that differ.
    """
    with torch.device("meta"):
        net = ClipNet(arch)
    state = {k: v.float() for k, v in state.items()}
    if "logit_scale" in state:  # a scalar in some checkpoints, shape (1,) in others
        state["logit_scale"] = state["logit_scale"].reshape(net.logit_scale.shape)
    own = net.state_dict()
    problems = state_mismatch(own, state, set(own))
    if problems:
        raise ModelWeightsError(
            f"checkpoint {file} does not fit a {arch.label} CLIP: {problems}. Layer "
            "scale, attention pooling and other open_clip variants aren't supported."
        )
    net.load_state_dict(state, strict=True, assign=True)
    return net


def build(
    config: ModelConfig,
    pretrained: bool = True,
    checkpoint: str | Path | None = None,
    tokenizer: str | Path | None = None,
) -> ClipModel:
    """Build a registry entry of architecture ``open-clip-vit``.

    Args:
        config: the entry; its ``params`` may give any :class:`ClipArch` field (checked
            against the checkpoint), ``mean``/``std`` and zero-shot ``templates``.
        pretrained: load the checkpoint; False gives random weights of the entry's
            architecture (its ``params`` must then give all of it).
        checkpoint: a local checkpoint file or folder; default: the entry's hub file.
        tokenizer: the BPE vocabulary (``bpe_simple_vocab_16e6.txt.gz`` or a Hugging
            Face tokenizer folder); default: :func:`~terrasight.models.clip_tokenizer.find_vocab`
            beside the checkpoint, then the usual places, then OpenAI's CLIP tokenizer
            files from the Hugging Face hub.

    Raises:
        ModelWeightsError: checkpoint or vocabulary missing, unreadable or not fitting.

    Example:
        >>> model = build(get_config("open-clip-vit"), checkpoint="ViT-B-32.safetensors")  # doctest: +SKIP
    """
    file: Path | None = None
    if pretrained or checkpoint is not None:
        state, file = read_state(resolve_checkpoint(config, checkpoint))
        arch = fit_arch(infer_arch(state), config.params, file, config.name)
        net = load_net(state, arch, file)
    else:
        try:
            arch = ClipArch.from_params(config.params).validate()
        except (TypeError, ValueError) as exc:
            raise ModelWeightsError(
                f"model {config.name!r} gives no full architecture for pretrained=False: {exc}"
            ) from exc
        net = ClipNet(arch)
    tok = ClipTokenizer.from_file(resolve_vocab(tokenizer, file))
    if tok.vocab_size != arch.vocab_size:
        raise ModelWeightsError(
            f"the tokenizer vocabulary has {tok.vocab_size} tokens but model {config.name!r} "
            f"({file or 'random weights'}) has {arch.vocab_size} token embeddings."
        )
    return ClipModel(net, tok, {**config.params, "checkpoint": str(file) if file else None})
