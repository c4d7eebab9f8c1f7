"""A conversation over URLs names them as given (a Path would print ``https:/host``)."""

from __future__ import annotations

import pytest

from terrasight.agent import Agent
from terrasight.agent.scene_tools import _image_path
from terrasight.agent.transcript import transcript
from terrasight.errors import ToolArgumentError

URLS = ("https://example.com/data/2019.tif", "https://example.com/data/2024.tif")


def test_the_transcript_names_the_urls_given():
    agent = Agent(*URLS, method="cva")  # nothing is read before a question
    doc = transcript(agent)
    assert (doc["before"], doc["after"]) == URLS


def test_an_image_not_at_hand_is_named_by_its_url():
    agent = Agent(*URLS, method="cva")
    with pytest.raises(ToolArgumentError) as err:
        _image_path(agent.session, "after")
    assert f"({URLS[1]})" in str(err.value)
