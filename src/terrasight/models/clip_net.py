"""A pure-PyTorch CLIP ViT that loads open_clip-format checkpoints (needs only PyTorch and Pillow).

The image tower is a ViT (patch convolution, class token, learned positions,
pre-norm residual attention blocks, class-token pooling, linear projection);
the text tower a causal transformer pooled at the end-of-text token (the
highest token id). Parameter names are those of open_clip's ``CLIP`` state
dict (``visual.conv1.weight``, ``transformer.resblocks.0.attn.in_proj_weight``,
``text_projection``, ``logit_scale``...), so public checkpoints such as
RemoteCLIP, GeoRSCLIP and SkyCLIP load with ``strict=True``. Checkpoint
reading and the registry builder are in :mod:`terrasight.models.clip_load`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_WIDTHS = {1280: 80, 1408: 88, 1664: 104}
"""Vision head widths of open_clip's ViT-H, -g and -bigG (16 heads); other widths use 64."""
SIZE_NAMES = {384: "S", 512: "M", 768: "B", 1024: "L", 1280: "H", 1408: "g", 1664: "bigG"}


@dataclass(frozen=True)
class ClipArch:
    """The hyper-parameters of an open_clip ViT CLIP (as in open_clip's model configs).

    ``vision_head_width``, ``text_heads`` and ``quick_gelu`` cannot be read from a
    checkpoint's tensor shapes; the others can (:func:`terrasight.models.clip_load.infer_arch`).

    Example:
        >>> arch = ClipArch(512, 224, 32, 768, 12, text_width=512, text_heads=8, text_layers=12)
        >>> arch.label, arch.vision_heads, arch.grid
        ('ViT-B-32', 12, 7)
    """

    embed_dim: int
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    vision_head_width: int = 64
    vision_mlp_ratio: float = 4.0
    context_length: int = 77
    vocab_size: int = 49408
    text_width: int = 512
    text_heads: int = 8
    text_layers: int = 12
    text_mlp_ratio: float = 4.0
    quick_gelu: bool = False

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the fields, which are also the registry ``params`` keys."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClipArch:
        """The architecture given by a registry entry's ``params`` (other keys are ignored).

        Example:
            >>> ClipArch.from_params({"embed_dim": 16, "image_size": 32, "patch_size": 8,
            ...                       "vision_width": 64, "vision_layers": 2, "x": 0}).grid
            4
        """
        names = cls.field_names()
        return cls(**{k: v for k, v in params.items() if k in names})

    @property
    def vision_heads(self) -> int:
        return self.vision_width // self.vision_head_width

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def label(self) -> str:
        """open_clip's name of the architecture (``ViT-L-14``), when it has one."""
        size = SIZE_NAMES.get(self.vision_width, f"w{self.vision_width}")
        suffix = f"-{self.image_size}" if self.image_size != 224 else ""
        return f"ViT-{size}-{self.patch_size}{suffix}"

    def validate(self) -> ClipArch:
        """Raise ValueError when the numbers do not make a network."""
        for width, heads, what in (
            (self.vision_width, self.vision_heads, "vision"),
            (self.text_width, self.text_heads, "text"),
        ):
            if heads < 1 or width % heads:
                raise ValueError(f"{what} width {width} cannot be split into {heads} heads")
        if self.image_size % self.patch_size:
            raise ValueError(f"image size {self.image_size} is not a multiple of the patch size")
        return self


