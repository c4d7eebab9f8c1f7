"""Where the files of the big public models come from: a path you give, else the Hugging Face hub.

Registry entries of architecture ``open-clip-vit`` name where their checkpoint
is published: ``"checkpoint": {"hub": repo, "file": name}`` for the Hugging
Face hub (read from its local cache, or downloaded by ``huggingface_hub`` when
the hub is reachable), or ``{"url": ...}`` for a manual download.
``checkpoint=PATH`` always wins. Nothing here sets environment variables or
other global state.
"""

from __future__ import annotations

from pathlib import Path

from terrasight.errors import ModelWeightsError
from terrasight.models.config import ModelConfig


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached from here, or None when it may be.

    Checks only what is quick (``HF_HUB_OFFLINE``, resolving the hub's host name),
    so an offline machine gets its answer at once instead of after retries.

    Example:
        >>> hub_unreachable()  # doctest: +SKIP
        "huggingface.co cannot be resolved ([Errno -2] Name or service not known)"
    """
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        return f"{host} cannot be resolved ({exc})"
    return None


def _hub_download(repo: str, filename: str) -> Path:
    """A hub file from the local Hugging Face cache, else downloaded when the hub is reachable."""
    import huggingface_hub

    cached = huggingface_hub.try_to_load_from_cache(repo, filename)
    if isinstance(cached, str):
        return Path(cached)
    reason = hub_unreachable()
    if reason is not None:
        raise ConnectionError(f"not in the local Hugging Face cache, and {reason}")
    return Path(huggingface_hub.hf_hub_download(repo_id=repo, filename=filename))


HUB_PREFIX = "hf-hub:"
HUB_DEFAULT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
"""Checkpoint files of an open_clip model repository on the hub, in order of preference."""


def parse_hub_name(name: str) -> tuple[str, tuple[str, ...]]:
    """``"hf-hub:org/repo[/path/in/repo]"`` -> the repo and the candidate files in it.

    Example:
        >>> parse_hub_name("hf-hub:chendelong/RemoteCLIP/RemoteCLIP-ViT-B-32.pt")
        ('chendelong/RemoteCLIP', ('RemoteCLIP-ViT-B-32.pt',))
        >>> parse_hub_name("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")[1]
        ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin')
    """
    parts = [p for p in name[len(HUB_PREFIX) :].split("/") if p]
    if len(parts) < 2:
        raise ModelWeightsError(
            f"{name!r} is not a hub name: write hf-hub:ORG/REPO or hf-hub:ORG/REPO/FILE"
        )
    files = ("/".join(parts[2:]),) if len(parts) > 2 else HUB_DEFAULT_FILES
    return "/".join(parts[:2]), files


def _from_hub(what: str, repo: str, files: tuple[str, ...]) -> Path:
    """The first of ``files`` of ``repo`` that the cache or the hub has, or a clear error."""
    how = "pass checkpoint=PATH (Python) or --checkpoint PATH (command line)"
    errors = []
    for file in files:
        try:
            return _hub_download(repo, file)
        except Exception as exc:  # offline, not cached, no such file, no huggingface_hub
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    url = f"https://huggingface.co/{repo}/resolve/main/{files[0]}"
    raise ModelWeightsError(
        f"{what} needs the checkpoint {' or '.join(files)} of the Hugging Face repo {repo}, "
        f"which is neither cached nor downloadable here ({errors[-1]}). Download {url} and {how}."
    )


def resolve_checkpoint(config: ModelConfig, checkpoint: str | Path | None) -> Path:
    """Where the checkpoint of a registry entry is: ``checkpoint`` if given (a local file or
    folder, or a hub name ``hf-hub:ORG/REPO[/FILE]``), else the entry's Hugging Face hub file.
    Hub files come from the local cache, or are downloaded when the hub is reachable.

    Raises:
        ModelWeightsError: not given and not obtainable; the message names the model, where
            it is published, and says to pass ``checkpoint=PATH`` / ``--checkpoint PATH``.

    Example:
        >>> from terrasight.models import get_config
        >>> resolve_checkpoint(get_config("remoteclip-vit-b-32"), None)  # doctest: +SKIP
        PosixPath('.../RemoteCLIP-ViT-B-32.pt')
        >>> resolve_checkpoint(get_config("open-clip-vit"), "hf-hub:org/repo")  # doctest: +SKIP
    """
    if isinstance(checkpoint, str) and checkpoint.startswith(HUB_PREFIX):
        return _from_hub(f"checkpoint {checkpoint!r}", *parse_hub_name(checkpoint))
    if checkpoint is not None:
        return Path(checkpoint)
    source = config.extra.get("checkpoint") or {}
    how = "pass checkpoint=PATH (Python) or --checkpoint PATH (command line)"
    if source.get("hub") and source.get("file"):
        return _from_hub(f"model {config.name!r}", str(source["hub"]), (str(source["file"]),))
    if source.get("url"):
        raise ModelWeightsError(
            f"model {config.name!r} needs a checkpoint published at {source['url']}"
            f"{' (' + source['note'] + ')' if source.get('note') else ''}: download it and {how}."
        )
    raise ModelWeightsError(
        f"model {config.name!r} loads an open_clip-format ViT CLIP checkpoint you give: {how}."
    )


def resolve_vocab(tokenizer: str | Path | None, checkpoint: Path | None) -> Path:
    """The BPE vocabulary: :func:`~terrasight.models.clip_tokenizer.find_vocab`, else (none
    given) OpenAI's CLIP tokenizer files from the Hugging Face hub cache or, online, the hub."""
    from terrasight.models.clip_tokenizer import HF_FILES, HF_REPO, find_vocab

    try:
        return find_vocab(tokenizer, near=checkpoint)
    except ModelWeightsError as exc:
        if tokenizer is not None:
            raise
        not_found = exc
    try:
        return [_hub_download(HF_REPO, name) for name in HF_FILES][0].parent
    except Exception:
        raise ModelWeightsError(
            f"{not_found} (nor could {' and '.join(HF_FILES)} of {HF_REPO} be downloaded)"
        ) from not_found
