"""What the app holds: settings, jobs, the runner, the tile renderer, models and agents.

One :class:`AppContext` per app (``app.state.context``); nothing at module level.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.errors import IndexNotFoundError, InvalidOptionError, JobNotReadyError
from terrasight.models.runtime import ModelCache
from terrasight.server import conversations
from terrasight.server.config import ServerConfig
from terrasight.server.jobs import Job, JobStore
from terrasight.server.runner import JobRunner
from terrasight.server.tiles import TileRenderer

if TYPE_CHECKING:
    from terrasight.agent import Agent, Reply
    from terrasight.index.search import Index


@dataclass
class Conversation:
    """An agent about one job's result, and the lock that keeps its turns in order."""

    agent: Agent
    lock: threading.Lock = field(default_factory=threading.Lock)


class AppContext:
    """The server's state; made by :func:`terrasight.server.app.create_app`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.models = ModelCache()
        self.store = JobStore(config.jobs)
        self.runner = JobRunner(
            self.store, self.models, config.workers, config.classify, config.parallel_jobs
        )
        self.tiles = TileRenderer()
        self._conversations: dict[str, Conversation] = {}
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._archive: Index | None = None

    def finished(self, job_id: str, kinds: tuple[str, ...] = ()) -> Job:
        """The job, when it is done (and of one of ``kinds``, when given).

        Raises:
            UnknownJobError: no such job.
            JobNotReadyError: it is still running, or failed or was cancelled.
            InvalidOptionError: it is of another kind (a series has no change facts...).
        """
        job = self.store.get(job_id)
        if job.state != "done":
            raise JobNotReadyError(
                f"job {job_id} is {job.state}, not done: wait for it to finish "
                "(GET /api/jobs/{id}/events streams its progress)."
            )
        if kinds and job.kind not in kinds:
            raise InvalidOptionError(
                f"job {job_id} is a{'n' if job.kind == 'image' else ''} {job.kind} job, which has "
                f"no such result; GET /api/jobs/{job_id}/summary has what it found."
            )
        return job

    def conversation(self, job_id: str) -> Conversation:
        """The conversation about a finished job: made on the first question, or read back
        from the job's ``conversation.json`` when an earlier server had one."""
        self.finished(job_id)
        with self._lock:
            found = self._conversations.get(job_id)
            if found is None:
                found = self._conversations[job_id] = Conversation(self.agent_for(job_id))
                conversations.restore(found.agent, self.conversation_file(job_id))
        return found

    def agent_for(self, job_id: str) -> Agent:
        """A new agent over a finished job's result, with the server's brain and models."""
        from terrasight.agent import Agent

        job = self.finished(job_id)
        folder = self.store.result_dir(job.id)
        if job.kind == "image":  # one date: its land cover is made on the first question
            return Agent(
                Path(job.before), brain=self.config.brain, cache=self.models, outdir=folder / "chat"
            )
        return Agent(folder, brain=self.config.brain, cache=self.models)

    def conversation_file(self, job_id: str) -> Path:
        return self.store.folder(job_id) / conversations.FILE

    def ask(self, job_id: str, question: str) -> Reply:
        """Ask the job's agent; the conversation is on disk before the answer is returned."""
        conversation = self.conversation(job_id)
        with conversation.lock:
            reply = conversation.agent.ask(question)
            conversations.save(conversation.agent, self.conversation_file(job_id))
        return reply

    def turns(self, job_id: str) -> list[dict[str, Any]]:
        """The questions and answers so far about a finished job (none yet: an empty list)."""
        self.finished(job_id)
        with self._lock:
            found = self._conversations.get(job_id)
        if found is None:
            if not self.conversation_file(job_id).is_file():
                return []
            found = self.conversation(job_id)
        with found.lock:
            return conversations.turns(found.agent)

    def archive(self) -> Index:
        """The archive index of ``--db``, opened on first use.

        Raises:
            IndexNotFoundError: the server was started without ``--db``, or it holds no index.
        """
        if self.config.db is None:
            raise IndexNotFoundError(
                "this server has no archive index: start it with `terrasight serve --db PATH` "
                "(an index built with `terrasight index build SOURCES... --db PATH`)."
            )
        with self._lock:
            if self._archive is None:
                from terrasight import index

                try:
                    self._archive = index.open(self.config.db)
                except IndexNotFoundError:  # the message would name the server's folder
                    raise IndexNotFoundError(
                        "the server's --db folder holds no archive index; build one with "
                        "`terrasight index build SOURCES... --db PATH`."
                    ) from None
            return self._archive

    def sample_pair(self) -> tuple[Path, Path]:
        """The built-in sample pair's files, written under the jobs folder on first use."""
        from terrasight.samples.demo import make_demo_pair

        folder = self.config.jobs / "samples" / f"demo-{self.config.sample_size}"
        before, after = folder / "before.tif", folder / "after.tif"
        with self._sample_lock:
            if not (folder / "demo_changes.json").is_file():
                make_demo_pair(folder, size=self.config.sample_size)
        return before, after

    def close(self) -> None:
        """Stop the runner (unfinished jobs stay queued on disk) and the agents."""
        self.runner.close()
        with self._lock:
            for conversation in self._conversations.values():
                conversation.agent.close()
            self._conversations.clear()