class QuickGELU(nn.Module):
    """OpenAI CLIP's sigmoid approximation of GELU: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names, on SDPA."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.normal_(self.in_proj_weight, std=width**-0.5)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        n, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(n, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    """Pre-norm residual block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, quick_gelu: bool) -> None:
        super().__init__()
        hidden = round(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        act = QuickGELU() if quick_gelu else nn.GELU()
        self.mlp = nn.Sequential(
            OrderedDict(c_fc=nn.Linear(width, hidden), gelu=act, c_proj=nn.Linear(hidden, width))
        )

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of :class:`Block` (state-dict keys ``resblocks.<i>....``)."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, quick: bool) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(Block(width, heads, mlp_ratio, quick) for _ in range(layers))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, causal)
        return x


class VisionTower(nn.Module):
    """The ViT image encoder: (N, 3, S, S) normalised images to (N, embed_dim) features."""

    def __init__(self, arch: ClipArch) -> None:
        super().__init__()
        width, scale = arch.vision_width, arch.vision_width**-0.5
        self.conv1 = nn.Conv2d(3, width, arch.patch_size, stride=arch.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(arch.grid**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(
            width, arch.vision_layers, arch.vision_heads, arch.vision_mlp_ratio, arch.quick_gelu
        )
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, arch.embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.conv1(images).flatten(2).transpose(1, 2)  # (N, grid*grid, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class ClipNet(nn.Module):
    """Both towers and the logit scale, with the parameter names of open_clip's ``CLIP``.

    Example:
        >>> arch = ClipArch(16, 32, 8, 64, 1, text_width=64, text_heads=2, text_layers=1,
        ...                 context_length=8, vocab_size=520)
        >>> net = ClipNet(arch)
        >>> net.encode_image(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 16])
        >>> "transformer.resblocks.0.attn.in_proj_weight" in net.state_dict()
        True
    """

    def __init__(self, arch: ClipArch) -> None:
        super().__init__()
        arch.validate()
        self.arch = arch
        self.visual = VisionTower(arch)
        self.transformer = Transformer(
            arch.text_width, arch.text_layers, arch.text_heads, arch.text_mlp_ratio, arch.quick_gelu
        )
        self.token_embedding = nn.Embedding(arch.vocab_size, arch.text_width)
        self.positional_embedding = nn.Parameter(torch.empty(arch.context_length, arch.text_width))
        self.ln_final = nn.LayerNorm(arch.text_width)
        self.text_projection = nn.Parameter(torch.empty(arch.text_width, arch.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=arch.text_width**-0.5)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Unnormalised image features of a normalised (N, 3, S, S) batch."""
        return self.visual(images)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unnormalised text features of (N, context_length) token ids."""
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
        x = self.ln_final(self.transformer(x, causal=True))
        pooled = x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]  # the end-of-text token
        return pooled @ self.text_projection


def preprocess(
    images: Sequence[np.ndarray],
    size: int,
    mean: Sequence[float] = OPENAI_MEAN,
    std: Sequence[float] = OPENAI_STD,
) -> torch.Tensor:
    """open_clip's evaluation transform: shortest side to ``size`` (bicubic), centre crop,
    scale to [0, 1], normalise per channel. uint8 ``(h, w, 3)`` arrays in, NCHW float32 out.

    Example:
        >>> preprocess([np.zeros((100, 150, 3), np.uint8)], 32).shape
        torch.Size([1, 3, 32, 32])
    """
    from PIL import Image

    arrays = []
    for img in images:
        pil = Image.fromarray(np.ascontiguousarray(img[..., :3]))
        w, h = pil.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        target = (size, new_long) if w <= h else (new_long, size)
        if target != pil.size:
            pil = pil.resize(target, Image.Resampling.BICUBIC)
        w, h = pil.size
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
        pil = pil.crop((left, top, left + size, top + size))
        arrays.append(np.asarray(pil, dtype=np.float32) / 255.0)
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((batch - mean_t) / std_t).contiguous()


class ClipModel(nn.Module):
    """A CLIP network with its tokenizer behind terrasight's image-text interface
    (:mod:`terrasight.tasks.embed`): ``embed_images``, ``embed_texts``, ``params``
    (with zero-shot ``templates``) and ``logit_scale``. Frozen, in eval mode.

    Example:
        >>> model = create_model("remoteclip-vit-b-32", checkpoint="RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
        >>> model.embed_texts(["a harbour"]).shape  # doctest: +SKIP
        (1, 512)
    """

    def __init__(self, net: ClipNet, tokenizer: Any, params: Mapping[str, Any]) -> None:
        super().__init__()
        self.net = net
        self.tokenizer = tokenizer
        self.params = {
            "mean": list(OPENAI_MEAN),
            "std": list(OPENAI_STD),
            **dict(params),
            "image_size": net.arch.image_size,
            "dim": net.arch.embed_dim,
        }
        self.net.requires_grad_(False)
        self.eval()

    @property
    def arch(self) -> ClipArch:
        return self.net.arch

    @property
    def logit_scale(self) -> float:
        """The learned softmax temperature, ``exp(logit_scale)`` (100 for OpenAI CLIP)."""
        return float(self.net.logit_scale.detach().exp())

    @torch.no_grad()
    def embed_images(self, images: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """L2-normalised float32 ``(N, embed_dim)`` embeddings of uint8 ``(h, w, 3)`` images."""
        p = self.params
        out = [np.zeros((0, self.arch.embed_dim), np.float32)]
        for i in range(0, len(images), batch_size):
            batch = preprocess(
                images[i : i + batch_size], self.arch.image_size, p["mean"], p["std"]
            )
            out.append(F.normalize(self.net.encode_image(batch), dim=-1).float().numpy())
        return np.concatenate(out).astype(np.float32)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 ``(N, embed_dim)`` embeddings of texts."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = [np.zeros((0, self.arch.embed_dim), np.float32)]
        for i in range(0, len(texts), batch_size):
            tokens = self.tokenizer(texts[i : i + batch_size], self.arch.context_length)
            feats = self.net.encode_text(torch.from_numpy(np.asarray(tokens, dtype=np.int64)))
            out.append(F.normalize(feats, dim=-1).float().numpy())
        return np.concatenate(out).astype(np.float32)
