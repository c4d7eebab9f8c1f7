"""Tool schemas derived from signatures and docstrings; bad calls answered, never raised;
tools and brains found through entry points."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Literal

import pytest

from terrasight.agent import Agent, tool_schema
from terrasight.agent.registry import call_tool, create_brain, list_brains, list_tools, load_tools
from terrasight.agent.session import Session
from terrasight.agent.tools import measure
from terrasight.errors import InvalidOptionError


def zoom(
    session,
    object_ids: list[int],
    factor: float = 2.0,
    label: str | None = None,
    side: Literal["before", "after"] = "after",
    sharp: bool = False,
) -> dict:
    """Zoom on some change objects.

    A second paragraph that is not part of the description.

    Args:
        object_ids: the objects to zoom on,
            largest first.
        factor: how much to zoom.
        label: a caption for the picture.
        side: which image.
        sharp: sharpen the picture.

    Returns:
        A picture.
    """
    return {"text": "zoomed", "ids": object_ids, "factor": factor, "side": side}


def test_schema_types_required_and_descriptions():
    schema = tool_schema(zoom)
    assert schema["name"] == "zoom" and schema["description"] == "Zoom on some change objects."
    params = schema["parameters"]
    assert params["type"] == "object" and params["required"] == ["object_ids"]
    props = params["properties"]
    assert "session" not in props
    assert props["object_ids"] == {
        "type": "array",
        "items": {"type": "integer"},
        "description": "the objects to zoom on, largest first.",
    }
    assert props["factor"] == {"type": "number", "description": "how much to zoom.", "default": 2.0}
    assert props["label"] == {"type": "string", "description": "a caption for the picture."}
    assert props["side"]["enum"] == ["before", "after"] and props["side"]["type"] == "string"
    assert props["sharp"]["type"] == "boolean"


def test_every_builtin_tool_has_a_full_schema():
    tools = load_tools()
    assert set(tools) == set(list_tools())
    for name, fn in tools.items():
        schema = tool_schema(fn)
        assert schema["description"], name
        for prop in schema["parameters"]["properties"].values():
            assert prop["description"] and ("type" in prop or "enum" in prop), name
    assert tool_schema(measure)["parameters"]["properties"]["unit"]["enum"] == [
        "m2",
        "ha",
        "km2",
        "acre",
        "mi2",
        "px",
        "%",
        "m",
        "km",
        "mi",
    ]


def test_a_tool_without_hints_or_descriptions_is_refused():
    def vague(session, thing):
        """Do a thing.

        Args:
            thing: the thing.
        """

    def undocumented(session, thing: str):
        """Do a thing."""

    with pytest.raises(TypeError, match="'thing' has no type hint"):
        tool_schema(vague)
    with pytest.raises(TypeError, match="'thing' is not described"):
        tool_schema(undocumented)


def test_bad_calls_come_back_as_messages(demo_folder):
    session = Session(demo_folder)
    tools = {"zoom": zoom, **load_tools(["measure", "locate", "export_geojson"])}
    assert call_tool(tools, session, "zoom", {"object_ids": [1]})["factor"] == 2.0
    cases = [
        ("zoom", "{}", "missing argument 'object_ids'"),
        ("zoom", '{"object_ids": [1], "speed": 3}', "unknown argument 'speed'"),
        ("zoom", '{"object_ids": ["one"]}', "object_ids[0] must be an integer, not 'one'"),
        ("zoom", '{"object_ids": [1], "side": "during"}', "side must be one of 'before', 'after'"),
        ("zoom", "[1, 2]", "must be a JSON object"),
        ("zoom", '{"object_ids": [1', "not valid JSON"),
        ("measure", {"object_ids": [999]}, "no change object 999; the ids are 1 to"),
        ("locate", {"places": ["atlantis"]}, "'atlantis' is no place"),
        ("export_geojson", {"name": "../escape"}, "must be 1-80 letters"),
        ("fly", {}, "there is no tool 'fly'"),
    ]
    for name, args, expected in cases:
        result = call_tool(tools, session, name, args)
        assert expected in result.get("error", ""), (name, args, result)
    # a class nobody can see is no error but an answer that cannot be given: never a count
    unicorns = call_tool(tools, session, "measure", {"became": ["unicorns"]})
    assert unicorns["answerable"] is False and unicorns["value"] is None
    assert "'unicorns' is no land-cover class" in unicorns["text"]
    lenient = call_tool(tools, session, "measure", {"object_ids": 2.0})  # one id, as a float
    assert lenient["evidence"] == [2] and lenient["objects"][0]["length"] > 0


def test_export_writes_exactly_the_given_objects(demo_folder, tmp_path):
    import json

    session = Session(demo_folder, outdir=tmp_path)
    out = call_tool(
        load_tools(["export_geojson"]), session, "export_geojson", {"object_ids": [3, 1]}
    )
    features = json.loads(Path(out["path"]).read_text())["features"]
    assert sorted(f["id"] for f in features) == [1, 3] and out["evidence"] == [1, 3]
    assert {"size", "shape", "change", "area"} <= set(features[0]["properties"])
    assert Path(out["mask"]).is_file()


PLUGIN = '''
from terrasight.agent.brains.base import BrainReply


class EchoBrain:
    name = "echo"

    def __init__(self, cache=None, prefix="you said"):
        self.prefix = prefix

    def respond(self, messages, tools):
        return BrainReply(text=f"{self.prefix}: {messages[-1]['content']}", evidence=())


def shout(session, words: str) -> dict:
    """Say words loudly.

    Args:
        words: what to say.
    """
    return {"text": words.upper()}
'''


@pytest.fixture
def echo_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A third-party distribution registering a brain and a tool through entry points."""
    site = tmp_path / "site"
    info = site / "echoplug-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echoplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[terrasight.brains]\necho = echoplug:EchoBrain\n\n[terrasight.tools]\nshout = echoplug:shout\n"
    )
    (site / "echoplug.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("echoplug", None)


def test_a_third_party_brain_and_tool_are_found(echo_plugin, demo_folder):
    assert "echo" in list_brains() and "offline" in list_brains()
    assert "shout" in list_tools()
    brain = create_brain("echo", prefix="heard")
    assert brain.respond([{"role": "user", "content": "hi"}], []).text == "heard: hi"
    agent = Agent(demo_folder, brain="echo", tools=["shout"])
    assert [t["function"]["name"] for t in agent.tool_schemas] == ["shout"]
    assert agent.ask("hello").text == "you said: hello"
    with pytest.raises(InvalidOptionError, match="brain 'echo'.*unexpected keyword"):
        create_brain("echo", temperature=2)


def test_caption_image_tool_captions_the_date_asked_for(demo_folder):
    pytest.importorskip("torch")
    from terrasight.tasks.change.load import load_result
    from terrasight.tasks.interpret.caption import as_sentence
    from terrasight.tasks.interpret.scene import caption_image

    session = Session(demo_folder)
    tools = load_tools(["caption_image"])
    out = call_tool(tools, session, "caption_image", {"image": "before"})
    expected = caption_image(load_result(demo_folder).before)
    assert out["value"] == as_sentence(expected.text)
    assert out["classes"][0][0] == expected.classes[0][0]
    bad = call_tool(tools, session, "caption_image", {"image": "during"})
    assert "image must be one of 'before', 'after'" in bad["error"]
    facts_only = Session(session.facts())
    assert "not the images" in call_tool(tools, facts_only, "caption_image", {})["error"]
