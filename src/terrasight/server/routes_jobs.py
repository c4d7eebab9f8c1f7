"""Routes for jobs: create (sample pair, files under ``--data``, uploads), list, status,
progress events, cancel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from terrasight.errors import InvalidOptionError, UnsafePathError, UploadRejectedError
from terrasight.server.context import AppContext
from terrasight.server.jobs import FINAL_STATES
from terrasight.server.paths import (
    check_raster,
    list_rasters,
    remove_quietly,
    resolve_under,
    save_upload,
    upload_suffix,
)

router = APIRouter(prefix="/api", tags=["jobs"])
EVENT_POLL_S = 0.25
MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond its two files (boundaries, form fields)."""


def context(request: Request) -> AppContext:
    """The app's state (a FastAPI dependency)."""
    return request.app.state.context


Context = Annotated[AppContext, Depends(context)]


class JobRequest(BaseModel):
    """A job from the sample pair (``sample``) or from two files under the data folder."""

    sample: bool = False
    before: str | None = Field(default=None, max_length=512, examples=["site/2019.tif"])
    after: str | None = Field(default=None, max_length=512, examples=["site/2024.tif"])
    method: str = Field(default="auto", max_length=64, examples=["auto", "cva", "irmad", "sar"])


@router.get("/jobs")
def list_jobs(ctx: Context) -> list[dict[str, Any]]:
    """Every job, newest first."""
    return [job.to_dict() for job in ctx.store.all()]


@router.post("/jobs", status_code=201)
def create_job(body: JobRequest, ctx: Context) -> dict[str, Any]:
    """Start a job on the sample pair or on two rasters under the server's data folder."""
    _check_method(body.method)
    if body.sample:
        before, after = ctx.sample_pair()
        source = "sample"
    else:
        if not body.before or not body.after:
            raise InvalidOptionError(
                "give 'before' and 'after' (files under the data folder), or 'sample': true."
            )
        if ctx.config.data is None:
            raise UnsafePathError(
                "this server has no data folder: start it with --data DIR, or upload the images."
            )
        before = resolve_under(ctx.config.data, body.before)
        after = resolve_under(ctx.config.data, body.after)
        check_raster(before, "before")
        check_raster(after, "after")
        source = "data"
    job = ctx.store.create(str(before), str(after), body.method, source)
    ctx.runner.submit(job.id)
    return job.to_dict()


@router.post("/jobs/upload", status_code=201)
def upload_job(
    request: Request,
    ctx: Context,
    before: Annotated[UploadFile, File(description="The earlier image.")],
    after: Annotated[UploadFile, File(description="The later image.")],
    method: Annotated[str, Form(max_length=64)] = "auto",
) -> dict[str, Any]:
    """Start a job on two uploaded images (each at most the server's upload limit)."""
    limit = ctx.config.max_upload_bytes
    length = int(request.headers.get("content-length") or 0)
    if length > 2 * limit + MULTIPART_SLACK:
        raise UploadRejectedError(
            f"the upload is larger than the limit of {ctx.config.max_upload_mb} MB per image."
        )
    _check_method(method)
    suffixes = upload_suffix(before.filename), upload_suffix(after.filename)
    job_id = ctx.store.new_id()
    folder = ctx.store.input_dir(job_id)
    try:
        paths = []
        for label, upload, suffix in zip(
            ("before", "after"), (before, after), suffixes, strict=True
        ):
            path = folder / f"{label}{suffix}"
            save_upload(upload.file, path, limit)
            check_raster(path, label)
            paths.append(path)
    except BaseException:
        remove_quietly(ctx.store.folder(job_id))
        raise
    job = ctx.store.create(str(paths[0]), str(paths[1]), method, "upload", job_id=job_id)
    ctx.runner.submit(job.id)
    return job.to_dict()


@router.get("/jobs/{job_id}")
def job_status(job_id: str, ctx: Context) -> dict[str, Any]:
    """A job's state and progress."""
    return ctx.store.get(job_id).to_dict()


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, ctx: Context) -> dict[str, Any]:
    """Ask a job to stop; finished jobs are left as they are."""
    ctx.runner.cancel(job_id)
    return ctx.store.get(job_id).to_dict()


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(job_id: str, request: Request, ctx: Context) -> StreamingResponse:
    """Server-sent events: the job's state each time it changes, until it has finished."""
    ctx.store.get(job_id)  # an unknown id is a 404, not an empty stream

    async def stream() -> AsyncIterator[str]:
        last = None
        while not await request.is_disconnected():
            job = ctx.store.get(job_id).to_dict()
            if job != last:
                yield f"event: job\ndata: {json.dumps(job)}\n\n"
                last = job
            if job["state"] in FINAL_STATES:
                return
            await asyncio.sleep(EVENT_POLL_S)

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/data")
def data_files(ctx: Context) -> dict[str, Any]:
    """The rasters under the data folder that jobs may be made from, the change methods, and
    whether there is an archive index to search (``archive``)."""
    from terrasight.tasks.change.methods import list_methods

    files = list_rasters(ctx.config.data) if ctx.config.data else []
    # the page offers the package's default, auto (the method for the images' kind), first
    return {
        "files": files,
        "methods": ["auto", *list_methods()],
        "default_method": "auto",
        "sample": True,
        "archive": ctx.config.db is not None,
    }


def _check_method(name: str) -> None:
    from terrasight.tasks.change.methods import get_method

    if name != "auto":  # auto picks an installed method once the images are open
        get_method(name)  # UnknownMethodError (404) before anything is written
