"""Saving a conversation: the change outputs, the exported files, and the transcript (JSON and
Markdown)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from terrasight.errors import OutputFolderError
from terrasight.io.remote import repair

# ``Agent`` and ``Reply`` (terrasight.agent.agent) are typed ``Any`` here: that module imports this one.
Agent = Any
Reply = Any


def save_conversation(agent: Agent, folder: Path) -> dict[str, Path]:
    """Write ``agent``'s conversation into ``folder``; the paths by kind.

    Raises:
        OutputFolderError: ``folder`` cannot be created (a file is in the way...).
    """
    from terrasight.tasks.interpret.facts_data import write_facts

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create {folder}: {exc.strerror or exc}") from None
    session = agent.session
    paths: dict[str, Path] = {}
    if session.scene is not None:  # one image: the land-cover map its answers rest on
        landcover = session.scene_objects().map.path
        if landcover is not None and landcover.resolve() != (folder / "landcover.tif").resolve():
            paths["landcover"] = Path(shutil.copyfile(landcover, folder / "landcover.tif"))
    elif not (session.saved and folder.resolve() == session.before.resolve()):
        paths.update(session.result().save(folder, report=False, facts=False))
        paths["facts"] = write_facts(session.facts(), folder / "facts.json")
    exported = [p for p in session.exports if p.is_file()]
    if exported:
        (folder / "exports").mkdir(exist_ok=True)
        for path in exported:
            target = folder / "exports" / path.name
            shutil.copyfile(path, target)
            paths[f"export:{path.stem}"] = target
    doc = transcript(agent)
    paths["transcript"] = folder / "transcript.json"
    paths["transcript"].write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    paths["transcript_md"] = folder / "transcript.md"
    paths["transcript_md"].write_text(markdown(doc), encoding="utf-8")
    return paths


def transcript(agent: Agent) -> dict[str, Any]:
    """The conversation as JSON-ready data: inputs, brain, turns, and the raw messages."""
    session = agent.session
    return {
        "before": str(repair(session.before)),  # a URL as given, not as a Path prints it
        "after": None if session.after is None else str(repair(session.after)),
        "method": session.method,
        "brain": agent.brain_name,
        "turns": [{"question": q, "reply": r.to_dict()} for q, r in agent.history],
        "messages": agent.messages,
    }


def markdown(doc: dict[str, Any]) -> str:
    """The transcript as Markdown: each question, its answer and the tools called."""
    pair = doc["before"] + (f" -> {doc['after']}" if doc["after"] else "")
    lines = [f"# Conversation about {pair}", "", f"Brain: {doc['brain']}", ""]
    for turn in doc["turns"]:
        reply = turn["reply"]
        lines += [f"**You:** {turn['question']}", "", f"**terrasight:** {reply['text']}", ""]
        lines += [f"> caveat: {c}" for c in reply["caveats"]]
        lines += [f"> note: {n}" for n in reply.get("notes", ())]
        calls = [_call_text(c) for c in reply["tool_calls"]]
        if calls:
            lines += [f"<sub>tools: {'; '.join(calls)}</sub>", ""]
    return "\n".join(lines) + "\n"


def _call_text(call: dict[str, Any]) -> str:
    args = call["arguments"]
    if isinstance(args, dict):
        args = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"`{call['name']}({args})`"


def reply_lines(reply: Reply) -> list[str]:
    """The caveats of a reply as lines for a terminal."""
    return [f"  caveat: {c}" for c in reply.caveats]
