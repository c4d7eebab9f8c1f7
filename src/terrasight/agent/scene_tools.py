"""Tools that look at one image of the pair as a scene (registered like the others)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError
from terrasight.io.remote import repair


def caption_image(session: Session, image: Literal["before", "after"] = "after") -> dict[str, Any]:
    """Caption one image of the pair as a scene and give its most likely scene classes.

    Args:
        image: which date to caption.
    """
    from terrasight.tasks.interpret.caption import as_sentence
    from terrasight.tasks.interpret.scene import caption_image as caption

    path = _image_path(session, image)
    scene = caption(path, cache=session.cache)
    text = as_sentence(scene.text)
    classes = ", ".join(f"{name} ({score:.2f})" for name, score in scene.classes[:3])
    said = "".join(f" Caveat: {c}." for c in scene.caveats)
    return {
        "text": f"The {image} image: {text} Most like: {classes}.{said}",
        "caveats": list(scene.caveats),
        "value": text,
        "unit": None,
        "evidence": [],
        "classes": [[name, round(score, 4)] for name, score in scene.classes],
    }


def _image_path(session: Session, image: str) -> Path:
    """The file of one date: given, or named by a saved result's summary."""
    if session.facts_only:
        raise ToolArgumentError("caption_image: only change facts were given, not the images.")
    if session.scene is not None:
        return session.scene
    path: Path | str | None
    if session.saved:
        before, after = session.result().input_paths
        path = Path(before if image == "before" else after)
    else:
        given = session.before if image == "before" else session.after
        path = repair(given) if given is not None else None
        if isinstance(path, str) and session.detected:  # a URL: its copy or download, if any
            before, after = session.result().input_paths
            path = repair(before if image == "before" else after)
    if path is None or not Path(path).is_file():
        raise ToolArgumentError(f"caption_image: the {image} image ({path}) is not available.")
    return Path(path)
