"""Routes for a finished job: result files, facts, questions to the agent, map tiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from terrasight.errors import UnsafePathError
from terrasight.io.vectors import jsonable
from terrasight.server.job_kinds import DESCRIPTION, summary_file
from terrasight.server.routes_jobs import Context
from terrasight.tasks.change.names import CLASSES_NAME, OUTPUT_NAMES, TRANSITIONS_NAME
from terrasight.tasks.interpret.facts_data import read_facts
from terrasight.tasks.semantic.table import class_changes
from terrasight.tasks.series.result import DATE_TIF, INTERVAL_TIF, OBJECTS_GEOJSON, SERIES_JSON

router = APIRouter(prefix="/api/jobs/{job_id}", tags=["results"])

FACTS_FILE = "facts.json"
SERIES_FILES = (DATE_TIF, INTERVAL_TIF, OBJECTS_GEOJSON, SERIES_JSON)
DOWNLOADS = {
    name: name
    for name in (
        *OUTPUT_NAMES.values(),
        FACTS_FILE,
        CLASSES_NAME,
        TRANSITIONS_NAME,
        *SERIES_FILES,
        DESCRIPTION,
    )
}
"""The files of a result a client may fetch, by name: nothing else in the folder is served."""
MEDIA = {
    ".tif": "image/tiff",
    ".geojson": "application/geo+json",
    ".gpkg": "application/geopackage+sqlite3",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
Layer = Literal["before", "after", "mask"]


class Question(BaseModel):
    """A question about a finished job's change."""

    question: str = Field(min_length=1, max_length=2000, examples=["how many changes are there?"])


@router.get("/files")
def result_files(job_id: str, ctx: Context) -> dict[str, Any]:
    """The downloadable result files of a finished job, with their sizes in bytes."""
    ctx.finished(job_id)
    folder = ctx.store.result_dir(job_id)
    return {
        "files": [
            {"name": name, "bytes": (folder / name).stat().st_size}
            for name in DOWNLOADS
            if (folder / name).is_file()
        ]
    }


@router.get("/files/{name}", response_class=FileResponse)
def result_file(job_id: str, name: str, ctx: Context) -> FileResponse:
    """One result file (``changes.geojson``, ``change_mask.tif``, ``report.html``...)."""
    ctx.finished(job_id)
    if name not in DOWNLOADS:
        raise UnsafePathError(
            f"{name!r} is not a result file; ask for one of {', '.join(DOWNLOADS)}."
        )
    path = ctx.store.result_dir(job_id) / DOWNLOADS[name]
    if not path.is_file():
        raise UnsafePathError(f"job {job_id} has no {name}; it was not written for this job.")
    media = MEDIA.get(Path(name).suffix, "application/octet-stream")
    inline = name.endswith((".html", ".json", ".geojson"))
    return FileResponse(
        path,
        media_type=media,
        filename=None if inline else name,
        content_disposition_type="attachment",
    )


@router.get("/facts")
def facts(job_id: str, ctx: Context) -> dict[str, Any]:
    """The change facts: per object (where, how big, from -> to) and for the whole scene."""
    ctx.finished(job_id, kinds=("change",))
    path = ctx.store.result_dir(job_id) / FACTS_FILE
    data = read_facts(path).to_dict()
    data["before"], data["after"] = Path(data["before"]).name, Path(data["after"]).name
    return jsonable(data)


@router.get("/summary")
def summary(job_id: str, ctx: Context) -> dict[str, Any]:
    """The result's summary: counts, areas and warnings of a change (``summary.json``) with
    its land-cover changes under ``classes`` (as ``GET .../classes``); the dates, objects and
    timeline of a series (``series.json``); the description of one image."""
    job = ctx.finished(job_id)
    name = summary_file(job.kind) or OUTPUT_NAMES["summary"]
    path = ctx.store.result_dir(job_id) / name
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("before", "after"):  # file names only: the server's folders are its own
        if isinstance(data.get(key), str):
            data[key] = Path(data[key]).name
    if isinstance(data.get("images"), list):
        data["images"] = [Path(str(p)).name for p in data["images"]]
    if job.kind == "change":
        data["classes"] = class_changes(ctx.store.result_dir(job_id))
    return data


@router.get("/classes")
def classes(job_id: str, ctx: Context) -> dict[str, Any]:
    """What the changes were and became: pixels and area of each from -> to pair of land
    cover, new and removed buildings, what each class lost and gained, and how much of the
    change was classified (``complete``; ``notes`` say what a budget left out). ``measured``
    is false where the job ran without classes."""
    ctx.finished(job_id, kinds=("change",))
    return class_changes(ctx.store.result_dir(job_id))


@router.post("/ask")
async def ask(job_id: str, body: Question, ctx: Context) -> dict[str, Any]:
    """Ask the agent about the change; the conversation goes on with the next question.

    The reply has ``text``, ``value``, ``unit``, ``evidence`` (object ids), ``caveats``,
    ``grounded`` (whether every number, place and class of the text comes from a tool
    result) and ``notes`` (what the brain had to work around).
    """
    reply = await run_in_threadpool(ctx.ask, job_id, body.question)
    return jsonable(reply.to_dict())


@router.get("/conversation")
async def conversation(job_id: str, ctx: Context) -> dict[str, Any]:
    """The questions asked about the job so far and their answers (kept across restarts)."""
    turns = await run_in_threadpool(ctx.turns, job_id)
    return jsonable({"job": job_id, "turns": turns})


@router.get("/map")
def map_info(job_id: str, ctx: Context) -> dict[str, Any]:
    """How to show the job on a map: WGS84 bounds and zooms, or the image size without a CRS."""
    job = ctx.store.get(job_id)
    info = ctx.tiles.map_info(Path(job.before))
    return {**info, "job": job.id, "layers": ["before", "after", "mask"]}


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def tile(
    job_id: str,
    layer: Layer,
    z: Annotated[int, PathParam(ge=0, le=24)],
    x: Annotated[int, PathParam(ge=0)],
    y: Annotated[int, PathParam(ge=0)],
    ctx: Context,
) -> Response:
    """A 256 px PNG map tile of the before or after image, or of the change mask (red)."""
    job = ctx.store.get(job_id)
    if layer == "mask":
        ctx.finished(job_id, kinds=("change",))
        path = ctx.store.result_dir(job_id) / OUTPUT_NAMES["mask"]
    else:
        path = Path(job.before if layer == "before" else job.after)
    png = await run_in_threadpool(ctx.tiles.render, path, z, x, y, layer == "mask")
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=60"})
