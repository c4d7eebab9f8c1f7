"""A conversation about one image: ``Agent(IMAGE)`` and ``terrasight chat IMAGE`` answer from
the image's land cover (a small real raster with planted objects, EPSG:32633 at 2 m)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import terrasight
from terrasight.agent import Agent
from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.tasks.scene_ask import ask_image


def test_the_agent_takes_one_image(planted_landcover, tmp_path):
    agent = terrasight.Agent(planted_landcover, outdir=tmp_path / "chat")
    assert {"ask_image", "image_landcover", "describe_image"} <= set(agent.tools)
    assert "count_changes" not in agent.tools and "answer_question" not in agent.tools
    count = agent.ask("how many buildings are there?")
    assert count.value == 5 and len(count.evidence) == 5
    assert count.tool_calls[0].name == "ask_image" and count.grounded
    water = agent.ask("is there water in the south-west?")
    assert water.value is True and water.text.startswith("Yes")
    area = agent.ask("what is the area covered by water?")
    assert area.value == pytest.approx(1400 * 4.0) and area.unit == "m2"
    where = agent.ask("where is the largest building?")
    assert where.value == "north" and len(where.evidence) == 1
    geojson = json.loads(open(where.tool_calls[0].result["geojson"]).read())
    assert geojson["features"][0]["properties"]["class"] == "building"
    # the answers are those of ask_image on the same map
    assert count.value == ask_image(planted_landcover, "how many buildings are there?").value


def test_land_cover_describe_and_what_one_date_cannot_tell(planted_landcover, tmp_path):
    agent = Agent(planted_landcover)
    cover = agent.ask("what is the land cover?")
    assert cover.tool_calls[0].name == "image_landcover"
    shares = cover.value
    assert shares["water"] == pytest.approx(100 * 1400 / 14400, abs=0.01)
    assert max(shares, key=shares.get) == "bare"
    described = agent.ask("describe the image")
    assert "5 buildings" in described.text and described.value in ("rural", "urban")
    change = agent.ask("how many new buildings were built?")
    assert not change.answerable and "can't tell" in change.text
    cars = agent.ask("how many cars are there?")
    assert not cars.answerable and cars.value is None
    paths = agent.save(tmp_path / "saved")
    assert paths["landcover"].is_file() and "5 buildings" in paths["transcript_md"].read_text()


def test_a_missing_file_is_neither_image_nor_result(tmp_path):
    with pytest.raises(InvalidOptionError, match="nor an image file"):
        Agent(tmp_path / "nothing.tif")


def test_chat_takes_one_image_on_the_command_line(planted_landcover, tmp_path):
    script = "how many buildings are there?\nis there a road?\nis it rural or urban?\n/quit\n"
    run = CliRunner().invoke(
        main, ["chat", str(planted_landcover), "-o", str(tmp_path / "out")], input=script
    )
    assert run.exit_code == 0, run.output
    answers = [line for line in run.output.splitlines() if line.startswith("you> terrasight>")]
    assert len(answers) == 3, run.output
    assert "5 buildings" in answers[0] and answers[1].split("> ")[-1].startswith("Yes")
    assert ("Rural" in answers[2]) != ("Urban" in answers[2])
