"""A conversation about a place: :class:`Agent`, its tools and its brains.

>>> from terrasight.agent import Agent
>>> agent = Agent("changes/")  # doctest: +SKIP
>>> agent.ask("how many changes are in the north?").text  # doctest: +SKIP
'3 changes in the north (objects 2, 3, 4).'
"""

from __future__ import annotations

from terrasight.agent.agent import Agent, Reply, ToolRecord
from terrasight.agent.brains.base import Brain, BrainReply, ToolCall
from terrasight.agent.registry import list_brains, list_tools
from terrasight.agent.schema import tool_schema

__all__ = [
    "Agent",
    "Brain",
    "BrainReply",
    "Reply",
    "ToolCall",
    "ToolRecord",
    "list_brains",
    "list_tools",
    "tool_schema",
]
