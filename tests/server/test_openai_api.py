"""The OpenAI-compatible API, driven by the ``openai`` package against a real server: models
per finished job, chat completions whole and streamed, the token, unknown models."""

from __future__ import annotations

import pytest

from .conftest import TOKEN, running, wait_done

openai = pytest.importorskip("openai", reason="the openai package is not installed")

PAIR = {"before": "site/before.tif", "after": "site/after.tif", "method": "cva"}


@pytest.fixture
def finished(config_for):
    """A server with two finished jobs: (server, [older id, newer id], facts of the newer)."""
    with running(config_for()) as server, server.client() as client:
        ids = []
        for _ in range(2):
            ids.append(client.post("/api/jobs", json=PAIR).json()["id"])
            assert wait_done(client, ids[-1])["state"] == "done"
        client.post("/api/jobs", json={**PAIR, "method": "no-such"})  # refused: no model
        facts = client.get(f"/api/jobs/{ids[1]}/facts").json()
        yield server, ids, facts


def _client(server, token: str = TOKEN):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0, timeout=60)


def test_models_are_the_finished_jobs_and_the_latest(finished):
    server, ids, _ = finished
    listed = [m.id for m in _client(server).models.list()]
    assert listed[0] == "terrasight"
    assert sorted(listed[1:]) == sorted(f"terrasight-job-{i}" for i in ids)


def test_a_chat_completion_whole_and_streamed_says_the_same(finished):
    server, ids, facts = finished
    client = _client(server)
    ask = [{"role": "user", "content": "how many changes are there?"}]
    whole = client.chat.completions.create(model="terrasight", messages=ask)
    text = whole.choices[0].message.content
    assert whole.choices[0].finish_reason == "stop" and whole.model == "terrasight"
    assert str(facts["object_count"]) in text

    stream = client.chat.completions.create(
        model=f"terrasight-job-{ids[1]}", messages=ask, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text


def test_the_conversation_sent_is_the_context_of_the_answer(finished):
    server, ids, _ = finished
    client = _client(server)
    first = [{"role": "user", "content": "how large is the largest change?"}]
    answer = client.chat.completions.create(model="terrasight", messages=first)
    said = answer.choices[0].message.content
    follow = [
        {"role": "system", "content": "be brief"},
        *first,
        {"role": "assistant", "content": said},
        {"role": "user", "content": "where is it?"},
    ]
    where = client.chat.completions.create(model="terrasight", messages=follow)
    alone = client.chat.completions.create(model="terrasight", messages=follow[-1:])
    text = where.choices[0].message.content
    assert "object 1" in text.lower() and text != alone.choices[0].message.content  # "it"


def test_the_token_and_unknown_models_are_refused_as_openai_clients_expect(finished):
    server, ids, _ = finished
    ask = [{"role": "user", "content": "how many changes are there?"}]
    with pytest.raises(openai.AuthenticationError):
        _client(server, token="wrong-token-0000").models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        _client(server).chat.completions.create(model="gpt-4o", messages=ask)
    assert "terrasight-job-" in str(missing.value)
    with pytest.raises(openai.NotFoundError):
        _client(server).chat.completions.create(model="terrasight-job-0123456789ab", messages=ask)
    with pytest.raises(openai.BadRequestError):
        _client(server).chat.completions.create(
            model="terrasight", messages=[*ask, {"role": "assistant", "content": "4"}]
        )
